"""Sublayer edits (Undivided Attention, TrimBERT) on tiny models of every family: what a removed
sublayer computes, which parameters go, and that edited models save and load back."""

from __future__ import annotations

import copy

import pytest
import torch

from layerdrop.models.architectures import FAMILIES, family_of
from layerdrop.models.components import edit_model, save_pretrained
from layerdrop.models.edits import LAYERNORMS, NORMALIZER_LAYOUTS, SUBLAYER_MODULES
from layerdrop.models.surgery import count_parameters, layer_stack
from tests.helpers import tiny_config

FAMILY_NAMES = sorted(FAMILIES)
# Every edit, as (component, positions, attention, drop_layernorm).
EDITS = {
    "ffn": ("ffn", [1, 2], "softmax", None),
    "attention": ("attention", [0, 3], "softmax", None),
    "ffn-all": ("ffn", [0, 1, 2, 3], "softmax", None),
    "relu": ("layer", [], "relu", None),
    "sigmoid": ("layer", [], "sigmoid", None),
    "no-ln-attention": ("layer", [], "softmax", "attention"),
    "no-ln-ffn": ("ffn", [0], "softmax", "ffn"),
    "layers-then-relu": ("layer", [1], "relu", "attention"),
}


def _inputs(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 100, (2, 9), generator=gen)
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0  # one padded row, so masking is exercised too
    return {"input_ids": ids, "attention_mask": mask}


def _model(model_type: str, n_layers: int = 4):
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(0)
    return AutoModelForSequenceClassification.from_config(tiny_config(model_type, n_layers)).eval()


def _supported(model_type: str, edit: str) -> bool:
    return EDITS[edit][2] == "softmax" or FAMILIES[model_type].layout in NORMALIZER_LAYOUTS


def _capture_layer_io(model):
    """The (args, kwargs, output) of every layer call of the next forward pass."""
    calls: dict[int, tuple] = {}
    handles = [layer.register_forward_hook(lambda m, args, kwargs, out, i=i: calls.__setitem__(i, (args, kwargs, out)),
                                           with_kwargs=True) for i, layer in enumerate(layer_stack(model))]
    return calls, handles


def _hand_reference(original_layer, layout: str, component: str, args, kwargs):
    """What the layer computes with `component` made the identity, from the original modules."""
    h = args[0] if args else kwargs.get("hidden_states")
    if layout == "bert":
        mask = args[1] if len(args) > 1 else kwargs.get("attention_mask")
        if component == "ffn":
            return original_layer.attention(h, mask)[0]
        return original_layer.output(original_layer.intermediate(h), h)
    if layout == "distilbert":
        mask = kwargs.get("attention_mask", args[1] if len(args) > 1 else None)
        if component == "ffn":
            return original_layer.sa_layer_norm(original_layer.attention(h, attention_mask=mask)[0] + h)
        return original_layer.output_layer_norm(original_layer.ffn(h) + h)
    # xlnet: the layer's arguments, bound by name, are the relative attention's
    import inspect

    bound = inspect.signature(original_layer.forward).bind(*args, **kwargs).arguments
    if component == "ffn":
        return original_layer.rel_attn(bound["output_h"], bound.get("output_g"), bound["attn_mask_h"], bound.get("attn_mask_g"),
                                       bound["r"], bound["seg_mat"], mems=bound.get("mems"),
                                       target_mapping=bound.get("target_mapping"))[0]
    return original_layer.ff(bound["output_h"])


@pytest.mark.parametrize("component", ["ffn", "attention"])
@pytest.mark.parametrize("model_type", FAMILY_NAMES)
def test_a_removed_sublayer_is_the_identity_and_its_parameters_are_gone(model_type, component):
    model = _model(model_type)
    original = copy.deepcopy(model)
    layout = family_of(model.config).layout
    positions = [1, 2]
    parts = SUBLAYER_MODULES[layout][component]  # the sublayer's modules, its LayerNorm included
    gone = sum(count_parameters(getattr(layer_stack(original)[i], name)) for i in positions for name in parts)
    before = count_parameters(model)
    edit_model(model, component, positions)
    assert count_parameters(model) == before - gone
    assert model.config.layerdrop["edits"]["removed_sublayers"] == {component: positions,
                                                                    "attention" if component == "ffn" else "ffn": []}
    calls, handles = _capture_layer_io(model)
    with torch.no_grad():
        model(**_inputs())
        for i in positions:
            args, kwargs, out = calls[i]
            expected = _hand_reference(layer_stack(original)[i], layout, component, args, kwargs)
            got = out[0] if isinstance(out, tuple) else out
            torch.testing.assert_close(got, expected, rtol=0, atol=0)
    for handle in handles:
        handle.remove()
    # The untouched layers compute what they did: the whole model differs only through the edited ones.
    with torch.no_grad():
        assert not torch.equal(model(**_inputs()).logits, original(**_inputs()).logits)


