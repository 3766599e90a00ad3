"""Interrupts, claims, torn lines, and fuzzed strategies: the results file stays trustworthy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layerdrop.experiments import records
from layerdrop.selection import registry
from layerdrop.experiments.claims import claim
from layerdrop.errors import UsageError
from layerdrop.selection.strategy import SelectionContext
from tests.glue_fixtures import write_glue
from tests.helpers import tiny_model_dir

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "LAYERDROP_NO_PROGRESS": "1"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("rel")
    model = tiny_model_dir(root / "tiny", "bert", n_layers=4)
    glue = write_glue(root / "glue")
    big = glue / "SST-2"
    big.joinpath("train.tsv").write_text("sentence\tlabel\n" + "".join(f"a fine film number {i} \t{i % 2}\n" for i in range(4000)))
    return model, glue


# A delay of 0 lands the signal while modules still import: CPython then flags the caught
# KeyboardInterrupt as unhandled (exec of dataclass methods) and would exit by SIGINT, not 130.
@pytest.mark.parametrize("delay", [0.0, 1.0])
@pytest.mark.parametrize(("sig", "name"), [(signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM")])
def test_interrupt_is_recorded_and_exits_130(setup, tmp_path, sig, name, delay):
    model, glue = setup
    results = tmp_path / "runs.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "layerdrop", "run", "--model", str(model), "--task", "sst2", "--k", "1",
                             "--data-dir", str(glue), "--results", str(results), "--epochs", "50", "--batch-size", "8"],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(iter(proc.stderr.readline, "")), daemon=True)
    reader.start()
    deadline = time.time() + 120
    # "fine-tuning on ..." is logged once the run has started training (its record will be written);
    # before it (loading, checks) an interrupt leaves no record, like any input that never ran.
    while not any("fine-tuning on" in line for line in seen) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(delay)
    proc.send_signal(sig)
    proc.wait(timeout=120)
    reader.join(timeout=10)
    stderr = "".join(seen)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    (record,) = [json.loads(line) for line in results.read_text().splitlines()]
    assert record["status"] == "interrupted"


def _sweep_args(model, glue, root, *extra):
    return [sys.executable, "-m", "layerdrop", "sweep", "--model", str(model), "--strategy", "top", "--strategy", "bottom",
            "--k", "1", "--k", "2", "--task", "rte", "--seed", "1", "--seed", "2", "--name", "s", "--results-dir", str(root),
            "--train", f"data_dir={glue}", "--train", "epochs=1", "--train", "batch_size=2", *extra]


def test_two_processes_on_the_same_shard_never_train_a_cell_twice(setup, tmp_path):
    model, glue = setup
    procs = [subprocess.Popen(_sweep_args(model, glue, tmp_path), env=ENV, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in procs:
        assert proc.wait(timeout=300) == 0, proc.stderr.read()
    lines = (tmp_path / "s" / "runs.jsonl").read_text().splitlines()
    ids = Counter(json.loads(line)["run_id"] for line in lines)
    assert len(ids) == 2 * (1 + 2 * 2) and set(ids.values()) == {1}, ids
    assert not list((tmp_path / "s" / "claims").glob("*.claim"))  # every claim released


def test_a_dead_process_claim_is_taken_over(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    folder = tmp_path / "claims"
    folder.mkdir()
    import socket

    (folder / "abc.claim").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "since": 0}))
    with claim(folder, "abc") as mine:
        assert mine
        with claim(folder, "abc") as other:  # a live owner: nobody else gets it
            assert not other
    assert not (folder / "abc.claim").exists()


def test_an_old_claim_from_another_host_expires(tmp_path):
    folder = tmp_path / "claims"
    folder.mkdir()
    path = folder / "abc.claim"
    path.write_text(json.dumps({"pid": 1, "host": "elsewhere", "since": 0}))
    with claim(folder, "abc") as mine:
        assert not mine  # fresh heartbeat from another machine: respected
    os.utime(path, (time.time() - 3600, time.time() - 3600))
    with claim(folder, "abc") as mine:
        assert mine


def test_append_after_a_torn_line_starts_a_new_line(tmp_path):
    path = tmp_path / "runs.jsonl"
    records.append(path, {"run_id": "a", "status": "ok"})
    with path.open("a") as f:
        f.write('{"run_id": "b", "stat')  # a writer killed mid-line
    records.append(path, {"run_id": "c", "status": "ok"})
    warnings: list[str] = []
    assert [r["run_id"] for r in records.read(path, warn=warnings.append)] == ["a", "c"]
    assert len(warnings) == 1 and f"{path}:2" in warnings[0]


NAMES = sorted(registry.available())


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(NAMES), n_layers=st.integers(1, 48), k=st.one_of(st.none(), st.integers(-3, 50)),
       params=st.dictionaries(st.sampled_from(["parity", "seed", "layers", "threshold", "n_examples", "split", "bogus"]),
                              st.one_of(st.text(max_size=6), st.integers(-5, 60).map(str), st.floats(-2, 2).map(str)), max_size=3),
       seed=st.integers(0, 2**31))
def test_fuzz_every_strategy(name, n_layers, k, params, seed):
    """Any (L, K, parameters): a valid selection or a one-line UsageError, never anything else."""
    scores = [((i * 7919 + seed) % 1000) / 1000 for i in range(n_layers)]
    ctx = SelectionContext(n_layers=n_layers, seed=seed, score_provider=lambda **kw: scores)
    try:
        selection = registry.plan(name, params).select(n_layers, k, ctx)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    dropped = selection.dropped_layers
    assert len(set(dropped)) == len(dropped) < n_layers
    assert all(0 <= i < n_layers for i in dropped)
    assert k is None or len(dropped) == k
