"""Sweep grids: expansion, baseline de-duplication, TOML, shards."""

from __future__ import annotations

import pytest

from layerdrop.experiments import sweep as sweeps
from layerdrop.errors import UsageError

SPECS = (sweeps.StrategySpec("top"), sweeps.StrategySpec("bottom"), sweeps.StrategySpec.parse("alternate,parity=odd"))


def grid(**kw) -> sweeps.SweepConfig:
    base = dict(name="g", models=("m1", "m2"), strategies=SPECS, ks=(1, 2), tasks=("rte", "mrpc"), seeds=(1, 2, 3))
    return sweeps.SweepConfig(**{**base, **kw})


def test_grid_size_and_one_baseline_per_model_task_seed():
    cells = sweeps.expand(grid())
    # 2 models x 2 tasks x 3 seeds x (1 baseline + 3 strategies x 2 K)
    assert len(cells) == 2 * 2 * 3 * (1 + 3 * 2)
    baselines = [c for c in cells if c.k == 0]
    assert len(baselines) == 2 * 2 * 3
    assert len({(c.model, c.task, c.seed) for c in baselines}) == len(baselines)
    assert len({c.run_id for c in cells}) == len(cells)


def test_k_zero_in_the_grid_does_not_duplicate_the_baseline():
    assert len(sweeps.expand(grid(ks=(0, 1)))) == len(sweeps.expand(grid(ks=(1,)))) 


def test_threshold_entries_have_no_k_axis():
    cells = sweeps.expand(grid(strategies=(sweeps.StrategySpec.parse("contribution,threshold=0.9"),), models=("m",),
                               tasks=("rte",), seeds=(1,)))
    assert [(c.strategy, c.k) for c in cells] == [("top", 0), ("contribution", None)]


def test_run_ids_do_not_depend_on_the_rest_of_the_grid():
    small = {c.run_id for c in sweeps.expand(grid(seeds=(1,)))}
    assert small <= {c.run_id for c in sweeps.expand(grid())}


def test_training_settings_reach_every_cell():
    cells = sweeps.expand(grid(train={"epochs": 1.0, "learning_rate": 1e-4}))
    assert {(c.epochs, c.learning_rate) for c in cells} == {(1.0, 1e-4)}


@pytest.mark.parametrize("total", [1, 2, 3, 5, 7])
def test_shards_cover_the_grid_exactly_once(total):
    cells = sweeps.expand(grid())
    parts = [sweeps.shard_cells(cells, (i, total)) for i in range(1, total + 1)]
    ids = [c.run_id for part in parts for c in part]
    assert sorted(ids) == sorted(c.run_id for c in cells)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "a/b", "2", "1/2/3", "-1/2"])
def test_bad_shards(text):
    with pytest.raises(UsageError, match="shard"):
        sweeps.parse_shard(text)


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", ".."])
def test_sweep_names_stay_in_their_folder(name):
    with pytest.raises(UsageError, match="plain folder name"):
        sweeps.check_name(name)


GOOD_TOML = """
name = "demo"
models = ["minilm-l6"]
tasks = ["rte", "mrpc"]
k = [1, 2]
seeds = [1, 2]
strategies = ["top", { name = "alternate", params = { parity = "even" } }, { name = "alternate", params = { parity = "odd" } }]
[train]
epochs = 1
learning_rate = 1e-4
"""


