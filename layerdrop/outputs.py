"""Writing output folders without ever leaving a half-written or clobbered one behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from layerdrop.errors import UsageError


def check_output_dir(path: str | Path, overwrite: bool, flag: str = "--output") -> Path:
    """Refuse an existing non-empty folder (unless overwrite) and an unwritable location, early."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {path} is a file, not a folder", "pass a folder path")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise UsageError(f"{flag} {path} exists and is not empty", "choose a new folder, or pass --overwrite to replace it")
    _check_writable_parent(path, flag, "folder")
    return path


def _check_writable_parent(path: Path, flag: str, what: str) -> None:
    """The nearest existing folder above `path` must be writable (folders below it get created)."""
    parent = path.resolve().parent
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK):
        raise UsageError(f"cannot write to {parent}", f"choose a {flag} {what} you can write to")


@contextlib.contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it replaces `path`, on failure it vanishes.

    So `--overwrite` never destroys the old output before the new one is complete.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        path.rename(old)
        tmp.rename(path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(path)


def check_output_file(path: str | Path, flag: str = "--output") -> Path:
    """Refuse a folder or an unwritable location for an output file, before any work."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a folder", "pass a file path")
    _check_writable_parent(path, flag, "file")
    return path


def atomic_write(path: str | Path, text: str) -> None:
    """Write `text` to a temporary sibling and rename it over `path`: never a half-written file."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
