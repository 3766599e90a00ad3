"""`run(cfg) -> record`: load, select layers, drop, fine-tune, evaluate, record.

The paper's protocol: layers are dropped from the *pretrained* model, then the smaller model is
fine-tuned. Everything a sweep can share (data, tokenized splits, the pretrained model, layer
scores) lives in a `Resources` cache, so a sweep pays for each once.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layerdrop import progress
from layerdrop.errors import LayerdropError, RunFailed
from layerdrop.experiments import records
from layerdrop.experiments.config import RunConfig, config_dict
from layerdrop.experiments.resources import Resources, TaskData
from layerdrop.experiments.scores import score_provider
from layerdrop.models import loading as models
from layerdrop.models.architectures import family_of, n_layers_of
from layerdrop.selection import registry
from layerdrop.selection.dropping import provenance, select_layers
from layerdrop.training import hardware


@dataclass(frozen=True)
class LayerChoice:
    """What `choose_layers` resolved: the model's source and config, and the checked selection."""

    source: Any
    model_config: Any
    selection: Any


@dataclass(frozen=True)
class Prepared(LayerChoice):
    """Everything a run needs before training: the layer choice and the task's data."""

    data: TaskData


def choose_layers(cfg: RunConfig, cache: Resources, device: str = "cpu") -> LayerChoice:
    """The run's checked layer selection, from the model's config alone unless the strategy
    asks for layer scores (then the task's data and the pretrained weights load).

    Cheap checks first, so a typo fails before data or weights load: the task name, the model's
    config, then the selection. `layerdrop plan --task` stops here.
    """
    from layerdrop.data.tasks import get_task

    if cfg.train_file is None:
        get_task(cfg.task)
    source = models.resolve(cfg.model)
    model_config = cache.model_config(source, cfg.trust_remote_code)
    family_of(model_config)
    selection = select_layers(cfg.drop_config(), n_layers=n_layers_of(model_config), model_config=model_config,
                              score_provider=score_provider(cache, cfg, source, device))
    return LayerChoice(source, model_config, selection)


# Training examples whose text checks that the tokenizer can read the task (`check_tokenizer`).
TOKENIZER_PROBE = 200


def prepare(cfg: RunConfig, cache: Resources, device: str = "cpu") -> Prepared:
    """Everything before training, each a check of the user's inputs: the model's config, the layer
    selection, the data, a tokenizer that reads it, and the weights. A failure here is a usage
    error (exit 2) that leaves no record, so a damaged checkpoint never becomes a `failed` run."""
    from layerdrop.models.loading import check_tokenizer

    choice = choose_layers(cfg, cache, device)
    data = cache.task_data(cfg)
    tokenizer = cache.tokenizer(choice.source, cfg.trust_remote_code)
    texts = [text for column in data.splits["train"].texts for text in column[:TOKENIZER_PROBE]]
    check_tokenizer(tokenizer, choice.source.name, texts)
    cache.pretrained(cfg, choice.source, data.task)  # loads the weights once; the run takes them over
    return Prepared(choice.source, choice.model_config, choice.selection, data)


