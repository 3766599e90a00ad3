"""Layer scores for a run's data-driven strategy: which examples, on which device, cached how.

The scores themselves are `layerdrop.analysis.scoring`'s; this module picks the sample and keeps
the result in the run's cache, so a sweep scores each model, task and sample once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from layerdrop.experiments.config import RunConfig
from layerdrop.experiments.resources import DataSource, Resources

# Contribution scores use a fixed sample so the layers chosen depend on model and task, not on
# the training seed: every seed of a sweep then drops the same layers.
SCORING_SEED = 0


@dataclass(frozen=True)
class ScoresKey:
    location: str
    source: DataSource
    max_seq_length: int
    n_examples: int
    split: str
    seed: int
    component: str = "layer"


def score_provider(cache: Resources, cfg: RunConfig, source, device):
    """A `ScoreProvider` for `SelectionContext`: data loads only if a strategy asks for scores."""

    def provider(n_examples: int, split: str) -> list[float]:
        key = ScoresKey(source.location, DataSource.of(cfg), cfg.max_seq_length, n_examples, split, SCORING_SEED,
                        cfg.component)
        return cache.get(key, lambda: _score(cache, cfg, source, device, n_examples, split))

    return provider


def _score(cache: Resources, cfg: RunConfig, source, device, n_examples: int, split: str) -> list[float]:
    from layerdrop import progress
    from layerdrop.analysis.scoring import layer_similarities, sublayer_similarities
    from layerdrop.data.batching import collate, length_sorted_batches
    from layerdrop.errors import UsageError
    from layerdrop.models.architectures import family_of

    task, raw = cache.raw(DataSource.of(cfg))
    if split not in ("train", "validation", *task.eval_splits):
        raise UsageError(f"--param split={split} is not a split of task {task.name}", f"choose train or {task.eval_splits[0]}")
    name = "train" if split == "train" else (task.eval_splits[0] if split == "validation" else split)
    # The full split, not this seed's --max-train-samples subset: every seed (and `plan`) scores
    # the same examples and so drops the same layers.
    size = len(raw[name])
    picked = sorted(random.Random(SCORING_SEED).sample(range(size), min(n_examples, size)))
    encoded = cache.encoded_rows(cfg, source, name, picked)
    model = cache.pretrained(cfg, source, task)
    model.to(device)
    batches = length_sorted_batches(encoded, cfg.eval_batch_size)
    with progress.bar("scoring layers", len(batches)) as update:
        def inputs():
            for rows in batches:
                batch = collate(encoded, rows, task.is_regression)
                batch.pop("labels")
                yield {k: v.to(device) for k, v in batch.items()}
                update()

        summary = family_of(model.config).summary_token
        if cfg.component != "layer":
            return sublayer_similarities(model, inputs(), summary, cfg.component)
        return layer_similarities(model, inputs(), summary)
