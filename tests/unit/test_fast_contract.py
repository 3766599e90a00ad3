"""The contract of every `--fast` path: each transformers, accelerate or torch name it relies on.

A path must compute the stock result, and say whether it ran. If a library release moves one of
the names below, this file fails and names it, instead of a path that silently stops applying
(or, worse, a record that claims a path ran when it did not).

compact_vocab (`layerdrop/training/fast/compact_vocab.py`) relies on:
- `PreTrainedModel.get_input_embeddings` / `set_input_embeddings` / `get_output_embeddings`: that the
  model's forward looks words up through the module the setter installs;
- `nn.Embedding`'s `weight`, `padding_idx`, `max_norm`, `scale_grad_by_freq`, `sparse`, `num_embeddings`,
  `embedding_dim`;
- accelerate's `AcceleratedOptimizer.step_was_skipped` (steps fp16's scaler skips take no decay) and
  `DistributedType`'s `NO`, `MULTI_CPU`, `MULTI_GPU`.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from tests.helpers import tiny_config  # noqa: E402

FAMILIES = ("bert", "roberta", "xlm-roberta", "camembert", "distilbert", "xlnet", "electra")


@pytest.mark.parametrize("model_type", FAMILIES)
def test_forward_reads_the_embedding_the_setter_installs(model_type):
    from transformers import AutoModelForSequenceClassification

    from layerdrop.training.fast.compact_vocab import CompactEmbedding, applies

    model = AutoModelForSequenceClassification.from_config(tiny_config(model_type, 2)).eval()
    table = model.get_input_embeddings()
    assert type(table) is torch.nn.Embedding and applies(model, "adamw", 0.0, "fp32")
    ids = torch.randint(5, 60, (3, 9))
    expected = model(input_ids=ids).logits
    compact = CompactEmbedding(table, torch.arange(0, 60))
    model.set_input_embeddings(compact)
    assert model.get_input_embeddings() is compact
    # Bit for bit: the same rows are looked up, and a path that the forward ignored would be caught
    # by the second check (a table of zeros must change the logits).
    assert torch.equal(model(input_ids=ids).logits, expected)
    with torch.no_grad():
        compact.weight.zero_()
    assert not torch.equal(model(input_ids=ids).logits, expected)


def test_embedding_attributes_read():
    table = torch.nn.Embedding(10, 4, padding_idx=0)
    for name in ("weight", "padding_idx", "max_norm", "scale_grad_by_freq", "sparse", "num_embeddings", "embedding_dim"):
        assert hasattr(table, name), name


def test_accelerate_names_read():
    from accelerate.optimizer import AcceleratedOptimizer
    from accelerate.utils import DistributedType

    from layerdrop.training.fast.compact_vocab import PLAIN_DISTRIBUTED

    assert isinstance(getattr(AcceleratedOptimizer, "step_was_skipped", None), property)
    assert {member.value for member in DistributedType} >= set(PLAIN_DISTRIBUTED)


@pytest.mark.parametrize("fast", [False, True])
def test_training_leaves_the_model_as_transformers_built_it(fast):
    """Stock (and --fast, once done) training replaces no instance forward, swaps no module for
    good, and writes no private attribute of the model's config."""
    from accelerate import Accelerator
    from transformers import AutoModelForSequenceClassification

    from layerdrop.data.batching import Encoded
    from layerdrop.experiments.config import RunConfig
    from layerdrop.training.loop import fine_tune

    model = AutoModelForSequenceClassification.from_config(tiny_config("bert", 2))
    types = [type(m) for m in model.modules()]
    private = {k: v for k, v in vars(model.config).items() if k.startswith("_")}
    train = Encoded(input_ids=[[5, 6, 7], [8, 9], [10, 11, 12, 13]] * 4, token_type_ids=None, labels=[0, 1, 1] * 4,
                    pad_id=0, pad_type_id=0, pad_left=False)
    cfg = RunConfig(model="unused", task="sst2", epochs=1, batch_size=4, fast=fast)
    stats = fine_tune(model, train, cfg, Accelerator(cpu=True), regression=False)
    assert stats.fast_paths == (("compact_vocab",) if fast else ())
    assert [type(m) for m in model.modules()] == types
    assert not [name for name, m in model.named_modules() if "forward" in vars(m)]
    assert {k: v for k, v in vars(model.config).items() if k.startswith("_")} == private
