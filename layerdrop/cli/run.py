from __future__ import annotations

from typing import Annotated, Optional

import typer

from layerdrop.cli import common, training

DATA = training.DATA


def run(
    model: common.Model,
    task: Annotated[Optional[str], typer.Option("--task", "-t", help="GLUE task: cola sst2 mrpc stsb qqp mnli qnli rte wnli (or a name for custom files).", rich_help_panel=DATA)] = None,
    strategy: common.Strategy = None,
    k: common.K = None,
    param: common.Params = None,
    layers: common.Layers = None,
    component: common.Component = "layer",
    attention: common.Attention = "softmax",
    drop_layernorm: common.DropLayernorm = None,
    seed: common.Seed = 42,
    data_dir: Annotated[Optional[str], training.option("data_dir", envvar="LAYERDROP_GLUE_DIR")] = None,
    train_file: Annotated[Optional[str], typer.Option("--train-file", help="Custom task: training file (csv, tsv, json, jsonl).", rich_help_panel=DATA)] = None,
    validation_file: Annotated[Optional[str], typer.Option("--validation-file", help="Custom task: evaluation file.", rich_help_panel=DATA)] = None,
    text_columns: Annotated[Optional[str], typer.Option("--text-columns", help="Custom task: one or two text columns, comma-separated.", rich_help_panel=DATA)] = None,
    label_column: Annotated[str, typer.Option("--label-column", help="Custom task: the label column.", rich_help_panel=DATA)] = "label",
    regression: Annotated[Optional[bool], typer.Option("--regression/--classification", help="Custom task: force regression or classification (default: regression when labels are non-integer numbers).", rich_help_panel=DATA)] = None,
    max_train_samples: Annotated[Optional[int], training.option("max_train_samples")] = None,
    max_eval_samples: Annotated[Optional[int], training.option("max_eval_samples")] = None,
    epochs: Annotated[float, training.option("epochs")] = 3.0,
    learning_rate: Annotated[float, training.option("learning_rate")] = 2e-5,
    batch_size: Annotated[int, training.option("batch_size")] = 32,
    eval_batch_size: Annotated[int, training.option("eval_batch_size")] = 128,
    max_seq_length: Annotated[int, training.option("max_seq_length")] = 128,
    weight_decay: Annotated[float, training.option("weight_decay")] = 0.0,
    warmup_ratio: Annotated[float, training.option("warmup_ratio")] = 0.0,
    max_grad_norm: Annotated[float, training.option("max_grad_norm")] = 1.0,
    optimizer: Annotated[str, training.option("optimizer")] = "adamw",
    lr_scheduler: Annotated[str, training.option("lr_scheduler")] = "linear",
    group_by_length: Annotated[bool, training.option("group_by_length")] = True,
    length_group_batches: Annotated[int, training.option("length_group_batches")] = 8,
    device: Annotated[str, training.option("device")] = "auto",
    precision: Annotated[str, training.option("precision")] = "fp32",
    fast: Annotated[bool, training.option("fast")] = False,
    trust_remote_code: common.TrustRemoteCode = False,
    results: Annotated[str, typer.Option("--results", help="Append the run record (one JSON line) to this file.", rich_help_panel=common.OUTPUT)] = "results/runs.jsonl",
    save_model: Annotated[Optional[str], typer.Option("--save-model", help="Save the fine-tuned smaller model and tokenizer here.", rich_help_panel=common.OUTPUT)] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a non-empty --save-model folder.", rich_help_panel=common.OUTPUT)] = False,
    json: common.Json = False,
) -> None:
    """Drop K layers of a pretrained model, fine-tune it on a task, evaluate, and record the run.

    Follows Sajjad et al. (2004.03844): drop from the pretrained model, then fine-tune; evaluate on
    the dev set with the official GLUE metrics. --k 0 runs the full model, the baseline. The record
    (config, dropped layers, metrics, timings, versions) is appended to --results as one JSON line.

    Examples:

        layerdrop run --model bert-base --strategy top --k 4 --task rte

        layerdrop run --model minilm-l6 --task sst2 --k 2 --data-dir ../glue --max-train-samples 2000 --lr 1e-4

        layerdrop run --model roberta-base --task mrpc --strategy contribution --param threshold=0.95

        layerdrop run --model bert-base --task sst2 --k 4 --device cuda --precision bf16 --fast

        layerdrop run --model minilm-l6 --task sst2 --component ffn --strategy bottom --k 3

        layerdrop run --model minilm-l6 --task sst2 --k 0 --attention relu --drop-layernorm attention
    """
    from layerdrop import interrupts
    from layerdrop.experiments.config import RunConfig
    from layerdrop.errors import UsageError
    from layerdrop.experiments.runner import run as run_experiment

    if task is None and train_file is None:
        raise UsageError("run needs --task", "pass a GLUE task such as --task rte, or --train-file/--validation-file")
    strategy, params = common.strategy_and_params(strategy, param, layers)
    columns = tuple(c.strip() for c in text_columns.split(",") if c.strip()) if text_columns else ()
    cfg = RunConfig(
        model=model, task=task or "custom", strategy=strategy, k=k, params=params, component=component,
        attention=attention, drop_layernorm=drop_layernorm, seed=seed, data_dir=data_dir,
        train_file=train_file, validation_file=validation_file, text_columns=columns, label_column=label_column,
        regression=regression, max_train_samples=max_train_samples, max_eval_samples=max_eval_samples, epochs=epochs,
        learning_rate=learning_rate, batch_size=batch_size, eval_batch_size=eval_batch_size,
        max_seq_length=max_seq_length, weight_decay=weight_decay, warmup_ratio=warmup_ratio,
        max_grad_norm=max_grad_norm, optimizer=optimizer, lr_scheduler=lr_scheduler, group_by_length=group_by_length,
        length_group_batches=length_group_batches, device=device, precision=precision, fast=fast,
        trust_remote_code=trust_remote_code,
    )
    interrupts.install()  # SIGTERM like Ctrl-C: the run is recorded as interrupted, exit 130
    record = run_experiment(cfg, results=results, save_model=save_model, overwrite=overwrite)
    if json:
        common.print_json(record)
        return
    common.out.print(common.run_table([record]))
