"""Per-token blocks run on the real tokens only give the padded model's logits and gradients."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from tests.helpers import tiny_config  # noqa: E402
from tests.unit.test_summary_only import FAMILIES, _batch, _loss_and_grads, _stock_pass, _tiny_classifier  # noqa: E402


def _rows_seen(model):
    """The leading sizes of every input the intermediate/FFN linear gets, as a list to inspect."""
    from layerdrop import unpad

    seen = []
    for layer in unpad.layer_stack(model):
        linear = layer.intermediate.dense if hasattr(layer, "intermediate") else layer.ffn.lin1
        linear.register_forward_hook(lambda module, args, output: seen.append(tuple(args[0].shape[:-1])))
    return seen


@pytest.mark.parametrize("kernel", ["eager", "sdpa"])
@pytest.mark.parametrize("model_type", FAMILIES)
def test_same_logits_and_gradients_as_the_padded_layers(model_type, kernel):
    from layerdrop import summary_only, unpad

    model, batch, padded_logits, padded_grads = _stock_pass(model_type, kernel)
    seen = _rows_seen(model)
    for cut in (False, True):  # alone, and with the summary-only last layer the training loop also runs
        seen.clear()
        with unpad.applied(model) as on, (summary_only.applied(model) if cut else torch.enable_grad()):
            assert on
            logits, grads = _loss_and_grads(model, batch)
        assert seen[0] == (25,), "the first layer's feed-forward block should see the 25 real tokens of 4 x 9"
        torch.testing.assert_close(logits, padded_logits, atol=1e-5, rtol=1e-4)
        assert grads.keys() == padded_grads.keys()
        for name, grad in grads.items():
            torch.testing.assert_close(grad, padded_grads[name], atol=1e-5, rtol=1e-4, msg=name)
    # Put back afterwards: the stock blocks see the padded batch again.
    seen.clear()
    model(**batch)
    assert seen[0] == (4, 9)
    layer = unpad.layer_stack(model)[0]
    owners = [layer, layer.attention.output] if hasattr(layer, "attention") and hasattr(layer.attention, "output") else [layer.ffn]
    assert not any(name in owner.__dict__ for owner in owners for name in ("forward", "feed_forward_chunk"))
    assert not model._forward_pre_hooks


@pytest.mark.parametrize("model_type", ["bert", "distilbert"])
def test_left_padding_keeps_the_position_the_classifier_reads(model_type):
    from layerdrop import unpad

    model = _tiny_classifier(model_type)
    batch = _batch(0)
    batch["input_ids"], batch["attention_mask"] = batch["input_ids"].flip(1), batch["attention_mask"].flip(1)
    padded_logits, padded_grads = _loss_and_grads(model, batch)
    seen = _rows_seen(model)
    with unpad.applied(model):
        logits, grads = _loss_and_grads(model, batch)
    assert seen[0] == (28,)  # 25 real tokens and position 0 of the three short rows
    torch.testing.assert_close(logits, padded_logits, atol=1e-5, rtol=1e-4)
    for name, grad in grads.items():
        torch.testing.assert_close(grad, padded_grads[name], atol=1e-5, rtol=1e-4, msg=name)


def test_the_encoder_or_a_layer_called_alone_never_sees_another_batch_s_positions():
    from layerdrop import unpad

    model = _tiny_classifier("bert", n_layers=2)
    batch, other = _batch(0), _batch(0)
    other["attention_mask"] = other["attention_mask"].flip(0)  # the same shape, other real positions
    hidden = torch.randn(4, 9, 32)
    layer = unpad.layer_stack(model)[0]
    stock_encoder = model.base_model(input_ids=other["input_ids"], attention_mask=other["attention_mask"]).last_hidden_state
    stock_layer = layer(hidden)[0] if isinstance(layer(hidden), tuple) else layer(hidden)
    with unpad.applied(model):
        model(**batch)
        encoder = model.base_model(input_ids=other["input_ids"], attention_mask=other["attention_mask"]).last_hidden_state
        model(**batch)
        alone = layer(hidden)
        alone = alone[0] if isinstance(alone, tuple) else alone
    keep = other["attention_mask"].bool()
    torch.testing.assert_close(encoder[keep], stock_encoder[keep], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(alone, stock_layer, atol=1e-6, rtol=1e-5)


def test_a_batch_without_padding_runs_the_stock_blocks():
    from transformers import AutoModelForSequenceClassification

    from layerdrop import unpad

    model = AutoModelForSequenceClassification.from_config(tiny_config("bert", 2))
    batch = _batch(0)
    batch["attention_mask"] = torch.ones_like(batch["attention_mask"])
    seen = _rows_seen(model)
    with unpad.applied(model):
        model(**batch)
        assert seen[0] == (4, 9)
        model(**_batch(0), output_hidden_states=True)  # every position's hidden state is wanted
        assert seen[-1] == (4, 9)


def test_families_without_known_blocks_are_left_alone():
    from transformers import AutoModelForSequenceClassification

    from layerdrop import unpad

    model = AutoModelForSequenceClassification.from_config(tiny_config("xlnet", 2))
    assert not unpad.applies(model)
    with unpad.applied(model) as on:
        assert not on


def test_a_record_from_before_unpad_is_not_a_twin():
    """Its dropout masks were drawn over the padding too: the same settings, other random numbers."""
    from layerdrop import records

    new = {"config": {"seed": 1}, "dropped_layers": [3], "unpadded_sublayers": True}
    old = {"config": {"seed": 1}, "dropped_layers": [3]}
    assert records.training_identity(new) != records.training_identity(old)
    assert records.training_identity({**old, "unpadded_sublayers": False}) == records.training_identity(old)
