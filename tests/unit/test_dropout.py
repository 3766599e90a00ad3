"""FastDropout draws a different mask from nn.Dropout, with the same distribution and gradients."""

from __future__ import annotations

import pytest
import torch

from layerdrop.dropout import FastDropout, fast_dropout


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_mask_keeps_the_right_share_and_scales_survivors(p):
    torch.manual_seed(0)
    x = torch.ones(1_000_000)
    y = FastDropout(p).train()(x)
    kept = y != 0
    # 1e6 Bernoulli(1-p) draws: the standard error of the kept share is under 0.0005.
    assert abs(kept.float().mean().item() - (1 - p)) < 0.003
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / (1 - p)))
    assert abs(y.mean().item() - 1.0) < 0.006  # unbiased, like nn.Dropout


def test_mask_has_no_pattern_across_positions():
    # Four masks come from each 64-bit draw: neighbours must still be independent.
    torch.manual_seed(1)
    kept = (FastDropout(0.5).train()(torch.ones(400_000)) != 0).float().view(-1, 4)
    share = kept.mean(dim=0)
    assert torch.all((share - 0.5).abs() < 0.006), share
    together = (kept[:, 0] * kept[:, 1]).mean().item()
    assert abs(together - 0.25) < 0.005


def test_gradient_is_the_mask_and_eval_is_identity():
    torch.manual_seed(2)
    layer = FastDropout(0.3).train()
    x = torch.randn(64, 32, requires_grad=True)
    y = layer(x)
    y.sum().backward()
    expected = (y.detach() != 0).float() / 0.7
    assert torch.allclose(x.grad, expected)
    layer.eval()
    assert layer(x) is x
    assert FastDropout(0.0).train()(x) is x


def test_seeded_masks_repeat():
    layer = FastDropout(0.1).train()
    torch.manual_seed(3)
    a = layer(torch.ones(1000))
    torch.manual_seed(3)
    assert torch.equal(a, layer(torch.ones(1000)))


def test_context_swaps_plain_dropout_and_restores_it():
    class Custom(torch.nn.Dropout):
        pass

    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.2), torch.nn.Sequential(Custom(0.1)))
    model.eval()
    original = model[1]
    with fast_dropout(model):
        assert type(model[1]) is FastDropout and model[1].p == 0.2 and not model[1].training
        assert type(model[2][0]) is Custom  # subclasses may do more than drop: left alone
        model.train()
    assert model[1] is original and original.training  # mode changes inside carry over
