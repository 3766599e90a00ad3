"""How much of this machine's dense matmul rate does layerdrop's fine-tuning achieve?

1. Peak: repeated `torch.mm` of square matrices (fp32 on CPU, bf16 on GPU with bf16 precision),
   several sizes, each timed in windows of at least `--window` seconds; the best sustained GFLOP/s
   is the peak. It is measured before and after the run and the higher value is kept, so a busy
   spell during one measurement does not flatter the utilization.
2. Fine-tuning: `layerdrop.experiments.runner.run` (minilm-l6, a seeded SST-2 subsample, K=0 by default).
3. Achieved FLOP/s = the run record's `throughput.tokens_per_second` (real tokens only) times the
   training FLOPs per real token of `layerdrop/training/flops.py`:
   6 * (parameters_after - embedding parameters) + 12 * L * h * sum(n**2) / sum(n), over the
   batches the run trained on. `--fast` fine-tunes with layerdrop's --fast paths.
   The record's own `throughput.utilization` (the same FLOPs against the 0.3 s matmul
   measurement `run` makes after training) is printed beside it as a cross-check.

4. Time-matched peak (`--interleave S`, on by default): every S seconds of training, right after
   an optimizer step, the run pauses for one matmul window (`--pause-window`, 1024 square on CPU).
   The mean of those windows is the machine's rate *while this run trained*, and the pauses are
   taken out of the training time. On a VM whose matmul rate drifts (136-242 GFLOP/s within 25
   minutes on the project machine), comparing training at one moment with the best burst seen at
   another says more about the drift than about the training; the time-matched ratio does not.
   Both ratios are printed; the SUMMARY verdict uses the time-matched one.

With `--workers N`, N copies of the same fine-tuning run at once in separate processes with
cores/N threads each (the layout of a sweep run as N single-threaded processes, see README), and
the achieved FLOP/s is their sum, against the same all-cores matmul peak. On 2 cores a single
run's second thread adds little outside the matmuls (small memory-bound ops barely scale), so
one single-threaded process per core uses the machine better.

    python benchmarks/utilization.py --quick      # 300 examples, 1 epoch
    python benchmarks/utilization.py              # 2,000 examples, 1 epoch, one process, all cores
    python benchmarks/utilization.py --workers 2  # two single-threaded processes at once
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import _common

from layerdrop.training import flops



def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="No target: the CPU-utilization target is retired; the figure is reported as measured.")
    p.add_argument("--model", default="minilm-l6")
    p.add_argument("--task", default="sst2")
    p.add_argument("--data-dir", help="GLUE folder (default $LAYERDROP_GLUE_DIR, else ../shared/data/glue)")
    p.add_argument("--train-samples", type=int, default=2000)
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--learning-rate", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--k", type=int, default=0, help="layers to drop (top strategy) before fine-tuning (default 0)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--sizes", default=None, help="matmul sizes, comma-separated (default 1024,2048 on CPU; 4096,8192 on GPU)")
    p.add_argument("--window", type=float, default=1.0, help="seconds per timed matmul window (default 1.0)")
    p.add_argument("--windows", type=int, default=3, help="windows per size; the best is kept (default 3)")
    p.add_argument("--interleave", type=float, default=2.0,
                   help="seconds of training between matmul pauses for the time-matched peak; 0: none (default 2.0)")
    p.add_argument("--pause-window", type=float, default=0.2, help="seconds per matmul pause (default 0.2)")
    p.add_argument("--fast", action="store_true", help="fine-tune with layerdrop's --fast paths (default: stock)")
    p.add_argument("--workers", type=int, default=1,
                   help="concurrent fine-tuning processes, cores/N threads each; their FLOP/s are summed (default 1)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # internal: one of the --workers processes
    _common.device_arguments(p)
    p.add_argument("--quick", action="store_true", help="300 training examples, 1 epoch, 2 matmul windows per size")
    args = p.parse_args(argv)
    if args.quick:
        args.train_samples, args.epochs, args.windows = 300, 1.0, 2
    return args


def matmul_peak(args) -> list[tuple[int, float]]:
    """(size, best GFLOP/s over the windows) for each matrix size: the records' measurement, longer."""
    import torch

    from layerdrop.training.hardware import measure_matmul_gflops

    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else (
        [4096, 8192] if args.device.startswith("cuda") else [1024, 2048])
    return [(n, measure_matmul_gflops(args.device, dtype, n, args.windows, args.window)) for n in sizes]


