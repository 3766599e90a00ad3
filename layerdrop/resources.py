"""What runs can share: data, tokenizers, tokenized splits, pretrained weights, scores.

A single `run` uses one `Resources` and lets it go; a sweep keeps one for the whole process, so
each pretrained model is loaded once and each task tokenized once per tokenizer.
"""

from __future__ import annotations

import copy
import random
from typing import Any

from layerdrop import models, progress
from layerdrop.config import RunConfig


class Resources:
    """Caches for one run (`shared=False`) or a whole sweep (`shared=True`).

    Shared resources tokenize each full split once and pick every seed's subsample from it;
    a single run tokenizes only the examples it uses (2,000 of SST-2's 67,349, not all).
    """

    def __init__(self, shared: bool = False) -> None:
        self.shared = shared
        self._cache: dict[tuple, Any] = {}
        self._accelerator = None

    def _get(self, key: tuple, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    # --- data ----------------------------------------------------------------------------
    def task_data(self, cfg: RunConfig):
        """(task, splits after seeded subsampling, a key naming exactly this data)."""
        from layerdrop.data import load_custom_data, subsample
        from layerdrop.tasks import get_task

        if cfg.train_file is not None:
            source_key = ("custom", cfg.train_file, cfg.validation_file, cfg.text_columns, cfg.label_column, cfg.regression)
            task, raw = self._get(source_key, lambda: load_custom_data(
                cfg.train_file, cfg.validation_file, tuple(cfg.text_columns), cfg.label_column, cfg.regression, name=cfg.task))
        else:
            task = get_task(cfg.task)
            source_key = ("glue", task.name, cfg.data_dir)
            raw = self._get(source_key, lambda: self._load_glue(task, cfg.data_dir))
        key = (*source_key, cfg.max_train_samples, cfg.max_eval_samples, cfg.seed)

        def make():
            splits = {"train": subsample(raw["train"], cfg.max_train_samples, cfg.seed)}
            for name in task.eval_splits:
                splits[name] = subsample(raw[name], cfg.max_eval_samples, cfg.seed)
            return splits

        return task, self._get(key, make), key

    @staticmethod
    def _load_glue(task, data_dir):
        from layerdrop.data import load_task_data

        return load_task_data(task, data_dir)

    # --- models --------------------------------------------------------------------------
    def model_config(self, source, trust_remote_code: bool):
        return self._get(("config", source.location), lambda: models.load_config(source, trust_remote_code))

    def tokenizer(self, source, trust_remote_code: bool):
        return self._get(("tokenizer", source.location), lambda: models.load_tokenizer(source, trust_remote_code))

    def encoded(self, cfg: RunConfig, source, task_key: tuple, split: str):
        """A split of this run's data, tokenized.

        The full split is tokenized once per (tokenizer, data, max length); each seed's
        subsample is then picked by index, so a sweep over seeds tokenizes each task once.
        """
        from layerdrop.data import subsample_indices

        n = cfg.max_train_samples if split == "train" else cfg.max_eval_samples
        size = len(self._raw(task_key, split))
        return self.encoded_rows(cfg, source, task_key, split, subsample_indices(size, n, cfg.seed))

    def _raw(self, task_key: tuple, split: str):
        source_key = task_key[:-3]  # task_key = (*source_key, max_train, max_eval, seed)
        return self._cache[source_key][split] if source_key[0] == "glue" else self._cache[source_key][1][split]

    def encoded_rows(self, cfg: RunConfig, source, task_key: tuple, split: str, rows: list[int] | None):
        """Rows of a split, tokenized (None: all of it), the cheapest way for this cache's use."""
        from layerdrop.batching import encode, subset
        from layerdrop.data import Split

        if rows is None or self.shared:
            full = self.encoded_full(cfg, source, task_key, split)
            return full if rows is None else subset(full, rows)
        raw = self._raw(task_key, split)
        picked = Split(tuple(tuple(col[i] for i in rows) for col in raw.texts), tuple(raw.labels[i] for i in rows), raw.source)
        key = ("rows", source.location, task_key[:-3], split, cfg.max_seq_length, hash(tuple(rows)))
        return self._get(key, lambda: encode(self.tokenizer(source, cfg.trust_remote_code), picked, cfg.max_seq_length))

    def encoded_full(self, cfg: RunConfig, source, task_key: tuple, split: str):
        """The whole split, before any subsampling, tokenized once."""
        from layerdrop.batching import encode

        raw = self._raw(task_key, split)
        return self._get(("encoded", source.location, task_key[:-3], split, cfg.max_seq_length),
                         lambda: encode(self.tokenizer(source, cfg.trust_remote_code), raw, cfg.max_seq_length))

    def _pristine(self, cfg: RunConfig, source, task):
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

        return self._get(("model", source.location, task.num_labels, task.is_regression), make)

    def fresh_model(self, cfg: RunConfig, source, task, keep_pristine: bool):
        """The pretrained model with a freshly seeded classification head.

        With `keep_pristine` (sweeps) the cached pretrained model is copied, so the next cell
        starts from the same weights; otherwise it is handed over, and only one copy exists.
        """
        import torch

        pristine = self._pristine(cfg, source, task)
        model = copy.deepcopy(pristine) if keep_pristine else pristine
        if not keep_pristine:
            self._cache = {k: v for k, v in self._cache.items() if v is not pristine}
        reset_head(model, cfg.seed)
        torch.manual_seed(cfg.seed)  # dropout and everything after depend on the run's seed only
        return model

    def layer_scores(self, cfg: RunConfig, source, task_key: tuple, n_examples: int, split: str, seed: int) -> list[float]:
        """Contribution scores on the pretrained model (cached per model, data and sample)."""
        from layerdrop.architectures import family_of
        from layerdrop.batching import collate, length_sorted_batches, subset
        from layerdrop.errors import UsageError
        from layerdrop.scoring import layer_similarities

        def make():
            task = self._task_of(cfg)
            if split not in ("train", "validation", *task.eval_splits):
                raise UsageError(f"--param split={split} is not a split of task {task.name}", f"choose train or {task.eval_splits[0]}")
            name = "train" if split == "train" else (task.eval_splits[0] if split == "validation" else split)
            # The full split, not this seed's --max-train-samples subset: every seed (and `plan`)
            # scores the same examples and so drops the same layers.
            size = len(self._raw(task_key, name))
            picked = sorted(random.Random(seed).sample(range(size), min(n_examples, size)))
            encoded = self.encoded_rows(cfg, source, task_key, name, picked)
            picked = list(range(len(picked)))  # positions within `encoded`
            model = self._pristine(cfg, source, task)
            device = self.accelerator(cfg).device
            model.to(device)
            summary = family_of(model.config).summary_token
            batches = [[picked[i] for i in b] for b in length_sorted_batches(subset(encoded, picked), cfg.eval_batch_size)]
            with progress.bar("scoring layers", len(batches)) as update:
                def inputs():
                    for b in batches:
                        batch = collate(encoded, b, task.is_regression)
                        batch.pop("labels")
                        yield {k: v.to(device) for k, v in batch.items()}
                        update()

                return layer_similarities(model, inputs(), summary)

        return self._get(("scores", source.location, task_key[:-3], cfg.max_seq_length, n_examples, split, seed), make)

    def _task_of(self, cfg: RunConfig):
        return self.task_data(cfg)[0]

    def accelerator(self, cfg: RunConfig):
        if self._accelerator is None:
            from layerdrop.train import make_accelerator

            self._accelerator = make_accelerator(cfg)
        return self._accelerator

    def release(self) -> None:
        """Drop the Accelerator's references to this run's model and optimizer."""
        if self._accelerator is not None:
            self._accelerator.free_memory()


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
