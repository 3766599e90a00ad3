"""The GLUE task table: text fields, label names, metrics and evaluation splits per task.

Field and label names follow the `datasets` hub copy of GLUE (`nyu-mll/glue`), so a model trained
from a local GLUE folder and one trained from the hub see the same label ids and can be compared.
How the original GLUE files spell each column lives in `glue_files.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from layerdrop.errors import unknown_name


@dataclass(frozen=True)
class Task:
    """One text classification or regression task.

    Attributes:
        name: Short lowercase name, e.g. "rte" (the `nyu-mll/glue` config name for GLUE tasks).
        glue_folder: Folder name in the original GLUE layout, e.g. "RTE" ("" for custom tasks).
        text_fields: Hub column names of the one or two input texts.
        labels: Label names in label-id order; None for regression.
        metrics: Sub-metrics computed per evaluation split, e.g. ("accuracy", "f1").
        main_metric: Key of the headline number in `compute_metrics`' output.
        eval_splits: Splits evaluated after fine-tuning.
    """

    name: str
    glue_folder: str
    text_fields: tuple[str, ...]
    labels: tuple[str, ...] | None
    metrics: tuple[str, ...]
    main_metric: str
    eval_splits: tuple[str, ...] = ("validation",)

    def __post_init__(self) -> None:
        assert 1 <= len(self.text_fields) <= 2, f"{self.name}: one or two text fields"
        assert self.labels is None or len(self.labels) >= 2, f"{self.name}: two labels or more"
        assert self.eval_splits, f"{self.name}: at least one evaluation split"

    @property
    def is_regression(self) -> bool:
        """True when the target is a float score rather than a label id."""
        return self.labels is None

    @property
    def num_labels(self) -> int:
        """Size of the classifier head: 1 for regression."""
        return 1 if self.labels is None else len(self.labels)


_ACC = ("accuracy",)
_ACC_F1 = ("accuracy", "f1")
_NLI2 = ("entailment", "not_entailment")

TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task("cola", "CoLA", ("sentence",), ("unacceptable", "acceptable"),
             ("matthews_correlation",), "matthews_correlation"),
        Task("sst2", "SST-2", ("sentence",), ("negative", "positive"), _ACC, "accuracy"),
        Task("mrpc", "MRPC", ("sentence1", "sentence2"), ("not_equivalent", "equivalent"),
             _ACC_F1, "acc_and_f1"),
        Task("stsb", "STS-B", ("sentence1", "sentence2"), None,
             ("pearson", "spearmanr"), "pearson_and_spearman"),
        Task("qqp", "QQP", ("question1", "question2"), ("not_duplicate", "duplicate"),
             _ACC_F1, "acc_and_f1"),
        # MNLI is scored on both dev sets; its main metric is the mean of the two accuracies.
        Task("mnli", "MNLI", ("premise", "hypothesis"), ("entailment", "neutral", "contradiction"),
             _ACC, "accuracy", ("validation_matched", "validation_mismatched")),
        Task("qnli", "QNLI", ("question", "sentence"), _NLI2, _ACC, "accuracy"),
        Task("rte", "RTE", ("sentence1", "sentence2"), _NLI2, _ACC, "accuracy"),
        # WNLI's ids run the other way round from RTE/QNLI on the hub: 0 = not_entailment.
        Task("wnli", "WNLI", ("sentence1", "sentence2"), ("not_entailment", "entailment"),
             _ACC, "accuracy"),
    )
}

# Accept the GLUE folder spellings too ("SST-2", "STS-B", "CoLA"), since users copy them from paths.
_ALIASES = {t.glue_folder.lower(): t.name for t in TASKS.values()} | {n: n for n in TASKS}


def get_task(name: str) -> Task:
    """Look up a GLUE task by name, case-insensitively ("rte", "SST-2", "sts-b").

    Raises:
        UsageError: For an unknown name, with a did-you-mean suggestion.
    """
    key = name.strip().lower()
    if key in _ALIASES:
        return TASKS[_ALIASES[key]]
    raise unknown_name("task", name, TASKS, "choose a GLUE task")


def custom_task(
    text_fields: tuple[str, ...], labels: tuple[str, ...] | None, name: str = "custom"
) -> Task:
    """Build an ad-hoc task for user-supplied files.

    Classification is scored by accuracy (plus F1 of label id 1 when binary, as for MRPC);
    regression by Pearson/Spearman like STS-B.

    Args:
        text_fields: Column names of the one or two input texts.
        labels: Label names in id order, or None for regression.
        name: Task name recorded in results, e.g. "custom" or the file stem.
    """
    if labels is None:
        return Task(name, "", tuple(text_fields), None, ("pearson", "spearmanr"),
                    "pearson_and_spearman")
    metrics = _ACC_F1 if len(labels) == 2 else _ACC
    return Task(name, "", tuple(text_fields), tuple(labels), metrics, "accuracy")
