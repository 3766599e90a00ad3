"""Claims: at most one process trains a sweep cell, even when shards overlap.

Before a cell runs, its process creates `claims/<run_id>.claim` atomically (O_CREAT|O_EXCL)
and refreshes its modification time from a heartbeat thread while training. Another process
that finds a fresh claim skips the cell; a claim whose heartbeat stopped for longer than
`STALE_AFTER_S` (its process died) is taken over.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

HEARTBEAT_S = 15.0
STALE_AFTER_S = 120.0


def _is_stale(path: Path, stale_after: float) -> bool:
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return True
    if age > stale_after:
        return True
    # Same machine: a claim whose process is gone is stale at once.
    try:
        owner = json.loads(path.read_text())
        if owner.get("host") == socket.gethostname():
            os.kill(int(owner["pid"]), 0)
    except ProcessLookupError:
        return True
    except (OSError, ValueError, KeyError):
        pass
    return False


def _create(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        # Who holds it, for `layerdrop sweep --status`: the executor's worker index and job id, if any.
        job = os.environ.get("SLURM_JOB_ID") or os.environ.get("RAY_JOB_ID")
        json.dump({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(),
                   "worker": os.environ.get("LAYERDROP_WORKER"), "job": job}, f)
    return True


@contextlib.contextmanager
def claim(folder: Path, run_id: str, stale_after: float = STALE_AFTER_S) -> Iterator[bool]:
    """Yield True if this process now owns the cell (and keep the claim alive), else False."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run_id}.claim"
    owned = _create(path)
    if not owned:
        from filelock import FileLock

        # Check and take over under a lock, so two takers cannot both judge the same claim stale
        # and the second remove the first's fresh one.
        with FileLock(str(folder / ".takeover.lock")):  # one lock file per folder, left in place
            if _is_stale(path, stale_after):
                path.unlink(missing_ok=True)
                owned = _create(path)
    if not owned:
        yield False
        return
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(HEARTBEAT_S):
            with contextlib.suppress(FileNotFoundError):
                os.utime(path)

    thread = threading.Thread(target=heartbeat, daemon=True)
    thread.start()
    try:
        yield True
    finally:
        stop.set()
        thread.join()
        path.unlink(missing_ok=True)
