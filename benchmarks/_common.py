"""Helpers shared by the benchmark scripts: offline set-up, GLUE folder, device, tables, stats.

The scripts run as `python benchmarks/NAME.py`, so this folder is on `sys.path` and they import
this module as `_common`. Nothing here times anything.
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def offline() -> None:
    """Never touch the Hugging Face hub; keep library chatter off stdout."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # transformers' "Loading weights" bar


def setup(parse_args, argv=None):
    """Go offline, parse the arguments, and resolve --device and --precision (every script's start)."""
    offline()
    args = parse_args(argv)
    args.device = resolve_device(args.device)
    args.precision = resolve_precision(args.precision, args.device)
    return args


def device_arguments(parser) -> None:
    """--device and --precision, the same in every script; `setup` resolves them."""
    parser.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"), help="auto: bf16 on GPU, fp32 on CPU")


def glue_dir(explicit: str | None = None) -> str:
    """`--data-dir`, else $LAYERDROP_GLUE_DIR, else ../shared/data/glue next to the repository."""
    for candidate in (explicit, os.environ.get("LAYERDROP_GLUE_DIR"), str(REPO.parent / "shared" / "data" / "glue")):
        if candidate and Path(candidate).expanduser().is_dir():
            return str(Path(candidate).expanduser().resolve())
    raise SystemExit("no GLUE folder: pass --data-dir DIR or set LAYERDROP_GLUE_DIR (../shared/data/glue is missing)")


def resolve_device(device: str) -> str:
    """`auto` -> cuda when available, else cpu."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"--device {device}: CUDA is not available here")
    return device


def resolve_precision(precision: str, device: str) -> str:
    """`auto` -> bf16 on a GPU, fp32 on CPU."""
    if precision == "auto":
        return "bf16" if device.startswith("cuda") else "fp32"
    return precision


def sync(device: str) -> None:
    """Wait for queued GPU work, so a timer reads the real end of a step."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def median(values) -> float:
    values = [v for v in values if v == v]  # drop NaN
    return statistics.median(values) if values else float("nan")


def table(headers: list[str], rows: list[list]) -> str:
    """A plain aligned text table (numbers right-aligned)."""
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]

    # A column is right-aligned when every value in it is a number.
    numeric = [bool(rows) and all(isinstance(r[i], (int, float)) and not isinstance(r[i], bool) for r in rows)
               for i in range(len(headers))]

    def line(values, align=True):
        out = [v.rjust(widths[i]) if align and numeric[i] else v.ljust(widths[i]) for i, v in enumerate(values)]
        return "  ".join(out).rstrip()

    return "\n".join([line(headers, False), line(["-" * w for w in widths], False), *(line(c) for c in cells)])


def _fmt(value) -> str:
    if isinstance(value, float):
        if value != value:
            return "nan"
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


def machine() -> str:
    """One line about where the numbers were taken."""
    import platform

    import torch

    where = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU, {torch.get_num_threads()} threads"
    load = ""
    if hasattr(os, "getloadavg"):
        load = f", load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (should be ~0 for clean numbers)"
    return f"{platform.node()}: {where}, torch {torch.__version__}{load}"
