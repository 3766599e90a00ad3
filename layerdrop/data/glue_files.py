"""Readers for a local GLUE folder, in either layout.

- Original GLUE layout (what `download_glue_data.py` produced): `<dir>/<TASK>/{train,dev}.tsv`.
  Tab-separated with quote characters as literal text, so every line is one row and a plain
  `split("\t")` is both the correct parse (it equals csv's QUOTE_NONE) and the fastest one.
- A local copy of the `datasets` hub repo `nyu-mll/glue`: `<dir>/<task>/<split>-*.parquet`.

Both return columns in the hub's field names and label ids, so either source gives the same
examples. Every problem becomes a one-line `DataError` naming the file (and line where known).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from layerdrop.errors import DataError
from layerdrop.data.tasks import Task


@dataclass(frozen=True)
class TsvFormat:
    """How one task's original TSV files spell their columns.

    Attributes:
        text_columns: Header names of the input texts (indices when there is no header), in the
            order of `Task.text_fields`.
        label_column: Header name (or index) of the label.
        named_labels: Labels are written as names ("entailment") rather than ids ("0").
        files: Split name -> file name inside the task folder.
        header: Whether the first line is a header.
        skip_short_rows: Splits whose rows with too few columns are dropped rather than fatal.
    """

    text_columns: tuple[str | int, ...]
    label_column: str | int
    named_labels: bool = False
    files: tuple[tuple[str, str], ...] = (("train", "train.tsv"), ("validation", "dev.tsv"))
    header: bool = True
    skip_short_rows: tuple[str, ...] = ()


_PAIR = ("sentence1", "sentence2")

TSV_FORMATS: dict[str, TsvFormat] = {
    # CoLA train/dev have no header: source, label, original acceptability mark, sentence.
    "cola": TsvFormat((3,), 1, header=False),
    "sst2": TsvFormat(("sentence",), "label"),
    # MRPC starts with a UTF-8 BOM (stripped by utf-8-sig) and keeps its label in `Quality`.
    "mrpc": TsvFormat(("#1 String", "#2 String"), "Quality"),
    "stsb": TsvFormat(_PAIR, "score"),
    # A handful of QQP train rows are truncated in the original; common loaders skip them.
    "qqp": TsvFormat(("question1", "question2"), "is_duplicate", skip_short_rows=("train",)),
    "mnli": TsvFormat(
        _PAIR,
        "gold_label",
        named_labels=True,
        files=(
            ("train", "train.tsv"),
            ("validation_matched", "dev_matched.tsv"),
            ("validation_mismatched", "dev_mismatched.tsv"),
        ),
    ),
    "qnli": TsvFormat(("question", "sentence"), "label", named_labels=True),
    "rte": TsvFormat(_PAIR, "label", named_labels=True),
    "wnli": TsvFormat(_PAIR, "label"),
}


@dataclass(frozen=True)
class Columns:
    """Columnar examples read from one file: what `data.Split` is built from."""

    texts: tuple[tuple[str, ...], ...]
    labels: tuple
    skipped_rows: int = 0


def tsv_paths(task: Task, data_dir: Path) -> dict[str, Path]:
    """Split name -> expected TSV path in the original layout."""
    files = TSV_FORMATS[task.name].files
    return {split: data_dir / task.glue_folder / name for split, name in files}


def _label_parser(task: Task, fmt: TsvFormat):
    """Return a function mapping a label cell to an id (or float), None when invalid."""
    if task.labels is None:

        def parse_score(cell: str) -> float | None:
            try:
                value = float(cell)
            except ValueError:
                return None
            return value if math.isfinite(value) else None

        return parse_score
    # Names map in the hub's id order (entailment -> 0, ...); id labels must be "0".."n-1".
    names = task.labels if fmt.named_labels else [str(i) for i in range(len(task.labels))]
    table = {name: i for i, name in enumerate(names)}
    return lambda cell: table.get(cell.strip())


def _allowed(task: Task, fmt: TsvFormat) -> str:
    if task.labels is None:
        return "a finite number"
    if fmt.named_labels:
        return ", ".join(task.labels)
    return ", ".join(str(i) for i in range(len(task.labels)))


def _decode(path: Path) -> str:
    """Read a file as UTF-8 (BOM tolerated), turning bad bytes into a DataError with a line."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(
            f"missing GLUE file {path}", "check --data-dir points at the GLUE folder"
        ) from None
    except OSError as error:
        raise DataError(f"cannot read {path} ({error.strerror or error})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[error.start]:02x})",
            "is this a GLUE .tsv file?",
        ) from None


