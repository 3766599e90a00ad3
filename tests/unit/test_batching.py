"""Length-grouped training batches: every example once per epoch, padding against mixing."""

import random

import pytest
import torch

from layerdrop.data.batching import length_grouped_batches, padded_tokens, shuffled_batches
from layerdrop.experiments.config import RunConfig, config_hash


def _lengths(n: int = 2000, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(3, 60) for _ in range(n)]  # SST-2-like spread of sentence lengths


@pytest.mark.parametrize("group_batches", [1, 8, 50])
def test_every_example_once_per_epoch_in_full_batches(group_batches):
    lengths = _lengths(1000)
    batches = length_grouped_batches(lengths, 32, torch.Generator().manual_seed(1), group_batches)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    assert sum(len(b) < 32 for b in batches) <= -(-1000 // (32 * group_batches))  # only each group's last batch is short


def test_larger_groups_pad_less_but_make_batches_alike():
    lengths = _lengths()
    padded, spread = {}, {}
    for g in (2, 8, 50):
        batches = length_grouped_batches(lengths, 32, torch.Generator().manual_seed(3), g)
        padded[g] = padded_tokens(lengths, batches)
        spread[g] = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    shuffled = padded_tokens(lengths, shuffled_batches(len(lengths), 32, torch.Generator().manual_seed(3)))
    assert shuffled > padded[2] > padded[8] > padded[50]
    assert spread[2] > spread[8] > spread[50]  # the mixing that groups of 50 lose


def test_the_order_is_seeded():
    lengths = _lengths(500)
    a = length_grouped_batches(lengths, 16, torch.Generator().manual_seed(7), 8)
    b = length_grouped_batches(lengths, 16, torch.Generator().manual_seed(7), 8)
    c = length_grouped_batches(lengths, 16, torch.Generator().manual_seed(8), 8)
    assert a == b and a != c


def test_runs_recorded_before_the_setting_keep_their_ids():
    # Runs made before --length-group-batches existed used groups of 50 and have no such key.
    old = RunConfig(model="m", task="t", length_group_batches=50)
    assert old.run_id == config_hash(old, exclude=("optimizer", "lr_scheduler", "length_group_batches", "component",
                                                   "attention", "drop_layernorm"))
    assert RunConfig(model="m", task="t").run_id != old.run_id  # the new default is another experiment
    # Without grouping the group size changes nothing, so it does not change the id either.
    ungrouped = [RunConfig(model="m", task="t", group_by_length=False, length_group_batches=n) for n in (8, 50)]
    assert ungrouped[0].run_id == ungrouped[1].run_id


def test_group_size_must_be_positive():
    from layerdrop.errors import UsageError

    with pytest.raises(UsageError, match="--length-group-batches 0 must be positive"):
        RunConfig(model="m", task="t", length_group_batches=0).validate()


def test_padded_tokens_counts_each_batch_at_its_longest():
    assert padded_tokens([3, 5, 2], [[0, 1], [2]]) == 5 * 2 + 2 * 1