def run(cfg: RunConfig, results: str | Path | None = records.DEFAULT_RESULTS, save_model: str | Path | None = None,
        resources: Resources | None = None, overwrite: bool = False, reuse: bool = False,
        record_setup_failure: bool = False, accelerator=None) -> dict[str, Any]:
    """Run one experiment and append its record to `results` (None: don't write).

    Usage errors (bad flags, data, names) raise before anything is written. Once training has
    started, a failure or interrupt is recorded with its status and re-raised. A sweep, which has
    checked names and data up front, sets `record_setup_failure`: then a failure while preparing
    the cell (loading, scoring layers) is recorded too, as a `failed` record with the config and
    the error but no layers or metrics, so the results file says what happened. With `reuse`, a
    run whose twin is already in `results` (same layers dropped, everything else that training
    sees equal; see `records.training_identity`) copies the twin's outcome instead of training.
    A sweep passes its `resources` cache and its one `accelerator`; a single run makes its own.
    """
    cfg.validate()
    registry.plan(cfg.strategy, cfg.params)  # strategy and params checked before anything loads
    if results is not None:
        records.check_writable(results)
    if save_model is not None:
        from layerdrop.outputs import check_output_dir

        check_output_dir(save_model, overwrite, flag="--save-model")
    if accelerator is None:
        from layerdrop.training.loop import make_accelerator

        accelerator = make_accelerator(cfg)  # an unavailable --device fails here, before anything loads
    cache = resources or Resources()
    t0 = time.perf_counter()
    # The fields a record has even when the cell never got to train.
    record: dict[str, Any] = {
        "schema_version": records.SCHEMA_VERSION, "run_id": cfg.run_id, "status": "running", "error": None,
        "config": config_dict(cfg), "task": cfg.task, "strategy": cfg.strategy, "k": cfg.k,
        "started_at": records.now(), "versions": records.library_versions(),
    }
    preparing = True  # while True, a failure is a usage error: recorded only for a sweep
    try:
        prepared = prepare(cfg, cache, accelerator.device)
        record.update(_described(prepared))
        record.update(device=str(accelerator.device), precision=cfg.precision, num_processes=accelerator.num_processes)
        # Not under `accelerate launch`: every process would have to reach the same decision at once.
        reusable = reuse and results is not None and save_model is None and accelerator.num_processes == 1
        twin = records.find_twin(results, record) if reusable else None
        if twin is not None:
            return _reuse(record, twin)
        preparing = False
        progress.log(f"fine-tuning on {record['train_examples']:,} {prepared.data.task.name} examples for {cfg.epochs:g} "
                     f"epoch{'s' if cfg.epochs != 1 else ''} ({'--fast' if cfg.fast else 'stock'})")
        _train_and_evaluate(record, cfg, cache, accelerator, prepared, keep_pristine=resources is not None,
                            save_model=save_model)
        record["status"] = "ok"
    except KeyboardInterrupt:
        if not preparing or record_setup_failure:
            record.update(status="interrupted", error="interrupted (SIGINT/SIGTERM)")
        raise
    except Exception as exc:
        reason = str(exc) if isinstance(exc, LayerdropError) else f"{type(exc).__name__}: {exc}"
        if preparing and isinstance(exc, LayerdropError):  # the user's input: no record, unless a sweep asks
            if record_setup_failure:
                record.update(status="failed", error=f"before training: {reason}")
            raise
        # Anything else (out of memory while loading the weights, a bug) is a failed run, recorded.
        record.update(status="failed", error=f"before training: {reason}" if preparing else reason)
        if isinstance(exc, LayerdropError):
            raise
        record["traceback"] = traceback.format_exc(limit=8)
        raise RunFailed(f"run {cfg.run_id} failed: {reason}", "see the record's traceback field, or rerun with --debug") from exc
    finally:
        record.update(ended_at=records.now(), total_seconds=round(time.perf_counter() - t0, 3), environment=records.environment())
        # Under `accelerate launch` every process runs this; one record per run, from the main one.
        if results is not None and record["status"] != "running" and accelerator.is_main_process:
            records.append(results, record)
        accelerator.free_memory()  # drop the Accelerator's references to this run's model and optimizer
    return record


def _described(prepared: Prepared) -> dict[str, Any]:
    """What the record says about the model, data and layers, once `prepare` has resolved them."""
    source, model_config, selection = prepared.source, prepared.model_config, prepared.selection
    task, splits = prepared.data.task, prepared.data.splits
    return {
        "model": {"name": source.name, "location": source.location if source.kind == "hub" else source.name,
                  "kind": source.kind, "family": model_config.model_type},
        "task": task.name,
        "data": {name: split.source for name, split in splits.items()},
        **_layers_described(selection, n_layers_of(model_config)),
        "layer_scores": selection.layer_scores,
        "train_examples": len(splits["train"]),
        "train_label_entropy": _label_entropy(task, splits["train"].labels),
        "train_label_variance": _label_variance(task, splits["train"].labels),
        "eval_examples": {name: len(splits[name]) for name in task.eval_splits},
    }