@pytest.mark.parametrize("which", ["attention", "ffn"])
@pytest.mark.parametrize("model_type", FAMILY_NAMES)
def test_dropping_a_layernorm_removes_it_in_every_layer(model_type, which):
    model = _model(model_type)
    layout = family_of(model.config).layout
    path = LAYERNORMS[layout][which]

    def norm(layer):
        module = layer
        for part in path.split("."):
            module = getattr(module, part)
        return module

    per_layer = count_parameters(norm(layer_stack(model)[0]))
    before = count_parameters(model)
    edit_model(model, "layer", [], drop_layernorm=which)
    assert all(isinstance(norm(layer), torch.nn.Identity) for layer in layer_stack(model))
    assert count_parameters(model) == before - 4 * per_layer
    assert model.config.layerdrop["edits"]["removed_layernorms"][which] == [0, 1, 2, 3]


@pytest.mark.parametrize("edit", sorted(EDITS))
@pytest.mark.parametrize("model_type", FAMILY_NAMES)
def test_edited_models_save_and_load_back(model_type, edit, tmp_path):
    if not _supported(model_type, edit):
        pytest.skip(f"{model_type} computes its own softmax")
    import layerdrop
    from transformers import AutoModelForSequenceClassification

    model = _model(model_type)
    component, positions, attention, layernorm = EDITS[edit]
    edit_model(model, component, positions, attention, layernorm)
    with torch.no_grad():
        expected = model(**_inputs()).logits
    save_pretrained(model, None, tmp_path)
    assert (tmp_path / "modeling_layerdrop.py").is_file()
    for reloaded in (layerdrop.load_model(str(tmp_path)),
                     AutoModelForSequenceClassification.from_pretrained(tmp_path, trust_remote_code=True)):
        reloaded.eval()
        assert count_parameters(reloaded) == count_parameters(model)
        with torch.no_grad():
            torch.testing.assert_close(reloaded(**_inputs()).logits, expected, rtol=0, atol=0)


def test_whole_layers_only_stay_a_stock_checkpoint(tmp_path):
    from transformers import AutoModelForSequenceClassification

    model = _model("bert")
    edit_model(model, "layer", [1, 2])
    save_pretrained(model, None, tmp_path)
    assert not (tmp_path / "modeling_layerdrop.py").exists()
    assert "auto_map" not in (tmp_path / "config.json").read_text()
    AutoModelForSequenceClassification.from_pretrained(tmp_path)  # plain transformers, no remote code


def test_dropping_layers_after_a_sublayer_edit_renumbers_it():
    model = _model("bert", 4)
    edit_model(model, "ffn", [2, 3])
    edit_model(model, "layer", [0, 3])
    assert model.config.layerdrop["edits"]["removed_sublayers"]["ffn"] == [1]  # old layer 2, now at position 1
    assert model.config.layerdrop["kept_layers"] == [1, 2]


def _normalizer_reference(normalizer, q, k, v, keep):
    scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    n = keep.sum(-1, keepdim=True).double()
    weights = torch.relu(scores) / n if normalizer == "relu" else torch.sigmoid(scores - torch.log(n))
    weights = weights * keep
    return (weights @ v).transpose(1, 2), weights


