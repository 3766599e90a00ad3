"""Components, normalizers and LayerNorm removals as sweep axes, run ids, twins and report rows."""

from __future__ import annotations

import pytest

from layerdrop.errors import UsageError
from layerdrop.experiments import sweep as sweeps
from layerdrop.experiments.config import RunConfig, config_dict
from layerdrop.experiments.records import training_identity
from layerdrop.reporting.report import FULL_MODEL, removed_text, strategy_label
from layerdrop.selection import registry


def test_defaults_keep_every_earlier_run_id():
    plain = RunConfig(model="m", task="t", k=2)
    assert plain.run_id == RunConfig(model="m", task="t", k=2, component="layer", attention="softmax").run_id
    assert RunConfig(model="m", task="t", k=2, component="ffn").run_id != plain.run_id
    assert RunConfig(model="m", task="t", k=0, attention="relu").run_id != RunConfig(model="m", task="t", k=0).run_id


def test_removing_no_layer_and_no_sublayer_train_the_same_model():
    def record(component, k, dropped=(), sublayers=None):
        cfg = RunConfig(model="m", task="t", k=k, component=component)
        return {"config": config_dict(cfg), "dropped_layers": list(dropped), "removed_sublayers": sublayers or {}}

    assert training_identity(record("ffn", 0, sublayers={"ffn": [], "attention": []})) == training_identity(record("layer", 0))
    assert training_identity(record("ffn", 2, sublayers={"ffn": [4, 5]})) != training_identity(record("layer", 2, [4, 5]))
    assert training_identity(record("ffn", 2, sublayers={"ffn": [4, 5]})) != training_identity(record("attention", 2, sublayers={"attention": [4, 5]}))


def test_a_sublayer_strategy_may_take_all_of_them_but_no_more():
    top = registry.plan("top")
    assert top.select(6, 6, component="ffn").dropped_layers == (0, 1, 2, 3, 4, 5)
    with pytest.raises(UsageError, match="more than the 6 ffn sublayers"):
        top.select(6, 7, component="ffn")
    with pytest.raises(UsageError, match="every layer"):
        top.select(6, 6)


def test_sweep_axes_share_the_baseline_and_give_each_variant_its_own(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text('name = "g"\nmodels = ["m"]\ntasks = ["rte"]\nk = [0, 2]\nstrategies = ["top"]\n'
                    'components = ["layer", "ffn"]\nattention = ["softmax", "relu"]\ndrop_layernorm = ["none", "ffn"]\n')
    spec = sweeps.load_toml(path)
    assert spec.drop_layernorm == (None, "ffn")
    cells = sweeps.expand(spec)
    baselines = [c for c in cells if c.k == 0]
    # One baseline per normalizer x LayerNorm removal, spelled as whole layers whatever the component.
    assert len(baselines) == 4 and all(c.component == "layer" for c in baselines)
    assert RunConfig(model="m", task="rte", k=0).run_id in {c.run_id for c in baselines}
    assert {(c.component, c.attention, c.drop_layernorm) for c in cells if c.k == 2} == {
        (comp, att, ln) for comp in ("layer", "ffn") for att in ("softmax", "relu") for ln in (None, "ffn")}
    assert len([c for c in cells if c.k == 2]) == 8
    assert sweeps.cell_variant(next(c for c in cells if c.k == 2 and c.component == "ffn" and c.attention == "relu"
                                    and c.drop_layernorm == "ffn")) == "top ffn relu attn no LN after ffn"


def test_flags_override_the_toml_axes(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text('name = "g"\nmodels = ["m"]\ntasks = ["rte"]\nk = [1]\nstrategies = ["top"]\ncomponents = ["ffn"]\n')
    spec = sweeps.load_toml(path, {"components": ["attention"], "attention": ["sigmoid"]})
    assert spec.components == ("attention",) and spec.attention == ("sigmoid",)


def _record(k, component="layer", attention="softmax", layernorm=None, dropped=(), sublayers=None):
    return {"k": k, "strategy": "top", "params": {}, "dropped_layers": list(dropped), "removed_sublayers": sublayers or {},
            "config": {"component": component, "attention": attention, "drop_layernorm": layernorm}}


def test_report_rows_name_the_variant():
    assert strategy_label(_record(0)) == FULL_MODEL
    assert strategy_label(_record(4, "ffn", sublayers={"ffn": [2, 3, 4, 5]})) == "top ffn"
    assert strategy_label(_record(2, "attention")) == "top attn-sublayer"
    assert strategy_label(_record(0, attention="relu")) == "relu attn"
    assert strategy_label(_record(0, layernorm="attention")) == "no LN after attention"
    assert strategy_label(_record(2, attention="sigmoid", dropped=[4, 5])) == "top sigmoid attn"
    assert strategy_label(_record(0, "ffn")) == FULL_MODEL  # K=0 removes nothing, whatever the component
    assert removed_text(_record(2, "ffn", sublayers={"ffn": [4, 5], "attention": []})) == "4,5"
    assert strategy_label({"k": 2, "strategy": "top", "params": {}, "dropped_layers": [4, 5]}) == "top"  # old records