class TimeMatchedPeak:
    """Matmul windows taken between training steps: the machine's rate while the run trains.

    A global optimizer step hook (torch's public `register_optimizer_step_post_hook`) pauses
    training every `every` seconds for one window of `window` seconds; `paused` is the time taken
    out of training, `rates` the windows' GFLOP/s.
    """

    def __init__(self, device, dtype, n: int, every: float, window: float):
        self.device, self.dtype, self.n, self.every, self.window = device, dtype, n, every, window
        self.rates: list[float] = []
        self.paused, self._last, self._handle = 0.0, None, None

    def __enter__(self) -> "TimeMatchedPeak":
        from torch.optim.optimizer import register_optimizer_step_post_hook

        if self.every > 0:
            self._handle = register_optimizer_step_post_hook(self._after_step)
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.remove()

    def _after_step(self, optimizer, args, kwargs) -> None:
        import torch

        from layerdrop.training.hardware import measure_matmul_gflops

        if str(self.device).startswith("cuda"):
            torch.cuda.synchronize()  # the step's queued kernels are training time, not pause
        now = time.perf_counter()
        if self._last is None:  # the first step starts the clock: loading and tokenizing are not training
            self._last = now
            return
        if now - self._last < self.every:
            return
        self.rates.append(measure_matmul_gflops(self.device, self.dtype, self.n, 1, self.window))
        self._last = time.perf_counter()
        self.paused += self._last - now


def embedding_parameters(config) -> int:
    """Parameters of the nn.Embedding tables, from the config alone (meta device: no memory)."""
    import torch
    from transformers import AutoModel

    with torch.device("meta"):
        model = AutoModel.from_config(config)
    return flops.embedding_parameters(model)


def train_lengths(args, glue: str, source) -> list[int]:
    """Real token count of each training example, tokenized exactly as layerdrop tokenizes it."""
    from layerdrop.data.batching import encode
    from layerdrop.data.loading import load_task_data, subsample
    from layerdrop.models.loading import load_tokenizer
    from layerdrop.data.tasks import get_task

    raw = load_task_data(get_task(args.task), glue)
    split = subsample(raw["train"], args.train_samples, args.seed)
    return encode(load_tokenizer(source), split, 128).lengths()


def fine_tune(args, glue: str) -> dict:
    """One fine-tuning run in this process, and its achieved FLOP/s over real tokens."""
    from layerdrop.experiments.config import RunConfig
    from layerdrop.models.loading import load_config, resolve
    from layerdrop.experiments.runner import run

    import torch

    cfg = RunConfig(model=args.model, task=args.task, strategy="top", k=args.k, seed=args.seed, data_dir=glue,
                    max_train_samples=args.train_samples, epochs=args.epochs, learning_rate=args.learning_rate,
                    batch_size=args.batch_size, device=args.device, precision=args.precision, fast=args.fast)
    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
    with TimeMatchedPeak(args.device, dtype, 4096 if args.device.startswith("cuda") else 1024,
                         args.interleave, args.pause_window) as matched:
        record = run(cfg, results=None)
    source = resolve(args.model)
    config = load_config(source)
    embeddings = embedding_parameters(config)
    lengths = train_lengths(args, glue, source)
    # The record's FLOPs (`layerdrop.training.flops`: real tokens only) per real token it trained on.
    throughput = record["throughput"]
    per_token = throughput["train_gflops_per_second"] * 1e9 / throughput["tokens_per_second"]
    return {"record": record, "hidden": config.hidden_size, "embeddings": embeddings, "lengths": lengths,
            "per_token": per_token, "attention": flops.attention_flops_per_token(record["n_layers_after"], config.hidden_size, lengths),
            # The record's real tokens over its training time less the matmul pauses (if any).
            "achieved": throughput["tokens_per_second"] * record["train_seconds"] * per_token
                        / (record["train_seconds"] - matched.paused) / 1e9,
            "paused": matched.paused, "matched_rates": matched.rates}