@pytest.mark.parametrize("normalizer", ["relu", "sigmoid"])
def test_normalizers_compute_their_formula_and_give_masked_keys_nothing(normalizer):
    from layerdrop.models.edits import IMPLEMENTATIONS

    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 4, generator=gen, dtype=torch.float64) for _ in range(3))
    keep = torch.ones(2, 1, 5, 5, dtype=torch.bool)
    keep[1, ..., 3:] = False  # the second row has 3 real keys
    fn = IMPLEMENTATIONS[normalizer][1]
    out, weights = fn(torch.nn.Identity().eval(), q, k, v, keep)
    expected_out, expected_weights = _normalizer_reference(normalizer, q, k, v, keep)
    torch.testing.assert_close(weights, expected_weights)
    torch.testing.assert_close(out, expected_out)
    assert torch.all(weights[1, ..., 3:] == 0)
    # The same with an additive mask (eager's spelling) and with no mask at all.
    additive = torch.zeros(2, 1, 5, 5, dtype=torch.float64).masked_fill(~keep, torch.finfo(torch.float64).min)
    torch.testing.assert_close(fn(torch.nn.Identity().eval(), q, k, v, additive)[1], expected_weights)
    all_keys = torch.ones_like(keep)
    torch.testing.assert_close(fn(torch.nn.Identity().eval(), q, k, v, None)[1],
                               _normalizer_reference(normalizer, q, k, v, all_keys)[1])


@pytest.mark.parametrize("normalizer", ["relu", "sigmoid"])
@pytest.mark.parametrize("model_type", [name for name in FAMILY_NAMES if FAMILIES[name].layout in NORMALIZER_LAYOUTS])
def test_padding_changes_nothing_under_a_replaced_normalizer(model_type, normalizer):
    # A custom attention that got no mask would let the padded positions in: the real tokens'
    # outputs would change with the padding.
    model = _model(model_type)
    edit_model(model, "layer", [], normalizer)
    assert model.config._attn_implementation == f"layerdrop_{normalizer}"
    ids = torch.randint(5, 100, (1, 6), generator=torch.Generator().manual_seed(1))
    padded = torch.cat([ids, torch.zeros(1, 4, dtype=ids.dtype)], dim=1)
    mask = torch.cat([torch.ones(1, 6, dtype=torch.long), torch.zeros(1, 4, dtype=torch.long)], dim=1)
    with torch.no_grad():
        short = model.base_model(input_ids=ids).last_hidden_state
        long = model.base_model(input_ids=padded, attention_mask=mask).last_hidden_state[:, :6]
    torch.testing.assert_close(long, short, rtol=1e-5, atol=1e-5)
    edit_model(model, "layer", [], "softmax")  # softmax afterwards keeps the recorded normalizer
    assert model.config.layerdrop["edits"]["attention"] == normalizer


def test_sublayer_scores_compare_each_sublayers_input_and_output():
    from layerdrop.analysis.scoring import sublayer_similarities

    model = _model("bert")
    ids = torch.randint(5, 100, (3, 7), generator=torch.Generator().manual_seed(2))
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    with torch.no_grad():
        hidden = model.base_model(**batch, output_hidden_states=True).hidden_states
        attended = [layer.attention(hidden[i])[0] for i, layer in enumerate(layer_stack(model))]
    cos = torch.nn.functional.cosine_similarity
    expected_attention = [cos(hidden[i][:, 0], attended[i][:, 0], dim=-1).mean().item() for i in range(4)]
    expected_ffn = [cos(attended[i][:, 0], hidden[i + 1][:, 0], dim=-1).mean().item() for i in range(4)]
    assert sublayer_similarities(model, [batch], "first", "attention") == pytest.approx(expected_attention, abs=1e-6)
    assert sublayer_similarities(model, [batch], "first", "ffn") == pytest.approx(expected_ffn, abs=1e-6)
    edit_model(model, "ffn", [1])
    assert sublayer_similarities(model, [batch], "first", "ffn")[1] == 1.0  # nothing left to change the input


# --- the real pretrained MiniLM -------------------------------------------------------------

MINILM_FFN = 384 * 1536 + 1536 + 1536 * 384 + 384 + 2 * 384  # intermediate, output dense, its LayerNorm


