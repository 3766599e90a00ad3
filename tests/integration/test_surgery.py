"""Surgery on tiny models of every supported family, and on the real packaged MiniLM."""

from __future__ import annotations

import json

import pytest
import torch

from layerdrop.models.architectures import FAMILIES, family_of
from layerdrop.models.surgery import count_parameters, drop_layers, layer_stack
from tests.helpers import assert_clean_error, invoke_cli, tiny_config

FAMILY_NAMES = sorted(FAMILIES)


def _inputs(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 100, (2, 9), generator=gen)
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0  # one padded row, so masking is exercised too
    return {"input_ids": ids, "attention_mask": mask}


def _model(model_type: str, n_layers: int = 4, head: bool = True):
    from transformers import AutoModel, AutoModelForSequenceClassification

    torch.manual_seed(0)
    cls = AutoModelForSequenceClassification if head else AutoModel
    return cls.from_config(tiny_config(model_type, n_layers)).eval()


@pytest.mark.parametrize("model_type", FAMILY_NAMES)
def test_drop_removes_layers_and_keeps_order(model_type):
    model = _model(model_type, 4)
    stack = layer_stack(model)
    kept_before = [stack[0], stack[2]]
    params_before = count_parameters(model)
    layer_params = count_parameters(stack[1])
    drop_layers(model, [1, 3], {"strategy": "explicit"})
    stack = layer_stack(model)
    assert list(stack) == kept_before
    key = family_of(model.config).n_layers_key
    assert getattr(model.config, key) == 2 and model.config.num_hidden_layers == 2
    assert count_parameters(model) == params_before - 2 * layer_params
    record = model.config.layerdrop
    assert record["dropped_layers"] == [1, 3] and record["kept_layers"] == [0, 2] and record["k"] == 2
    assert record["parameters_before"] == params_before and record["parameters_after"] == count_parameters(model)
    # Per-layer index attributes follow the new positions.
    for position, layer in enumerate(stack):
        for module in layer.modules():
            if isinstance(getattr(module, "layer_idx", None), int):
                assert module.layer_idx == position
    # The smaller model still runs.
    with torch.inference_mode():
        assert model(**_inputs()).logits.shape == (2, 2)


@pytest.mark.parametrize("model_type", FAMILY_NAMES)
def test_saved_model_reloads_in_plain_transformers(model_type, tmp_path):
    from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

    model = _model(model_type, 4)
    drop_layers(model, [0, 2], {"strategy": "explicit", "source_model": "tiny"})
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    with torch.inference_mode():
        assert torch.equal(model(**_inputs()).logits, reloaded(**_inputs()).logits)
        base = AutoModel.from_pretrained(tmp_path).eval()
        assert torch.equal(model.base_model(**_inputs())[0], base(**_inputs())[0])
    config = AutoConfig.from_pretrained(tmp_path)
    assert config.layerdrop["dropped_layers"] == [0, 2] and config.layerdrop["source_model"] == "tiny"
    assert len(layer_stack(reloaded)) == 2


def test_dropped_model_computes_what_the_kept_layers_compute():
    """Dropping is removal, not masking: the result equals running the kept layers by hand."""
    model = _model("bert", 4, head=False)
    inputs = {"input_ids": _inputs()["input_ids"]}  # no padding, so no mask is needed by hand
    with torch.inference_mode():
        hidden = model.embeddings(input_ids=inputs["input_ids"])
        for index in (1, 3):
            out = model.encoder.layer[index](hidden)
            hidden = out[0] if isinstance(out, tuple) else out
        drop_layers(model, [0, 2])
        assert torch.allclose(model(**inputs).last_hidden_state, hidden, atol=1e-6)


def test_dropping_twice_records_original_indices():
    model = _model("bert", 6)
    drop_layers(model, [5])
    drop_layers(model, [0, 2])  # current positions 0 and 2 are original layers 0 and 2
    assert model.config.layerdrop["dropped_layers"] == [0, 2, 5]
    assert model.config.layerdrop["kept_layers"] == [1, 3, 4]
    assert model.config.layerdrop["n_layers_original"] == 6


def test_bert_base_layer_has_7087872_parameters():
    from transformers import AutoModel, BertConfig

    with torch.device("meta"):  # shapes only, no memory for weights
        model = AutoModel.from_config(BertConfig())
    before = count_parameters(model)
    for k in (1, 2, 4):
        with torch.device("meta"):
            smaller = drop_layers(AutoModel.from_config(BertConfig()), list(range(k)))
        assert before - count_parameters(smaller) == 7_087_872 * k


def test_unsupported_family_is_a_clear_error(tmp_path):
    from transformers import GPT2Config, GPT2Model

    GPT2Model(GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=64)).save_pretrained(tmp_path / "gpt2")
    result = invoke_cli("plan", "--model", str(tmp_path / "gpt2"), "--k", "1")
    assert_clean_error(result, 2, "'gpt2' is not supported")


# --- the real pretrained MiniLM -------------------------------------------------------------


def test_minilm_drop_cli_round_trip(minilm_dir, tmp_path):
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    out = tmp_path / "minilm-l4"
    result = invoke_cli("drop", "--model", "minilm-l6", "--strategy", "alternate", "--param", "parity=odd", "--k", "2",
                     "--output", str(out), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["dropped_layers"] == [2, 4] and report["kept_layers"] == [0, 1, 3, 5]
    assert report["parameters_before"] - report["parameters_after"] == 2 * 1_774_464  # one MiniLM layer (384 wide)

    original = AutoModel.from_pretrained(minilm_dir).eval()
    drop_layers(original, [2, 4])
    tokenizer = AutoTokenizer.from_pretrained(out)
    batch = tokenizer(["a fine film", "not a good movie at all"], padding=True, return_tensors="pt")
    reloaded = AutoModel.from_pretrained(out).eval()
    with torch.inference_mode():
        assert torch.equal(original(**batch).last_hidden_state, reloaded(**batch).last_hidden_state)
    assert reloaded.config.num_hidden_layers == 4
    assert reloaded.config.layerdrop["source_model"] == "minilm-l6"
    assert reloaded.config.layerdrop["strategy"] == "alternate" and reloaded.config.layerdrop["params"] == {"parity": "odd"}
    classifier = AutoModelForSequenceClassification.from_pretrained(out, num_labels=2)
    assert len(classifier.bert.encoder.layer) == 4

    again = invoke_cli("drop", "--model", "minilm-l6", "--k", "1", "--output", str(out))
    assert_clean_error(again, 2, "exists and is not empty", "--overwrite")
    assert AutoModel.from_pretrained(out).config.num_hidden_layers == 4  # untouched
    replaced = invoke_cli("drop", "--model", "minilm-l6", "--k", "1", "--output", str(out), "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert AutoModel.from_pretrained(out).config.num_hidden_layers == 5
