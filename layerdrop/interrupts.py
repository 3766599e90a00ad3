"""Ctrl-C and SIGTERM as KeyboardInterrupt, remembered until the process stops.

Schedulers send SIGTERM before they kill a job, so `run` and `sweep` treat it like Ctrl-C: the
running record is written as `interrupted` and the command exits 130. The signal raises
KeyboardInterrupt wherever the main thread is. If that is library code with a bare `except:` (some
optional imports are written so), the exception is swallowed and the run would train on until
the scheduler's SIGKILL, leaving no record. So the signal is also remembered, and the training and
evaluation loops call `check()` once per batch, which raises it again.

Where Python cannot raise at all (a `__del__`, a weakref callback), it prints the interrupt as
"Exception ignored in ... Traceback" and goes on. That one is remembered too, so `install()`
keeps it off the user's terminal; any other such exception is printed as usual.
"""

from __future__ import annotations

import signal
import sys

_pending = False


def _raise(signum, frame):
    global _pending
    _pending = True
    raise KeyboardInterrupt


_previous_hook = sys.unraisablehook


def _unraisable(unraisable) -> None:
    if _pending and isinstance(unraisable.exc_value, KeyboardInterrupt):
        return  # check() raises it again where it can be handled
    _previous_hook(unraisable)  # whoever handled them before: Python's printer, pytest, a host program


def install() -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt, also in a process started in the background."""
    global _previous_hook
    signal.signal(signal.SIGTERM, _raise)
    signal.signal(signal.SIGINT, _raise)
    if sys.unraisablehook is not _unraisable:
        _previous_hook = sys.unraisablehook
        sys.unraisablehook = _unraisable


def check() -> None:
    """Raise KeyboardInterrupt again if a signal came and its first one was swallowed."""
    if _pending:
        raise KeyboardInterrupt