def _layers_described(selection, n_layers: int) -> dict[str, Any]:
    """Which layers go (`dropped_layers`, whole layers) and which lose a sublayer
    (`removed_sublayers`), as 0-based positions in the pretrained stack."""
    whole = selection.component == "layer"
    removed = {part: list(selection.dropped_layers) if part == selection.component else [] for part in ("attention", "ffn")}
    return {
        "n_layers_before": n_layers,
        "n_layers_after": n_layers - selection.k if whole else n_layers,
        "strategy": selection.strategy,
        "params": selection.params,
        "component": selection.component,
        "k": selection.k,
        "dropped_layers": list(selection.dropped_layers) if whole else [],
        "kept_layers": list(selection.kept_layers) if whole else list(range(n_layers)),
        "removed_sublayers": removed,
    }


def _label_entropy(task, labels) -> float | None:
    """Entropy (nats) of the training labels: the loss of a model that ignores its input and
    answers with the label mix. ln C for C balanced classes, less for imbalanced ones (MRPC 0.63)."""
    if task.is_regression or not labels:
        return None
    import math
    from collections import Counter

    n = len(labels)
    return round(-sum(c / n * math.log(c / n) for c in Counter(labels).values()), 6)


def _label_variance(task, labels) -> float | None:
    """Variance of the training labels of a regression task: the mean squared error of a model
    that ignores its input and answers with their mean (None for classification)."""
    if not task.is_regression or not labels:
        return None
    import statistics

    return round(statistics.pvariance([float(label) for label in labels]), 6)


def _train_and_evaluate(record: dict[str, Any], cfg: RunConfig, cache: Resources, accelerator, prepared: Prepared,
                        keep_pristine: bool, save_model) -> None:
    """Drop, fine-tune and evaluate, filling `record` as each step finishes (so a failure keeps
    what was measured before it)."""
    source, selection, task, splits = prepared.source, prepared.selection, prepared.data.task, prepared.data.splits
    model = cache.fresh_model(cfg, source, task, keep_pristine=keep_pristine)
    record["parameters_before"] = _count(model)
    from layerdrop.models.components import edit_model

    edit_model(model, cfg.component, selection.dropped_layers, cfg.attention, cfg.drop_layernorm,
               provenance(cfg.drop_config(), source, selection))
    recorded = getattr(model.config, "layerdrop", None) or {}
    edits = recorded.get("edits") or {}
    # Positions in the input model's stack, like dropped_layers and removed_sublayers.
    original = list(selection.kept_layers) if selection.component == "layer" else list(range(n_layers_of(model.config)))
    norms = {which: [original[i] for i in layers] for which, layers in edits.get("removed_layernorms", {}).items()}
    record.update(parameters_after=_count(model), attention=edits.get("attention", "softmax"),
                  removed_layernorms=norms or {"attention": [], "ffn": []})
    encoded = {name: cache.encoded(cfg, source, name) for name in splits}
    from layerdrop.training.loop import fine_tune, predict

    hardware.reset_peak_memory(accelerator.device)
    stats = fine_tune(model, encoded["train"], cfg, accelerator, task.is_regression)
    record.update(train_seconds=round(stats.seconds, 3), train_steps=stats.steps, final_train_loss=stats.final_loss,
                  train_loss_last_epoch=round(stats.last_epoch_loss, 6),
                  train_loss_by_epoch=[round(loss, 6) for loss in stats.epoch_losses],
                  fast_paths=list(stats.fast_paths),  # as the paths reported it, after they ran
                  fast_skipped=stats.fast_skipped,  # under --fast, each path that stood down, and why
                  trained_embedding_rows=stats.embedding_rows,
                  throughput=_throughput(stats, model, record["parameters_after"], accelerator, cfg),
                  memory=hardware.peak_memory(accelerator.device))
    t_eval = time.perf_counter()
    from layerdrop.data.metrics import compute_metrics, main_metric_value

    outputs = {name: (predict(model, encoded[name], cfg, accelerator, task.is_regression, label=f"eval {name}"),
                      list(splits[name].labels)) for name in task.eval_splits}
    metrics = compute_metrics(task, outputs)
    record.update(eval_seconds=round(time.perf_counter() - t_eval, 3), metrics=metrics,
                  main_metric={"name": task.main_metric, "value": main_metric_value(task, metrics)})
    if save_model is not None and accelerator.is_main_process:
        _save(accelerator.unwrap_model(model), cache.tokenizer(source, cfg.trust_remote_code), save_model, cfg, task)


