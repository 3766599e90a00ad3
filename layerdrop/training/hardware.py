"""What the machine can do, measured in the run's own process: dense matmul rate and peak memory.

Each run record carries its training FLOP/s as a share of the matmul rate measured here, so a
user sees for their own runs how close fine-tuning came to the hardware's limit.
"""

from __future__ import annotations

import resource
import sys
import time

from layerdrop.training.flops import matmul_flops

_PEAKS: dict[tuple[str, str], float] = {}


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_matmul_gflops(device, dtype, n: int, windows: int = 3, window_seconds: float = 0.1) -> float:
    """Best `torch.mm` rate in GFLOP/s for n x n matrices, over `windows` timed windows (not cached)."""
    import torch

    device = torch.device(device)
    # A generator of its own: benchmarks measure between training steps, and drawing from the
    # global one would change the dropout masks that follow.
    generator = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, dtype=dtype, generator=generator)
    b = torch.randn(n, n, device=device, dtype=dtype, generator=generator)
    c = torch.empty(n, n, device=device, dtype=dtype)
    torch.mm(a, b, out=c)  # warm-up: library initialisation, allocation
    _sync(device)
    best = 0.0
    for _ in range(windows):
        count, start = 0, time.perf_counter()
        while True:
            torch.mm(a, b, out=c)
            count += 1
            if count % 4 == 0:  # sync rarely on a GPU, so the loop stays compute-bound
                _sync(device)
                elapsed = time.perf_counter() - start
                if elapsed >= window_seconds:
                    break
        best = max(best, count * matmul_flops(n, n, n) / elapsed / 1e9)
    return best


def matmul_peak_gflops(device, dtype) -> float:
    """The run records' matmul rate: measured once per process per (device, dtype), about 0.3 s.

    Square matrices of 1024 on CPU (a ~9 ms product at 250 GFLOP/s) and 4096 on a GPU, best of 3
    windows of 0.1 s. A sweep measures once and reuses it.
    """
    import torch

    device = torch.device(device)
    key = (str(device), str(dtype))
    if key not in _PEAKS:
        _PEAKS[key] = measure_matmul_gflops(device, dtype, 4096 if device.type == "cuda" else 1024)
    return _PEAKS[key]


def reset_peak_memory(device) -> None:
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device) -> dict[str, float | None]:
    """Peak resident memory of this process (MiB) and, on CUDA, peak tensor memory since the reset.

    The RSS peak is the whole process's (model, data, libraries), over its lifetime; in a sweep it
    is the largest any cell so far has needed.
    """
    import torch

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_mib = rss / 2**20 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB on Linux
    gpu = None
    if torch.device(device).type == "cuda":
        gpu = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return {"peak_rss_mib": round(rss_mib, 1), "peak_gpu_allocated_mib": gpu}
