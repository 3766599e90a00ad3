"""What runs can share: data, tokenizers, tokenized splits, pretrained weights, layer scores.

A single `run` uses one `Resources` and lets it go; a sweep keeps one for the whole process, so
each pretrained model is loaded once and each task tokenized once per tokenizer. The cache only
stores: it builds data and models through `layerdrop.data` and `layerdrop.models`, and whatever
else it holds (layer scores) is computed by the caller and handed in through `get`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from layerdrop import progress
from layerdrop.experiments.config import RunConfig
from layerdrop.models import loading as models


@dataclass(frozen=True)
class DataSource:
    """Where a task's examples come from: a GLUE task (hub or folder) or custom files."""

    task: str
    data_dir: str | None = None
    train_file: str | None = None
    validation_file: str | None = None
    text_columns: tuple[str, ...] = ()
    label_column: str = "label"
    regression: bool | None = None

    @classmethod
    def of(cls, cfg) -> DataSource:
        """From a RunConfig, or any config with its data fields (an AnalysisConfig)."""
        if cfg.train_file is None:
            return cls(task=cfg.task, data_dir=cfg.data_dir)
        return cls(task=cfg.task, train_file=cfg.train_file, validation_file=cfg.validation_file,
                   text_columns=tuple(cfg.text_columns), label_column=cfg.label_column, regression=cfg.regression)

    @property
    def custom(self) -> bool:
        return self.train_file is not None


@dataclass(frozen=True)
class Sample:
    """The examples one run uses: a source and the seeded subsample sizes."""

    source: DataSource
    max_train_samples: int | None
    max_eval_samples: int | None
    seed: int

    @classmethod
    def of(cls, cfg: RunConfig) -> Sample:
        return cls(DataSource.of(cfg), cfg.max_train_samples, cfg.max_eval_samples, cfg.seed)


@dataclass(frozen=True)
class TaskData:
    """A task, its splits after seeded subsampling, and the sample that names exactly this data."""

    task: Any
    splits: dict
    sample: Sample


@dataclass(frozen=True)
class EncodedKey:
    """A tokenized split: by tokenizer (its model's location), source, split, length, and rows."""

    location: str
    source: DataSource
    split: str
    max_seq_length: int
    rows: tuple[int, ...] | None = None  # None: the whole split


@dataclass(frozen=True)
class ConfigKey:
    location: str


@dataclass(frozen=True)
class TokenizerKey:
    location: str


@dataclass(frozen=True)
class ModelKey:
    location: str
    num_labels: int
    regression: bool


