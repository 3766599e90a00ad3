"""A last layer cut to its summary token gives the full layer's logits, loss and gradients."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from tests.helpers import tiny_config  # noqa: E402

FAMILIES = ("bert", "roberta", "electra", "distilbert")


def _batch(pad_id: int):
    """Four sequences of 3..9 real tokens, right-padded: the mask matters."""
    g = torch.Generator().manual_seed(5)
    lengths = [9, 3, 6, 7]
    ids = torch.full((4, 9), pad_id)
    mask = torch.zeros((4, 9), dtype=torch.long)
    for row, n in enumerate(lengths):
        ids[row, :n] = torch.randint(5, 100, (n,), generator=g)
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([0, 1, 1, 0])}


def _tiny_classifier(model_type: str, kernel: str = "sdpa", n_layers: int = 3):
    """A seeded tiny classifier in eval mode: no dropout, so two passes compute the same function."""
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(tiny_config(model_type, n_layers), attn_implementation=kernel)
    return model.eval()


def _stock_pass(model_type: str, kernel: str):
    """A tiny classifier, its padded batch, and the stock layers' logits and gradients on it."""
    model = _tiny_classifier(model_type, kernel)
    batch = _batch(model.config.pad_token_id or 0)
    return model, batch, *_loss_and_grads(model, batch)


def _loss_and_grads(model, batch):
    model.zero_grad(set_to_none=True)
    out = model(**batch)
    out.loss.backward()
    return out.logits.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("kernel", ["eager", "sdpa"])
@pytest.mark.parametrize("model_type", FAMILIES)
def test_same_logits_and_gradients_as_the_full_layer(model_type, kernel):
    from layerdrop import summary_only

    model, batch, full_logits, full_grads = _stock_pass(model_type, kernel)
    calls = []
    layer = summary_only.layer_stack(model)[-1]
    layer.register_forward_hook(lambda module, args, output: calls.append(output.shape))
    with summary_only.applied(model) as cut:
        assert cut
        logits, grads = _loss_and_grads(model, batch)
    assert calls == [torch.Size([4, 1, 32])], "the last layer should have returned the summary token only"
    assert torch.allclose(logits, full_logits, atol=1e-5)
    assert grads.keys() == full_grads.keys()  # every parameter still learns, the query too
    for name, grad in grads.items():
        assert torch.allclose(grad, full_grads[name], atol=1e-5, rtol=1e-4), name
    # Restored afterwards: the full sequence comes out again.
    assert model.base_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state.shape[1] == 9


def test_only_query_side_parameters_are_counted_as_skipped():
    from transformers import AutoModelForSequenceClassification

    from layerdrop import summary_only

    model = AutoModelForSequenceClassification.from_config(tiny_config("bert", 2))
    layer = summary_only.layer_stack(model)[-1]
    kv = sum(p.numel() for m in (layer.attention.self.key, layer.attention.self.value) for p in m.parameters())
    assert summary_only.query_only_parameters(model) == sum(p.numel() for p in layer.parameters()) - kv == \
        sum(p.numel() for p in layer.parameters()) - 2 * (32 * 32 + 32)


@pytest.mark.parametrize("model_type", ["xlnet"])
def test_families_that_summarise_elsewhere_run_the_stock_layer(model_type):
    from transformers import AutoModelForSequenceClassification

    from layerdrop import summary_only

    model = AutoModelForSequenceClassification.from_config(tiny_config(model_type, 2))
    assert not summary_only.applies(model)
    with summary_only.applied(model) as cut:
        assert not cut


def test_hidden_states_asked_for_runs_the_stock_layer():
    from transformers import AutoModelForSequenceClassification

    from layerdrop import summary_only

    model = AutoModelForSequenceClassification.from_config(tiny_config("bert", 2)).eval()
    batch = _batch(0)
    batch.pop("labels")
    with summary_only.applied(model):
        out = model(**batch, output_hidden_states=True)
    assert [h.shape[1] for h in out.hidden_states] == [9, 9, 9]


def test_a_record_from_before_summary_only_is_not_a_twin():
    """Its dropout masks were drawn over the whole last layer: the same settings, other random numbers."""
    from layerdrop import records

    new = {"config": {"seed": 1}, "dropped_layers": [3], "summary_only_last_layer": True}
    old = {"config": {"seed": 1}, "dropped_layers": [3]}
    assert records.training_identity(new) != records.training_identity(old)
    assert records.training_identity({**old, "summary_only_last_layer": False}) == records.training_identity(old)


def test_checkpointed_layers_and_earlier_forwards_are_left_alone():
    """Gradient checkpointing wraps the class's forward, so a checkpointed layer runs whole; a forward
    the instance already had (a hook's wrapper) comes back afterwards, also from nested blocks."""
    from transformers import AutoModelForSequenceClassification

    from layerdrop import summary_only

    model = AutoModelForSequenceClassification.from_config(tiny_config("bert", 2))
    layer = summary_only.layer_stack(model)[-1]
    shapes = []
    layer.register_forward_hook(lambda module, args, output: shapes.append(output.shape[1]))
    batch = _batch(0)
    model.gradient_checkpointing_enable()
    model.train()
    with summary_only.applied(model):
        model(**batch).loss.backward()
    assert set(shapes) == {9}
    model.gradient_checkpointing_disable()

    wrapper = layer.forward  # stands in for a hook's wrapper set on the instance
    layer.forward = wrapper
    with summary_only.applied(model), summary_only.applied(model):
        model.eval()(**batch)
    assert shapes[-1] == 1
    assert layer.__dict__["forward"] is wrapper
