"""Ctrl-C and SIGTERM as KeyboardInterrupt, remembered until the process stops.

Schedulers send SIGTERM before they kill a job, so `run` and `sweep` treat it like Ctrl-C: the
running record is written as `interrupted` and the command exits 130. The signal raises
KeyboardInterrupt wherever the main thread is. If that is library code with a bare `except:` (some
optional imports are written so), the exception is swallowed and the run would train on until
the scheduler's SIGKILL, leaving no record. So the signal is also remembered, and the training and
evaluation loops call `check()` once per batch, which raises it again.
"""

from __future__ import annotations

import signal

_pending = False


def _raise(signum, frame):
    global _pending
    _pending = True
    raise KeyboardInterrupt


def install() -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt, also in a process started in the background."""
    signal.signal(signal.SIGTERM, _raise)
    signal.signal(signal.SIGINT, _raise)


def check() -> None:
    """Raise KeyboardInterrupt again if a signal came and its first one was swallowed."""
    if _pending:
        raise KeyboardInterrupt
