"""GLUE metrics pinned against values worked out by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from layerdrop.data.metrics import compute_metrics, main_metric_value
from layerdrop.data.tasks import TASKS, custom_task

# preds/refs with tp=2 (i0, i1), fp=2 (i2, i3), fn=1 (i4), tn=1 (i5).
PRED_F1 = [1, 1, 1, 1, 0, 0]
REF_F1 = [1, 1, 0, 0, 1, 0]
ACC_F1 = 3 / 6  # tp + tn = 3 of 6
F1 = 4 / 7  # 2tp / (2tp + fp + fn) = 4 / (4 + 2 + 1); precision 1/2, recall 2/3

# preds/refs with tp=2, fp=1, fn=1, tn=2.
PRED_MCC = [1, 1, 1, 0, 0, 0]
REF_MCC = [1, 1, 0, 0, 0, 1]
MCC = 1 / 3  # (tp*tn - fp*fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)) = (4 - 1) / sqrt(3^4) = 3/9

# x = [1, 2, 3, 4], y = [1, 3, 2, 10]: dx = [-1.5, -.5, .5, 1.5], dy = [-3, -1, -2, 6] (mean 4).
X = [1.0, 2.0, 3.0, 4.0]
Y = [1.0, 3.0, 2.0, 10.0]
PEARSON = 13 / math.sqrt(5 * 50)  # sum dx*dy = 4.5 + .5 - 1 + 9 = 13; sum dx^2 = 5; sum dy^2 = 50
SPEARMAN = 4 / 5  # ranks [1,3,2,4] vs [1,2,3,4]: centred rank products 2.25-.25-.25+2.25 = 4 over 5


def one(task_name, preds, refs):
    return compute_metrics(TASKS[task_name], {"validation": (preds, refs)})


def test_accuracy_three_of_four():
    assert one("rte", [1, 0, 1, 1], [1, 0, 0, 1]) == {"accuracy": 0.75}


def test_mrpc_accuracy_f1_and_their_mean():
    result = one("mrpc", PRED_F1, REF_F1)
    assert result == pytest.approx({"accuracy": ACC_F1, "f1": F1, "acc_and_f1": (ACC_F1 + F1) / 2})
    assert main_metric_value(TASKS["mrpc"], result) == pytest.approx(15 / 28)  # (1/2 + 4/7) / 2


def test_f1_counts_label_one_as_positive():
    # Swapping which label is "positive" changes F1: tp=1, fp=1, fn=2 for label 0 -> 2/5, not 4/7.
    flipped = one("qqp", [1 - p for p in PRED_F1], [1 - r for r in REF_F1])
    assert flipped["f1"] == pytest.approx(2 / 5)


def test_cola_matthews_correlation():
    assert one("cola", PRED_MCC, REF_MCC) == pytest.approx({"matthews_correlation": MCC})


def test_stsb_pearson_spearman_and_mean():
    result = one("stsb", X, Y)
    assert result == pytest.approx(
        {"pearson": PEARSON, "spearmanr": SPEARMAN, "pearson_and_spearman": (PEARSON + SPEARMAN) / 2}
    )


def test_mnli_suffixes_and_averages_the_two_dev_sets():
    result = compute_metrics(
        TASKS["mnli"],
        {
            "validation_matched": ([0, 1, 2, 2], [0, 1, 2, 0]),  # 3/4
            "validation_mismatched": ([0, 1], [0, 2]),  # 1/2
        },
    )
    assert result == {"accuracy_matched": 0.75, "accuracy_mismatched": 0.5, "accuracy": 0.625}
    assert main_metric_value(TASKS["mnli"], result) == 0.625


EXPECTED_KEYS = {
    "cola": {"matthews_correlation"},
    "sst2": {"accuracy"},
    "mrpc": {"accuracy", "f1", "acc_and_f1"},
    "stsb": {"pearson", "spearmanr", "pearson_and_spearman"},
    "qqp": {"accuracy", "f1", "acc_and_f1"},
    "mnli": {"accuracy_matched", "accuracy_mismatched", "accuracy"},
    "qnli": {"accuracy"},
    "rte": {"accuracy"},
    "wnli": {"accuracy"},
}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_reports_sub_metrics_and_main_metric_as_plain_floats(name):
    task = TASKS[name]
    preds, refs = (X, Y) if task.is_regression else (PRED_MCC, REF_MCC)
    result = compute_metrics(task, {split: (np.asarray(preds), refs) for split in task.eval_splits})
    assert set(result) == EXPECTED_KEYS[name]
    assert task.main_metric in result
    assert all(type(v) is float for v in result.values())


def test_main_metrics_follow_glue_convention():
    mains = {name: task.main_metric for name, task in TASKS.items()}
    assert mains == {
        "cola": "matthews_correlation", "sst2": "accuracy", "mrpc": "acc_and_f1",
        "stsb": "pearson_and_spearman", "qqp": "acc_and_f1", "mnli": "accuracy",
        "qnli": "accuracy", "rte": "accuracy", "wnli": "accuracy",
    }


def test_constant_regression_predictions_give_nan_not_an_error():
    result = one("stsb", [2.0, 2.0, 2.0], [1.0, 2.0, 3.0])
    assert math.isnan(result["pearson"]) and math.isnan(result["pearson_and_spearman"])


def test_custom_tasks_score_like_their_glue_cousins():
    binary = custom_task(("text",), ("neg", "pos"))
    result = compute_metrics(binary, {"validation": (PRED_F1, REF_F1)})
    assert result == pytest.approx({"accuracy": ACC_F1, "f1": F1, "acc_and_f1": (ACC_F1 + F1) / 2})
    assert main_metric_value(binary, result) == ACC_F1
    three = custom_task(("text",), ("a", "b", "c"))
    assert compute_metrics(three, {"validation": ([0, 1, 2], [0, 1, 1])}) == {"accuracy": 2 / 3}


@pytest.mark.parametrize(
    "outputs",
    [
        {},  # no split
        {"validation": ([1], [1]), "test": ([1], [1])},  # extra split
        {"validation": ([1, 0], [1])},  # lengths differ
        {"validation": ([], [])},  # nothing to score
    ],
)
def test_caller_mistakes_raise_value_error(outputs):
    with pytest.raises(ValueError):
        compute_metrics(TASKS["rte"], outputs)


def test_main_metric_value_of_another_tasks_result():
    with pytest.raises(ValueError, match="lack the main metric 'matthews_correlation'"):
        main_metric_value(TASKS["cola"], {"accuracy": 0.5})
