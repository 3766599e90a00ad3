"""The data and fine-tuning flags of `layerdrop run`, which `layerdrop sweep` takes too.

Each flag is one `RunConfig` field. Its spelling and help live here once, so that `run` and `sweep`
cannot drift apart. `run` gives each one its default. `sweep` defaults every one to None, meaning
"not given", so that a TOML file's `[train]` table, `--train key=value` and these flags can be
merged without a default overriding what the file says.
"""

from __future__ import annotations

import typer

DATA = "Data"
TRAIN = "Fine-tuning"

# RunConfig field -> (flags, help, panel)
FLAGS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "data_dir": (("--data-dir",), "GLUE folder (original layout, or a copy of the hub's parquet files). Default: the hub.", DATA),
    "max_train_samples": (("--max-train-samples",), "Train on a seeded random sample of this many examples.", DATA),
    "max_eval_samples": (("--max-eval-samples",), "Evaluate on a seeded random sample of this many examples.", DATA),
    "epochs": (("--epochs",), "Training epochs (fractions allowed).", TRAIN),
    "learning_rate": (("--learning-rate", "--lr"), "Peak AdamW learning rate (small models like MiniLM want ~1e-4).", TRAIN),
    "batch_size": (("--batch-size",), "Training batch size.", TRAIN),
    "eval_batch_size": (("--eval-batch-size",), "Evaluation batch size.", TRAIN),
    "max_seq_length": (("--max-seq-length",), "Truncate inputs to this many tokens (batches pad only to their longest).", TRAIN),
    "weight_decay": (("--weight-decay",), "AdamW weight decay.", TRAIN),
    "warmup_ratio": (("--warmup-ratio",), "Share of steps for linear warmup.", TRAIN),
    "max_grad_norm": (("--max-grad-norm",), "Gradient clipping norm (0: off).", TRAIN),
    "optimizer": (("--optimizer",), "adamw, adam or sgd (momentum 0.9).", TRAIN),
    "lr_scheduler": (("--lr-scheduler",), "linear (decay to 0), constant, cosine, ... (transformers' get_scheduler names).", TRAIN),
    "group_by_length": (("--group-by-length/--no-group-by-length",), "Batch examples of similar length (in shuffled groups) to cut padding.", TRAIN),
    "length_group_batches": (("--length-group-batches",), "Batches per length group: each shuffled group of this many batches is sorted by length, then cut into batches. Larger pads less but makes each batch one narrow band of lengths (50, as in transformers' Trainer, nearly sorts a 2,000-example epoch).", TRAIN),
    "device": (("--device",), "auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N, mps.", TRAIN),
    "precision": (("--precision",), "fp32, bf16, or fp16 (CUDA only).", TRAIN),
    "fast": (("--fast/--no-fast",), "Also run layerdrop's speed paths (today: train only the embedding rows the data uses). Same model up to float rounding; part of the run id, and the record's fast_paths lists what ran. Default: stock transformers fine-tuning.", TRAIN),
}


def option(field: str, panel: str | None = None, envvar: str | None = None):
    """The `typer.Option` for one RunConfig field; `panel` overrides its help panel."""
    flags, help_text, default_panel = FLAGS[field]
    return typer.Option(*flags, help=help_text, rich_help_panel=panel or default_panel, envvar=envvar)
