"""The `ray` executor: N worker tasks on a Ray cluster, each running the sweep until no cell is left.

Every worker is `layerdrop sweep` with the sweep's own arguments, run in a subprocess from the
submitting directory, so relative paths mean what they meant there. The results folder (and that
directory) must be on storage every node sees: before any worker starts, a task on every live node
reads a token the driver wrote there, and a node that cannot is one line and exit 2.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from layerdrop.errors import UsageError


def _ray():
    try:
        import ray
    except ImportError:
        raise UsageError("--executor ray needs Ray, which is not installed", "pip install 'layerdrop[ray]'") from None
    return ray


def _sees(path: str, expected: str) -> bool:
    try:
        return Path(path).read_text() == expected
    except OSError:
        return False


def _work(argv: list[str], index: int, cwd: str, log: str) -> int:
    import subprocess
    import sys

    env = {**os.environ, "LAYERDROP_WORKER": str(index), "LAYERDROP_NO_PROGRESS": "1"}
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as handle:
        return subprocess.call([sys.executable, "-m", "layerdrop", "sweep", *argv], cwd=cwd, env=env,
                               stdout=handle, stderr=subprocess.STDOUT)


def check_shared(ray, folder: Path) -> None:
    """Every live node reads a token written into `folder` (and so the same path), or exit 2."""
    folder.mkdir(parents=True, exist_ok=True)
    token, value = folder / f".ray-check-{uuid.uuid4().hex}", uuid.uuid4().hex
    token.write_text(value)
    try:
        sees = ray.remote(num_cpus=0)(_sees)
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        answers = ray.get([sees.options(resources={f"node:{n['NodeManagerAddress']}": 0.001}).remote(str(token), value)
                           for n in nodes])
    finally:
        token.unlink(missing_ok=True)
    blind = [n["NodeManagerAddress"] for n, ok in zip(nodes, answers) if not ok]
    if blind:
        raise UsageError(f"the results folder {folder} is not visible from Ray node(s) {', '.join(blind)}",
                         "put --results-dir (and the sweep's files) on storage every node mounts")


def run(argv: list[str], workers: int, folder: Path, address: str | None, gpus_per_worker: float,
        cpus_per_worker: float, num_cpus: int | None = None) -> int:
    """Start `workers` tasks on the cluster at `address` (None: a local Ray), wait, return the worst exit code."""
    ray = _ray()
    if workers < 1:
        raise UsageError(f"--workers {workers} starts nothing", "pass --workers 1 or more")
    ray.init(address=address, num_cpus=num_cpus if address is None else None, include_dashboard=False,
             log_to_driver=False, ignore_reinit_error=True)
    try:
        folder = folder.resolve()
        check_shared(ray, folder)
        task = ray.remote(num_cpus=cpus_per_worker, num_gpus=gpus_per_worker)(_work)
        logs = folder / "workers"
        return max(ray.get([task.remote(argv, i, os.getcwd(), str(logs / f"ray-worker-{i}.log")) for i in range(workers)]))
    finally:
        ray.shutdown()
