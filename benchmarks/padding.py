"""How many tokens does an epoch of training batches pad to, for each length-grouping group size?

Tokenizes a task's training subsample as `layerdrop run` does and builds one epoch of batches
with the same functions the training loop uses (`layerdrop.data.batching`): random batches
(`--no-group-by-length`) and length groups of G batches (`--length-group-batches G`). Padded
tokens are what the model computes on; the real-token share is how much of that is not padding.
Needs no model weights beyond the tokenizer and runs in seconds.

    python benchmarks/padding.py                                   # SST-2, 2,000 examples, batch 32
    python benchmarks/padding.py --task rte --train-samples 0 --batch-size 16
"""

from __future__ import annotations

import argparse
import statistics

import _common


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="minilm-l6", help="whose tokenizer (default minilm-l6)")
    p.add_argument("--task", default="sst2")
    p.add_argument("--data-dir", help="GLUE folder (default $LAYERDROP_GLUE_DIR, else ../shared/data/glue)")
    p.add_argument("--train-samples", type=int, default=2000, help="seeded training subsample; 0 for all (default 2000)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-seq-length", type=int, default=128)
    p.add_argument("--groups", default="2,4,8,16,50", help="comma-separated group sizes in batches (default 2,4,8,16,50)")
    p.add_argument("--shuffles", type=int, default=3, help="epochs (seeds) averaged per row (default 3)")
    p.add_argument("--seed", type=int, default=1, help="subsample seed (default 1)")
    p.add_argument("--quick", action="store_true", help="one shuffle per row")
    args = p.parse_args(argv)
    if args.quick:
        args.shuffles = 1
    return args


def main(argv=None) -> int:
    _common.offline()
    args = parse_args(argv)
    glue = _common.glue_dir(args.data_dir)
    import torch

    from layerdrop.models import loading as models
    from layerdrop.data.batching import encode, length_grouped_batches, padded_tokens, shuffled_batches
    from layerdrop.data.loading import load_task_data, subsample
    from layerdrop.data.tasks import get_task

    tokenizer = models.load_tokenizer(models.resolve(args.model))
    train = subsample(load_task_data(get_task(args.task), glue)["train"], args.train_samples or None, args.seed)
    lengths = encode(tokenizer, train, args.max_seq_length).lengths()

    def measure(make_batches) -> tuple[float, float]:
        padded = [padded_tokens(lengths, make_batches(torch.Generator().manual_seed(s))) for s in range(args.shuffles)]
        return statistics.fmean(padded), sum(lengths) / statistics.fmean(padded)

    arms = [("random", lambda g: shuffled_batches(len(lengths), args.batch_size, g))]
    arms += [(f"groups of {n}", (lambda n: lambda g: length_grouped_batches(lengths, args.batch_size, g, n))(int(n)))
             for n in args.groups.split(",")]
    rows = [[name, *measure(fn)] for name, fn in arms]
    print(f"# {args.task}, {len(lengths)} training examples ({sum(lengths) / len(lengths):.1f} real tokens each), "
          f"batch {args.batch_size}, mean over {args.shuffles} shuffles")
    print(_common.table(["batches", "padded_tokens_per_epoch", "real_token_share"], rows))
    best = min(rows[1:], key=lambda r: r[1])
    print(f"\nSUMMARY padding: random batches pad to {rows[0][1]:,.0f} tokens per epoch; {best[0]} to {best[1]:,.0f} "
          f"({rows[0][1] / best[1]:.1f}x fewer)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
