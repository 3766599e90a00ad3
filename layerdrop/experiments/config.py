"""Frozen configs: built once from CLI flags, passed whole to the library, stored whole in records.

Each field maps 1:1 to a kebab-case flag (`trust_remote_code` <-> `--trust-remote-code`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from typing import Any

from layerdrop.selection.config import DropConfig, config_dict


def config_hash(config, exclude: tuple[str, ...] = ()) -> str:
    """A short stable id: the same config always hashes the same, on any machine."""
    data = {f.name: v for f, v in zip(fields(config), config_dict(config).values()) if f.name not in exclude}
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def variant_words(component: str = "layer", attention: str = "softmax", drop_layernorm: str | None = None,
                  k: int | None = None) -> list[str]:
    """What a run changes besides its strategy, in the words every table uses: `ffn` or
    `attn-sublayer` (K sublayers removed; nothing at K = 0), `relu attn`, `no LN after ffn`."""
    words = []
    if component != "layer" and k != 0:
        words.append("attn-sublayer" if component == "attention" else component)
    if attention != "softmax":
        words.append(f"{attention} attn")
    if drop_layernorm:
        words.append(f"no LN after {drop_layernorm}")
    return words


OPTIMIZERS = ("adamw", "adam", "sgd")
# RunConfig fields added after schema 1, each with the value every run had before the field
# existed (see RunConfig.run_id). That is the field's default, except length_group_batches,
# whose default fell from 50 to 8 when it became a setting (groups of 50 make batches too alike).
# `fast` is not here on purpose: runs before it trained with speed paths that are gone, so every
# run since (stock or --fast) is a different experiment and gets a new id.
ADDED_LATER = {"optimizer": "adamw", "lr_scheduler": "linear", "length_group_batches": 50, "component": "layer",
               "attention": "softmax", "drop_layernorm": None}


@dataclass(frozen=True)
class RunConfig:
    """One experiment: drop K layers of a pretrained model, fine-tune on a task, evaluate.

    Field names are the flags of `layerdrop run` (`max_seq_length` <-> `--max-seq-length`).
    Defaults follow the paper's protocol and the transformers GLUE example.

    Attributes:
        model: alias, hub id or local folder.
        task: GLUE task name, or a name for custom files (`--train-file`/`--validation-file`).
        strategy: strategy name or plugin spec.
        k: layers (or, with `component`, sublayers) to drop; 0 runs the full model (the baseline);
            None when the strategy sets it.
        component: what the strategy's K removes: whole layers, or only their feed-forward ("ffn")
            or attention sublayers (`layerdrop.models.edits`).
        attention: softmax (stock), relu or sigmoid attention weights (`layerdrop.models.edits`).
        drop_layernorm: None, or remove the LayerNorm after every layer's "attention" or "ffn" sublayer.
        params: strategy parameters as given (`"parity=odd"`).
        seed: seeds the layer choice of random strategies, subsampling, head init, data order, dropout.
        data_dir: GLUE folder (original layout or a hub parquet copy); None: $LAYERDROP_GLUE_DIR, else the hub.
        train_file / validation_file / text_columns / label_column / regression: a custom task.
        max_train_samples / max_eval_samples: seeded random subsample sizes (None: all).
        epochs, learning_rate, batch_size, max_seq_length, weight_decay, warmup_ratio, max_grad_norm:
            fine-tuning.
        optimizer: adamw (default), adam or sgd.
        lr_scheduler: linear (default, decay to 0), constant, cosine, or any other name that
            transformers' `get_scheduler` knows; warmup applies to all.
        eval_batch_size: evaluation batch size (no gradients, so larger than training's).
        group_by_length: batch examples of similar length (shuffled groups), to cut padding.
        length_group_batches: batches per length group. Each epoch is shuffled, cut into groups
            of this many batches, and each group is sorted by length before it is cut into
            batches. Larger groups pad less but make batches more uniform in length.
        device: auto (CUDA, then MPS, then CPU), cpu, cuda, mps.
        precision: fp32, bf16 or fp16 (fp16 on CUDA only).
        fast: also run the speed paths of `layerdrop.training.fast`, which compute the stock result up
            to float rounding; the record's `fast_paths` says which ran. Off: plain transformers
            fine-tuning, exactly what its own modules compute.
        trust_remote_code: allow code from the model repository to run.
    """

    model: str
    task: str
    strategy: str = "top"
    k: int | None = None
    params: tuple[str, ...] = ()
    component: str = "layer"
    attention: str = "softmax"
    drop_layernorm: str | None = None
    seed: int = 42
    data_dir: str | None = None
    train_file: str | None = None
    validation_file: str | None = None
    text_columns: tuple[str, ...] = ()
    label_column: str = "label"
    regression: bool | None = None
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    epochs: float = 3.0
    learning_rate: float = 2e-5
    batch_size: int = 32
    eval_batch_size: int = 128
    max_seq_length: int = 128
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    max_grad_norm: float = 1.0
    optimizer: str = "adamw"
    lr_scheduler: str = "linear"
    group_by_length: bool = True
    length_group_batches: int = 8
    device: str = "auto"
    precision: str = "fp32"
    fast: bool = False
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        # The same experiment must hash the same whether it came from flags (epochs=2.0) or a
        # TOML file (epochs = 2) or Python (params as a list): normalise types before hashing.
        for name in ("epochs", "learning_rate", "weight_decay", "warmup_ratio", "max_grad_norm"):
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, name, float(value))
        columns = self.text_columns
        if isinstance(columns, str):  # "sentence1,sentence2" from a TOML or --train value
            columns = [c.strip() for c in columns.split(",") if c.strip()]
        object.__setattr__(self, "text_columns", tuple(columns))
        # Parameters in a canonical spelling and order: `--param b=2 --param a=1` is the same
        # experiment as `--param a=1 --param b=2`.
        canonical = []
        for item in self.params:
            key, sep, value = str(item).partition("=")
            canonical.append(f"{key.strip().replace('-', '_')}{sep}{value.strip()}")
        object.__setattr__(self, "params", tuple(sorted(canonical)))

    def drop_config(self) -> DropConfig:
        """The layer-choosing part of this run."""
        return DropConfig(model=self.model, strategy=self.strategy, k=self.k, params=self.params,
                          component=self.component, attention=self.attention, drop_layernorm=self.drop_layernorm,
                          seed=self.seed, trust_remote_code=self.trust_remote_code)

    @property
    def run_id(self) -> str:
        """Deterministic id: the same experiment always gets the same id (used to resume sweeps).

        Fields added after the first release count only when set away from the value runs had
        before the field existed, so adding a field never changes the ids of runs already
        recorded, and a changed default gives new runs new ids.
        """
        unchanged = tuple(name for name, before in ADDED_LATER.items() if getattr(self, name) == before)
        if not self.group_by_length:  # the group size changes nothing then
            unchanged += ("length_group_batches",)
        return config_hash(self, exclude=unchanged)

    def validate(self) -> None:
        """Check values that need no files or models; raises UsageError naming the flag."""
        from layerdrop.errors import UsageError
        from layerdrop.models.components import check_names

        check_names(self.component, self.attention, self.drop_layernorm)
        positive = {
            "--epochs": self.epochs, "--learning-rate": self.learning_rate, "--batch-size": self.batch_size,
            "--eval-batch-size": self.eval_batch_size, "--max-seq-length": self.max_seq_length,
            "--max-train-samples": self.max_train_samples, "--max-eval-samples": self.max_eval_samples,
            "--length-group-batches": self.length_group_batches,
        }
        for flag, value in positive.items():
            if value is not None and not value > 0:
                raise UsageError(f"{flag} {value} must be positive", f"pass a number above 0 to {flag}")
        for flag, value in {"--weight-decay": self.weight_decay, "--max-grad-norm": self.max_grad_norm}.items():
            if value < 0:
                raise UsageError(f"{flag} {value} is negative", f"pass 0 or more to {flag}")
        if not 0 <= self.warmup_ratio < 1:
            raise UsageError(f"--warmup-ratio {self.warmup_ratio} is outside [0, 1)", "pass e.g. 0.1")
        if self.device not in ("auto", "cpu", "cuda", "mps") and not self.device.startswith("cuda:"):
            raise UsageError(f"unknown --device '{self.device}'", "choose auto, cpu, cuda, cuda:N or mps")
        if self.optimizer not in OPTIMIZERS:
            raise UsageError(f"unknown --optimizer '{self.optimizer}'", f"choose one of {', '.join(OPTIMIZERS)}")
        from transformers import SchedulerType

        schedulers = [s.value for s in SchedulerType]
        if self.lr_scheduler not in schedulers:
            raise UsageError(f"unknown --lr-scheduler '{self.lr_scheduler}'", "choose linear, constant, cosine, polynomial, ...")
        if self.precision not in ("fp32", "bf16", "fp16"):
            raise UsageError(f"unknown --precision '{self.precision}'", "choose fp32, bf16 or fp16")
        custom = self.train_file is not None or self.validation_file is not None
        if custom and (self.train_file is None or self.validation_file is None):
            raise UsageError("a custom task needs both --train-file and --validation-file", "pass both files")
        if custom and not self.text_columns:
            raise UsageError("a custom task needs --text-columns", "e.g. --text-columns sentence1,sentence2")
