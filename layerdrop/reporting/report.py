"""Run records -> the paper-style table: mean ± std over seeds, macro averages, paired CIs.

All numbers are percentages (metric × 100), as in GLUE papers. A row is model × strategy × K
(with the component, normalizer and LayerNorm removal in the strategy's label); the plain K=0 row
of a model is its full-model baseline, whatever strategy name it was recorded under.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layerdrop import progress
from layerdrop.experiments import records
from layerdrop.errors import DataError, LayerdropError, UsageError

FULL_MODEL = "full model"
# A run whose mean loss over its last epoch is this close to the loss of an answer that ignores the
# input did not learn: the entropy of its training labels (ln C for C balanced classes), or for
# regression their variance (the MSE of always answering their mean). Cells that fit sit well
# below: 0.37-0.65 on RTE (ln 2 = 0.693).
UNLEARNED_SHARE = 0.97


def find_runs_files(paths: list[str]) -> list[Path]:
    """Sweep folders (their runs.jsonl) and runs files; every path must exist."""
    found = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(path.glob("*.jsonl")) or sorted(path.glob("*/runs.jsonl"))
            if not files:
                raise DataError(f"{path} holds no runs file (runs.jsonl)", "pass a sweep folder or a runs file")
            found.extend(files)
        elif path.is_file():
            found.append(path)
        else:
            raise DataError(f"{path} does not exist", "pass a sweep folder such as results/my-sweep or a runs.jsonl file")
    return found


def strategy_label(record: dict[str, Any]) -> str:
    """A short, stable name: `top`, `odd-alternate`, `contribution (threshold=0.95)`, and what else
    the run changed: `top ffn` (K feed-forward sublayers), `relu attn`, `no LN after attention`."""
    from layerdrop.experiments.config import variant_words

    config = record.get("config") or {}
    variant = variant_words(config.get("component", "layer"), config.get("attention", "softmax"),
                            config.get("drop_layernorm"), record["k"])
    if record["k"] == 0:
        return " ".join(variant) or FULL_MODEL
    return " ".join([_removal_label(record), *variant])


def _variant(record: dict[str, Any]) -> str:
    """The words of the label that change the model besides removal: "relu attn", "no LN after ffn"."""
    from layerdrop.experiments.config import variant_words

    config = record.get("config") or {}
    return " ".join(variant_words("layer", config.get("attention", "softmax"), config.get("drop_layernorm")))


def removed_text(record: dict[str, Any]) -> str:
    """The layers a run removed: whole layers, or those that lost the run's sublayer."""
    component = (record.get("config") or {}).get("component", "layer")
    layers = record["dropped_layers"] if component == "layer" else (record.get("removed_sublayers") or {}).get(component, [])
    return ",".join(map(str, layers)) or "-"


def _removal_label(record: dict[str, Any]) -> str:
    name, params = record["strategy"], dict(record.get("params") or {})
    if name == "alternate":
        return f"{params.pop('parity', 'even')}-alternate"
    defaults = {"contribution": {"n_examples": 512, "split": "train", "threshold": None}, "random": {"seed": None}}
    shown = {k: v for k, v in params.items() if defaults.get(name, {}).get(k, object()) != v}
    if name == "explicit":  # the layers are the strategy: different lists are different rows
        return f"explicit ({removed_text(record)})"
    return name + (f" ({', '.join(f'{k}={v}' for k, v in shown.items())})" if shown else "")


def analysis_records(paths: list[str]) -> list[dict[str, Any]]:
    """The `layerdrop analyze` records in these folders or files, the last of each analysis id."""
    found: dict[str, dict[str, Any]] = {}
    for path in find_runs_files(paths):
        for record in records.read(path, warn=progress.log, kind="analysis"):
            if record.get("status") == "ok":
                found[record["analysis_id"]] = record
    return list(found.values())


