"""layerdrop's fine-tuning against transformers' Trainer: same model, data, hyperparameters, seed.

Four systems run alternately in one process (A B C D A B C D ...), so machine noise spreads evenly:

- layerdrop: `layerdrop.experiments.runner.run(RunConfig(...), results=None)`, the real code path in
  stock mode (per-batch padding, length-grouped batches, fused AdamW, length-sorted evaluation).
- layerdrop --fast: the same with `fast=True` (`layerdrop.training.fast`).
- default: `Trainer` configured like `run_glue.py`'s defaults: every example padded to
  max_seq_length (tokenizer `padding="max_length"`) and the default data collator.
- tuned: `Trainer` with per-batch padding (`DataCollatorWithPadding`).

Every system loads its own data, tokenizer and model inside its timed total. Training and evaluation
are timed separately: layerdrop's come from its run record, the Trainer's around `train()` and
`predict()`. The classification head of the Trainer runs is initialised exactly as layerdrop does
(from the seed), so all three start from the same weights.

Round r uses seed `--seed` + r - 1 for all three systems, so with `--repeats 3` the metric
comparison is paired over three seeds (the mean difference is what the target checks: one seed of
SST-2 at 2,000 examples moves 1-2 points by itself) and the times are medians over three rounds.

    python benchmarks/finetune_vs_trainer.py --quick          # ~2 minutes on 2 CPU cores
    python benchmarks/finetune_vs_trainer.py --repeats 3      # the measurement
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from dataclasses import dataclass

import _common

SYSTEMS = ("layerdrop", "layerdrop --fast", "default", "tuned")
OURS = SYSTEMS[:2]
TARGET_DEFAULT, TARGET_TUNED, TARGET_POINTS = 0.25, 0.8, 1.0


@dataclass
class Result:
    system: str
    repeat: int
    train_s: float
    eval_s: float
    total_s: float
    steps: int
    metric: float


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="targets: layerdrop <= 0.25x run_glue default and <= 0.8x tuned Trainer "
                                       "(total wall time), dev metric within 1 point of both")
    p.add_argument("--model", default="minilm-l6", help="layerdrop alias, hub id (cached) or local folder (default minilm-l6)")
    p.add_argument("--task", default="sst2", choices=("sst2", "rte"), help="GLUE task (default sst2)")
    p.add_argument("--data-dir", help="GLUE folder (default $LAYERDROP_GLUE_DIR, else ../shared/data/glue)")
    p.add_argument("--train-samples", type=int, default=2000, help="seeded training subsample, as layerdrop takes it (default 2000)")
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--learning-rate", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--eval-batch-size", type=int, default=128, help="the same for all three (layerdrop's default)")
    p.add_argument("--max-seq-length", type=int, default=128)
    p.add_argument("--seed", type=int, default=42, help="seed of the first round; round r uses seed + r - 1 (default 42)")
    p.add_argument("--repeats", type=int, default=1, help="rounds of A B C D, one seed each (default 1)")
    p.add_argument("--trainer-optim", default="adamw_torch", choices=("adamw_torch", "adamw_torch_fused"),
                   help="Trainer optimizer (default adamw_torch; transformers 5's own default is adamw_torch_fused)")
    _common.device_arguments(p)
    p.add_argument("--quick", action="store_true", help="300 training examples, 1 epoch (about 2 minutes on 2 CPU cores)")
    args = p.parse_args(argv)
    if args.quick:
        args.train_samples, args.epochs = 300, 1.0
    return args


def _reset_accelerate() -> None:
    """Forget Accelerate's process-wide state, so each run configures it afresh."""
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()


def _warm_imports() -> None:
    """Import what all three systems use before any timer starts, so the first run pays no import time."""
    import accelerate  # noqa: F401
    import scipy.stats  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import torch  # noqa: F401
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments  # noqa: F401

    import layerdrop.data.loading  # noqa: F401
    import layerdrop.data.metrics  # noqa: F401
    import layerdrop.experiments.runner  # noqa: F401
    import layerdrop.training.loop  # noqa: F401


