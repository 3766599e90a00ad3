"""layerdrop.interrupts: SIGINT and SIGTERM as KeyboardInterrupt, remembered where one is lost."""

from __future__ import annotations

import gc
import signal
import sys

import pytest

from layerdrop import interrupts


@pytest.fixture
def installed(monkeypatch):
    monkeypatch.setattr(interrupts, "_pending", False)
    # Python's own hook, which prints, as in a real process (pytest's collects them instead)
    monkeypatch.setattr(sys, "unraisablehook", sys.__unraisablehook__)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    interrupts.install()
    yield
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


class _SignalInFinalizer:
    def __del__(self):
        interrupts._raise(signal.SIGINT, None)  # what the handler does when Ctrl-C lands in a __del__


def test_an_interrupt_lost_in_a_finalizer_is_not_printed_and_raised_again(installed, capfd):
    finalized = _SignalInFinalizer()
    del finalized
    gc.collect()
    assert "Traceback" not in capfd.readouterr().err
    with pytest.raises(KeyboardInterrupt):
        interrupts.check()


def test_other_exceptions_in_finalizers_are_still_printed(installed, capfd):
    class Broken:
        def __del__(self):
            raise ValueError("broken finalizer")

    broken = Broken()
    del broken
    gc.collect()
    assert "broken finalizer" in capfd.readouterr().err
    interrupts.check()  # no signal came: nothing to raise
