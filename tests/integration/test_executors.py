"""Executors and `--status` on a tiny sweep: N workers share one results folder, every cell is
recorded once, a killed worker's cell is taken over, and `--status` reads the folder alone."""

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
    root = tmp_path_factory.mktemp("executors")
    return tiny_model_dir(root / "tiny", "bert", n_layers=4), write_glue(root / "glue")


def grid(model: Path, glue: Path, results: Path, *extra: str) -> list[str]:
    return ["sweep", "--model", str(model), "--strategy", "top", "--strategy", "bottom", "--k", "1", "--k", "2",
            "--task", "rte", "--seed", "1", "--seed", "2", "--name", "s", "--results-dir", str(results),
            "--train", f"data_dir={glue}", "--train", "epochs=1", "--train", "batch_size=2", *extra]


def ok_records(results: Path) -> Counter:
    lines = (results / "s" / "runs.jsonl").read_text().splitlines()
    return Counter(json.loads(line)["run_id"] for line in lines if json.loads(line)["status"] == "ok")


def cells(model: Path, glue: Path, results: Path) -> list[str]:
    dry = invoke_cli(*grid(model, glue, results, "--dry-run", "--json"))
    assert dry.returncode == 0, dry.stderr
    return [row["run_id"] for row in json.loads(dry.stdout)]