def test_toml_matches_flags(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(GOOD_TOML)
    from_file = sweeps.load_toml(path)
    from_flags = sweeps.SweepConfig("demo", ("minilm-l6",), (sweeps.StrategySpec("top"), sweeps.StrategySpec.parse("alternate,parity=even"),
                                    sweeps.StrategySpec.parse("alternate,parity=odd")), (1, 2), ("rte", "mrpc"), (1, 2),
                                    train={"epochs": 1, "learning_rate": 1e-4})
    assert [c.run_id for c in sweeps.expand(from_file)] == [c.run_id for c in sweeps.expand(from_flags)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = 'x'\nmodels = [", "not valid TOML"),
        ("name = 'x'\nmodel = ['m']", "unknown key 'model'"),
        ("name = 'x'\nk = ['two']", "'k' must be a list of int"),
        ("name = 'x'\n[train]\nepoch = 1", "unknown training setting 'epoch'"),
        ("name = 'x'\n[train]\nepochs = 'three'", "wrong type"),
        ("name = 'x'\nstrategies = [{ nam = 'top' }]", "malformed"),
        ("name = '../up'", "plain folder name"),
    ],
)
def test_bad_toml(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        sweeps.load_toml(path)


def test_same_experiment_same_run_id_however_spelled():
    from layerdrop.experiments.config import RunConfig

    a = RunConfig(model="m", task="t", epochs=2, params=("b=2", "a=1"), text_columns="x,y")
    b = RunConfig(model="m", task="t", epochs=2.0, params=["a = 1", "b=2"], text_columns=("x", "y"))
    assert a.run_id == b.run_id and a.text_columns == ("x", "y")
    assert RunConfig(model="m", task="t", params=("n-examples=5",)).params == ("n_examples=5",)


def test_explicit_layer_lists_parse_from_the_command_line():
    assert sweeps.StrategySpec.parse("explicit,layers=2,5,7") == sweeps.StrategySpec("explicit", ("layers=2,5,7",))
    assert sweeps.StrategySpec.parse("alternate, parity=odd") == sweeps.StrategySpec("alternate", ("parity=odd",))


def test_toml_baseline_must_be_boolean(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("name = 'x'\nbaseline = 'false'\n")
    with pytest.raises(UsageError, match="true or false"):
        sweeps.load_toml(path)


def test_twins_differ_only_in_how_the_layers_were_chosen(tmp_path):
    from layerdrop.experiments import records

    done = {"run_id": "a", "status": "ok", "config": {"model": "m", "strategy": "top", "k": 1, "params": [], "seed": 1, "epochs": 1.0,
                                                      "fast": False},
            "dropped_layers": [5], "versions": {"torch": "2.13.0", "layerdrop_source": "git:abc"}, "device": "cpu",
            "precision": "fp32", "num_processes": 1}
    path = tmp_path / "runs.jsonl"
    records.append(path, {**done, "run_id": "f", "status": "failed"})  # a failed run is nobody's twin
    records.append(path, done)
    cell = {**done, "run_id": "b", "status": "running", "config": {**done["config"], "strategy": "alternate", "params": ["parity=even"]}}
    assert records.find_twin(path, cell)["run_id"] == "a"
    for change in ({"dropped_layers": [4]}, {"versions": {"torch": "2.14.0"}}, {"device": "cuda:0"}, {"precision": "bf16"},
                   {"config": {**cell["config"], "seed": 2}}, {"config": {**cell["config"], "epochs": 2.0}},
                   {"config": {**cell["config"], "fast": True}},  # another training regime
                   {"versions": {"torch": "2.13.0", "layerdrop_code": "sha256:other"}}):  # other code
        assert records.find_twin(path, {**cell, **change}) is None, change
    # A record written before --fast existed (speed paths always on) is no stock run's twin.
    legacy = {**done, "run_id": "old", "config": {k: v for k, v in done["config"].items() if k != "fast"},
              "summary_only_last_layer": True}
    records.append(tmp_path / "legacy.jsonl", legacy)
    assert records.find_twin(tmp_path / "legacy.jsonl", cell) is None
    assert records.find_twin(path, {**done}) is None  # a run is not its own twin
    assert records.find_twin(tmp_path / "none.jsonl", cell) is None


def test_twin_lookup_reads_old_records_and_the_last_rerun(tmp_path):
    from layerdrop.experiments import records

    old = {"run_id": "a", "status": "ok", "config": {"model": "m", "strategy": "top", "k": 1, "params": [], "seed": 1},
           "dropped_layers": [5], "metrics": {"accuracy": 0.5}}
    path = tmp_path / "runs.jsonl"
    records.append(path, old)  # written before `optimizer` existed: it ran with the default
    cell = {**old, "run_id": "b", "config": {**old["config"], "strategy": "alternate", "optimizer": "adamw"}}
    assert records.find_twin(path, cell)["metrics"] == {"accuracy": 0.5}
    records.append(path, {**old, "metrics": {"accuracy": 0.7}})  # a --force rerun of the same run id
    assert records.find_twin(path, cell)["metrics"] == {"accuracy": 0.7}
    assert records.find_twin(path, {**cell, "config": {**cell["config"], "optimizer": "sgd"}}) is None
