"""How much of this machine's dense matmul rate does layerdrop's fine-tuning achieve?

1. Peak: repeated `torch.mm` of square matrices (fp32 on CPU, bf16 on GPU with bf16 precision),
   several sizes, each timed in windows of at least `--window` seconds; the best sustained GFLOP/s
   is the peak. It is measured before and after the run and the higher value is kept, so a busy
   spell during one measurement does not flatter the utilization.
2. Fine-tuning: `layerdrop.runner.run` (minilm-l6, a seeded SST-2 subsample, K=0 by default).
3. Achieved FLOP/s = the run record's `throughput.tokens_per_second` (real tokens only) times the
   training FLOPs per real token of `layerdrop/flops.py`:
   6 * (parameters_after - embedding parameters) + 12 * L * h * sum(n**2) / sum(n), where the n are
   the real lengths of the training examples, tokenized the way layerdrop tokenizes them.
   The record's own `throughput.utilization` (the same formula over the batches it trained on,
   against a 0.3 s matmul measurement) is printed beside it as a cross-check.

    python benchmarks/utilization.py --quick      # 300 examples, 1 epoch
    python benchmarks/utilization.py              # 2,000 examples, 1 epoch
"""

from __future__ import annotations

import argparse

import _common

from layerdrop import flops

TARGET = 0.60


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=f"target: achieved training FLOP/s >= {TARGET:.0%} of the measured matmul peak on CPU")
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
    _common.device_arguments(p)
    p.add_argument("--quick", action="store_true", help="300 training examples, 1 epoch, 2 matmul windows per size")
    args = p.parse_args(argv)
    if args.quick:
        args.train_samples, args.epochs, args.windows = 300, 1.0, 2
    return args


def matmul_peak(args) -> list[tuple[int, float]]:
    """(size, best GFLOP/s over the windows) for each matrix size: the records' measurement, longer."""
    import torch

    from layerdrop.hardware import measure_matmul_gflops

    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else (
        [4096, 8192] if args.device.startswith("cuda") else [1024, 2048])
    return [(n, measure_matmul_gflops(args.device, dtype, n, args.windows, args.window)) for n in sizes]


def embedding_parameters(config) -> int:
    """Parameters of the nn.Embedding tables, from the config alone (meta device: no memory)."""
    import torch
    from transformers import AutoModel

    with torch.device("meta"):
        model = AutoModel.from_config(config)
    return flops.embedding_parameters(model)


def train_lengths(args, glue: str, source) -> list[int]:
    """Real token count of each training example, tokenized exactly as layerdrop tokenizes it."""
    from layerdrop.batching import encode
    from layerdrop.data import load_task_data, subsample
    from layerdrop.models import load_tokenizer
    from layerdrop.tasks import get_task

    raw = load_task_data(get_task(args.task), glue)
    split = subsample(raw["train"], args.train_samples, args.seed)
    return encode(load_tokenizer(source), split, 128).lengths()


def main(argv=None) -> int:
    args = _common.setup(parse_args, argv)
    glue = _common.glue_dir(args.data_dir)
    from layerdrop.config import RunConfig
    from layerdrop.models import load_config, resolve
    from layerdrop.runner import run

    print(f"# {_common.machine()}")
    before = matmul_peak(args)
    print(f"# matmul before the run: " + ", ".join(f"{n}: {g:.1f} GFLOP/s" for n, g in before), flush=True)
    cfg = RunConfig(model=args.model, task=args.task, strategy="top", k=args.k, seed=args.seed, data_dir=glue,
                    max_train_samples=args.train_samples, epochs=args.epochs, learning_rate=args.learning_rate,
                    batch_size=args.batch_size, device=args.device, precision=args.precision)
    record = run(cfg, results=None)
    after = matmul_peak(args)
    print(f"# matmul after the run:  " + ", ".join(f"{n}: {g:.1f} GFLOP/s" for n, g in after), flush=True)

    source = resolve(args.model)
    config = load_config(source)
    hidden = config.hidden_size
    n_layers = record["n_layers_after"]
    embeddings = embedding_parameters(config)
    non_embedding = record["parameters_after"] - embeddings
    lengths = train_lengths(args, glue, source)
    per_token = flops.training_flops_per_token(non_embedding, n_layers, hidden, lengths)
    attention = flops.attention_flops_per_token(n_layers, hidden, lengths)
    tokens_per_s = record["throughput"]["tokens_per_second"]
    achieved = tokens_per_s * per_token / 1e9
    peak = max(g for _, g in before + after)
    utilization = achieved / peak

    print()
    print(_common.table(["quantity", "value"], [
        ["model / task", f"{args.model} / {args.task}, K={record['k']}, {n_layers} layers, hidden {hidden}"],
        ["device / precision", f"{record['device']} / {record['precision']}"],
        ["parameters_after", record["parameters_after"]],
        ["embedding parameters", embeddings],
        ["non-embedding parameters P", non_embedding],
        ["train examples / steps", f"{record['train_examples']} / {record['train_steps']}"],
        ["mean real length", sum(lengths) / len(lengths)],
        ["sum n^2 / sum n", sum(n * n for n in lengths) / sum(lengths)],
        ["FLOPs per real token", per_token],
        ["  of which attention", f"{attention:,.0f} ({attention / per_token:.1%})"],
        ["train_seconds", record["train_seconds"]],
        ["tokens_per_second (record)", tokens_per_s],
        ["matmul peak GFLOP/s", peak],
        ["achieved GFLOP/s", achieved],
        ["utilization", f"{utilization:.1%}"],
        ["record: train GFLOP/s / its peak", f"{record['throughput']['train_gflops_per_second']} / "
                                             f"{record['throughput']['matmul_peak_gflops_per_second']}"],
        ["record: utilization", f"{record['throughput']['utilization']:.1%}"],
        ["record: peak RSS MiB", record["memory"]["peak_rss_mib"]],
        [f"dev {record['main_metric']['name']}", record["main_metric"]["value"]],
    ]))
    print()
    print(f"SUMMARY utilization: achieved {achieved:.1f} GFLOP/s of a {peak:.1f} GFLOP/s matmul peak = "
          f"{utilization:.1%} (target >= {TARGET:.0%} on CPU): {'PASS' if utilization >= TARGET else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