def load(paths: list[str], metric: str | None = None, strict: bool = False, regime: str | None = None,
         tasks: tuple[str, ...] = ()):
    """A DataFrame with one row per successful run: model, regime, strategy, k, task, seed, value, ...

    Rows group by model, training regime, strategy and K. Runs of one row that differ in another
    setting or in the code that made them are pooled as if they were seeds: that is warned about
    on stderr, naming them, and with `strict` it is an error instead."""
    import pandas as pd

    rows = []
    tasks_seen: set[str] = set()  # tasks with successful runs, with or without `metric`
    all_tasks: set[str] = set()  # every task with a successful run, before --task
    metrics_seen: set[str] = set()
    for path in find_runs_files(paths):
        for record in records.read(path, warn=progress.log):
            if record.get("status") != "ok":
                continue
            all_tasks.add(record["task"])
            if tasks and record["task"] not in tasks:
                continue
            metrics = record.get("metrics") or {}
            tasks_seen.add(record["task"])
            metrics_seen.update(metrics)
            name = metric or record["main_metric"]["name"]
            if name not in metrics:
                continue
            rows.append({
                "model": record["model"]["name"], "regime": records.regime(record),
                "strategy": strategy_label(record), "k": record["k"],
                "task": record["task"], "seed": record["config"]["seed"], "value": 100.0 * metrics[name],
                "dropped": removed_text(record), "parameters": record.get("parameters_after"),
                "layer_scores": record.get("layer_scores"), "run_id": record["run_id"],
                "component": record.get("config", {}).get("component", "layer"),
                "variant": _variant(record),
                "setting": _setting(record.get("config", {})), "code": records.code_identity(record),
                "unlearned": _unlearned(record),
            })
    if not rows and metric and metrics_seen:
        from layerdrop.errors import did_you_mean

        raise UsageError(f"no run in {', '.join(paths)} has the metric '{metric}'{did_you_mean(metric, metrics_seen)}",
                         f"choose one of {', '.join(sorted(metrics_seen))}")
    if not rows and tasks and all_tasks:
        missing = sorted(set(tasks) - all_tasks)
        raise UsageError(f"no runs of task {missing[0] if missing else ', '.join(tasks)} in {', '.join(paths)}",
                         f"choose from {', '.join(sorted(all_tasks))}")
    if not rows:
        raise DataError(f"no successful runs in {', '.join(paths)}", "check the path, or run layerdrop run/sweep first")
    missing = sorted(tasks_seen - {row["task"] for row in rows})
    if missing and metric:
        progress.log(f"warning: {', '.join(missing)} have no '{metric}' metric and are left out of the table "
                     "(and of its macro average)")
    # The same run recorded twice (e.g. --force) counts once: the last record wins.
    frame = pd.DataFrame(rows).drop_duplicates("run_id", keep="last").reset_index(drop=True)
    if regime is not None:
        regimes = sorted(frame["regime"].unique())
        if regime not in regimes:
            from layerdrop.errors import did_you_mean

            raise UsageError(f"no runs of regime '{regime}' in {', '.join(paths)}{did_you_mean(regime, regimes)}",
                             f"choose one of: {'; '.join(regimes)}")
        frame = frame[frame["regime"] == regime].reset_index(drop=True)
    _check_pooling(frame, strict)
    _warn_unlearned(frame)
    return frame


def _check_pooling(frame, strict: bool) -> None:
    """Warn (or with `strict`, refuse) where numbers made differently would be averaged or paired:
    runs of one row and task with different training settings, and rows of one model and regime
    (which are paired with each other) made by different code."""
    import json

    def complain(message: str, fix: str) -> None:
        if strict:
            raise UsageError(message, fix + ", or drop --strict to pool them with a warning")
        progress.log(f"warning: {message}: {fix} (--strict makes this an error)")

    row_keys = ["model", "regime", "strategy", "k", "task"]
    mixed = frame.groupby(row_keys)["setting"].nunique()
    if (mixed > 1).any():
        model, regime, strategy, k, task = mixed[mixed > 1].index[0]
        cell = frame[(frame[row_keys] == [model, regime, strategy, k, task]).all(axis=1)]
        settings = [json.loads(s) for s in cell["setting"].unique()]
        differ = sorted(key for key in set().union(*settings) if len({json.dumps(s.get(key)) for s in settings}) > 1)
        complain(f"runs with different training settings share {int((mixed > 1).sum())} row(s) (e.g. {model} [{regime}] "
                 f"{strategy} K={k} {task}, differing in {', '.join(differ)}); their numbers would be pooled as if they "
                 "were seeds", "report one setting at a time")
    codes = frame.groupby(["model", "regime"])["code"].unique()
    for (model, regime), found in codes.items():
        if len(found) > 1:
            complain(f"the {model} [{regime}] rows were made by different code ({', '.join(sorted(found))}); their "
                     "numbers would be averaged and paired as if the code were one", "report runs of one code version at a time")


