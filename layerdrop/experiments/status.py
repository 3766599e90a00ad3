"""`layerdrop sweep --status`: where a sweep stands, from its results folder alone.

Every cell of the grid is done (an `ok` record), running (a claim whose heartbeat is fresh: which
worker, host, job, for how long), failed (its last record failed), or pending (no record, an
interrupted one, or a claim gone stale). The time left is estimated from the finished cells that
trained. Nothing loads a model or data, so it works from a login node while the jobs run.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layerdrop.experiments import records
from layerdrop.experiments.claims import STALE_AFTER_S
from layerdrop.experiments.sweep import cell_variant


@dataclass
class SweepStatus:
    total: int
    done: list[str] = field(default_factory=list)
    running: list[dict[str, Any]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    cell_seconds: float | None = None  # median over finished cells that trained

    @property
    def seconds_left(self) -> float | None:
        """(pending + running) cells times the median cell, shared by the running workers."""
        if self.cell_seconds is None:
            return None
        left = len(self.pending) + len(self.running)
        return left * self.cell_seconds / max(1, len(self.running))

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "done": len(self.done), "running": self.running, "failed": self.failed,
                "pending": len(self.pending), "cell_seconds": self.cell_seconds, "seconds_left": self.seconds_left}


def _claim(path: Path, now: float) -> dict[str, Any] | None:
    """A claim's owner and age, or None if it is stale (its worker stopped beating)."""
    try:
        age = now - path.stat().st_mtime
        owner = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    if age > STALE_AFTER_S:
        return None
    return {"worker": owner.get("worker"), "host": owner.get("host"), "pid": owner.get("pid"), "job": owner.get("job"),
            "seconds": round(now - float(owner.get("since", now)), 1)}


def status(cells, results: Path) -> SweepStatus:
    """The state of every cell of `cells` (the sweep's grid) in `results`."""
    last: dict[str, dict[str, Any]] = {}
    if results.is_file():
        for record in records.read(results, warn=lambda _: None):
            if record.get("status") == "ok" or last.get(record["run_id"], {}).get("status") != "ok":
                last[record["run_id"]] = record
    claims = results.parent / "claims"
    now = time.time()
    state = SweepStatus(total=len(cells))
    for cell in cells:
        run_id = cell.run_id
        record = last.get(run_id)
        held = _claim(claims / f"{run_id}.claim", now)
        if record is not None and record.get("status") == "ok":
            state.done.append(run_id)
        elif held is not None:
            state.running.append({"run_id": run_id, "cell": f"{cell.task} {cell_variant(cell)} k={cell.k} seed={cell.seed}",
                                  **held})
        elif record is not None and record.get("status") == "failed":
            state.failed.append(run_id)
        else:
            state.pending.append(run_id)
    trained = [r["total_seconds"] for r in last.values()
               if r.get("status") == "ok" and not r.get("reused_from") and r.get("total_seconds")]
    state.cell_seconds = round(statistics.median(trained), 1) if trained else None
    return state
