"""How long do `layerdrop analyze cka` and `probe` take on MiniLM? Target: under a minute each on 2 CPU cores.

Runs the library calls behind the commands, in this process, on the packaged all-MiniLM-L6-v2 and
SST-2 sentences (the training split, `--n-examples` of them):

- `cka`: representations of MiniLM and of MiniLM with its top two layers dropped (in a temporary
  folder, as `layerdrop drop` writes it), then the 7 x 5 linear CKA matrix (cls representation,
  HSIC over minibatches of 256 rows);
- `probe`: the `task` probe (SST-2's labels) on all 7 hidden states of MiniLM.

Each is timed end to end from a fresh cache (model loading, tokenization, extraction, the numbers),
as a command would run, `--repeats` times; the median is reported.

    python benchmarks/analysis_speed.py              # 2,000 sentences, 3 repeats
    python benchmarks/analysis_speed.py --quick      # 300 sentences, 1 repeat
"""

from __future__ import annotations

import argparse
import tempfile
import time

import _common

TARGET_SECONDS = 60.0


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=f"target: each analysis under {TARGET_SECONDS:.0f} s")
    p.add_argument("--n-examples", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--data-dir", default=None, help="GLUE folder (default: $LAYERDROP_GLUE_DIR or ../shared/data/glue)")
    p.add_argument("--quick", action="store_true", help="300 sentences, 1 repeat")
    _common.device_arguments(p)
    args = p.parse_args(argv)
    if args.quick:
        args.n_examples, args.repeats = 300, 1
    return args


def main(argv=None) -> int:
    args = _common.setup(parse_args, argv)
    from layerdrop.experiments.analyses import AnalysisConfig, run_analysis
    from layerdrop.selection.config import DropConfig
    from layerdrop.selection.dropping import drop_and_save

    data_dir = _common.glue_dir(args.data_dir)
    print(f"# {_common.machine()}")
    print(f"# minilm-l6 on {args.n_examples} SST-2 training sentences, {args.device}, {args.repeats} repeat(s)")
    with tempfile.TemporaryDirectory() as tmp:
        dropped = f"{tmp}/minilm-top2"
        drop_and_save(DropConfig(model="minilm-l6", strategy="top", k=2), dropped, log=lambda _: None)
        common = dict(model="minilm-l6", task="sst2", split="train", n_examples=args.n_examples, data_dir=data_dir,
                      device=args.device)
        configs = {"cka (7 x 5)": AnalysisConfig(analysis="cka", against=(dropped,), **common),
                   "probe task (7 layers)": AnalysisConfig(analysis="probe", probe_task="task", **common)}
        rows, worst = [], 0.0
        for label, cfg in configs.items():
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                run_analysis(cfg, results=None)  # a fresh cache each time: loading and extraction included
                times.append(time.perf_counter() - start)
            median = _common.median(times)
            worst = max(worst, median)
            rows.append([label, f"{median:.1f}", ", ".join(f"{t:.1f}" for t in times)])
    print()
    print(_common.table(["analysis", "median_s", "all_s"], rows))
    print()
    print(f"SUMMARY analysis_speed: slowest median {worst:.1f} s (target < {TARGET_SECONDS:.0f} s): "
          f"{'PASS' if worst < TARGET_SECONDS else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