# What a reused record takes from its twin: what the training produced. Not the timings,
# throughput or memory: this cell did not train, so it has none of its own to report.
OUTCOME_FIELDS = ("parameters_before", "parameters_after", "attention", "removed_layernorms", "train_steps", "final_train_loss", "train_loss_last_epoch",
                  "train_loss_by_epoch", "fast_paths", "fast_skipped", "trained_embedding_rows", "metrics",
                  "main_metric")


def _reuse(record: dict[str, Any], twin: dict[str, Any]) -> dict[str, Any]:
    """Give this cell its twin's outcome: the same model trained the same way, so the same
    numbers (bit for bit on CPU, where the twins of the reference sweeps matched exactly)."""
    origin = twin.get("reused_from") or twin["run_id"]
    record.update({field: twin[field] for field in OUTCOME_FIELDS if field in twin}, status="ok", reused_from=origin)
    progress.log(f"same layers, seed and settings as run {origin}: reusing its result (--no-reuse trains it again)")
    return record


def _throughput(stats, model, n_parameters: int, accelerator, cfg: RunConfig) -> dict[str, float]:
    """Training speed, and the achieved FLOP/s as a share of this machine's measured matmul rate.

    FLOPs count real tokens only (`layerdrop.training.flops`), so time spent on padding lowers the figure.
    """
    import torch

    from layerdrop.training.flops import embedding_parameters, training_flops_from_counts

    model = accelerator.unwrap_model(model)
    non_embedding = n_parameters - embedding_parameters(model)
    # Q K^T and A V only in the layers that still attend.
    removed = ((getattr(model.config, "layerdrop", None) or {}).get("edits") or {}).get("removed_sublayers", {})
    attending = n_layers_of(model.config) - len(removed.get("attention", []))
    flops = training_flops_from_counts(non_embedding, attending, model.config.hidden_size,
                                       stats.tokens, stats.sum_squared_lengths)
    achieved = flops / stats.seconds / 1e9 if stats.seconds else 0.0
    # The peak in the precision the matmuls ran in: bf16 autocast multiplies in bf16.
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.precision, torch.float32)
    # One device's rate times the processes: under `accelerate launch` the tokens are everyone's.
    peak = hardware.matmul_peak_gflops(accelerator.device, dtype) * accelerator.num_processes
    return {"examples_per_second": round(stats.examples_per_second, 2),
            "tokens_per_second": round(stats.tokens_per_second, 1),
            "train_gflops_per_second": _significant(achieved),
            "matmul_peak_gflops_per_second": _significant(peak),
            "utilization": _significant(achieved / peak) if peak else None}


def _significant(value: float, digits: int = 4) -> float:
    """Rounded to significant digits, so a tiny test model's 0.00012 does not become 0.0."""
    return float(f"{value:.{digits}g}")


def _count(model) -> int:
    from layerdrop.models.surgery import count_parameters

    return count_parameters(model)


def _save(model, tokenizer, path, cfg: RunConfig, task) -> None:
    from layerdrop.models.components import save_pretrained
    from layerdrop.outputs import atomic_dir

    model.config.layerdrop = {**(getattr(model.config, "layerdrop", None) or {}), "fine_tuned_on": task.name,
                              "fine_tune_config": config_dict(cfg)}
    if task.labels:
        model.config.id2label = dict(enumerate(task.labels))
        model.config.label2id = {label: i for i, label in enumerate(task.labels)}
    with atomic_dir(Path(path)) as tmp:
        save_pretrained(model, tokenizer, tmp)
    progress.log(f"saved the fine-tuned model to {path}")

