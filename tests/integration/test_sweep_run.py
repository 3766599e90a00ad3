"""Sweeps end to end on a tiny model: resume after a kill, shards, failures, dry runs.

Killing and racing need real processes (`Popen`); the rest runs the same CLI in this
process (`invoke_cli`), which saves a fresh interpreter's imports per call.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.glue_fixtures import write_glue
from tests.helpers import assert_clean_error, invoke_cli, tiny_model_dir


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    model = tiny_model_dir(root / "tiny", "bert", n_layers=4)
    glue = write_glue(root / "glue")
    return model, glue


def grid_args(model: Path, glue: Path, results: Path, *extra: str) -> list[str]:
    return ["sweep", "--model", str(model), "--strategy", "top", "--strategy", "alternate,parity=odd",
            "--k", "1", "--k", "2", "--task", "rte", "--task", "mrpc", "--seed", "1", "--seed", "2",
            "--name", "s", "--results-dir", str(results), "--train", f"data_dir={glue}", "--train", "epochs=1",
            "--train", "batch_size=2", *extra]


def read(results: Path) -> list[dict]:
    path = results / "s" / "runs.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


N_CELLS = 2 * 2 * (1 + 2 * 2)  # tasks x seeds x (baseline + strategies x K)


def test_dry_run_lists_cells_with_layers(setup, tmp_path):
    model, glue = setup
    result = invoke_cli(*grid_args(model, glue, tmp_path, "--dry-run", "--json"))
    assert result.returncode == 0, result.stderr
    cells = json.loads(result.stdout)
    assert len(cells) == N_CELLS and not any(c["done"] for c in cells)
    assert {(c["strategy"], c["k"], c["dropped"]) for c in cells} == {
        ("top", 0, "-"), ("top", 1, "3"), ("top", 2, "2,3"), ("alternate", 1, "2"), ("alternate", 2, "0,2")}
    assert not (tmp_path / "s").exists()


def test_killed_sweep_resumes_with_every_cell_once(setup, tmp_path):
    model, glue = setup
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LAYERDROP_NO_PROGRESS": "1"}
    for kill_after in (1, 6, 13):  # SIGKILL at three different points of the sweep
        proc = subprocess.Popen([sys.executable, "-m", "layerdrop", *grid_args(model, glue, tmp_path)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while len(read(tmp_path)) < kill_after and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = len(read(tmp_path))
    assert before < N_CELLS, "the kills came too late to test resuming"
    result = invoke_cli(*grid_args(model, glue, tmp_path))  # the rerun need not be a process of its own
    assert result.returncode == 0, result.stderr
    assert f"{before} of {N_CELLS} cells already done" in result.stderr
    counts = Counter(r["run_id"] for r in read(tmp_path) if r["status"] == "ok")
    assert len(counts) == N_CELLS and set(counts.values()) == {1}
    again = invoke_cli(*grid_args(model, glue, tmp_path))
    assert f"{N_CELLS} of {N_CELLS} cells already done" in again.stderr and len(read(tmp_path)) == len(counts)


def test_shards_split_the_grid_and_share_one_file(setup, tmp_path):
    model, glue = setup
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LAYERDROP_NO_PROGRESS": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "layerdrop", *grid_args(model, glue, tmp_path, "--shard", f"{i}/3")],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for i in (1, 2, 3)]
    for proc in procs:
        assert proc.wait(timeout=300) == 0, proc.stderr.read()
    records = read(tmp_path)
    assert len(records) == N_CELLS and len({r["run_id"] for r in records}) == N_CELLS


def test_failed_cell_is_recorded_and_sweep_goes_on(setup, tmp_path):
    model, glue = setup
    args = ["sweep", "--model", str(model), "--strategy", "top", "--k", "1", "--task", "rte", "--seed", "1", "--seed", "2",
            "--name", "s", "--results-dir", str(tmp_path), "--train", f"data_dir={glue}", "--train", "batch_size=2",
            "--train", "learning_rate=1e30", "--train", "max_grad_norm=0", "--train", "epochs=3"]
    result = invoke_cli(*args)
    assert result.returncode == 1, result.stderr
    statuses = Counter(r["status"] for r in read(tmp_path))
    assert statuses["failed"] >= 2 and "failed" in result.stderr  # every non-finite cell recorded, sweep went on
    fast = invoke_cli(*args, "--fail-fast")
    assert fast.returncode == 1
    assert sum(r["status"] == "failed" for r in read(tmp_path)) == statuses["failed"] + 1  # reran failed, stopped at the first


def test_all_bad_names_reported_at_once(setup, tmp_path):
    model, _ = setup
    result = invoke_cli("sweep", "--model", str(model), "--model", "./missing-model", "--strategy", "topp", "--strategy", "top",
                     "--k", "1", "--k", "9", "--task", "rtee", "--name", "s", "--results-dir", str(tmp_path))
    line = assert_clean_error(result, 2, "problem(s)", "'topp'", "'rtee'", "missing-model", "--k 9")
    assert "nothing has run" in line and not (tmp_path / "s").exists()


def test_cells_that_drop_the_same_layers_share_one_training(setup, tmp_path):
    model, glue = setup
    twins = ["sweep", "--model", str(model), "--strategy", "top", "--strategy", "alternate,parity=even", "--k", "1",
             "--task", "rte", "--seed", "3", "--no-baseline", "--name", "s", "--train", f"data_dir={glue}",
             "--train", "epochs=1", "--train", "batch_size=2"]
    plan = json.loads(invoke_cli(*twins, "--results-dir", str(tmp_path / "a"), "--dry-run", "--json").stdout)
    top, even = plan
    assert top["dropped"] == even["dropped"] == "3" and even["twin_of"] == top["run_id"] and top["twin_of"] is None

    # The premise: trained twice, the twins give the same numbers, bit for bit.
    trained = invoke_cli(*twins, "--results-dir", str(tmp_path / "a"), "--no-reuse")
    assert trained.returncode == 0, trained.stderr
    both = read(tmp_path / "a")
    assert [r["strategy"] for r in both] == ["top", "alternate"] and not any("reused_from" in r for r in both)
    assert both[0]["metrics"] == both[1]["metrics"] and both[0]["final_train_loss"] == both[1]["final_train_loss"]
    assert both[0]["train_loss_last_epoch"] == both[1]["train_loss_last_epoch"]

    reused = invoke_cli(*twins, "--results-dir", str(tmp_path / "b"))
    assert reused.returncode == 0, reused.stderr
    assert "1 ran, 1 reused" in reused.stderr and "reusing its result" in reused.stderr
    first, second = read(tmp_path / "b")
    assert "reused_from" not in first and second["reused_from"] == first["run_id"] == top["run_id"]
    assert second["run_id"] == even["run_id"] and second["params"] == {"parity": "even"}
    assert second["metrics"] == both[1]["metrics"] and second["final_train_loss"] == both[1]["final_train_loss"]
    assert not {"train_seconds", "throughput", "memory"} & set(second)  # it did not train: no timings of its own

    # Another seed is another model: its twins pair up among themselves.
    more = invoke_cli(*twins, "--seed", "4", "--results-dir", str(tmp_path / "b"))
    assert more.returncode == 0 and "1 ran, 1 reused a twin's result, 2 already done" in more.stderr, more.stderr
    cell = {(r["config"]["seed"], r["strategy"]): r for r in read(tmp_path / "b")}
    assert cell[4, "alternate"]["reused_from"] == cell[4, "top"]["run_id"] != first["run_id"]
    assert "reused_from" not in cell[4, "top"]

    # --no-reuse trains the cells that reused a result; the report keeps the trained record.
    retrained = invoke_cli(*twins, "--seed", "4", "--results-dir", str(tmp_path / "b"), "--no-reuse")
    assert retrained.returncode == 0 and "2 ran, 0 reused a twin's result, 2 already done" in retrained.stderr, retrained.stderr
    last = {r["run_id"]: r for r in read(tmp_path / "b")}
    assert not any("reused_from" in r for r in last.values()) and len(last) == 4


def test_run_flags_apply_to_every_cell(setup, tmp_path):
    model, glue = setup
    base = ["sweep", "--model", str(model), "--strategy", "top", "--k", "1", "--task", "rte", "--seed", "1",
            "--no-baseline", "--name", "s", "--results-dir", str(tmp_path), "--dry-run", "--json"]
    as_flags = ["--data-dir", str(glue), "--epochs", "1", "--batch-size", "2", "--lr", "3e-4",
                "--max-train-samples", "2", "--no-group-by-length"]
    as_train = ["--train", f"data_dir={glue}", "--train", "epochs=1", "--train", "batch_size=2",
                "--train", "learning_rate=3e-4", "--train", "max_train_samples=2", "--train", "group_by_length=false"]
    by_flags, by_train = (json.loads(invoke_cli(*base, *extra).stdout) for extra in (as_flags, as_train))
    default = json.loads(invoke_cli(*base, "--data-dir", str(glue)).stdout)
    assert by_flags[0]["run_id"] == by_train[0]["run_id"] != default[0]["run_id"]  # the same cell, spelled two ways

    ran = invoke_cli(*base[:-2], *as_flags)
    assert ran.returncode == 0, ran.stderr
    (record,) = read(tmp_path)
    assert record["run_id"] == by_flags[0]["run_id"] and record["train_examples"] == 2  # of the fixture's 3
    assert {k: record["config"][k] for k in ("epochs", "batch_size", "learning_rate", "group_by_length")} == {
        "epochs": 1.0, "batch_size": 2, "learning_rate": 3e-4, "group_by_length": False}

    both = invoke_cli(*base, "--epochs", "1", "--train", "epochs=2")
    assert_clean_error(both, 2, "--train epochs=... and --epochs both set epochs")


def test_missing_data_stops_the_sweep_before_any_cell(setup, tmp_path):
    model, glue = setup
    result = invoke_cli("sweep", "--model", str(model), "--strategy", "top", "--k", "1", "--task", "rte", "--task", "mrpc",
                     "--name", "s", "--results-dir", str(tmp_path), "--data-dir", str(tmp_path / "no-glue"))
    line = assert_clean_error(result, 2, "the sweep's data has 1 problem(s)", "no-glue", "nothing has run")
    assert "does not exist" in line and not (tmp_path / "s").exists()


def test_a_cell_failing_before_training_is_recorded(setup, tmp_path):
    model, glue = setup
    plugin = tmp_path / "scored.py"
    # Needs layer scores, so the up-front check cannot call it; fails once they exist, in the cell.
    plugin.write_text("def scored(n_layers, k, ctx):\n"
                      "    ctx.layer_scores(n_examples=4, split='train')\n"
                      "    raise RuntimeError('scores look wrong')\n")
    result = invoke_cli("sweep", "--model", str(model), "--strategy", f"{plugin}:scored", "--k", "1", "--task", "rte",
                     "--seed", "1", "--name", "s", "--results-dir", str(tmp_path), "--data-dir", str(glue),
                     "--epochs", "1", "--batch-size", "2", "--max-train-samples", "8")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    by_k = {r["k"]: r for r in read(tmp_path)}
    assert by_k[0]["status"] == "ok"  # the baseline ran: one cell's failure does not end the sweep
    assert by_k[1]["status"] == "failed" and by_k[1]["error"].startswith("before training: ") and "RuntimeError: scores look wrong" in by_k[1]["error"]
    assert by_k[1]["config"]["strategy"] == f"{plugin}:scored"


def test_dry_run_shows_the_layers_a_finished_contribution_cell_dropped(setup, tmp_path):
    model, glue = setup
    args = ["sweep", "--model", str(model), "--strategy", "contribution,n_examples=2", "--k", "1", "--task", "rte",
            "--seed", "1", "--no-baseline", "--name", "s", "--results-dir", str(tmp_path), "--data-dir", str(glue),
            "--epochs", "1", "--batch-size", "2"]
    (before,) = json.loads(invoke_cli(*args, "--dry-run", "--json").stdout)
    assert before["dropped"] == "chosen from scores at run time" and not before["done"]
    assert invoke_cli(*args).returncode == 0
    (record,) = read(tmp_path)
    (after,) = json.loads(invoke_cli(*args, "--dry-run", "--json").stdout)
    assert after["done"] and after["dropped"] == f"{record['dropped_layers'][0]} (from scores)"