def _unlearned(record: dict[str, Any]) -> bool:
    """True when the run's last-epoch training loss is at or above UNLEARNED_SHARE of its blind-answer loss."""
    loss = record.get("train_loss_last_epoch")
    if loss is None:  # records from before the field existed
        return False
    if record.get("train_label_variance") is not None:  # regression: the MSE of answering the mean
        blind = record["train_label_variance"]
    elif "train_label_entropy" in record:
        blind = record["train_label_entropy"]  # None for regression records older than the variance
    else:
        blind = _ln_classes(record)
    return blind is not None and blind > 0 and loss >= UNLEARNED_SHARE * blind


def _ln_classes(record: dict[str, Any]) -> float | None:
    """ln C for records older than train_label_entropy: GLUE tasks read from GLUE files only
    (a custom file's classes are not in the record)."""
    from layerdrop.data.tasks import get_task

    if record.get("config", {}).get("train_file"):
        return None
    try:
        task = get_task(record["task"])
    except LayerdropError:
        return None
    return None if task.is_regression else math.log(task.num_labels)


def _warn_unlearned(frame) -> None:
    stuck = frame[frame["unlearned"]]
    if stuck.empty:
        return
    cells = []
    for (model, task, strategy, k), g in stuck.groupby(["model", "task", "strategy", "k"]):
        seeds = sorted(set(g["seed"]))
        cells.append(f"{model} {task} {strategy} K={k} seed{'s' if len(seeds) > 1 else ''} {','.join(map(str, seeds))}")
    progress.log(f"warning: {len(stuck)} of {len(frame)} runs did not learn (training loss over their last epoch at "
                 f"or above {UNLEARNED_SHARE:.0%} of the entropy of their training labels, ln C for C balanced classes, or of "
                 f"their variance for regression: the loss of an answer that ignores the input), so their scores are chance, "
                 f"not what the model can do: "
                 f"{'; '.join(cells)}")


# Config fields that make two runs different experiments beyond the table's own axes.
# `fast` is one: the regime is part of every row's key.
_AXES = {"model", "task", "strategy", "k", "params", "seed", "data_dir", "device", "trust_remote_code", "eval_batch_size",
         "fast", "component"}


def _setting(config: dict[str, Any]) -> str:
    import json

    from layerdrop.experiments.config import ADDED_LATER

    # Records written before a field existed ran with the value ADDED_LATER gives it: the same setting.
    config = {**ADDED_LATER, **{k: v for k, v in config.items() if not (k in ADDED_LATER and v is None)}}
    return json.dumps({k: v for k, v in sorted(config.items()) if k not in _AXES}, default=str)


@dataclass
class Row:
    model: str
    regime: str  # `records.regime`: how the row's runs were trained
    strategy: str
    k: int
    dropped: str
    tasks: dict[str, tuple[float, float, int]]  # task -> (mean, std, n)
    macro: float | None
    macro_no_wnli: float | None
    parameters: int | None
    delta: float | None = None
    retained: float | None = None
    paired: dict[str, Any] = field(default_factory=dict)  # mean diff, ci, n seeds, against
    variant: str = ""  # the normalizer and LayerNorm words of the label ("relu attn"), "" for stock ones


def _per_seed_macro(group, tasks: list[str]) -> dict[int, float]:
    """Macro average per seed over `tasks`, for seeds that have every task."""
    by_seed = group.groupby("seed")
    out = {}
    for seed, g in by_seed:
        values = g.groupby("task")["value"].mean()
        if all(t in values for t in tasks):
            out[int(seed)] = float(sum(values[t] for t in tasks) / len(tasks))
    return out


