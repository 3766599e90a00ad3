"""Executors: N workers that run the same sweep against one results folder.

A worker is `layerdrop sweep` itself, with the same arguments: each claims the next free cell
(`experiments.claims`), so work balances itself, and waits for cells other workers hold until each is
done or has failed, so a lost worker's cell is taken over. Cells are not jobs: a worker loops over
cells until none is left. The results folder stays the one source of truth.

`local` starts the workers as processes on this machine: on CUDA one per visible GPU (each sees one,
through CUDA_VISIBLE_DEVICES); on a CPU single-threaded ones, one per core by default (several
single-threaded processes finish a CPU sweep sooner than one using every core).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from layerdrop import progress
from layerdrop.errors import UsageError

EXECUTORS = ("local", "slurm", "ray")
# Flags of `layerdrop sweep` that configure the executor, not the sweep its workers run
# (True: the flag takes a value).
EXECUTOR_FLAGS = {"--executor": True, "--workers": True, "--partition": True, "--gpus-per-worker": True,
                  "--cpus-per-worker": True, "--time-min": True, "--slurm-arg": True, "--slurm-cluster": True,
                  "--wait": False, "--ray-address": True}


@dataclass(frozen=True)
class Worker:
    """One worker process: its index, environment additions and log file."""

    index: int
    env: dict[str, str]
    log: Path


def plan_workers(n: int | None, folder: Path) -> list[Worker]:
    """The workers `local` starts, with their devices and logs (folder/workers/worker-I.log); by
    default one per visible GPU, else one per CPU core."""
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    n = (gpus or os.cpu_count() or 1) if n is None else n
    if n < 1:
        raise UsageError(f"--workers {n} starts nothing", "pass --workers 1 or more")
    workers = []
    for i in range(n):
        # On CUDA, worker i sees GPU i mod count; on a CPU, one thread each.
        env = {"CUDA_VISIBLE_DEVICES": str(i % gpus)} if gpus else {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        workers.append(Worker(i, {**env, "LAYERDROP_WORKER": str(i)}, folder / "workers" / f"worker-{i}.log"))
    return workers


def worker_argv(argv: list[str]) -> list[str]:
    """The sweep's own arguments, without the executor's, for a worker: it waits for held cells."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in EXECUTOR_FLAGS:
            skip = "=" not in arg and EXECUTOR_FLAGS[name]
            continue
        out.append(arg)
    return [*out, "--wait-for-claimed"]


def run_local(argv: list[str], workers: list[Worker]) -> int:
    """Start every worker on `argv` (`worker_argv`'s), wait for all, and return the worst exit code."""
    command = [sys.executable, "-m", "layerdrop", "sweep", *argv]
    processes = []
    for worker in workers:
        worker.log.parent.mkdir(parents=True, exist_ok=True)
        handle = worker.log.open("a", encoding="utf-8")
        env = {**os.environ, **worker.env, "LAYERDROP_NO_PROGRESS": "1"}
        processes.append((worker, handle, subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env)))
    progress.log(f"started {len(workers)} local worker{'s' if len(workers) > 1 else ''}; logs in "
                 f"{workers[0].log.parent}")
    codes = []
    try:
        for worker, handle, process in processes:
            codes.append(process.wait())
            handle.close()
            progress.log(f"worker {worker.index} finished with exit code {codes[-1]}")
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: every worker records its cell as interrupted
        for _, _, process in processes:
            process.terminate()
        for _, _, process in processes:
            process.wait()
        raise
    return max(codes)