def run_layerdrop(args, glue: str, repeat: int, fast: bool) -> Result:
    from layerdrop.experiments.config import RunConfig
    from layerdrop.experiments.runner import run

    cfg = RunConfig(model=args.model, task=args.task, strategy="top", k=0, seed=args.seed, data_dir=glue,
                    max_train_samples=args.train_samples, epochs=args.epochs, learning_rate=args.learning_rate,
                    batch_size=args.batch_size, eval_batch_size=args.eval_batch_size,
                    max_seq_length=args.max_seq_length, device=args.device, precision=args.precision, fast=fast)
    start = time.perf_counter()
    record = run(cfg, results=None)
    total = time.perf_counter() - start
    return Result(SYSTEMS[int(fast)], repeat, record["train_seconds"], record["eval_seconds"], total,
                  record["train_steps"], record["main_metric"]["value"])


def run_trainer(args, glue: str, repeat: int, static: bool) -> Result:
    import torch
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, PrinterCallback,
                              Trainer, TrainingArguments, default_data_collator)

    from layerdrop.data.loading import load_task_data, subsample
    from layerdrop.data.metrics import compute_metrics
    from layerdrop.models.loading import resolve
    from layerdrop.experiments.resources import reset_head
    from layerdrop.data.tasks import get_task

    start = time.perf_counter()
    task = get_task(args.task)
    raw = load_task_data(task, glue)
    train_split = subsample(raw["train"], args.train_samples, args.seed)
    location = resolve(args.model).location
    tokenizer = AutoTokenizer.from_pretrained(location)

    def dataset(split) -> list[dict]:
        # run_glue.py pads every example to max_seq_length at tokenization time by default.
        enc = tokenizer(*[list(f) for f in split.texts], truncation=True, max_length=args.max_seq_length,
                        padding="max_length" if static else False)
        keys = [k for k in enc.keys() if k in ("input_ids", "attention_mask", "token_type_ids")]
        return [{**{k: enc[k][i] for k in keys}, "labels": split.labels[i]} for i in range(len(split))]

    train_data = dataset(train_split)
    dev_data = {name: dataset(raw[name]) for name in task.eval_splits}
    # float32 like layerdrop's run, whatever dtype the checkpoint is stored in (benchmarks/bundle.py --fp16)
    model = AutoModelForSequenceClassification.from_pretrained(location, num_labels=task.num_labels, dtype=torch.float32)
    reset_head(model, args.seed)  # the head layerdrop's run starts from
    on_cpu = not args.device.startswith("cuda")
    with tempfile.TemporaryDirectory() as out:
        targs = TrainingArguments(
            output_dir=out, num_train_epochs=args.epochs, learning_rate=args.learning_rate,
            per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=args.eval_batch_size,
            warmup_steps=0, lr_scheduler_type="linear", optim=args.trainer_optim, max_grad_norm=1.0, weight_decay=0.0,
            seed=args.seed, report_to=[], save_strategy="no", eval_strategy="no", logging_strategy="no",
            use_cpu=on_cpu, dataloader_num_workers=0, disable_tqdm=True, bf16=args.precision == "bf16",
        )
        collator = default_data_collator if static else DataCollatorWithPadding(tokenizer)
        trainer = Trainer(model=model, args=targs, data_collator=collator, train_dataset=train_data)
        trainer.remove_callback(PrinterCallback)  # it prints the final train metrics on stdout, which is our table's
        t = time.perf_counter()
        output = trainer.train()
        _common.sync(args.device)
        train_s = time.perf_counter() - t
        t = time.perf_counter()
        outputs = {}
        for name, data in dev_data.items():
            logits = trainer.predict(data).predictions
            logits = logits[0] if isinstance(logits, tuple) else logits
            outputs[name] = (torch.as_tensor(logits).argmax(-1).tolist(), list(raw[name].labels))
        metric = compute_metrics(task, outputs)[task.main_metric]
        eval_s = time.perf_counter() - t
    total = time.perf_counter() - start
    return Result("default" if static else "tuned", repeat, train_s, eval_s, total, output.global_step, metric)


