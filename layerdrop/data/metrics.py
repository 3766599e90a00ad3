"""The official GLUE metrics, computed with scikit-learn and scipy.

Values are identical to the `evaluate` library's `glue` metric (which calls the same functions),
without depending on `evaluate` or the network. The two-number tasks also get the mean used as
their headline in GLUE papers: `acc_and_f1` (MRPC, QQP) and `pearson_and_spearman` (STS-B).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from layerdrop.data.tasks import Task

# Composite keys: each is the mean of its parts, computed whenever all parts are present.
COMPOSITES: dict[str, tuple[str, str]] = {
    "acc_and_f1": ("accuracy", "f1"),
    "pearson_and_spearman": ("pearson", "spearmanr"),
}


def _sub_metric(metric: str, predictions: np.ndarray, references: np.ndarray) -> float:
    """One metric on one split, exactly as `evaluate`'s glue metric computes it."""
    if metric == "accuracy":
        return float((predictions == references).mean())
    if metric == "f1":
        from sklearn.metrics import f1_score

        # zero_division=0.0 is what sklearn's default "warn" returns, minus the warning.
        return float(f1_score(references, predictions, zero_division=0.0))
    if metric == "matthews_correlation":
        from sklearn.metrics import matthews_corrcoef

        return float(matthews_corrcoef(references, predictions))
    if metric in ("pearson", "spearmanr"):
        from scipy.stats import pearsonr, spearmanr

        # A constant prediction (a collapsed model) has no correlation: scipy returns nan and
        # warns; the nan is the honest value, the warning only noise on stderr. Fewer than two
        # examples (a tiny --max-eval-samples) have none either, rather than losing the run.
        if len(predictions) < 2:
            return float("nan")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn = pearsonr if metric == "pearson" else spearmanr
            return float(fn(predictions, references)[0])
    raise ValueError(f"unknown metric {metric!r}")


def _split_suffix(split: str) -> str:
    """'validation_matched' -> 'matched': the suffix of per-split keys for multi-split tasks."""
    return split.removeprefix("validation_").removeprefix("validation")


def compute_metrics(
    task: Task, outputs: Mapping[str, tuple[Sequence[Any], Sequence[Any]]]
) -> dict[str, float]:
    """Score predictions for every evaluation split of a task.

    Args:
        task: The task; its `eval_splits` must be exactly the keys of `outputs`.
        outputs: Split name -> (predictions, references). Label ids for classification,
            floats for regression; lists, numpy arrays or CPU tensors.

    Returns:
        Flat dict of plain floats with every sub-metric and `task.main_metric`. A task with one
        evaluation split gets plain keys ({"accuracy", "f1", "acc_and_f1"}); a task with several
        (MNLI) gets per-split keys ("accuracy_matched", "accuracy_mismatched") plus their mean
        under the plain key ("accuracy").

    Raises:
        ValueError: For missing or extra splits, length mismatches or empty splits (caller bugs).
    """
    if set(outputs) != set(task.eval_splits):
        raise ValueError(
            f"{task.name}: expected outputs for splits {list(task.eval_splits)}, "
            f"got {list(outputs)}"
        )
    per_split: dict[str, dict[str, float]] = {}
    for split in task.eval_splits:
        predictions, references = (np.asarray(x) for x in outputs[split])
        if predictions.shape != references.shape or predictions.ndim != 1:
            raise ValueError(
                f"{task.name}/{split}: predictions {predictions.shape} and references "
                f"{references.shape} must be 1-d and the same length"
            )
        if len(references) == 0:
            raise ValueError(f"{task.name}/{split}: no examples to score")
        per_split[split] = {m: _sub_metric(m, predictions, references) for m in task.metrics}

    result: dict[str, float] = {}
    if len(task.eval_splits) == 1:
        result.update(per_split[task.eval_splits[0]])
    else:
        for split, values in per_split.items():
            suffix = _split_suffix(split)
            result.update({f"{m}_{suffix}": v for m, v in values.items()})
        # The plain key is the mean over splits (GLUE's MNLI convention: m and mm weigh equally).
        for m in task.metrics:
            result[m] = float(np.mean([per_split[s][m] for s in task.eval_splits]))
    for key, (a, b) in COMPOSITES.items():
        if a in result and b in result:
            result[key] = (result[a] + result[b]) / 2
    assert task.main_metric in result, f"{task.name}: main metric {task.main_metric} not computed"
    return result


def main_metric_value(task: Task, metrics: Mapping[str, float]) -> float:
    """The task's headline number from a `compute_metrics` result.

    Raises:
        ValueError: When the result lacks the main metric (it came from another task).
    """
    try:
        return float(metrics[task.main_metric])
    except KeyError:
        raise ValueError(
            f"{task.name}: metrics {sorted(metrics)} lack the main metric {task.main_metric!r}"
        ) from None
