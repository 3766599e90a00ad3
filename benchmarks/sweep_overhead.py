"""What does a sweep cell cost beyond its own training and evaluation?

Runs a small sweep in this process, through the same calls as `layerdrop sweep`
(`layerdrop.experiments.sweep_checks.validate`, `sweep.expand`, `sweep.execute`), with results in a temporary folder: minilm-l6,
an SST-2 subsample, 2 strategies x K = 1, 2, one seed. For each record,

    overhead = total_seconds - train_seconds - eval_seconds

is what the cell spent outside fine-tuning and evaluation: copying the pretrained model, choosing
and dropping layers, picking the tokenized subsample, preparing the Accelerator. The first cell also
loads the model and tokenizes the task (once per sweep), so only the cells after it are scored.

    python benchmarks/sweep_overhead.py --quick    # 200-example dev subsample
    python benchmarks/sweep_overhead.py            # full dev set
"""

from __future__ import annotations

import argparse
import tempfile
import time

import _common

TARGET = 0.05


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=f"target: median overhead < {TARGET:.0%} of cell time, over the cells after the first")
    p.add_argument("--model", default="minilm-l6")
    p.add_argument("--task", default="sst2")
    p.add_argument("--data-dir", help="GLUE folder (default $LAYERDROP_GLUE_DIR, else ../shared/data/glue)")
    p.add_argument("--strategies", default="top,bottom", help="comma-separated strategy names (default top,bottom)")
    p.add_argument("--ks", default="1,2", help="comma-separated K values (default 1,2)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--train-samples", type=int, default=200)
    p.add_argument("--eval-samples", type=int, default=None, help="dev subsample (default: full dev set)")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--learning-rate", type=float, default=1e-4)
    p.add_argument("--baseline", action="store_true", help="include the K=0 cell (it runs first)")
    p.add_argument("--fast", action="store_true", help="cells train with layerdrop's --fast paths (default: stock)")
    _common.device_arguments(p)
    p.add_argument("--quick", action="store_true", help="evaluate on a 200-example dev subsample")
    args = p.parse_args(argv)
    if args.quick:
        args.eval_samples = 200
    return args


def main(argv=None) -> int:
    args = _common.setup(parse_args, argv)
    glue = _common.glue_dir(args.data_dir)
    from layerdrop.experiments.sweep import StrategySpec, SweepConfig, execute, expand
    from layerdrop.experiments.sweep_checks import validate

    train = {"data_dir": glue, "max_train_samples": args.train_samples, "epochs": args.epochs,
             "learning_rate": args.learning_rate, "device": args.device, "precision": args.precision, "fast": args.fast}
    if args.eval_samples:
        train["max_eval_samples"] = args.eval_samples
    sweep = SweepConfig(name="overhead", models=(args.model,), tasks=(args.task,), seeds=(args.seed,),
                        strategies=tuple(StrategySpec.parse(s) for s in args.strategies.split(",")),
                        ks=tuple(int(k) for k in args.ks.split(",")), baseline=args.baseline, train=train)
    print(f"# {_common.machine()}")
    print(f"# {args.model}, {args.task}, {args.train_samples} train examples, dev "
          f"{args.eval_samples or 'full'}, {args.epochs:g} epoch(s), {args.device} {args.precision}, "
          f"{'--fast' if args.fast else 'stock'}")
    validate(sweep)
    cells = expand(sweep)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        outcome = execute(cells, sweep.results_path(tmp), force=True)
        wall = time.perf_counter() - start
    if outcome.failed:
        print("\n".join(f"# failed: {f}" for f in outcome.failed))
    rows, shares = [], []
    for i, r in enumerate(outcome.records):
        overhead = r["total_seconds"] - r["train_seconds"] - r["eval_seconds"]
        share = overhead / r["total_seconds"]
        if i:
            shares.append(share)
        rows.append([i + 1, r["strategy"], r["k"], r["total_seconds"], r["train_seconds"], r["eval_seconds"], overhead,
                     f"{share:.1%}", "first (loads model, tokenizes)" if i == 0 else "scored"])
    print()
    print(_common.table(["cell", "strategy", "K", "total_s", "train_s", "eval_s", "overhead_s", "overhead", "note"], rows))
    between = wall - sum(r["total_seconds"] for r in outcome.records)
    print(f"\nsweep wall time {wall:.1f} s; outside the cells' own timers (records, bookkeeping): {between:.2f} s")
    med = _common.median(shares)
    ok = med == med and med < TARGET
    print()
    print(f"SUMMARY sweep_overhead ({'--fast' if args.fast else 'stock'}): median overhead = {med:.1%} of cell time over {len(shares)} cells after the first "
          f"(target < {TARGET:.0%}): {'PASS' if ok else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