def read_tsv(task: Task, split: str, path: Path) -> Columns:
    """Read one original-layout GLUE TSV file.

    Args:
        task: A GLUE task from `TASKS`.
        split: Split name ("train", "validation", ...); decides whether short rows are skipped.
        path: The file.

    Raises:
        DataError: Empty file, undecodable bytes, missing header columns, a row with too few
            columns (outside QQP train) or a label outside the task's set.
    """
    fmt = TSV_FORMATS[task.name]
    text = _decode(path)
    if "\r" in text:  # Files saved on Windows: CRLF would leak "\r" into the last column.
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DataError(f"{path} is empty", "re-download the GLUE task")

    columns = [*fmt.text_columns, fmt.label_column]
    first_row = 1
    if fmt.header:
        header = lines[0].split("\t")
        missing = [c for c in columns if c not in header]
        if missing:
            raise DataError(
                f"{path}:1: header lacks column(s) {', '.join(map(repr, missing))} "
                f"(found {', '.join(map(repr, header[:12]))})",
                f"is this the {task.glue_folder} {split} file?",
            )
        columns = [header.index(c) for c in columns]
        first_row = 2
    *text_idx, label_idx = columns
    need = max(columns) + 1
    skip_short = split in fmt.skip_short_rows
    parse = _label_parser(task, fmt)

    texts: list[list[str]] = [[] for _ in text_idx]
    labels: list = []
    skipped = 0
    for lineno, line in enumerate(lines[first_row - 1 :], start=first_row):
        cells = line.split("\t")
        if len(cells) < need:
            if skip_short:
                skipped += 1
                continue
            raise DataError(
                f"{path}:{lineno}: {len(cells)} column(s), expected at least {need}",
                "the file looks truncated or was saved with a different separator",
            )
        label = parse(cells[label_idx])
        if label is None:
            raise DataError(
                f"{path}:{lineno}: label {cells[label_idx][:40]!r} "
                f"is not one of {_allowed(task, fmt)}",
                f"is this the {task.glue_folder} {split} file?",
            )
        labels.append(label)
        for column, i in zip(texts, text_idx):
            column.append(cells[i])
    if not labels:
        raise DataError(f"{path} has no examples", "re-download the GLUE task")
    return Columns(tuple(tuple(c) for c in texts), tuple(labels), skipped)


def parquet_paths(task: Task, data_dir: Path, split: str) -> list[Path]:
    """The shards of one split in a local copy of the hub repo, in order."""
    return sorted((data_dir / task.name).glob(f"{split}-*.parquet"))


def read_parquet(task: Task, split: str, data_dir: Path) -> Columns:
    """Read one split from a local copy of the `nyu-mll/glue` hub repo (already in hub ids).

    Raises:
        DataError: Missing shards, missing columns, empty values or out-of-range labels.
    """
    import pandas as pd

    paths = parquet_paths(task, data_dir, split)
    where = data_dir / task.name / f"{split}-*.parquet"
    if not paths:
        raise DataError(f"missing {where}", f"copy every split of nyu-mll/glue/{task.name}")
    try:
        frame = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
    except Exception as error:  # pyarrow raises many types for a corrupt or non-parquet file
        raise DataError(f"cannot read {where}: {type(error).__name__}: {error}"[:300]) from None
    needed = [*task.text_fields, "label"]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataError(
            f"{where} lacks column(s) {', '.join(missing)} "
            f"(found {', '.join(map(str, frame.columns))})",
            f"is this the nyu-mll/glue {task.name} data?",
        )
    if frame.empty or frame[needed].isna().to_numpy().any():
        raise DataError(f"{where} has no examples or empty values")
    if task.labels is None:
        labels = tuple(float(x) for x in frame["label"].tolist())
    else:
        labels = tuple(int(x) for x in frame["label"].tolist())
        bad = [x for x in labels if not 0 <= x < len(task.labels)]
        if bad:  # -1 marks the unlabelled test split on the hub
            raise DataError(f"{where}: label {bad[0]} outside 0..{len(task.labels) - 1}")
    texts = tuple(tuple(str(t) for t in frame[f].tolist()) for f in task.text_fields)
    return Columns(texts, labels)
