"""The FLOP count behind every record's utilization figure, checked by hand."""

from __future__ import annotations

import pytest

from layerdrop.training import flops
from tests.helpers import tiny_config


def test_counts_formula_matches_the_per_example_formula():
    lengths = [3, 5, 5, 9]
    tokens, squares = sum(lengths), sum(n * n for n in lengths)
    # 6 P per token, 12 L h n per token of an n-token example.
    assert flops.training_flops_from_counts(100, 2, 8, tokens, squares) == 6 * 100 * 22 + 12 * 2 * 8 * (9 + 25 + 25 + 81)
    # The per-token form utilization.py uses, times the tokens, is the same total.
    assert flops.training_flops_per_token(100, 2, 8, lengths) * tokens == pytest.approx(flops.training_flops_from_counts(100, 2, 8, tokens, squares))


@pytest.mark.parametrize("family", ["bert", "xlnet"])
def test_embedding_parameters_are_the_lookup_tables(family):
    from transformers import AutoModelForSequenceClassification

    config = tiny_config(family)
    model = AutoModelForSequenceClassification.from_config(config)
    h = config.hidden_size
    # BERT: word, position and token-type tables; XLNet: the word table only (relative positions).
    expected = (config.vocab_size + config.max_position_embeddings + config.type_vocab_size) * h if family == "bert" \
        else config.vocab_size * h
    assert flops.embedding_parameters(model) == expected


def test_measuring_the_matmul_rate_leaves_the_dropout_random_stream_alone():
    import torch

    from layerdrop.training.hardware import measure_matmul_gflops

    torch.manual_seed(5)
    expected = torch.rand(4)
    torch.manual_seed(5)
    assert measure_matmul_gflops("cpu", torch.float32, 64, windows=1, window_seconds=0.001) > 0
    assert torch.equal(torch.rand(4), expected)


def test_formula_matches_a_flop_counter_on_a_real_step():
    """The record's training FLOPs, checked against torch's FLOP counter on one stock step."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import AutoModelForSequenceClassification

    config = tiny_config("bert", 2)
    model = AutoModelForSequenceClassification.from_config(config, attn_implementation="eager").train()
    batch, n = 4, 10  # no padding: the counter counts every position, the formula real tokens only
    inputs = {"input_ids": torch.randint(5, 100, (batch, n)), "labels": torch.tensor([0, 1, 1, 0])}
    with FlopCounterMode(display=False) as counter:
        model(**inputs).loss.backward()
    non_embedding = sum(p.numel() for p in model.parameters()) - flops.embedding_parameters(model)
    counted = flops.training_flops_from_counts(non_embedding, 2, config.hidden_size, batch * n, batch * n * n)
    # The formula counts biases, LayerNorm weights, the pooler and the classifier per token, which
    # the counter (matmuls only, pooler once per example) does not: a few percent at this width.
    assert counted == pytest.approx(counter.get_total_flops(), rel=0.15)
    assert counted > counter.get_total_flops()
