"""Does removing parts of a model cut compute as much as its FLOPs say? Inference and training-step
time against the counted-FLOP ratio.

A BERT-base-shaped classifier (`BertConfig()` defaults, random weights) is edited with layerdrop's
own surgery (`layerdrop.models.components.edit_model`, the `top` strategy's layers) into every
variant asked for with `--edits`:

- `layer`: K = 2, 4, 6 whole layers dropped (`--ks`);
- `ffn`, `attention`: the feed-forward or the attention sublayer of K layers removed;
- `relu`, `sigmoid`: the attention normalizer replaced (nothing removed);
- `ln-attention`, `ln-ffn`: the LayerNorm after every attention or feed-forward sublayer removed;

and each is timed on a fixed batch of random token ids with a full attention mask:

- inference: one forward pass under `torch.inference_mode()`;
- training step: forward + backward + AdamW step (fused, as layerdrop trains) + zero_grad;
- fast training step (`train-fast`): the same with `--fast`'s compact_vocab (only the batch's rows
  of the word-embedding table train), as `layerdrop run --fast` trains.

Each (repeat, variant) block runs warm-up iterations, then times `--iters` iterations and keeps the
mean; the reported time is the median over repeats. The variants are interleaved within every
repeat (in a rotated order), so slow spells of the machine hit every variant alike.

The ideal is the variant's counted FLOPs over the full model's (`torch.utils.flop_counter`, with
eager attention so that every attention matmul is counted; forward for inference, forward and
backward for training): for whole layers that is about (L-K)/L, for an FFN sublayer about 2/3 of a
layer, and 1 for the normalizers and LayerNorms, whose elementwise work FLOP counts ignore. The
target: t(variant)/t(full) <= FLOP ratio + 0.05 in every mode timed. A ratio below the ideal
passes; the largest |ratio - ideal| is printed beside it.

    python benchmarks/drop_speedup.py --quick     # batch 8, 3 repeats
    python benchmarks/drop_speedup.py             # batch 32, 5 repeats, every edit
    python benchmarks/drop_speedup.py --edits layer --modes infer --repeats 11 --iters 1   # layers only, finer interleaving
"""

from __future__ import annotations

import argparse
import copy
import time

import _common

TARGET = 0.05
# --edits name -> (component, attention normalizer, LayerNorm removed); the first three take K.
EDITS = {"layer": ("layer", "softmax", None), "ffn": ("ffn", "softmax", None), "attention": ("attention", "softmax", None),
         "relu": ("layer", "relu", None), "sigmoid": ("layer", "sigmoid", None),
         "ln-attention": ("layer", "softmax", "attention"), "ln-ffn": ("layer", "softmax", "ffn")}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=f"target: t(variant)/t(full) <= counted-FLOP ratio + {TARGET} for every variant and mode timed")
    p.add_argument("--ks", default="0,2,4,6", help="layers (or sublayers) to remove, comma-separated; must include 0 (default 0,2,4,6)")
    p.add_argument("--edits", default=",".join(EDITS),
                   help=f"variants to time, comma-separated: {', '.join(EDITS)} (default all)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--repeats", type=int, default=5, help="timed blocks per K and mode; the median is kept (default 5)")
    p.add_argument("--iters", type=int, default=3, help="inference iterations per block (default 3)")
    p.add_argument("--train-iters", type=int, default=2, help="training steps per block (default 2)")
    p.add_argument("--warmup", type=int, default=1, help="untimed iterations before each block (default 1)")
    p.add_argument("--modes", default="infer,train,train-fast",
                   help="what to time, comma-separated: infer, train, train-fast (default all three); the verdict covers those timed")
    p.add_argument("--seed", type=int, default=0)
    _common.device_arguments(p)
    p.add_argument("--quick", action="store_true", help="batch 8, 3 repeats, 2 inference iterations and 1 training step per block")
    args = p.parse_args(argv)
    if args.quick:
        args.batch_size, args.repeats, args.iters, args.train_iters = 8, 3, 2, 1
    args.ks = sorted({int(k) for k in args.ks.split(",")})
    args.edits = [e.strip() for e in args.edits.split(",") if e.strip()]
    unknown = [e for e in args.edits if e not in EDITS]
    if unknown:
        p.error(f"--edits: unknown {unknown[0]!r}; choose from {', '.join(EDITS)}")
    args.modes = [m for m in ("infer", "train", "train-fast") if m in {m.strip() for m in args.modes.split(",")}]
    if not args.modes:
        p.error("--modes: name infer, train, train-fast or several")
    if 0 not in args.ks:
        p.error("--ks must include 0 (the reference)")
    return args


