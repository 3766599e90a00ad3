"""The record's epoch losses are means over each epoch's batches; the last one is not the last batch."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


class _ScriptedLoss(torch.nn.Module):
    """A model whose loss per call is taken from a script, so the expected means are known."""

    def __init__(self, losses: list[float]):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(2, 2))
        self.losses = iter(losses)

    def forward(self, **batch):
        value = next(self.losses)
        # Depends on the weight so backward and the optimizer step have a gradient to use.
        loss = self.weight.sum() * 0 + value
        return type("Out", (), {"loss": loss})()


def test_last_epoch_loss_is_the_mean_of_the_last_epoch():
    from accelerate import Accelerator

    from layerdrop.data.batching import Encoded
    from layerdrop.experiments.config import RunConfig
    from layerdrop.training.loop import fine_tune

    train = Encoded(input_ids=[[101, 5, 102]] * 6, token_type_ids=None, labels=[0, 1] * 3, pad_id=0,
                    pad_type_id=0, pad_left=False)
    cfg = RunConfig(model="unused", task="sst2", epochs=2, batch_size=2, seed=1)
    # 3 batches per epoch: the first epoch's losses must not count, the last batch alone is 0.3.
    model = _ScriptedLoss([9.0, 9.0, 9.0, 0.9, 0.6, 0.3])
    stats = fine_tune(model, train, cfg, Accelerator(cpu=True), regression=False)
    assert stats.steps == 6
    assert stats.final_loss == pytest.approx(0.3)
    assert stats.last_epoch_loss == pytest.approx(0.6)
    assert stats.epoch_losses == pytest.approx((9.0, 0.6))
