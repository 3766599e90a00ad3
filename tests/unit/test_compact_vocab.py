"""`--fast`'s compact_vocab: training only the used embedding rows gives the model that training
the full table gives (training mode, per family), and the stats say whether it ran."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")

from tests.helpers import tiny_config  # noqa: E402

USED = range(5, 60)  # the training ids; rows 60..127 of the 128-token tables are never looked up


def _train_set(pad_id: int):
    from layerdrop.data.batching import Encoded

    g = torch.Generator().manual_seed(3)
    ids = [torch.randint(USED.start, USED.stop, (int(n),), generator=g).tolist()
           for n in torch.randint(3, 12, (24,), generator=g)]
    labels = torch.randint(0, 2, (24,), generator=g).tolist()
    return Encoded(input_ids=ids, token_type_ids=None, labels=labels, pad_id=pad_id, pad_type_id=0, pad_left=False)


def _fine_tune(model, train, monkeypatch, compact: bool, **cfg):
    from accelerate import Accelerator

    import layerdrop.training.loop as train_module
    from layerdrop.experiments.config import RunConfig

    config = RunConfig(**{"model": "unused", "task": "sst2", "epochs": 2, "batch_size": 4, "seed": 1,
                          "learning_rate": 1e-3, "fast": compact, **cfg})
    torch.manual_seed(0)  # dropout draws the same masks in both runs
    return train_module.fine_tune(model, train, config, Accelerator(cpu=True), regression=False)


FAMILIES = ("bert", "roberta", "xlm-roberta", "camembert", "distilbert", "xlnet", "electra")
# Training mode with dropout off (the fast-path contract) and with dropout on (same masks).
CASES = [(family, decay, "adamw", dropout) for family in FAMILIES for decay in (0.0, 0.1) for dropout in (False, True)]
# Momentum and Adam's moments stay zero for a row that never gets a gradient, when no decay is added to it.
CASES += [("bert", 0.0, "sgd", False), ("bert", 0.0, "adam", False)]


def _without_dropout(config):
    for key, value in config.to_dict().items():
        if "dropout" in key and isinstance(value, float):
            setattr(config, key, 0.0)
    return config


@pytest.mark.parametrize(("model_type", "weight_decay", "optimizer", "dropout"), CASES)
def test_same_model_as_training_the_full_table(model_type, weight_decay, optimizer, dropout, monkeypatch):
    from transformers import AutoModelForSequenceClassification

    import layerdrop.training.fast.compact_vocab as compact_vocab

    torch.manual_seed(0)
    config = tiny_config(model_type, 2)
    base = AutoModelForSequenceClassification.from_config(config if dropout else _without_dropout(config))
    pad_id = base.config.pad_token_id if base.config.pad_token_id is not None else 0
    train = _train_set(pad_id)
    compacted = []
    real_compact = compact_vocab.compact
    monkeypatch.setattr(compact_vocab, "compact", lambda *a, **k: compacted.append(real_compact(*a, **k)) or compacted[-1])

    full, small = copy.deepcopy(base), copy.deepcopy(base)
    settings = {"weight_decay": weight_decay, "optimizer": optimizer, "warmup_ratio": 0.25}
    full_stats = _fine_tune(full, train, monkeypatch, False, **settings)
    assert not compacted
    small_stats = _fine_tune(small, train, monkeypatch, True, **settings)
    assert len(compacted) == 1 and len(compacted[0].compact.used_ids) < base.config.vocab_size / 2
    assert full_stats.fast_paths == () and full_stats.embedding_rows is None  # stock: nothing ran
    assert small_stats.fast_paths == ("compact_vocab",)
    assert small_stats.embedding_rows == len(compacted[0].compact.used_ids)

    # Back to a plain table that saves like any transformers model.
    assert type(small.get_input_embeddings()) is torch.nn.Embedding
    assert small.state_dict().keys() == full.state_dict().keys()
    assert small_stats.epoch_losses == pytest.approx(full_stats.epoch_losses, rel=1e-5)
    for name, value in full.state_dict().items():
        torch.testing.assert_close(small.state_dict()[name], value, rtol=1e-5, atol=1e-6, msg=name)
    # And training changed something, used rows included, so the comparison is not vacuous.
    table = base.get_input_embeddings().weight
    trained = small.get_input_embeddings().weight
    assert not torch.allclose(trained[list(USED)], table[list(USED)])
    unused = trained[60:]
    if weight_decay:
        assert (unused.abs() < table[60:].abs()).all()  # decayed as the full table's rows were
    else:
        assert torch.equal(unused, table[60:])


def test_optimizers_that_fold_decay_into_the_gradient_keep_the_full_table():
    from transformers import AutoModelForSequenceClassification

    from layerdrop.training.fast.compact_vocab import applies

    model = AutoModelForSequenceClassification.from_config(tiny_config("bert", 1))
    assert applies(model, "adamw", 0.1, "fp32")
    assert applies(model, "sgd", 0.0, "bf16")
    assert not applies(model, "sgd", 0.1, "fp32")
    assert not applies(model, "adam", 0.01, "fp32")
    assert not applies(model, "adamw", 0.0, "fp16")  # skipped overflow steps skip their decay too
    assert not applies(model, "adamw", 0.0, "fp32", "DEEPSPEED")  # sharded parameters
    assert applies(model, "adamw", 0.0, "fp32", "MULTI_GPU")
    model.get_input_embeddings().weight.requires_grad_(False)
    assert not applies(model, "adamw", 0.0, "fp32")


def test_a_table_tied_to_an_output_layer_is_not_compacted():
    from transformers import AutoModelForMaskedLM

    from layerdrop.training.fast.compact_vocab import applies

    # The LM head multiplies every row of the tied table, so every row gets a gradient.
    model = AutoModelForMaskedLM.from_config(tiny_config("bert", 1))
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    assert not applies(model, "adamw", 0.0, "fp32")


def test_a_failed_run_still_gets_its_table_back(monkeypatch):
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_config(tiny_config("bert", 1))
    table = model.get_input_embeddings()
    seen = []

    def crash(**batch):
        seen.append(type(model.get_input_embeddings()).__name__)
        raise RuntimeError("out of memory")

    monkeypatch.setattr(model, "forward", crash)
    with pytest.raises(RuntimeError, match="out of memory"):
        _fine_tune(model, _train_set(0), monkeypatch, True)
    assert seen == ["CompactEmbedding"]
    assert model.get_input_embeddings() is table


def test_a_forward_that_never_reads_the_compact_table_fails_loudly(monkeypatch):
    """A model that ignores `set_input_embeddings` would train a frozen table while the record said
    compact_vocab ran: the first optimizer step stops the run instead."""
    from transformers import AutoModelForSequenceClassification

    from layerdrop.errors import RunFailed

    model = AutoModelForSequenceClassification.from_config(tiny_config("bert", 1))
    monkeypatch.setattr(model, "set_input_embeddings", lambda table: None)  # the forward keeps the full table
    with pytest.raises(RunFailed, match="never read the compacted embedding table"):
        _fine_tune(model, _train_set(0), monkeypatch, True)
