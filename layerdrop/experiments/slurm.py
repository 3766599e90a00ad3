"""The `slurm` executor: N worker jobs through submitit, each running the sweep until no cell is left.

A job array of N workers (`map_array`); every worker runs `layerdrop sweep` with the sweep's own
arguments in a subprocess, so the job's process keeps submitit's signal handling. Pre-emption
(SIGTERM, then SIGKILL) records the running cell as interrupted; the worker is requeued through
submitit's checkpointing (`Checkpointable`), and any worker retakes the cell. `cluster="local"`
runs the same jobs with submitit's local executor, to try a cluster sweep on a laptop and for the
tests. Job logs go to <sweep folder>/workers/slurm/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from layerdrop.errors import UsageError


def _submitit():
    try:
        import submitit
    except ImportError:
        raise UsageError("--executor slurm needs submitit, which is not installed",
                         "pip install 'layerdrop[slurm]' (or pip install submitit)") from None
    return submitit


@dataclass(frozen=True)
class SlurmSettings:
    """What `--executor slurm` asks of the cluster, per worker job."""

    workers: int
    cluster: str | None = None  # None: Slurm; "local": submitit's local executor
    partition: str | None = None
    gpus_per_worker: int = 0
    cpus_per_worker: int = 1
    time_min: int = 60 * 24
    extra: dict[str, str] = field(default_factory=dict)  # --slurm-arg key=value


def check(settings: SlurmSettings) -> None:
    """submitit is installed and, for a real cluster, sbatch is on the PATH; before anything runs."""
    _submitit()
    if settings.workers < 1:
        raise UsageError(f"--workers {settings.workers} starts nothing", "pass --workers 1 or more")
    if settings.cluster != "local" and shutil.which("sbatch") is None:
        raise UsageError("--executor slurm: sbatch is not on the PATH (this is not a Slurm login node)",
                         "run it where sbatch works, or pass --slurm-cluster local to try it here")


def worker_class():
    """The Checkpointable worker (defined on first use: submitit is an optional dependency)."""
    submitit = _submitit()

    class SweepWorker(submitit.helpers.Checkpointable):
        """Runs `layerdrop sweep ARGV` as worker `index`; requeued with the same arguments on pre-emption."""

        def __call__(self, argv: list[str], index: int) -> int:
            env = {**os.environ, "LAYERDROP_WORKER": str(index), "LAYERDROP_NO_PROGRESS": "1"}
            code = subprocess.call([sys.executable, "-m", "layerdrop", "sweep", *argv], env=env)
            if code not in (0, 1):  # 1: some cells failed, and are recorded; anything else is the worker's
                raise RuntimeError(f"worker {index} exited with code {code}")
            return code

    return SweepWorker


def submit(argv: list[str], settings: SlurmSettings, folder: Path) -> list:
    """Submit the worker array; returns the submitit jobs."""
    submitit = _submitit()
    logs = folder / "workers" / "slurm"
    executor = submitit.AutoExecutor(folder=str(logs / "%j"), cluster=settings.cluster)
    parameters = {"timeout_min": settings.time_min, "cpus_per_task": settings.cpus_per_worker,
                  "gpus_per_node": settings.gpus_per_worker or None, "name": f"layerdrop-{folder.name}",
                  "slurm_array_parallelism": settings.workers}
    if settings.partition:
        parameters["slurm_partition"] = settings.partition
    if settings.extra:
        parameters["slurm_additional_parameters"] = dict(settings.extra)
    try:
        executor.update_parameters(**parameters)
    except (NameError, AssertionError) as exc:  # submitit's own check of the parameters
        raise UsageError(f"submitit refused a Slurm setting: {str(exc).splitlines()[0]}", "check --slurm-arg") from None
    worker = worker_class()()
    return executor.map_array(worker, [argv] * settings.workers, list(range(settings.workers)))