class Resources:
    """Caches for one run (`shared=False`) or a whole sweep (`shared=True`).

    Shared resources tokenize each full split once and pick every seed's subsample from it;
    a single run tokenizes only the examples it uses (2,000 of SST-2's 67,349, not all).
    """

    def __init__(self, shared: bool = False) -> None:
        self.shared = shared
        self._cache: dict[Any, Any] = {}

    def get(self, key, make):
        """The value cached under `key` (a frozen, named key), made by `make()` the first time."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    # --- data ----------------------------------------------------------------------------
    def raw(self, source: DataSource):
        """(task, every split as read, before subsampling)."""
        from layerdrop.data.loading import load_custom_data, load_task_data
        from layerdrop.data.tasks import get_task

        if source.custom:
            return self.get(source, lambda: load_custom_data(
                source.train_file, source.validation_file, source.text_columns, source.label_column,
                source.regression, name=source.task))
        task = get_task(source.task)
        return task, self.get(source, lambda: load_task_data(task, source.data_dir))

    def task_data(self, cfg: RunConfig) -> TaskData:
        """The run's task and its splits after seeded subsampling."""
        from layerdrop.data.loading import subsample

        sample = Sample.of(cfg)
        task, raw = self.raw(sample.source)

        def make():
            splits = {"train": subsample(raw["train"], cfg.max_train_samples, cfg.seed)}
            for name in task.eval_splits:
                splits[name] = subsample(raw[name], cfg.max_eval_samples, cfg.seed)
            return splits

        return TaskData(task, self.get(sample, make), sample)

    # --- models --------------------------------------------------------------------------
    def model_config(self, source, trust_remote_code: bool):
        return self.get(ConfigKey(source.location), lambda: models.load_config(source, trust_remote_code))

    def tokenizer(self, source, trust_remote_code: bool):
        return self.get(TokenizerKey(source.location), lambda: models.load_tokenizer(source, trust_remote_code))

    def encoded(self, cfg: RunConfig, source, split: str):
        """A split of this run's data, tokenized.

        The full split is tokenized once per (tokenizer, data, max length); each seed's
        subsample is then picked by index, so a sweep over seeds tokenizes each task once.
        """
        from layerdrop.data.loading import subsample_indices

        data_source = DataSource.of(cfg)
        n = cfg.max_train_samples if split == "train" else cfg.max_eval_samples
        size = len(self.raw(data_source)[1][split])
        return self.encoded_rows(cfg, source, split, subsample_indices(size, n, cfg.seed))

    def encoded_rows(self, cfg: RunConfig, source, split: str, rows: list[int] | None):
        """Rows of a split, tokenized (None: all of it), the cheapest way for this cache's use."""
        from layerdrop.data.batching import encode, subset
        from layerdrop.data.loading import Split

        data_source = DataSource.of(cfg)
        raw = self.raw(data_source)[1][split]
        tokenizer = lambda: self.tokenizer(source, cfg.trust_remote_code)  # noqa: E731
        full_key = EncodedKey(source.location, data_source, split, cfg.max_seq_length)
        if rows is None or self.shared:
            full = self.get(full_key, lambda: encode(tokenizer(), raw, cfg.max_seq_length))
            return full if rows is None else subset(full, rows)
        picked = Split(tuple(tuple(col[i] for i in rows) for col in raw.texts), tuple(raw.labels[i] for i in rows), raw.source)
        key = EncodedKey(source.location, data_source, split, cfg.max_seq_length, tuple(rows))
        return self.get(key, lambda: encode(tokenizer(), picked, cfg.max_seq_length))

    def pretrained(self, cfg: RunConfig, source, task):
        """The pretrained model with a head for `task`, loaded once (float32, whatever is stored)."""
        def make():
            import torch

            progress.log(f"loading {source.name} ({source.location})")
            # float32 whatever the checkpoint stores: transformers 5 loads a checkpoint in its stored
            # dtype, and many hub checkpoints are fp16 or bf16. Fine-tuning keeps float32 weights and
            # optimizer state; --precision bf16 is autocast over them.
            extra = {"num_labels": task.num_labels, "dtype": torch.float32}
            if task.is_regression:
                extra["problem_type"] = "regression"
            return models.load_model(source, "AutoModelForSequenceClassification", cfg.trust_remote_code, **extra)

        return self.get(ModelKey(source.location, task.num_labels, task.is_regression), make)

    def fresh_model(self, cfg: RunConfig, source, task, keep_pristine: bool):
        """The pretrained model with a freshly seeded classification head.

        With `keep_pristine` (sweeps) the cached pretrained model is copied, so the next cell
        starts from the same weights; otherwise it is handed over, and only one copy exists.
        """
        import torch

        pristine = self.pretrained(cfg, source, task)
        model = copy.deepcopy(pristine) if keep_pristine else pristine
        if not keep_pristine:
            self._cache = {k: v for k, v in self._cache.items() if v is not pristine}
        reset_head(model, cfg.seed)
        torch.manual_seed(cfg.seed)  # dropout and everything after depend on the run's seed only
        return model


def reset_head(model, seed: int) -> None:
    """Re-initialise everything outside the encoder (the task head) from `seed`.

    transformers initialises a new head from the global RNG at load time; doing it here, from the
    run's seed, makes a cell of a sweep identical to the same `layerdrop run`.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    std = getattr(model.config, "initializer_range", 0.02)
    base = model.base_model
    with torch.no_grad():
        for child in model.children():
            if child is base:
                continue
            for module in child.modules():
                if isinstance(module, torch.nn.Linear):
                    module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * std)
                    if module.bias is not None:
                        module.bias.zero_()
                elif isinstance(module, torch.nn.LayerNorm):
                    module.weight.fill_(1.0)
                    module.bias.zero_()