def test_minilm_ffn_drop_cli_round_trip(minilm_dir, tmp_path):
    import json

    import layerdrop
    from transformers import AutoModel, AutoTokenizer

    from tests.helpers import invoke_cli

    out = tmp_path / "minilm-ffn3"
    result = invoke_cli("drop", "--model", "minilm-l6", "--component", "ffn", "--strategy", "bottom", "--k", "3",
                        "--output", str(out), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["component"] == "ffn" and report["dropped_layers"] == [] and report["kept_layers"] == list(range(6))
    assert report["removed_sublayers"] == {"attention": [], "ffn": [0, 1, 2]}
    assert report["parameters_before"] - report["parameters_after"] == 3 * MINILM_FFN == 3_547_008
    saved = json.loads((out / "config.json").read_text())
    assert saved["layerdrop"]["edits"]["removed_sublayers"] == {"attention": [], "ffn": [0, 1, 2]}
    assert saved["num_hidden_layers"] == 6 and "AutoModel" in saved["auto_map"]

    original = AutoModel.from_pretrained(minilm_dir).eval()
    edit_model(original, "ffn", [0, 1, 2])
    batch = AutoTokenizer.from_pretrained(out)(["a fine film", "not a good movie at all"], padding=True, return_tensors="pt")
    with torch.inference_mode():
        expected = original(**batch).last_hidden_state
        for reloaded in (layerdrop.load_model(str(out)), AutoModel.from_pretrained(out, trust_remote_code=True)):
            assert count_parameters(reloaded) == report["parameters_after"]
            assert torch.equal(reloaded.eval()(**batch).last_hidden_state, expected)


@pytest.mark.parametrize("normalizer", ["relu", "sigmoid"])
def test_normalizer_gradients_match_the_formula(normalizer):
    # The normalizers work in place; their gradients must still be the formula's.
    from layerdrop.models.edits import IMPLEMENTATIONS

    gen = torch.Generator().manual_seed(3)
    leaves = [torch.randn(2, 3, 5, 4, generator=gen, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    keep = torch.ones(2, 1, 5, 5, dtype=torch.bool)
    keep[0, ..., 4:] = False
    out, _ = IMPLEMENTATIONS[normalizer][1](torch.nn.Identity().train(), *leaves, keep)
    got = torch.autograd.grad(out.square().sum(), leaves)
    expected_out, _ = _normalizer_reference(normalizer, *leaves, keep)
    expected = torch.autograd.grad(expected_out.square().sum(), leaves)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e)


def test_a_saved_normalizer_survives_a_new_process(tmp_path):
    # transformers decides per class, from its module's source, whether the attention implementation
    # may be set; in one process a stock class's cached answer can hide a refusal. Load fresh.
    import subprocess
    import sys

    model = _model("bert")
    edit_model(model, "layer", [], "relu")
    save_pretrained(model, None, tmp_path)
    code = ("import layerdrop, sys; from transformers import AutoModelForSequenceClassification as A; "
            f"a = layerdrop.load_model({str(tmp_path)!r}); b = A.from_pretrained({str(tmp_path)!r}, trust_remote_code=True); "
            "print(a.config._attn_implementation, b.config._attn_implementation)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["layerdrop_relu", "layerdrop_relu"]


def test_layernorms_then_sublayers_then_resave_loads_back(tmp_path):
    import layerdrop

    model = _model("bert")
    edit_model(model, "layer", [], "softmax", "attention")
    edit_model(model, "attention", [1])
    assert model.config.layerdrop["edits"]["removed_layernorms"]["attention"] == [0, 2, 3]
    save_pretrained(model, None, tmp_path / "a")
    reloaded = layerdrop.load_model(str(tmp_path / "a")).eval()
    assert type(reloaded).__name__ == "LayerdropBertForSequenceClassification"
    # Saved again from the reloaded class: the folder names the stock class and keeps the head.
    edit_model(reloaded, "layer", [3])
    save_pretrained(reloaded, None, tmp_path / "b")
    again = layerdrop.load_model(str(tmp_path / "b")).eval()
    assert "classifier.weight" in dict(again.named_parameters())
    with torch.no_grad():
        torch.testing.assert_close(again(**_inputs()).logits, reloaded(**_inputs()).logits, rtol=0, atol=0)


def test_undoing_every_sublayer_edit_drops_the_auto_map(tmp_path):
    import json

    import layerdrop

    model = _model("bert")
    edit_model(model, "ffn", [3])
    save_pretrained(model, None, tmp_path / "a")
    reloaded = layerdrop.load_model(str(tmp_path / "a"))
    edit_model(reloaded, "layer", [3])  # the only edited layer goes: a stock model again
    save_pretrained(reloaded, None, tmp_path / "b")
    saved = json.loads((tmp_path / "b" / "config.json").read_text())
    assert "auto_map" not in saved and not (tmp_path / "b" / "modeling_layerdrop.py").exists()
