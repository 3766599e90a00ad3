"""Task data as columnar, untokenized examples: from a GLUE folder, the hub, or custom files.

Where the data comes from (in order): an explicit `data_dir`; the `LAYERDROP_GLUE_DIR` environment
variable; the `datasets` hub copy `nyu-mll/glue`. Local folders may use the original GLUE layout or
be a copy of the hub repo (see `glue_files.py`). All sources give hub field names and label ids.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import random
from dataclasses import dataclass
from pathlib import Path

from layerdrop.data import glue_files
from layerdrop.errors import DataError, UsageError
from layerdrop.data.tasks import Task, custom_task

log = logging.getLogger(__name__)

HUB_REPO = "nyu-mll/glue"
GLUE_DIR_ENV = "LAYERDROP_GLUE_DIR"


@dataclass(frozen=True)
class Split:
    """One split: `texts[f][i]` is text field f of example i; `labels[i]` its id or score.

    Attributes:
        texts: One tuple per text field, each with one string per example.
        labels: Label ids (classification) or floats (regression).
        source: Where the examples came from, e.g. "/data/RTE/dev.tsv" or
            "hub:nyu-mll/glue/rte/validation"; recorded with results.
    """

    texts: tuple[tuple[str, ...], ...]
    labels: tuple
    source: str

    def __post_init__(self) -> None:
        assert all(len(t) == len(self.labels) for t in self.texts), "ragged split"

    def __len__(self) -> int:
        return len(self.labels)


def load_task_data(task: Task, data_dir: str | Path | None) -> dict[str, Split]:
    """Load "train" and every evaluation split of a GLUE task.

    Args:
        task: A GLUE task from `TASKS`.
        data_dir: Folder holding GLUE tasks in either layout; None uses $LAYERDROP_GLUE_DIR if set,
            else the hub.

    Raises:
        DataError: Nothing usable at `data_dir` (naming the expected paths), malformed files, or
            the hub unreachable.
    """
    if data_dir is None and os.environ.get(GLUE_DIR_ENV):
        data_dir = os.environ[GLUE_DIR_ENV]
    if data_dir is None:
        return _checked(task, _load_hub(task))
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise DataError(f"GLUE data folder {root} does not exist", "check --data-dir")
    splits = ("train", *task.eval_splits)
    tsv_dir, hub_dir = root / task.glue_folder, root / task.name
    has_tsv = tsv_dir.is_dir() and any(tsv_dir.glob("*.tsv"))
    has_parquet = hub_dir.is_dir() and any(hub_dir.glob("*.parquet"))
    if has_tsv or (tsv_dir.is_dir() and not has_parquet):
        paths = glue_files.tsv_paths(task, root)
        result = {}
        for split in splits:
            cols = glue_files.read_tsv(task, split, paths[split])
            if cols.skipped_rows:
                log.warning("%s: skipped %d malformed rows", paths[split], cols.skipped_rows)
            result[split] = Split(cols.texts, cols.labels, str(paths[split]))
        return _checked(task, result)
    if has_parquet:
        return _checked(task, {
            split: Split(*_astuple(glue_files.read_parquet(task, split, root)),
                         f"{hub_dir / split}-*.parquet")
            for split in splits
        })
    expected = ", ".join(str(p) for p in glue_files.tsv_paths(task, root).values())
    raise DataError(
        f"no {task.name} data in {root}: expected {expected} (original GLUE layout) "
        f"or {hub_dir}/train-*.parquet (copy of the hub repo {HUB_REPO})",
        f"point --data-dir at the folder that contains {task.glue_folder}/",
    )


def _checked(task: Task, splits: dict[str, Split]) -> dict[str, Split]:
    """Refuse a classification training split whose labels are all one class, as custom files are:
    a model trained on it learns nothing about the task, and its score would say otherwise."""
    train = splits["train"]
    if not task.is_regression and train.labels and len(set(train.labels)) < 2:
        name = task.labels[train.labels[0]] if task.labels else train.labels[0]
        raise DataError(f"{train.source}: every training label is {name!r}", "classification needs two or more labels")
    return splits


def _astuple(cols: glue_files.Columns) -> tuple:
    return cols.texts, cols.labels


def _load_hub(task: Task) -> dict[str, Split]:
    """Load from the hub (or the `datasets` cache); any failure becomes one DataError."""
    fix = f"pass --data-dir or set {GLUE_DIR_ENV} to a local GLUE folder"
    try:
        import datasets

        # Offline (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE) this only consults the cache, so a
        # missing cache fails at once instead of waiting on network timeouts.
        dataset = datasets.load_dataset(HUB_REPO, task.name)
    except Exception as error:  # network, offline mode, cache, auth: all mean "not reachable"
        reason = " ".join(f"{type(error).__name__}: {error}".split())[:200]
        raise DataError(f"GLUE ({HUB_REPO}/{task.name}) can't be reached ({reason})", fix) from None
    result = {}
    for split in ("train", *task.eval_splits):
        if split not in dataset:
            raise DataError(f"{HUB_REPO}/{task.name} has no split {split!r}", fix)
        part = dataset[split]
        texts = tuple(tuple(part[f]) for f in task.text_fields)
        convert = float if task.is_regression else int
        labels = tuple(convert(x) for x in part["label"])
        result[split] = Split(texts, labels, f"hub:{HUB_REPO}/{task.name}/{split}")
    return result


def subsample_indices(size: int, n: int | None, seed: int) -> list[int] | None:
    """Indices of a seeded random sample of n of `size` examples, in order; None means all."""
    if n is None or n >= size:
        return None
    if n < 1:
        raise UsageError(f"cannot sample {n} examples", "use a positive number")
    return sorted(random.Random(seed).sample(range(size), n))


def subsample(split: Split, n: int | None, seed: int) -> Split:
    """A seeded random sample of n examples without replacement, kept in their original order.

    n None or at least len(split) returns the split unchanged.

    Raises:
        UsageError: n < 1.
    """
    keep = subsample_indices(len(split), n, seed)
    if keep is None:
        return split
    return Split(
        tuple(tuple(column[i] for i in keep) for column in split.texts),
        tuple(split.labels[i] for i in keep),
        f"{split.source} (sample of {n}, seed {seed})",
    )


# --- custom files -------------------------------------------------------------------------------

_FORMATS = (".csv", ".tsv", ".json", ".jsonl")


def _read_records(path: Path) -> tuple[list[str], list[tuple[str, dict]]]:
    """Read a csv/tsv/json/jsonl file into (columns present, [(location, record)])."""
    suffix = path.suffix.lower()
    if suffix not in _FORMATS:
        raise DataError(f"{path}: unsupported file type {suffix!r}", "use " + ", ".join(_FORMATS))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"file {path} does not exist") from None
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text (byte offset {error.start})") from None
    if not text.strip():
        raise DataError(f"{path} is empty")
    if suffix in (".csv", ".tsv"):
        # TSV quotes are literal text (as in GLUE); CSV follows the usual quoting rules.
        kwargs = {"delimiter": "\t", "quoting": csv.QUOTE_NONE} if suffix == ".tsv" else {}
        reader = csv.DictReader(io.StringIO(text, newline=""), **kwargs)
        try:
            rows = [(f"{path}:{reader.line_num}", row) for row in reader]
        except csv.Error as error:
            raise DataError(f"{path}:{reader.line_num}: {error}") from None
        return list(reader.fieldnames or []), rows
    records = None
    if suffix == ".json":
        try:
            loaded = json.loads(text)
            records = loaded.get("data") if isinstance(loaded, dict) else loaded
        except json.JSONDecodeError:
            pass  # Many ".json" files are JSON Lines; try that below.
        if records is not None and not isinstance(records, list):
            raise DataError(f"{path}: expected a list of records (or {{\"data\": [...]}})")
    if records is None:
        records, where = [], []
        for lineno, line in enumerate(text.split("\n"), start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise DataError(f"{path}:{lineno}: invalid JSON ({error.msg})") from None
                where.append(f"{path}:{lineno}")
    else:
        where = [f"{path} record {i}" for i in range(1, len(records) + 1)]
    for loc, record in zip(where, records):
        if not isinstance(record, dict):
            raise DataError(f"{loc}: expected an object with named fields")
    columns = list(records[0]) if records else []
    return columns, list(zip(where, records))


def _label_value(raw: object) -> int | float | str:
    """Normalize a label cell: integral numbers -> int, other finite numbers -> float, else str."""
    if isinstance(raw, bool):
        return str(raw).lower()
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        number = raw
    else:
        text = str(raw).strip()
        try:
            number = float(text)
        except ValueError:
            return text
    if not math.isfinite(number):
        return str(raw).strip()
    return int(number) if float(number).is_integer() else float(number)


def _columns(path: Path, text_columns, label_column) -> tuple[tuple, list, list[str]]:
    """Extract text columns and normalized labels, with errors naming file and row."""
    present, rows = _read_records(path)
    if not rows:
        raise DataError(f"{path} has no examples")
    missing = [c for c in (*text_columns, label_column) if c not in present]
    if missing:
        raise DataError(
            f"{path} lacks column(s) {', '.join(missing)} (found {', '.join(map(str, present))})",
            "name the columns with --text-columns and --label-column",
        )
    texts: list[list[str]] = [[] for _ in text_columns]
    labels, where = [], []
    for loc, row in rows:
        cells = [row.get(c) for c in (*text_columns, label_column)]
        if any(c is None for c in cells) or str(cells[-1]).strip() == "":
            raise DataError(f"{loc}: missing value in a text or label column")
        for column, cell in zip(texts, cells):
            column.append(str(cell))
        labels.append(_label_value(cells[-1]))
        where.append(loc)
    return tuple(tuple(c) for c in texts), labels, where


def load_custom_data(
    train_file: str | Path,
    validation_file: str | Path,
    text_columns: tuple[str, ...],
    label_column: str,
    regression: bool | None,
    *,
    name: str = "custom",
) -> tuple[Task, dict[str, Split]]:
    """Load a user's train/validation files (csv, tsv, json, jsonl by extension).

    Args:
        train_file: Training examples.
        validation_file: Evaluation examples.
        text_columns: One or two input text columns.
        label_column: The label column.
        regression: True/False to force; None detects regression from non-integer numeric labels.
        name: Task name for records.

    Returns:
        An ad-hoc `Task` (labels sorted: numerically if all integers, else as strings) and
        {"train": Split, "validation": Split}.

    Raises:
        DataError: Unreadable files, missing columns or values, non-numeric regression targets,
            or validation labels never seen in training.
    """
    text_columns = tuple(text_columns)
    if not 1 <= len(text_columns) <= 2:
        raise UsageError(f"{len(text_columns)} text columns given", "name one or two")
    paths = {"train": Path(train_file), "validation": Path(validation_file)}
    loaded = {split: _columns(p, text_columns, label_column) for split, p in paths.items()}
    train_labels = loaded["train"][1]
    if regression is None:
        numeric = all(isinstance(v, (int, float)) for v in train_labels)
        regression = numeric and any(isinstance(v, float) for v in train_labels)

    if regression:
        labels_out = {}
        for split, (_, values, where) in loaded.items():
            for v, loc in zip(values, where):
                if isinstance(v, str):
                    raise DataError(f"{loc}: label {v[:40]!r} is not a number",
                                    "regression needs numeric labels")
            labels_out[split] = tuple(float(v) for v in values)
        task = custom_task(text_columns, None, name)
    else:
        integral = all(isinstance(v, int) for v in train_labels)
        key = (lambda v: v) if integral else str
        names = sorted({key(v) for v in train_labels})
        if len(names) < 2:
            raise DataError(f"{paths['train']}: only one label ({names[0]!r})",
                            "classification needs two or more")
        ids = {n: i for i, n in enumerate(names)}
        labels_out = {}
        for split, (_, values, where) in loaded.items():
            for v, loc in zip(values, where):
                if key(v) not in ids:
                    raise DataError(
                        f"{loc}: label {str(v)[:40]!r} does not occur in {paths['train']}",
                        f"labels are {', '.join(map(str, names[:12]))}",
                    )
            labels_out[split] = tuple(ids[key(v)] for v in values)
        task = custom_task(text_columns, tuple(str(n) for n in names), name)
    return task, {
        split: Split(loaded[split][0], labels_out[split], str(paths[split])) for split in paths
    }
