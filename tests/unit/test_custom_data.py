"""Custom train/validation files: csv, tsv, json, jsonl; label mapping; regression detection."""

from __future__ import annotations

import json

import pytest

from layerdrop.data.loading import load_custom_data
from layerdrop.errors import DataError, UsageError


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(path, records):
    return write(path, "".join(json.dumps(r) + "\n" for r in records))


def test_csv_string_labels_sorted_to_ids_and_quotes_parsed(tmp_path):
    train = write(tmp_path / "train.csv", 'text,label\n"Good, really",pos\nbad,neg\nok,pos\n')
    dev = write(tmp_path / "dev.csv", "text,label\nmeh,neg\n")
    task, splits = load_custom_data(train, dev, ("text",), "label", None)
    assert task.name == "custom" and task.labels == ("neg", "pos") and not task.is_regression
    assert splits["train"].texts == (("Good, really", "bad", "ok"),)
    assert splits["train"].labels == (1, 0, 1)
    assert splits["validation"].labels == (0,) and splits["validation"].source == str(dev)
    assert task.eval_splits == ("validation",) and task.main_metric == "accuracy"


def test_tsv_keeps_quotes_literal_and_reads_two_text_columns(tmp_path):
    train = write(tmp_path / "t.tsv", 'a\tb\ty\n"Open quote\tsecond\t1\nplain\ttext\t0\n')
    dev = write(tmp_path / "v.tsv", "a\tb\ty\nx\tz\t1\n")
    task, splits = load_custom_data(train, dev, ("a", "b"), "y", None)
    assert task.text_fields == ("a", "b") and task.labels == ("0", "1")
    assert splits["train"].texts == (('"Open quote', "plain"), ("second", "text"))
    assert splits["train"].labels == (1, 0)


def test_json_list_and_jsonl_integer_labels_sorted_numerically(tmp_path):
    records = [{"s": "a", "y": 10}, {"s": "b", "y": 2}, {"s": "c", "y": 1}]
    train = write(tmp_path / "train.json", json.dumps(records))
    dev = jsonl(tmp_path / "dev.jsonl", [{"s": "d", "y": 2}])
    task, splits = load_custom_data(train, dev, ("s",), "y", None, name="mine")
    assert task.name == "mine" and task.labels == ("1", "2", "10")  # 10 after 2, not before
    assert splits["train"].labels == (2, 1, 0) and splits["validation"].labels == (1,)


def test_json_with_data_key_and_json_lines_named_json(tmp_path):
    train = write(tmp_path / "train.json", json.dumps({"data": [{"s": "a", "y": "x"},
                                                               {"s": "b", "y": "z"}]}))
    dev = jsonl(tmp_path / "dev.json", [{"s": "c", "y": "z"}, {"s": "d", "y": "x"}])
    _, splits = load_custom_data(train, dev, ("s",), "y", None)
    assert splits["validation"].texts == (("c", "d"),) and splits["validation"].labels == (1, 0)


def test_non_integer_numbers_mean_regression(tmp_path):
    train = write(tmp_path / "train.csv", "s,score\na,0.5\nb,3\nc,4.25\n")
    dev = write(tmp_path / "dev.csv", "s,score\nd,1\n")
    task, splits = load_custom_data(train, dev, ("s",), "score", None)
    assert task.is_regression and task.num_labels == 1 and task.main_metric == "pearson_and_spearman"
    assert splits["train"].labels == (0.5, 3.0, 4.25) and splits["validation"].labels == (1.0,)
    assert all(type(v) is float for v in splits["train"].labels)


def test_integer_labels_are_classes_unless_regression_forced(tmp_path):
    train = jsonl(tmp_path / "train.jsonl", [{"s": "a", "y": 1}, {"s": "b", "y": 5}])
    dev = jsonl(tmp_path / "dev.jsonl", [{"s": "c", "y": 3}])
    with pytest.raises(DataError, match="label '3' does not occur in"):
        load_custom_data(train, dev, ("s",), "y", None)
    task, splits = load_custom_data(train, dev, ("s",), "y", True)
    assert task.is_regression and splits["validation"].labels == (3.0,)


def test_forced_regression_with_words_is_a_data_error(tmp_path):
    train = write(tmp_path / "train.csv", "s,y\na,good\n")
    with pytest.raises(DataError, match=r"train.csv:2: label 'good' is not a number"):
        load_custom_data(train, train, ("s",), "y", True)


def test_missing_columns_name_file_missing_and_present(tmp_path):
    train = write(tmp_path / "train.csv", "sentence,label\na,1\nb,0\n")
    with pytest.raises(DataError) as info:
        load_custom_data(train, train, ("text",), "label", None)
    message = str(info.value)
    assert str(train) in message and "lacks column(s) text" in message
    assert "(found sentence, label)" in message


def test_row_with_missing_value_names_its_line(tmp_path):
    train = write(tmp_path / "train.csv", "s,y\na,1\nb\n")
    with pytest.raises(DataError, match=r"train.csv:3: missing value"):
        load_custom_data(train, train, ("s",), "y", None)


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("train.txt", "s,y\n", "unsupported file type '.txt'"),
        ("train.csv", "", "is empty"),
        ("train.jsonl", '{"s": "a", "y": 1}\n{oops\n', r"train.jsonl:2: invalid JSON"),
        ("train.csv", "s,y\na,1\nb,1\n", "only one label"),
    ],
)
def test_bad_files(tmp_path, name, content, match):
    path = write(tmp_path / name, content)
    with pytest.raises(DataError, match=match):
        load_custom_data(path, path, ("s",), "y", None)


def test_missing_file_and_too_many_text_columns(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_custom_data(tmp_path / "no.csv", tmp_path / "no.csv", ("s",), "y", None)
    with pytest.raises(UsageError, match="3 text columns"):
        load_custom_data(tmp_path / "no.csv", tmp_path / "no.csv", ("a", "b", "c"), "y", None)
