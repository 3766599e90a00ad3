"""The real GLUE files (original layout) from the shared folder: counts, quirks, labels."""

from __future__ import annotations

from collections import Counter

import pytest

from layerdrop.data.loading import load_task_data
from layerdrop.data.tasks import get_task

COUNTS = {"sst2": (67_349, 872), "mrpc": (3_668, 408), "rte": (2_490, 277), "wnli": (635, 71)}


@pytest.fixture(scope="module")
def glue(shared_glue):
    return {name: load_task_data(get_task(name), shared_glue) for name in COUNTS}


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_row_counts(glue, name):
    splits = glue[name]
    assert (len(splits["train"]), len(splits["validation"])) == COUNTS[name]


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_label_distributions_are_sane(glue, name):
    for split in glue[name].values():
        counts = Counter(split.labels)
        assert set(counts) == {0, 1}  # every GLUE task here is binary, both classes present
        assert max(counts.values()) / len(split) < 0.7  # the largest is MRPC's ~68% paraphrases


def test_rte_row_starting_with_a_quote_is_one_example(glue):
    train = glue["rte"]["train"]
    starts = [i for i, s in enumerate(train.texts[0]) if s.startswith('"That film wasn')]
    assert len(starts) == 1  # file row 2164 (data index 2164 after the header)
    i = starts[0]
    assert train.texts[1][i] == 'The film "WarGames" was shot in 1983.'
    assert get_task("rte").labels[train.labels[i]] == "not_entailment"
    # The next file row is its own example, not swallowed into this one's text.
    assert "\n" not in train.texts[0][i] and not train.texts[0][i + 1].startswith('"That')


def test_mrpc_bom_is_not_part_of_the_data(glue):
    train = glue["mrpc"]["train"]
    assert train.labels[0] == 1 and train.texts[0][0].startswith("Amrozi accused his brother")
    assert not any("\ufeff" in s for column in train.texts for s in column)


def test_sst2_sentences_keep_the_original_text(glue):
    train = glue["sst2"]["train"]
    assert len(train.texts) == 1
    assert train.texts[0][0] == "hide new secretions from the parental units "
    assert train.labels[:2] == (0, 0)