def threads_per_process(workers: int) -> int:
    """Threads each run gets: all of torch's with one process, cores/N with N workers."""
    import torch

    return torch.get_num_threads() if workers == 1 else max(1, (os.cpu_count() or 1) // workers)


def fine_tune_in_workers(args, argv) -> list[dict]:
    """`--workers N`: N processes run `fine_tune` at once, cores/N threads each; their results."""
    threads = threads_per_process(args.workers)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "LAYERDROP_NO_PROGRESS": "1"}
    command = [sys.executable, __file__, *(argv if argv is not None else sys.argv[1:]), "--worker"]
    workers = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in range(args.workers)]
    results = []
    for worker in workers:
        out, _ = worker.communicate()
        if worker.returncode != 0:
            raise SystemExit(f"a worker failed with exit code {worker.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    print(f"# {args.workers} workers, {threads} thread(s) each")
    return results


def main(argv=None) -> int:
    args = _common.setup(parse_args, argv)
    glue = _common.glue_dir(args.data_dir)
    if args.worker:
        import torch

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
        print(json.dumps(fine_tune(args, glue)))
        return 0

    print(f"# {_common.machine()}")
    before = matmul_peak(args)
    print("# matmul before the run: " + ", ".join(f"{n}: {g:.1f} GFLOP/s" for n, g in before), flush=True)
    runs = fine_tune_in_workers(args, argv) if args.workers > 1 else [fine_tune(args, glue)]
    after = matmul_peak(args)
    print("# matmul after the run:  " + ", ".join(f"{n}: {g:.1f} GFLOP/s" for n, g in after), flush=True)

    first, record = runs[0], runs[0]["record"]
    lengths, per_token, attention = first["lengths"], first["per_token"], first["attention"]
    # The workers train the same workload over the same span. Pauses (if any) are not training.
    achieved = sum(r["achieved"] for r in runs)
    peak = max(g for _, g in before + after)
    utilization = achieved / peak
    # Time-matched: each process's achieved rate without its pauses, against the mean of its own
    # windows (taken with its own threads while the others trained); summed over processes.
    matched = all(r["matched_rates"] for r in runs)
    if matched:
        matched_peak = sum(statistics.fmean(r["matched_rates"]) for r in runs)
        matched_utilization = achieved / matched_peak

    print()
    print(_common.table(["quantity", "value"], [
        ["model / task", f"{args.model} / {args.task}, K={record['k']}, {record['n_layers_after']} layers, hidden {first['hidden']}"],
        ["device / precision", f"{record['device']} / {record['precision']}"],
        ["processes x threads", f"{len(runs)} x {threads_per_process(len(runs))}"],
        ["parameters_after", record["parameters_after"]],
        ["embedding parameters", first["embeddings"]],
        ["non-embedding parameters P", record["parameters_after"] - first["embeddings"]],
        ["train examples / steps", f"{record['train_examples']} / {record['train_steps']}"],
        ["mean real length", sum(lengths) / len(lengths)],
        ["sum n^2 / sum n", sum(n * n for n in lengths) / sum(lengths)],
        ["FLOPs per real token", per_token],
        ["  of which attention (all layers, every query)", f"{attention:,.0f} ({attention / per_token:.1%})"],
        ["train_seconds", " / ".join(str(r["record"]["train_seconds"]) for r in runs)],
        ["tokens_per_second (record)", " / ".join(str(r["record"]["throughput"]["tokens_per_second"]) for r in runs)],
        ["matmul peak GFLOP/s (all cores)", peak],
        ["achieved GFLOP/s" + (" (sum)" if len(runs) > 1 else "") + (", pauses excluded" if args.interleave else ""), achieved],
        ["utilization (best window before/after)", f"{utilization:.1%}"],
        *([["matmul pauses: windows, seconds", " | ".join(f"{len(r['matched_rates'])}, {r['paused']:.1f}" for r in runs)],
           ["time-matched peak GFLOP/s (mean of windows)", " | ".join(
               f"{statistics.fmean(r['matched_rates']):.1f} (range {min(r['matched_rates']):.0f}-{max(r['matched_rates']):.0f})" for r in runs)],
           ["utilization (time-matched)", f"{matched_utilization:.1%}"]] if matched else []),
        ["record: train GFLOP/s / its peak" + (" (pauses included)" if args.interleave else ""), " | ".join(f"{r['record']['throughput']['train_gflops_per_second']} / "
                                                       f"{r['record']['throughput']['matmul_peak_gflops_per_second']}" for r in runs)],
        ["record: utilization (its own threads" + (", pauses included)" if args.interleave else ")"), " | ".join(f"{r['record']['throughput']['utilization']:.1%}" for r in runs)],
        ["record: peak RSS MiB", " | ".join(str(r["record"]["memory"]["peak_rss_mib"]) for r in runs)],
        [f"dev {record['main_metric']['name']}", " | ".join(str(r["record"]["main_metric"]["value"]) for r in runs)],
    ]))
    print()
    layout = f"{len(runs)} single-threaded processes" if len(runs) > 1 else "one process"
    best = f"{utilization:.1%} of the best window before/after ({achieved:.1f} of {peak:.1f} GFLOP/s)"
    regime = "--fast" if args.fast else "stock"
    if matched:
        print(f"SUMMARY utilization ({layout}, {regime}): {matched_utilization:.1%} of the time-matched matmul rate "
              f"({achieved:.1f} of {matched_peak:.1f} GFLOP/s); {best}")
    else:
        print(f"SUMMARY utilization ({layout}, {regime}): {best}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