def test_local_executor_with_two_workers_records_every_cell_once(setup, tmp_path):
    model, glue = setup
    result = subprocess.run([sys.executable, "-m", "layerdrop", *grid(model, glue, tmp_path, "--executor", "local",
                                                                      "--workers", "2")],
                            capture_output=True, text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    done = ok_records(tmp_path)
    assert set(done) == set(cells(model, glue, tmp_path)) and set(done.values()) == {1}
    logs = sorted((tmp_path / "s" / "workers").glob("worker-*.log"))
    assert [p.name for p in logs] == ["worker-0.log", "worker-1.log"]
    assert all("cell done" in p.read_text() for p in logs)  # both workers trained cells


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_workers_cell_is_taken_over(setup, tmp_path, sig):
    # Worker A is killed in the middle of a cell: SIGKILL leaves its claim behind with its process
    # gone; SIGTERM (pre-emption) records the cell as interrupted. Worker B, which waits for held
    # cells, takes that cell over and finishes the grid: every cell once.
    model, glue = setup
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LAYERDROP_NO_PROGRESS": "1"}
    a = subprocess.Popen([sys.executable, "-m", "layerdrop", *grid(model, glue, tmp_path, "--wait-for-claimed")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    claims = tmp_path / "s" / "claims"
    deadline = time.time() + 120
    while time.time() < deadline and not list(claims.glob("*.claim")):
        time.sleep(0.05)
    assert list(claims.glob("*.claim")), "worker A never claimed a cell"
    held = list(claims.glob("*.claim"))[0].stem
    os.kill(a.pid, sig)
    a.wait()
    b = subprocess.run([sys.executable, "-m", "layerdrop", *grid(model, glue, tmp_path, "--wait-for-claimed")],
                       capture_output=True, text=True, timeout=600, env=env)
    assert b.returncode == 0, b.stderr
    done = ok_records(tmp_path)
    assert held in done and set(done) == set(cells(model, glue, tmp_path)) and set(done.values()) == {1}


def test_status_reads_done_running_failed_and_pending_from_the_folder(setup, tmp_path):
    model, glue = setup
    ids = cells(model, glue, tmp_path)
    folder = tmp_path / "s"
    (folder / "claims").mkdir(parents=True)
    lines = [{"run_id": ids[0], "status": "ok", "total_seconds": 10.0},
             {"run_id": ids[1], "status": "ok", "total_seconds": 30.0},
             {"run_id": ids[2], "status": "failed", "error": "boom"},
             {"run_id": ids[3], "status": "interrupted"}]  # interrupted: pending again
    (folder / "runs.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    (folder / "claims" / f"{ids[4]}.claim").write_text(json.dumps(
        {"pid": 4242, "host": "node7", "since": time.time() - 90, "worker": "3", "job": "1234_3"}))
    stale = folder / "claims" / f"{ids[5]}.claim"  # a worker that stopped beating long ago: pending
    stale.write_text(json.dumps({"pid": 1, "host": "node8", "since": time.time() - 3600}))
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    result = invoke_cli(*grid(model, glue, tmp_path, "--status", "--json"))
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout)
    assert (state["total"], state["done"], state["pending"]) == (len(ids), 2, len(ids) - 4)
    assert state["failed"] == [ids[2]]
    (running,) = state["running"]
    assert (running["run_id"], running["host"], running["worker"], running["job"]) == (ids[4], "node7", "3", "1234_3")
    assert 80 < running["seconds"] < 200
    # Median cell 20 s; the pending cells and the running one shared by one running worker.
    assert state["seconds_left"] == pytest.approx((len(ids) - 4 + 1) * 20.0)
    table = invoke_cli(*grid(model, glue, tmp_path, "--status"))
    assert "node7" in table.stdout and "time left" in table.stdout


def test_zero_workers_and_an_unknown_executor_are_refused(setup, tmp_path):
    model, glue = setup
    assert_clean_error(invoke_cli(*grid(model, glue, tmp_path, "--workers", "0")), 2, "--workers 0 starts nothing")
    assert_clean_error(invoke_cli(*grid(model, glue, tmp_path, "--executor", "lokal")), 2, "did you mean 'local'")
    assert not (tmp_path / "s").exists()


def test_slurm_executor_on_submitits_local_cluster_records_every_cell_once(setup, tmp_path):
    pytest.importorskip("submitit")
    model, glue = setup
    result = subprocess.run([sys.executable, "-m", "layerdrop", *grid(model, glue, tmp_path, "--executor", "slurm",
                                                                      "--slurm-cluster", "local", "--workers", "2", "--wait")],
                            capture_output=True, text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.split()) == 2  # the two worker job ids, on stdout
    done = ok_records(tmp_path)
    assert set(done) == set(cells(model, glue, tmp_path)) and set(done.values()) == {1}
    assert list((tmp_path / "s" / "workers" / "slurm").iterdir())  # submitit's job folders and logs


def test_slurm_without_sbatch_is_refused_unless_local(setup, tmp_path, monkeypatch):
    pytest.importorskip("submitit")
    import shutil

    if shutil.which("sbatch"):
        pytest.skip("this machine has sbatch")
    model, glue = setup
    result = invoke_cli(*grid(model, glue, tmp_path, "--executor", "slurm", "--workers", "2"))
    assert_clean_error(result, 2, "sbatch is not on the PATH")
    assert not (tmp_path / "s").exists()


def test_ray_executor_on_a_local_cluster_records_every_cell_once(setup, tmp_path):
    pytest.importorskip("ray")
    model, glue = setup
    result = subprocess.run([sys.executable, "-m", "layerdrop", *grid(model, glue, tmp_path, "--executor", "ray",
                                                                      "--workers", "2")],
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    done = ok_records(tmp_path)
    assert set(done) == set(cells(model, glue, tmp_path)) and set(done.values()) == {1}
    assert sorted(p.name for p in (tmp_path / "s" / "workers").glob("ray-worker-*.log")) == ["ray-worker-0.log",
                                                                                              "ray-worker-1.log"]


def test_ray_refuses_a_results_folder_a_node_cannot_see(tmp_path):
    # One machine cannot hide a folder from itself, so the cluster here is a stand-in with two
    # nodes, one of which runs the visibility check somewhere the folder does not exist.
    from layerdrop.errors import UsageError
    from layerdrop.experiments import ray_executor

    class Remote:
        def __init__(self, fn, node=None):
            self.fn, self.node = fn, node

        def options(self, resources):
            return Remote(self.fn, next(iter(resources)).removeprefix("node:"))

        def remote(self, path, expected):
            return self.fn(path if self.node == "10.0.0.1" else str(tmp_path / "elsewhere" / "token"), expected)

    class Cluster:
        remote = staticmethod(lambda **_: Remote)
        nodes = staticmethod(lambda: [{"Alive": True, "NodeManagerAddress": "10.0.0.1"},
                                      {"Alive": True, "NodeManagerAddress": "10.0.0.2"}])
        get = staticmethod(list)

    with pytest.raises(UsageError, match=r"not visible from Ray node\(s\) 10.0.0.2"):
        ray_executor.check_shared(Cluster, tmp_path / "results")
    assert not list((tmp_path / "results").glob(".ray-check-*"))  # the token is cleaned up
    ray_executor.check_shared(type("OneNode", (Cluster,), {"nodes": staticmethod(lambda: Cluster.nodes()[:1])}),
                              tmp_path / "results")  # a node that sees it passes


@pytest.mark.parametrize("executor, module, message", [("slurm", "submitit", "needs submitit"), ("ray", "ray", "needs Ray")])
def test_an_executor_whose_package_is_missing_is_refused(setup, tmp_path, monkeypatch, executor, module, message):
    model, glue = setup
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now fails, as where it is not installed
    result = invoke_cli(*grid(model, glue, tmp_path, "--executor", executor, "--slurm-cluster", "local"))
    assert_clean_error(result, 2, message)
    assert not (tmp_path / "s").exists()