def build(frame, against: str | None = None, level: float = 0.95) -> tuple[list[Row], list[str]]:
    """Aggregate into rows (model, then full model first, then strategies by name, then K), each
    paired by seed with the full model of its regime (or `against`), with a `level` interval."""
    from layerdrop.reporting.intervals import paired_interval

    tasks = sorted(frame["task"].unique())
    no_wnli = [t for t in tasks if t != "wnli"] or tasks
    rows: list[Row] = []
    macros: dict[tuple, dict[int, float]] = {}
    for (model, regime, strategy, k), group in frame.groupby(["model", "regime", "strategy", "k"], sort=False):
        stats = {}
        for task, g in group.groupby("task"):
            values = g["value"].tolist()
            std = float(g["value"].std(ddof=1)) if len(values) > 1 else math.nan
            stats[task] = (float(sum(values) / len(values)), std, len(values))
        complete = all(t in stats for t in tasks)
        dropped = group["dropped"].unique()
        rows.append(Row(
            model, regime, strategy, int(k), dropped[0] if len(dropped) == 1 else "varies by seed", stats,
            sum(stats[t][0] for t in tasks) / len(tasks) if complete else None,
            sum(stats[t][0] for t in no_wnli) / len(no_wnli) if all(t in stats for t in no_wnli) else None,
            round(group["parameters"].mean()) if group["parameters"].notna().any() else None,
            variant=group["variant"].iloc[0],
        ))
        macros[(model, regime, strategy, int(k))] = _per_seed_macro(group, tasks)
    order = {FULL_MODEL: ""}
    rows.sort(key=lambda r: (r.model, r.regime != "stock", r.regime, order.get(r.strategy, r.strategy), r.k))
    for row in rows:
        # A row is compared only with runs trained the same way: its own regime's full model.
        base = next((r for r in rows if (r.model, r.regime, r.strategy) == (row.model, row.regime, FULL_MODEL)), None)
        if base and base.macro is not None and row.macro is not None:
            row.delta = row.macro - base.macro
            row.retained = 100.0 * row.macro / base.macro if base.macro else None
        key = (row.model, row.regime, row.strategy, row.k)
        if against is None:
            ref_key = (row.model, row.regime, FULL_MODEL, 0) if base else None
        else:
            ref_key = next(((r.model, r.regime, r.strategy, r.k) for r in rows if (r.model, r.regime) == (row.model, row.regime)
                            and r.k == row.k and r.strategy == against), None)
        if ref_key and ref_key != key:
            mine, ref = macros[key], macros[ref_key]
            seeds = sorted(set(mine) & set(ref))
            # A seed whose metric is undefined (a constant prediction's correlation) has no difference.
            diffs = [mine[s] - ref[s] for s in seeds if math.isfinite(mine[s] - ref[s])]
            if diffs:
                interval = paired_interval(diffs, level)
                row.paired = {"against": ref_key[2], "diff": interval.mean, "ci": (interval.low, interval.high),
                              "n": interval.n, "method": interval.method, "level": level}
    return rows, tasks


def notes(rows: list[Row], frame, level: float = 0.95) -> list[str]:
    """What a reader needs beside the table: how its intervals were made, how many it holds (one
    in twenty 95% intervals excludes 0 by chance alone), runs that did not learn, and regimes."""
    from layerdrop.reporting.intervals import NO_INTERVAL, describe

    paired = [r.paired for r in rows if r.paired]
    out = []
    if paired:
        against = paired[0]["against"]
        where = "of the same regime" if against == FULL_MODEL else "of the same regime and K"
        out.append(f"Paired Δ: mean over seeds of (row − {against} {where}, same seed), macro average, "
                   f"in points. {describe({p['method'] for p in paired}, level)}.")
        count = sum(p["method"] != NO_INTERVAL for p in paired)
        if count:
            out.append(f"This table holds {count} interval{'s' if count > 1 else ''}: if no row truly differed, about "
                       f"{count * (1 - level):.1f} of them would still exclude 0 by chance.")
    stuck = frame[frame["unlearned"]]
    if len(stuck):
        cells = len(stuck.groupby(["model", "regime", "task", "strategy", "k"]))
        out.append(f"{len(stuck)} of {len(frame)} runs, in {cells} cell{'s' if cells > 1 else ''}, did not learn "
                   f"(last-epoch training loss at or above {UNLEARNED_SHARE:.0%} of an input-blind answer's); "
                   "stderr names them.")
    regimes = sorted(frame["regime"].unique())
    if len(regimes) == 1:
        out.append(f"Training regime of every row: {regimes[0]}.")
    else:
        against = paired[0]["against"] if paired else "full model"
        out.append(f"Rows come from {len(regimes)} training regimes ({'; '.join(regimes)}), shown after the model "
                   f"name; each row is compared with the {against} row of its own regime.")
    return out


def check_against(frame, against: str | None) -> None:
    if against is None:
        return
    if against == FULL_MODEL:
        raise UsageError("--against pairs each row with a strategy at the same K, and the full model is the default",
                         "omit --against to pair with the full model")
    labels = sorted(set(frame["strategy"]) - {FULL_MODEL})
    if not labels:
        raise UsageError(f"--against '{against}': these runs hold only the full model", "omit --against")
    if against not in labels:
        from layerdrop.errors import did_you_mean

        raise UsageError(f"--against '{against}' is not a strategy in these runs{did_you_mean(against, labels)}",
                         f"choose one of {', '.join(labels)}")
