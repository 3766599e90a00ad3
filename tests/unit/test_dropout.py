"""layerdrop.dropout: masks with torch's distribution from another generator, swapped in and out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from layerdrop import dropout


def _generator(seed: int = 0) -> np.random.Generator:
    return np.random.Generator(np.random.SFC64(seed))


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_mask_keeps_one_minus_p_scaled_and_independent(p):
    n = 1_000_000
    mask = dropout.keep_mask(torch.Size([n]), p, _generator()).numpy()
    assert set(np.unique(mask)) == {np.float32(0), np.float32(1 / (1 - p))}
    kept = mask > 0
    std = np.sqrt(p * (1 - p) / n)
    assert abs(kept.mean() - (1 - p)) < 5 * std
    # Neighbours come from the two halves of one 64-bit draw: they must not be correlated.
    both = (kept[0::2] & kept[1::2]).mean()
    assert abs(both - (1 - p) ** 2) < 5 * np.sqrt((1 - p) ** 2 * (1 - (1 - p) ** 2) / (n // 2))
    # The mean survivor-scaled value is 1, so dropout keeps activations' expectation.
    assert abs(mask.mean() - 1) < 5 * std / (1 - p)


def test_training_multiplies_by_the_mask_and_the_gradient_is_the_mask():
    layer = dropout.FastDropout(0.25, _generator(3))
    x = torch.randn(4, 7, 5, requires_grad=True)
    y = layer(x)
    expected = dropout.keep_mask(x.shape, 0.25, _generator(3))
    torch.testing.assert_close(y, x * expected)
    y.sum().backward()
    torch.testing.assert_close(x.grad, expected)
    layer.eval()
    assert layer(x) is x


def test_other_dtypes_and_p_one_fall_back_to_torch():
    layer = dropout.FastDropout(1.0, _generator())
    assert torch.count_nonzero(layer(torch.ones(100))) == 0
    layer = dropout.FastDropout(0.5, _generator())
    torch.manual_seed(0)
    expected = torch.nn.functional.dropout(torch.ones(64, dtype=torch.bfloat16), 0.5, True)
    torch.manual_seed(0)
    assert torch.equal(layer(torch.ones(64, dtype=torch.bfloat16)), expected)


def _tiny_bert():
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=32, hidden_dropout_prob=0.3)
    return BertForSequenceClassification(config)


def test_swap_is_seeded_and_undone():
    model = _tiny_bert().train()
    ids = torch.randint(1, 50, (3, 9), generator=torch.Generator().manual_seed(1))
    plain = [type(m) for m in model.modules()]

    def logits(seed):
        with dropout.fast_dropout(model, seed) as swapped:
            assert model.config._attn_implementation == dropout.KERNEL
            assert swapped == sum(t is torch.nn.Dropout for t in plain)
            assert not any(type(m) is torch.nn.Dropout for m in model.modules())
            return model(input_ids=ids).logits, model(input_ids=ids).logits

    first, second = logits(7)
    torch.manual_seed(123)  # torch's generator must not matter: every mask comes from the seed above
    again, _ = logits(7)
    other, _ = logits(8)
    assert torch.equal(first, again)  # a seeded run repeats exactly
    assert not torch.equal(first, second)  # each call draws new masks
    assert not torch.equal(first, other)
    assert [type(m) for m in model.modules()] == plain  # transformers' modules are back
    assert model.config._attn_implementation == "sdpa"
    model.eval()
    with dropout.fast_dropout(model, 7):
        assert torch.equal(model(input_ids=ids).logits, model(input_ids=ids).logits)  # eval drops nothing


def test_applies_to_fp32_on_cpu_only():
    assert dropout.applies("cpu", "fp32")
    assert not dropout.applies("cpu", "bf16")
    assert not dropout.applies("cuda", "fp32")


def test_a_record_with_torch_masks_is_not_a_twin():
    from layerdrop import records

    new = {"config": {"seed": 1}, "dropped_layers": [3], "dropout_masks": "sfc64"}
    old = {"config": {"seed": 1}, "dropped_layers": [3]}
    assert records.training_identity(new) != records.training_identity(old)
    assert records.training_identity({**old, "dropout_masks": "torch"}) == records.training_identity(old)


def _qkv(length=6, heads=2, head=4, batch=3):
    g = torch.Generator().manual_seed(5)
    return [torch.randn(batch, heads, length, head, generator=g, requires_grad=True) for _ in range(3)]


def _padding_mask(batch=3, length=6):
    mask = torch.ones(batch, 1, length, length, dtype=torch.bool)
    mask[1, ..., 4:] = False  # the second example's last two tokens are padding
    return mask


def test_attention_kernel_matches_sdpa_when_nothing_is_dropped():
    """A keep probability of 1 to float precision: the math path must be SDPA's, values and gradients."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    module = torch.nn.Module()
    module.dropout = dropout.FastDropout(1e-12, _generator())
    module.is_causal = False
    module.train()
    mask = _padding_mask()
    ours, theirs = _qkv(), _qkv()
    out, _ = dropout.attention(module, *ours, mask, dropout=1e-12, scaling=0.5)
    ref, _ = sdpa_attention_forward(module, *theirs, mask, dropout=0.0, scaling=0.5)
    torch.testing.assert_close(out, ref)
    out.square().sum().backward()
    ref.square().sum().backward()
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.grad, b.grad)


