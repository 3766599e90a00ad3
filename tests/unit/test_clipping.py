"""Clipping folded into the fused optimizer step gives the update torch's clipping gives."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")

from tests.helpers import tiny_config  # noqa: E402


def _params(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    params = [torch.nn.Parameter(torch.randn(40, 30, generator=g)), torch.nn.Parameter(torch.randn(30, generator=g))]
    for p in params:
        p.grad = torch.randn(p.shape, generator=g) * 5  # total norm ~140, far above the clip
    return params


def _adamw(params, fused=True):
    return torch.optim.AdamW([{"params": params[:1], "weight_decay": 0.1}, {"params": params[1:], "weight_decay": 0.0}],
                             lr=1e-2, fused=fused)


def test_a_folded_step_is_the_clipped_step_and_leaves_no_scale_behind():
    from accelerate import Accelerator

    from layerdrop.clipping import clipped, folds

    accelerator = Accelerator(cpu=True)
    reference, folded = _params(), _params()
    before = [p.detach().clone() for p in reference]
    torch.nn.utils.clip_grad_norm_(reference, 1.0)
    _adamw(reference).step()

    optimizer = _adamw(folded)
    assert folds(accelerator, optimizer)
    with clipped(accelerator, None, optimizer, 1.0):
        assert optimizer.grad_scale.item() > 100  # the clip is active, so the comparison is not vacuous
        optimizer.step()
    assert optimizer.grad_scale is None  # a stale scale would clip the next step by this one's norm
    for a, b, start in zip(reference, folded, before):
        torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-7)
        assert not torch.allclose(b, start)


def test_a_small_norm_is_left_alone():
    from accelerate import Accelerator

    from layerdrop.clipping import clipped

    params = _params()
    optimizer = _adamw(params)
    with clipped(Accelerator(cpu=True), None, optimizer, 1e6):
        assert optimizer.grad_scale.item() == 1.0


def test_other_optimizers_and_loss_scalers_clip_in_place():
    from accelerate import Accelerator

    from layerdrop.clipping import clipped, folds

    accelerator = Accelerator(cpu=True)
    assert not folds(accelerator, _adamw(_params(), fused=False))
    sgd_params = _params()
    sgd = torch.optim.SGD(sgd_params, lr=0.1)
    assert not folds(accelerator, sgd)
    scaled = _adamw(_params())
    scaled.grad_scale = torch.tensor(8.0)  # a loss scaler's own scale: not ours to replace
    assert not folds(accelerator, scaled)

    model = torch.nn.Module()
    model.params = torch.nn.ParameterList(sgd_params)
    with clipped(accelerator, model, sgd, 1.0):
        total = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in sgd_params]))
        assert total.item() == pytest.approx(1.0, rel=1e-4)
        assert getattr(sgd, "grad_scale", None) is None


def _train_set():
    from layerdrop.batching import Encoded

    g = torch.Generator().manual_seed(3)
    ids = [torch.randint(5, 100, (int(n),), generator=g).tolist() for n in torch.randint(3, 12, (24,), generator=g)]
    labels = torch.randint(0, 2, (24,), generator=g).tolist()
    return Encoded(input_ids=ids, token_type_ids=None, labels=labels, pad_id=0, pad_type_id=0, pad_left=False)


def _fine_tune(model, monkeypatch, fold: bool, max_grad_norm: float):
    from accelerate import Accelerator

    import layerdrop.train as train_module
    from layerdrop.config import RunConfig

    monkeypatch.setattr(train_module, "FOLD_CLIPPING", fold)
    calls = []
    real = Accelerator.clip_grad_norm_
    monkeypatch.setattr(Accelerator, "clip_grad_norm_", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    config = RunConfig(model="unused", task="sst2", epochs=2, batch_size=4, seed=1, learning_rate=1e-3,
                       max_grad_norm=max_grad_norm)
    train_module.fine_tune(model, _train_set(), config, Accelerator(cpu=True), regression=False)
    return len(calls)


def test_fine_tuning_with_the_fold_trains_the_clipped_model(monkeypatch):
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(0)
    base = AutoModelForSequenceClassification.from_config(tiny_config("bert", 2))
    unclipped, in_place, folded = copy.deepcopy(base), copy.deepcopy(base), copy.deepcopy(base)
    _fine_tune(unclipped, monkeypatch, True, 0.0)
    assert _fine_tune(in_place, monkeypatch, False, 0.05) == 12  # accelerate clipped every step
    assert _fine_tune(folded, monkeypatch, True, 0.05) == 0  # the fused step did
    differs = False
    for name, value in in_place.state_dict().items():
        torch.testing.assert_close(folded.state_dict()[name], value, rtol=1e-5, atol=1e-6, msg=name)
        differs |= not torch.allclose(unclipped.state_dict()[name], value)
    assert differs  # clipping at 0.05 changed the model, so the match above means something