def main(argv=None) -> int:
    args = _common.setup(parse_args, argv)
    glue = _common.glue_dir(args.data_dir)
    from layerdrop.models.loading import resolve

    print(f"# {_common.machine()}")
    print(f"# {args.model} ({resolve(args.model).location}), {args.task}, {args.train_samples} train examples, "
          f"{args.epochs:g} epochs, lr {args.learning_rate:g}, batch {args.batch_size}, K=0, first seed {args.seed}, "
          f"{args.device} {args.precision}, Trainer optim {args.trainer_optim}")
    _warm_imports()
    results: list[Result] = []
    for repeat in range(1, args.repeats + 1):
        round_args = argparse.Namespace(**{**vars(args), "seed": args.seed + repeat - 1})
        for system in SYSTEMS:  # A B C A B C ...: noise spreads over all three
            _reset_accelerate()
            gc.collect()
            if system in OURS:
                results.append(run_layerdrop(round_args, glue, repeat, fast=system != "layerdrop"))
            else:
                results.append(run_trainer(round_args, glue, repeat, static=system == "default"))
            r = results[-1]
            print(f"# repeat {repeat} (seed {round_args.seed}) {system}: total {r.total_s:.1f} s, {args.task} {r.metric:.4f}",
                  flush=True)

    print()
    # setup_s = total - train - eval: loading data, tokenizer and model, tokenizing, building the trainer.
    print(_common.table(["repeat", "system", "train_s", "eval_s", "setup_s", "total_s", "steps", "metric"],
                        [[r.repeat, r.system, r.train_s, r.eval_s, r.total_s - r.train_s - r.eval_s, r.total_s, r.steps,
                          r.metric] for r in results]))
    med = {s: {f: _common.median(getattr(r, f) for r in results if r.system == s)
               for f in ("train_s", "eval_s", "total_s")} for s in SYSTEMS}
    for s in SYSTEMS:  # the metric is a mean over the rounds' seeds, not a median
        med[s]["metric"] = statistics.fmean(r.metric for r in results if r.system == s)
    rows = []
    for ours in OURS:
        ld = med[ours]
        for s in SYSTEMS[2:]:
            m = med[s]
            rows.append([ours, s, m["train_s"], m["eval_s"], m["total_s"], ld["train_s"] / m["train_s"],
                         ld["eval_s"] / m["eval_s"], ld["total_s"] / m["total_s"], m["metric"], 100 * (ld["metric"] - m["metric"])])
    print()
    print(f"times: medians over {args.repeats} round(s); metric: mean over seeds {args.seed}..{args.seed + args.repeats - 1}; "
          f"ratio = ours / system; dpoints = ours - system, in points")
    print(_common.table(["ours", "system", "train_s", "eval_s", "total_s", "ratio_train", "ratio_eval", "ratio_total",
                         "metric", "dpoints"], rows))
    print()
    for ours in OURS:
        ld = med[ours]
        r_default = ld["total_s"] / med["default"]["total_s"]
        r_tuned = ld["total_s"] / med["tuned"]["total_s"]
        d_default = 100 * (ld["metric"] - med["default"]["metric"])
        d_tuned = 100 * (ld["metric"] - med["tuned"]["metric"])
        ok = r_default <= TARGET_DEFAULT and r_tuned <= TARGET_TUNED and max(abs(d_default), abs(d_tuned)) <= TARGET_POINTS
        print(f"SUMMARY finetune_vs_trainer ({ours}): {r_default:.2f}x run_glue default (target <= {TARGET_DEFAULT}), "
              f"{r_tuned:.2f}x tuned Trainer (target <= {TARGET_TUNED}); metric {d_default:+.1f} / {d_tuned:+.1f} points "
              f"vs default / tuned (target within {TARGET_POINTS:g}): {'PASS' if ok else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
