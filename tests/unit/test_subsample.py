"""Subsampling a split: seeded, without replacement, original order kept."""

from __future__ import annotations

import pytest

from layerdrop.data.loading import Split, subsample
from layerdrop.errors import UsageError

SPLIT = Split(
    texts=(tuple(f"a{i}" for i in range(100)), tuple(f"b{i}" for i in range(100))),
    labels=tuple(i % 3 for i in range(100)),
    source="/data/RTE/train.tsv",
)


def indices(split: Split) -> list[int]:
    return [int(text[1:]) for text in split.texts[0]]


def test_same_seed_same_sample():
    assert subsample(SPLIT, 10, seed=1) == subsample(SPLIT, 10, seed=1)


def test_different_seeds_differ():
    assert indices(subsample(SPLIT, 10, seed=1)) != indices(subsample(SPLIT, 10, seed=2))


def test_sample_is_random_unique_sorted_and_rows_stay_aligned():
    sample = subsample(SPLIT, 10, seed=0)
    picked = indices(sample)
    assert len(sample) == 10 and len(set(picked)) == 10
    assert picked == sorted(picked) and picked != list(range(10))  # not just the first rows
    assert sample.texts[1] == tuple(f"b{i}" for i in picked)
    assert sample.labels == tuple(i % 3 for i in picked)
    assert sample.source.startswith("/data/RTE/train.tsv")


def test_matches_random_sample_of_indices():
    import random

    assert indices(subsample(SPLIT, 5, seed=7)) == sorted(random.Random(7).sample(range(100), 5))


@pytest.mark.parametrize("n", [None, 100, 1000])
def test_no_sample_needed_returns_split_unchanged(n):
    assert subsample(SPLIT, n, seed=0) is SPLIT


def test_non_positive_n_is_a_usage_error():
    with pytest.raises(UsageError):
        subsample(SPLIT, 0, seed=0)