def variants(args, n_layers: int) -> list[tuple[str, str, int, str, str | None]]:
    """(label, component, K, normalizer, LayerNorm) for every model timed; the full model first."""
    out = [("full", "layer", 0, "softmax", None)]
    for edit in args.edits:
        component, normalizer, layernorm = EDITS[edit]
        if edit in ("layer", "ffn", "attention"):
            out += [(f"{edit} K={k}", component, k, normalizer, layernorm) for k in args.ks if 0 < k < n_layers + (edit != "layer")]
        else:
            out.append((edit, component, 0, normalizer, layernorm))
    return out


def counted_flops(model, batch, labels, train: bool) -> int:
    """FLOPs of one forward (and, with `train`, backward) pass, counted by torch's FlopCounterMode on
    a copy with eager attention (sdpa's fused kernels are not all counted)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    copy_ = copy.deepcopy(model).cpu().train(train)
    if getattr(copy_.config, "_attn_implementation", "eager") == "sdpa":
        copy_.set_attn_implementation("eager")
    with FlopCounterMode(display=False) as counter:
        if train:
            copy_(**batch, labels=labels).loss.backward()
        else:
            with torch.no_grad():
                copy_(**batch)
    return counter.get_total_flops()


def build_models(args) -> tuple[int, dict]:
    import torch
    from transformers import AutoModelForSequenceClassification, BertConfig

    from layerdrop.models.components import edit_model
    from layerdrop.models.surgery import count_parameters
    from layerdrop.selection import registry

    torch.manual_seed(args.seed)
    base = AutoModelForSequenceClassification.from_config(BertConfig())
    n_layers = base.config.num_hidden_layers
    # FLOPs scale with the batch size, so two sequences of the timed length give the same ratios.
    gen = torch.Generator().manual_seed(args.seed)
    small = {"input_ids": torch.randint(0, 30522, (2, args.seq_len), generator=gen),
             "attention_mask": torch.ones(2, args.seq_len, dtype=torch.long)}
    small_labels = torch.tensor([0, 1])
    models = {}
    for label, component, k, normalizer, layernorm in variants(args, n_layers):
        model = copy.deepcopy(base)
        top = registry.plan("top").select(n_layers, k, component=component).dropped_layers
        edit_model(model, component, top, normalizer, layernorm)
        flops = {mode: counted_flops(model, small, small_labels, train=mode != "infer") for mode in ("infer", "train")}
        models[label] = (model.to(args.device), count_parameters(model), flops)
    del base
    full = models["full"][2]
    return n_layers, {label: (m, n, {mode: f[mode] / full[mode] for mode in f}) for label, (m, n, f) in models.items()}


def main(argv=None) -> int:
    args = _common.setup(parse_args, argv)
    import torch

    if max(args.ks) > 12:
        raise SystemExit(f"--ks: a BERT-base-shaped model has 12 layers, not {max(args.ks)}")
    n_layers, models = build_models(args)
    gen = torch.Generator().manual_seed(args.seed)
    shape = (args.batch_size, args.seq_len)
    batch = {"input_ids": torch.randint(0, 30522, shape, generator=gen), "attention_mask": torch.ones(shape, dtype=torch.long),
             "token_type_ids": torch.zeros(shape, dtype=torch.long)}
    batch = {k: v.to(args.device) for k, v in batch.items()}
    labels = torch.randint(0, 2, (args.batch_size,), generator=gen).to(args.device)
    device_type = "cuda" if args.device.startswith("cuda") else "cpu"
    autocast = (lambda: torch.autocast(device_type, dtype=torch.bfloat16)) if args.precision == "bf16" else \
        (lambda: torch.autocast(device_type, enabled=False))

    def block(fn, iters: int) -> float:
        for _ in range(args.warmup):
            fn()
        _common.sync(args.device)
        start = time.perf_counter()
        for _ in range(iters):
            fn()
        _common.sync(args.device)
        return (time.perf_counter() - start) / iters

    def infer_block(model) -> float:
        model.eval()

        def step():
            with torch.inference_mode(), autocast():
                model(**batch).logits

        return block(step, args.iters)

    def train_block(model, fast: bool = False) -> float:
        model.train()
        compaction = None
        if fast:
            from layerdrop.training.fast import compact_vocab

            compaction = compact_vocab.compact(model, batch["input_ids"].tolist(), 0, 0.0)
        # A fresh optimizer per block (its state is made in the warm-up), so only one K holds AdamW state.
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=device_type in ("cpu", "cuda"))

        def step():
            with autocast():
                loss = model(**batch, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        seconds = block(step, args.train_iters)
        del optimizer
        if compaction is not None:
            compaction.restore()
        return seconds

    print(f"# {_common.machine()}")
    print(f"# BertConfig() (L={n_layers}, hidden 768), batch {args.batch_size} x seq {args.seq_len}, {args.device} "
          f"{args.precision}, {args.repeats} repeats, {args.iters} inference / {args.train_iters} training iterations "
          f"per block, {args.warmup} warm-up, timing {' and '.join(args.modes)}")
    labels_ = list(models)
    times = {mode: {label: [] for label in labels_} for mode in args.modes}
    blocks = {"infer": infer_block, "train": train_block, "train-fast": lambda model: train_block(model, fast=True)}
    for repeat in range(args.repeats):
        shift = repeat % len(labels_)
        order = labels_[shift:] + labels_[:shift]  # rotate: no variant always goes first
        for label in order:
            for mode in args.modes:
                times[mode][label].append(blocks[mode](models[label][0]))
        print(f"# repeat {repeat + 1}/{args.repeats} done", flush=True)

    med = {mode: {label: _common.median(v) for label, v in per.items()} for mode, per in times.items()}
    rows, worst, excess = [], 0.0, float("-inf")
    for label in labels_:
        model, n_params, ideal = models[label]
        ratios = {mode: med[mode][label] / med[mode]["full"] for mode in args.modes}
        # train-fast trains the same network: its ideal is the training step's.
        ideals = {mode: ideal["infer" if mode == "infer" else "train"] for mode in args.modes}
        if label != "full":
            worst = max([worst, *(abs(ratios[m] - ideals[m]) for m in args.modes)])
            excess = max([excess, *(ratios[m] - ideals[m] for m in args.modes)])
        rows.append([label, n_params, *(x for m in args.modes for x in (1000 * med[m][label], ratios[m], ideals[m],
                                                                         ratios[m] - ideals[m]))])
    print()
    print(_common.table(["variant", "params", *(x for m in args.modes for x in (f"{m}_ms", f"{m}_ratio", f"{m}_ideal",
                                                                                 f"{m}_diff"))], rows))
    print()
    print(f"SUMMARY drop_speedup: max (ratio - FLOP ratio) = {excess:+.3f} (target <= {TARGET}, below the ideal passes): "
          f"{'PASS' if excess <= TARGET else 'FAIL'}; max |ratio - FLOP ratio| = {worst:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
