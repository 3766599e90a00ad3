"""Where does a training step's time go? The op-level profile behind the utilization figure.

Runs `layerdrop.experiments.runner.run` (minilm-l6, an SST-2 subsample, K=0, one epoch) under
`torch.profiler` and prints the ops with the most self time, then one line splitting the time
into matrix multiplies (aten::mm, addmm, bmm: the FLOPs utilization counts) and everything else
(dropout, the optimizer, LayerNorm, GELU, gradient clipping, copies). Matmuls run near the
machine's peak; the other ops are memory-bound, and their share caps the utilization.

    python benchmarks/step_profile.py              # 1,280 examples: steps 12-40 profiled
    python benchmarks/step_profile.py --fast       # the same with layerdrop's --fast paths
    python benchmarks/step_profile.py --ab 3       # no profiler: stock and --fast, alternating
"""

from __future__ import annotations

import argparse

import _common

MATMULS = ("aten::mm", "aten::addmm", "aten::bmm")
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="minilm-l6")
    p.add_argument("--data-dir", help="GLUE folder (default $LAYERDROP_GLUE_DIR, else ../shared/data/glue)")
    p.add_argument("--train-samples", type=int, default=1280)
    p.add_argument("--skip-steps", type=int, default=10,
                   help="warm-up steps left out of the profile (default 10; they page-fault while the heap grows)")
    p.add_argument("--rows", type=int, default=15, help="ops to list (default 15)")
    p.add_argument("--fast", action="store_true", help="profile a run with layerdrop's --fast paths (default: stock)")
    p.add_argument("--ab", type=int, default=0, metavar="ROUNDS",
                   help="instead of profiling, time ROUNDS pairs of runs, stock and --fast")
    p.add_argument("--task", default="sst2", help="GLUE task (default sst2)")
    p.add_argument("--k", type=int, default=0, help="top layers to drop first (default 0)")
    _common.device_arguments(p)
    return p.parse_args(argv)


def _config(args, glue, fast: bool):
    from layerdrop.experiments.config import RunConfig

    return RunConfig(model=args.model, task=args.task, k=args.k, seed=42, data_dir=glue, max_train_samples=args.train_samples,
                     epochs=1, learning_rate=1e-4, device=args.device, precision=args.precision, fast=fast)


def ab(args, glue) -> int:
    """Alternate stock and --fast runs in one process, so drift hits both alike; every other round
    runs them in the other order (A B B A ...), so the first run's warm-up does too."""
    import statistics

    from layerdrop.experiments.runner import run

    labels = {False: "stock", True: "--fast"}
    rows, seconds = [], {False: [], True: []}
    for round_ in range(1, args.ab + 1):
        for on in (False, True) if round_ % 2 else (True, False):
            record = run(_config(args, glue, on), results=None)
            seconds[on].append(record["train_seconds"] / record["train_steps"])
            rows.append([round_, labels[on], record["train_seconds"], 1000 * seconds[on][-1],
                         f"{record['throughput']['utilization']:.1%}", record["final_train_loss"], record["main_metric"]["value"]])
    print(_common.table(["round", "regime", "train s", "ms per step", "utilization", "last loss", "dev"], rows))
    off, on = statistics.median(seconds[False]), statistics.median(seconds[True])
    ratios = [b / a for a, b in zip(seconds[False], seconds[True])]
    print(f"\nSUMMARY --fast: median {1000 * off:.0f} -> {1000 * on:.0f} ms per step ({on / off:.3f}x; "
          f"pairs {', '.join(f'{r:.2f}' for r in ratios)}) over {args.ab} alternating rounds")
    return 0


def main(argv=None) -> int:
    args = _common.setup(parse_args, argv)
    glue = _common.glue_dir(args.data_dir)
    print(f"# {_common.machine()}")
    if args.ab:
        return ab(args, glue)
    import layerdrop.training.loop as train
    from torch.profiler import ProfilerActivity, profile

    from layerdrop.experiments.runner import run

    from torch.optim.optimizer import register_optimizer_step_post_hook
    from torch.profiler import schedule

    captured = {}
    fine_tune = train.fine_tune

    def profiled(*a, **k):
        # The first steps grow the heap to the largest batch's working set and page-fault on it (up
        # to 100k faults a step), which later steps never do: they are left out of the averages.
        plan = schedule(wait=args.skip_steps, warmup=1, active=10**9, repeat=1)
        with profile(activities=[ProfilerActivity.CPU], schedule=plan) as prof:
            hook = register_optimizer_step_post_hook(lambda *_: prof.step())
            try:
                stats = fine_tune(*a, **k)
            finally:
                hook.remove()
        captured["events"] = prof.key_averages()
        return stats

    train.fine_tune = profiled
    try:
        record = run(_config(args, glue, args.fast), results=None)
    finally:
        train.fine_tune = fine_tune
    events = sorted(captured["events"], key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    steps = record["train_steps"] - args.skip_steps - 1  # the last profiled window ends at the last step
    if steps < 1:
        raise SystemExit(f"--train-samples gives {record['train_steps']} steps; more than --skip-steps + 1 are needed")
    print(_common.table(["op", "calls per step", "ms per step", "share"], [
        # A ProfilerStep's own time is what ran outside every aten op: Python, the data loader.
        ["(outside aten ops)" if e.key.startswith("ProfilerStep") else e.key[:60], e.count / steps, e.self_cpu_time_total / 1000 / steps, f"{e.self_cpu_time_total / total:.1%}"]
        for e in events[: args.rows]]))
    matmul = sum(e.self_cpu_time_total for e in events if e.key in MATMULS)
    print(f"\nSUMMARY step: {total / 1000 / steps:.0f} ms per step (profiled), matmuls {matmul / total:.0%}, "
          f"everything else {1 - matmul / total:.0%}; utilization in the record {record['throughput']['utilization']:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
