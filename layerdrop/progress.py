"""Progress bars on stderr, shared by nested work (a sweep's cells and each run's epochs).

Rich allows one live display at a time, so every bar is a task on one shared `Progress`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

_progress = None
_depth = 0


def _disabled() -> bool:
    return os.environ.get("LAYERDROP_NO_PROGRESS", "0") == "1"


@contextlib.contextmanager
def bar(description: str, total: float | None, completed: float = 0, **fields) -> Iterator:
    """A progress bar for the duration of the block; yields `update(advance=1, **fields)`.

    `completed` is work done before the bar started (a resumed sweep's finished cells): it shows
    in done / total, and the ETA is still estimated from this process's own pace."""
    global _progress, _depth
    if _disabled():
        yield lambda advance=1, **kw: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    if _progress is None:
        _progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            console=Console(stderr=True), transient=False,
        )
        _progress.start()
    _depth += 1
    task = _progress.add_task(description, total=total, completed=completed, info=fields.get("info", ""))

    def update(advance: float = 1, **kw) -> None:
        _progress.update(task, advance=advance, **({"info": kw["info"]} if "info" in kw else {}))

    try:
        yield update
    finally:
        _depth -= 1
        if _depth == 0:
            _progress.stop()
            _progress = None
        else:
            _progress.remove_task(task)


def log(message: str) -> None:
    """A line of progress text on stderr (above any live bars)."""
    if _progress is not None:
        _progress.console.print(message, highlight=False, markup=False)
    else:
        import sys

        print(message, file=sys.stderr, flush=True)
