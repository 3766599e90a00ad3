"""Loading GLUE from a local folder: both layouts, every task's quirks, every failure mode.

The fixtures are tiny hand-written copies of the original files' formats (see
../shared/data/README.md): CoLA without header, MRPC with a BOM and a `Quality` column, literal
quote characters, MNLI's two dev files and `gold_label`, a truncated QQP train row, STS-B scores.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerdrop.data.loading import load_task_data
from layerdrop.errors import DataError, UsageError
from layerdrop.data.glue_files import read_tsv
from layerdrop.data.tasks import TASKS, get_task
from tests.glue_fixtures import BOM, EXPECTED, GLUE_FILES, QQP_HEAD, STSB_HEAD, T, lines, write_glue, write_hub_copy  # noqa: F401

def as_expected(splits) -> dict:
    return {split: (s.texts, s.labels) for split, s in splits.items()}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_original_layout_reads_every_task_exactly(tmp_path, name):
    splits = load_task_data(TASKS[name], write_glue(tmp_path))
    assert as_expected(splits) == EXPECTED[name]
    folder = tmp_path / TASKS[name].glue_folder
    assert splits["train"].source == str(folder / "train.tsv")
    assert all("\ufeff" not in text for s in splits.values() for col in s.texts for text in col)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_hub_parquet_copy_gives_the_same_examples(tmp_path, name):
    from_tsv = load_task_data(TASKS[name], write_glue(tmp_path / "tsv"))
    from_hub = load_task_data(TASKS[name], write_hub_copy(tmp_path / "hub", shards=2))
    assert as_expected(from_hub) == as_expected(from_tsv)
    assert from_hub["train"].source.endswith("train-*.parquet")


def test_qqp_truncated_rows_are_skipped_in_train_only(tmp_path):
    write_glue(tmp_path, {"QQP": {
        "train.tsv": GLUE_FILES["QQP"]["train.tsv"],
        "dev.tsv": lines(QQP_HEAD, "1\t2\t3\tWhy?", "4\t5\t6\tA?\tB?\t0"),
    }})
    with pytest.raises(DataError) as info:
        load_task_data(get_task("qqp"), tmp_path)
    assert f"{tmp_path / 'QQP' / 'dev.tsv'}:2: 4 column(s), expected at least 6" in str(info.value)


def test_crlf_line_endings_do_not_leak_into_labels(tmp_path):
    folders = {"RTE": {n: t.replace("\n", "\r\n") for n, t in GLUE_FILES["RTE"].items()}}
    splits = load_task_data(get_task("rte"), write_glue(tmp_path, folders))
    assert as_expected(splits) == EXPECTED["rte"]


def test_data_dir_from_environment_when_none_given(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERDROP_GLUE_DIR", str(write_glue(tmp_path)))
    assert as_expected(load_task_data(get_task("wnli"), None)) == EXPECTED["wnli"]


def test_hub_unreachable_is_one_data_error(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'nyu-mll/glue' on the Hub (OfflineModeIsEnabled)")

    monkeypatch.delenv("LAYERDROP_GLUE_DIR", raising=False)
    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataError) as info:
        load_task_data(get_task("rte"), None)
    message = str(info.value)
    assert "can't be reached" in message and "--data-dir" in message
    assert "LAYERDROP_GLUE_DIR" in message and "\n" not in message


def test_hub_dataset_converts_to_splits(monkeypatch):
    import datasets

    def fake_load(repo, name):
        assert (repo, name) == ("nyu-mll/glue", "stsb")
        return {s: datasets.Dataset.from_dict({"sentence1": ["a"], "sentence2": ["b"],
                                              "label": [4.5], "idx": [0]})
                for s in ("train", "validation", "test")}

    monkeypatch.delenv("LAYERDROP_GLUE_DIR", raising=False)
    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    splits = load_task_data(get_task("stsb"), None)
    assert set(splits) == {"train", "validation"}
    assert splits["validation"].texts == (("a",), ("b",)) and splits["validation"].labels == (4.5,)
    assert splits["validation"].source == "hub:nyu-mll/glue/stsb/validation"


# --- failures: each a one-line DataError naming the file (and line) ------------------------------


def load_error(root: Path, task: str = "rte") -> str:
    with pytest.raises(DataError) as info:
        load_task_data(get_task(task), root)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_task_folder_names_the_expected_paths(tmp_path):
    message = load_error(tmp_path, "mnli")
    assert str(tmp_path / "MNLI" / "dev_matched.tsv") in message
    assert str(tmp_path / "mnli") in message  # the hub-copy alternative


def test_missing_data_dir(tmp_path):
    assert "does not exist" in load_error(tmp_path / "nowhere")


def test_missing_dev_file_names_it(tmp_path):
    write_glue(tmp_path, {"RTE": {"train.tsv": GLUE_FILES["RTE"]["train.tsv"]}})
    assert str(tmp_path / "RTE" / "dev.tsv") in load_error(tmp_path)


@pytest.mark.parametrize(
    ("dev", "expected"),
    [
        ("index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tonly one\n",
         "dev.tsv:3: 2 column(s), expected at least 4"),
        ("index\tsentence1\tsentence2\tlabel\n0\ta\tb\tmaybe\n",
         "dev.tsv:2: label 'maybe' is not one of entailment, not_entailment"),
        ("", "dev.tsv is empty"),
        ("\n\n", "dev.tsv is empty"),
        ("index\tsentence1\tsentence2\n", "dev.tsv:1: header lacks column(s) 'label'"),
        ("index\tsentence1\tsentence2\tlabel\n", "dev.tsv has no examples"),
    ],
)
def test_malformed_rte_dev(tmp_path, dev, expected):
    write_glue(tmp_path, {"RTE": {"train.tsv": GLUE_FILES["RTE"]["train.tsv"], "dev.tsv": dev}})
    assert f"{tmp_path / 'RTE' / expected}" in load_error(tmp_path)


def test_binary_file_is_a_data_error_with_line(tmp_path):
    write_glue(tmp_path, {"RTE": {"train.tsv": GLUE_FILES["RTE"]["train.tsv"]}})
    (tmp_path / "RTE" / "dev.tsv").write_bytes(b"index\tsentence1\n\x89PNG\r\n\x1a\n\x00\xff")
    assert f"{tmp_path / 'RTE' / 'dev.tsv'}:2: not UTF-8" in load_error(tmp_path)


def test_bad_stsb_score_and_wnli_label(tmp_path):
    bad = STSB_HEAD + "\n0\tg\tf\ty\t0\tn\tn\ta\tb\thigh\n"
    write_glue(tmp_path, {"STS-B": {"train.tsv": bad}, "WNLI": {"train.tsv": lines(
        "index\tsentence1\tsentence2\tlabel", "0\ta\tb\t2")}})
    assert "train.tsv:2: label 'high' is not one of a finite number" in load_error(tmp_path, "stsb")
    assert "train.tsv:2: label '2' is not one of 0, 1" in load_error(tmp_path, "wnli")


def test_hub_copy_test_split_labels_are_rejected(tmp_path):
    (tmp_path / "rte").mkdir()
    for split in ("train", "validation"):
        frame = pd.DataFrame({"sentence1": ["a"], "sentence2": ["b"], "label": [-1], "idx": [0]})
        frame.to_parquet(tmp_path / "rte" / f"{split}-00000-of-00001.parquet")
    assert "label -1 outside 0..1" in load_error(tmp_path)


# --- the task table ------------------------------------------------------------------------------


def test_task_table_matches_the_hub():
    assert sorted(TASKS) == sorted("cola sst2 mrpc stsb qqp mnli qnli rte wnli".split())
    assert TASKS["mnli"].labels == ("entailment", "neutral", "contradiction")
    assert TASKS["rte"].labels == TASKS["qnli"].labels == ("entailment", "not_entailment")
    assert TASKS["wnli"].labels == ("not_entailment", "entailment")
    assert TASKS["stsb"].is_regression and TASKS["stsb"].num_labels == 1
    assert TASKS["mnli"].num_labels == 3 and not TASKS["mnli"].is_regression


@pytest.mark.parametrize(("alias", "name"), [("SST-2", "sst2"), ("sts-b", "stsb"), (" RTE ", "rte"),
                                             ("CoLA", "cola"), ("mnli", "mnli")])
def test_get_task_aliases(alias, name):
    assert get_task(alias) is TASKS[name]


def test_unknown_task_suggests_a_name():
    with pytest.raises(UsageError, match=r"unknown task 'sst3' \(did you mean 'sst2'\?\)"):
        get_task("sst3")


# --- property: the reader never fails with anything but a DataError ------------------------------

cells = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
rows = st.lists(st.lists(cells, min_size=0, max_size=6).map("\t".join), max_size=6)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(TASKS)), body=st.one_of(rows.map("\n".join).map(str.encode),
                                                          st.binary(max_size=200)),
       with_header=st.booleans())
def test_reader_gives_columns_or_data_error(name, body, with_header):
    task = TASKS[name]
    header = GLUE_FILES[task.glue_folder]["train.tsv"].lstrip(BOM).split("\n")[0]
    content = (header.encode() + b"\n" if with_header else b"") + body
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.tsv"
        path.write_bytes(content)
        try:
            result = read_tsv(task, "train", path)
        except DataError as error:
            assert "\n" not in str(error) and os.fspath(path) in str(error)
            return
    assert len(result.texts) == len(task.text_fields) and result.labels
    assert all(len(col) == len(result.labels) for col in result.texts)