@pytest.mark.parametrize("heads, length", [(2, 6), (1, 5)])  # 1 x 5: an odd number of probabilities
def test_attention_kernel_drops_probabilities_with_the_modules_generator(heads, length):
    module = torch.nn.Module()
    module.dropout = dropout.FastDropout(0.3, _generator(11))
    module.is_causal = False
    q, k, v = _qkv(length=length, heads=heads)
    mask = _padding_mask(length=length)
    out, _ = dropout.attention(module, q, k, v, mask, dropout=0.3, scaling=0.5)
    additive = torch.zeros(mask.shape).masked_fill(~mask, float("-inf"))  # the other mask form, for the reference
    probs = torch.softmax(q @ k.transpose(2, 3) * 0.5 + additive, dim=-1)
    keep = dropout.keep_mask(probs.shape, 0.3, _generator(11))
    torch.testing.assert_close(out, (probs * keep @ v).transpose(1, 2))
    assert 0 < torch.count_nonzero(keep) < keep.numel()


def test_summary_only_last_layer_draws_its_masks_here_too():
    from layerdrop import summary_only

    model = _tiny_bert().train()
    ids = torch.randint(1, 50, (3, 9), generator=torch.Generator().manual_seed(1))

    def logits(torch_seed):
        torch.manual_seed(torch_seed)
        with summary_only.applied(model) as cut, dropout.fast_dropout(model, 7):
            assert cut
            return model(input_ids=ids).logits

    assert torch.equal(logits(1), logits(2))


def _tiny(model_type: str, attention_dropout: float):
    from transformers import AutoConfig, AutoModelForSequenceClassification

    torch.manual_seed(0)
    extra = ({"dim": 16, "n_layers": 2, "n_heads": 2, "hidden_dim": 32, "dropout": 0.0, "attention_dropout": attention_dropout,
              "seq_classif_dropout": 0.0} if model_type == "distilbert" else
             {"hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 32,
              "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": attention_dropout})
    config = AutoConfig.for_model(model_type, vocab_size=50, max_position_embeddings=32, **extra)
    return AutoModelForSequenceClassification.from_config(config)


@pytest.mark.parametrize("model_type", ["bert", "roberta", "distilbert"])
def test_the_kernel_runs_in_real_models_and_respects_padding(model_type, monkeypatch):
    """Training with a keep probability of 1 to float precision: the kernel's math path must run on
    every layer, padding must change nothing for the padded example, and the logits must be SDPA's."""
    from layerdrop import summary_only

    drawn = []
    real = dropout.keep_mask
    monkeypatch.setattr(dropout, "keep_mask", lambda shape, p, g: drawn.append(tuple(shape)) or real(shape, p, g))
    model = _tiny(model_type, attention_dropout=1e-12).train()
    ids = torch.randint(3, 50, (2, 9), generator=torch.Generator().manual_seed(4))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    plain = model(input_ids=ids, attention_mask=mask).logits  # SDPA, dropout 1e-12 (nothing dropped)
    with summary_only.applied(model), dropout.fast_dropout(model, 0):
        ours = model(input_ids=ids, attention_mask=mask).logits
        alone = model(input_ids=ids[1:, :6], attention_mask=mask[1:, :6]).logits
    assert len(drawn) == 4 and all(shape[2] in (1, 9, 6) for shape in drawn)  # 2 layers x 2 calls, all by the kernel
    torch.testing.assert_close(ours, plain)
    torch.testing.assert_close(ours[1:], alone)


def test_causal_modules_and_extra_arguments_go_to_sdpa(monkeypatch):
    monkeypatch.setattr(dropout, "keep_mask", lambda *a: pytest.fail("the math path ran"))
    q, k, v = _qkv()
    for module_is_causal, kwargs in ((None, {}), (False, {"is_causal": True}), (False, {"softcap": 30.0})):
        module = torch.nn.Module()
        module.dropout = dropout.FastDropout(0.3, _generator())
        if module_is_causal is not None:
            module.is_causal = module_is_causal
        if "softcap" in kwargs:
            continue  # SDPA itself rejects softcap; what matters is that the kernel did not take it
        dropout.attention(module, q, k, v, None, dropout=0.3, **kwargs)
    module.is_causal = False
    nowhere = _padding_mask()
    nowhere[0, 0, 2] = False  # a query that may attend nowhere: SDPA answers zeros
    dropout.attention(module, q, k, v, nowhere, dropout=0.3)


def test_a_failed_swap_leaves_the_model_as_it_was():
    model = _tiny_bert().train()
    plain = [type(m) for m in model.modules()]
    with pytest.raises(RuntimeError):
        with dropout.fast_dropout(model, 0):
            raise RuntimeError("training failed")
    assert [type(m) for m in model.modules()] == plain and model.config._attn_implementation == "sdpa"


def test_nothing_is_swapped_under_gradient_checkpointing():
    """Recomputation restores torch's random state only: masks from here would differ on the rerun."""
    model = _tiny_bert().train()
    # activation_checkpointing_enable is transformers 5.23's name; earlier 5.x has only the old one
    enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
    enable()
    with dropout.fast_dropout(model, 0) as swapped:
        assert swapped == 0 and model.config._attn_implementation == "sdpa"
