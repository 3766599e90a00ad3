"""Run records: one JSON object per line, appended safely, read back tolerantly.

Every field is documented in docs/record-schema.md. A record is written as one complete line in a
single write, flushed and fsynced, under a file lock, so parallel writers never interleave and a
killed process can at worst leave a torn *last* line, which readers report and skip.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import warnings
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from layerdrop.errors import DataError, RunFailed, UsageError

# 2: `config.fast` and `fast_paths`; the always-on speed paths and their fields are gone.
SCHEMA_VERSION = 2
DEFAULT_RESULTS = "results/runs.jsonl"


def now() -> str:
    """UTC timestamp, ISO 8601, second precision."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from layerdrop import __version__

    from layerdrop.experiments.code import code_hash, source_identity

    found = {"layerdrop": __version__, "layerdrop_source": source_identity(), "layerdrop_code": code_hash(),
             "python": platform.python_version()}
    for package in ("torch", "transformers", "datasets", "accelerate", "tokenizers"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found


def check_writable(path: str | Path) -> Path:
    """Fail before any training if the results file cannot be appended to."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise UsageError(f"--results {path} is a folder", "pass a file path such as results/runs.jsonl")
    parent = path.resolve().parent
    existing = parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"cannot write results to {path}", "choose a --results path you can write to")
    return path


def append(path: str | Path, record: dict[str, Any]) -> None:
    """Append one record as one line: single write, flush, fsync, under a lock."""
    from filelock import FileLock

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, sort_keys=False, default=str, allow_nan=True) + "\n"
    with FileLock(str(path) + ".lock"):
        # Repair a torn last line left by a killed writer, so our line starts on its own line.
        prefix = ""
        if path.exists() and path.stat().st_size > 0:
            with path.open("rb") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    prefix = "\n"
        data = (prefix + line).encode()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                written = os.write(fd, data)
                if written != len(data):  # a short write (disk full): undo it, never leave half a line
                    os.ftruncate(fd, os.fstat(fd).st_size - written)
                    raise OSError(28, "No space left on device")
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise RunFailed(f"could not write the run record to {path}: {exc.strerror or exc}",
                            "free space or choose another --results; the run's outcome is lost") from exc


def read(path: str | Path, warn=None, kind: str = "run") -> Iterator[dict[str, Any]]:
    """Yield the records of one runs file; a torn or corrupt line is reported (file:line) and skipped.

    `kind`: "run" (run records, what every reader of runs wants), "analysis" (`layerdrop analyze`
    records) or "any". A record of the other kind is skipped silently: both may share a folder.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no runs file at {path}", "run `layerdrop run` or `layerdrop sweep` first, or check the path")
    warn = warn or (lambda message: warnings.warn(message, stacklevel=2))
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                warn(f"{path}:{number}: skipping a torn or corrupt line (a run killed while writing?)")
                continue
            if not isinstance(record, dict) or not ("run_id" in record or record.get("kind") == "analysis"):
                warn(f"{path}:{number}: skipping a line that is not a layerdrop record")
                continue
            found = "analysis" if record.get("kind") == "analysis" else "run"
            if kind in (found, "any"):
                yield record


def environment() -> dict[str, Any]:
    return {"hostname": platform.node(), "platform": platform.platform(), "argv": sys.argv[1:]}


# Config fields that name the layer selection rather than shape the training: two runs that drop
# the same layers differ only in these.
SELECTION_FIELDS = ("strategy", "k", "params", "component")


def training_identity(record: dict[str, Any]) -> str:
    """Everything fine-tuning sees: the config without how the layers were chosen (`fast`
    included), the dropped layers, the data actually loaded, the library versions and the device.
    Runs with equal identities train the same model from the same start with the same random
    numbers."""
    from layerdrop.experiments.config import ADDED_LATER

    # Records older than a setting carry no key for it, and ran with its default.
    config = {key: value for key, value in {**ADDED_LATER, **record["config"]}.items() if key not in SELECTION_FIELDS}
    # The code by its source hash, not its commit: a docs-only commit trains the same model.
    versions = {k: v for k, v in (record.get("versions") or {}).items() if k != "layerdrop_source"}
    # What was removed: whole layers, and sublayers where any (records before `component` have none).
    sublayers = {part: sorted(layers) for part, layers in (record.get("removed_sublayers") or {}).items() if layers}
    seen = [config, record.get("model"), record.get("data"), sorted(record["dropped_layers"]), sublayers, versions,
            record.get("device"), record.get("precision"), record.get("num_processes"), legacy_paths(record)]
    return json.dumps(seen, sort_keys=True, default=str)


# Speed paths that were always on before schema 2 and changed what was computed (which positions
# ran, which dropout masks were drawn), by the record field that said they ran. Used-rows embedding
# training (`trained_embedding_rows`) ran then too; it trains the same model up to float rounding
# with the same random numbers, so it does not split old records. (Since schema 2 it is part of
# `--fast`, whose runs get their own ids and rows.)
LEGACY_PATHS = {"summary_only_last_layer": "summary-only last layer", "unpadded_sublayers": "unpadded sublayers",
                "dropout_masks": "sfc64 dropout masks"}


def legacy_paths(record: dict[str, Any]) -> list[str]:
    """The pre-schema-2 speed paths a record says ran that changed its computation (none for
    records written since)."""
    return [name for field, name in LEGACY_PATHS.items() if record.get(field) not in (None, False, "torch")]


def regime(record: dict[str, Any]) -> str:
    """How a run was trained, in one short label: `stock`, `fast: compact_vocab`, or for records
    written before `--fast` existed, `pre-0.2` and the always-on paths it recorded; then, when not
    fp32 on a CPU, the precision and device type (`stock (bf16, cuda)`). Tables group by it, so
    runs trained differently never share a row."""
    config = record.get("config", {})
    if "fast" not in config:
        paths = legacy_paths(record)
        label = "pre-0.2" + (f": {', '.join(paths)}" if paths else "")
    elif not config["fast"]:
        label = "stock"
    else:
        label = "fast: " + (", ".join(record.get("fast_paths") or []) or "none ran")
    precision = record.get("precision") or config.get("precision") or "fp32"
    device = str(record.get("device") or "cpu").split(":")[0]
    extras = [value for value, usual in ((precision, "fp32"), (device, "cpu")) if value != usual]
    return label + (f" ({', '.join(extras)})" if extras else "")


def code_identity(record: dict[str, Any]) -> str:
    """The code that made a record: the hash of its source files where recorded (two commits that
    differ only in docs share it; two dirty trees that differ in code do not), else its commit,
    else the layerdrop version alone."""
    versions = record.get("versions") or {}
    return (versions.get("layerdrop_code") or versions.get("layerdrop_source")
            or f"layerdrop {versions.get('layerdrop', 'unknown')}")


_TRAINED: dict[str, tuple[tuple[int, int], dict[str, dict[str, Any]]]] = {}  # path -> (size, mtime), identity -> record


def find_twin(path: str | Path, record: dict[str, Any]) -> dict[str, Any] | None:
    """The last `ok` record in `path` that trained what `record` would train, if any.

    The last, because a report keeps the last record of a run id (a `--force` rerun wins). The
    index is rebuilt only when the file has changed, so a sweep reads its file once per new record.
    """
    path = Path(path)
    if not path.is_file():
        return None
    stat = path.stat()
    stamp = (stat.st_size, stat.st_mtime_ns)
    key = str(path.resolve())
    if key not in _TRAINED or _TRAINED[key][0] != stamp:
        latest: dict[str, dict[str, Any]] = {}
        for other in read(path, warn=lambda message: None):
            if "config" in other and "dropped_layers" in other:
                latest[other["run_id"]] = other
        index = {training_identity(other): other for other in latest.values() if other.get("status") == "ok"}
        _TRAINED[key] = (stamp, index)
    twin = _TRAINED[key][1].get(training_identity(record))
    return twin if twin is not None and twin["run_id"] != record["run_id"] else None
