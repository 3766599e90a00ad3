"""`layerdrop analyze cka|probe|drift`: what dropping or editing changed inside a model."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from layerdrop.cli import common

DATA = "Data"
ANALYSIS = "Analysis"

analyze_app = typer.Typer(
    name="analyze", no_args_is_help=True, rich_markup_mode="rich",
    help="Compare models inside: CKA between layers, linear probes per layer, drift from a pretrained model.",
)

Against = Annotated[Optional[list[str]], typer.Option("--against", "-a", help="Model(s) to compare with --model, repeatable: a dropped, edited or fine-tuned folder (--save-model output), or any model.", rich_help_panel=common.MODEL)]
Task = Annotated[str, typer.Option("--task", "-t", help="GLUE task (or a name for custom files) whose examples are used.", rich_help_panel=DATA)]
Split = Annotated[str, typer.Option("--split", help="train or validation (the task's dev set).", rich_help_panel=DATA)]
NExamples = Annotated[int, typer.Option("--n-examples", "-n", help="Examples drawn (seeded) from the split.", rich_help_panel=DATA)]
Seed = Annotated[int, typer.Option("--seed", help="Seed for the sample, probe splits and probing tasks.", rich_help_panel=DATA)]
DataDir = Annotated[Optional[str], typer.Option("--data-dir", envvar="LAYERDROP_GLUE_DIR", help="GLUE folder (original layout or a hub parquet copy); default: the hub.", rich_help_panel=DATA)]
TrainFile = Annotated[Optional[str], typer.Option("--train-file", help="Custom task: training file.", rich_help_panel=DATA)]
ValidationFile = Annotated[Optional[str], typer.Option("--validation-file", help="Custom task: evaluation file.", rich_help_panel=DATA)]
TextColumns = Annotated[Optional[str], typer.Option("--text-columns", help="Custom task: one or two text columns, comma-separated.", rich_help_panel=DATA)]
LabelColumn = Annotated[str, typer.Option("--label-column", help="Custom task: the label column.", rich_help_panel=DATA)]
MaxSeqLength = Annotated[int, typer.Option("--max-seq-length", help="Tokens per example (longer ones are truncated).", rich_help_panel=DATA)]
Representation = Annotated[str, typer.Option("--representation", help="cls (the summary token), mean (over real tokens) or tokens (every real token); padding never counts.", rich_help_panel=ANALYSIS)]
BatchSize = Annotated[int, typer.Option("--batch-size", help="Examples per forward pass.", rich_help_panel=ANALYSIS)]
Device = Annotated[str, typer.Option("--device", help="auto (CUDA if available), cpu, cuda, cuda:N, mps.", rich_help_panel=ANALYSIS)]
Results = Annotated[str, typer.Option("--results", help="Append the analysis record (one JSON line) to this file.", rich_help_panel=common.OUTPUT)]
Force = Annotated[bool, typer.Option("--force", help="Compute again even if this exact analysis is already in --results.", rich_help_panel=common.OUTPUT)]
Output = Annotated[Optional[str], typer.Option("--output", "-o", help="Write the numbers (csv, or json with --json) to this file instead of stdout.", rich_help_panel=common.OUTPUT)]
Plots = Annotated[Optional[str], typer.Option("--plots", help="Write the figure(s) as PNG and SVG into this folder.", rich_help_panel=common.OUTPUT)]


def _run(args: dict, json: bool, output: str | None, plots: str | None, results: str, force: bool) -> None:
    from layerdrop.experiments.analyses import AnalysisConfig, run_analysis
    from layerdrop.outputs import check_output_file
    from layerdrop.reporting.analyses import numbers_csv

    text_columns = args.pop("text_columns")
    columns = tuple(c.strip() for c in text_columns.split(",") if c.strip()) if text_columns else ()
    cfg = AnalysisConfig(**args, text_columns=columns)
    cfg.validate()
    if output is not None:
        check_output_file(output)
    if plots is not None:
        from layerdrop.outputs import check_output_dir

        check_output_dir(plots, overwrite=True, flag="--plots")  # a file there, or no write access: before any work
    record = run_analysis(cfg, results=results, force=force)
    text = common.json_text(record["result"]) if json else numbers_csv(record)
    if output is not None:
        from layerdrop.outputs import atomic_write

        atomic_write(output, text)
        common.err.print(f"wrote {output}", highlight=False, markup=False)
    else:
        import sys

        sys.stdout.write(text)
    if plots:
        from layerdrop.reporting.analyses import write_analysis_plots

        written = write_analysis_plots(record, plots)
        common.err.print(f"wrote {len(written)} figures to {plots}", highlight=False, markup=False)


@analyze_app.command("cka")
def cka(
    model: common.Model, task: Task, against: Against = None, split: Split = "validation", n_examples: NExamples = 2000,
    seed: Seed = 0, representation: Representation = "cls",
    debiased: Annotated[bool, typer.Option("--debiased", help="Unbiased HSIC estimator (Nguyen, Raghu & Kornblith 2021; needs 4+ examples per minibatch).", rich_help_panel=ANALYSIS)] = False,
    cka_batch: Annotated[int, typer.Option("--cka-batch", help="Rows per HSIC minibatch (HSIC is averaged over minibatches, then CKA taken).", rich_help_panel=ANALYSIS)] = 256,
    data_dir: DataDir = None, train_file: TrainFile = None, validation_file: ValidationFile = None,
    text_columns: TextColumns = None, label_column: LabelColumn = "label", max_seq_length: MaxSeqLength = 128,
    batch_size: BatchSize = 64, device: Device = "auto", trust_remote_code: common.TrustRemoteCode = False,
    results: Results = "results/analyses.jsonl", force: Force = False, output: Output = None, plots: Plots = None,
    json: common.Json = False,
) -> None:
    """Layer x layer linear CKA (Kornblith et al. 2019) between --model and each --against model.

    Rows are --model's hidden states (embeddings, then every layer), columns the other model's, each
    named by its 0-based layer index in the original pretrained stack (a dropped model's kept
    layers keep their indices). Without --against, the model is compared with itself.

    Examples:

        layerdrop analyze cka --model minilm-l6 --against out/minilm-top2 --task sst2 --plots figures/

        layerdrop analyze cka --model out/full-sst2 --against out/ffn3-sst2 --task sst2 --representation mean --debiased
    """
    args = {k: v for k, v in locals().items() if k not in ("json", "output", "plots", "results", "force")}
    _run({"analysis": "cka", **args, "against": tuple(against or ())}, json, output, plots, results, force)


@analyze_app.command("probe")
def probe(
    model: common.Model, task: Task, against: Against = None, split: Split = "validation", n_examples: NExamples = 2000,
    seed: Seed = 0, representation: Representation = "cls",
    probe_task: Annotated[str, typer.Option("--probe-task", help="task (the task's own labels), sentlen, wordcontent or bshift (SentEval's recipes, built offline from the task's sentences).", rich_help_panel=ANALYSIS)] = "task",
    probe_words: Annotated[int, typer.Option("--probe-words", help="wordcontent: how many mid-frequency target words.", rich_help_panel=ANALYSIS)] = 1000,
    test_share: Annotated[float, typer.Option("--test-share", help="Held-out share of the probe's examples.", rich_help_panel=ANALYSIS)] = 0.2,
    data_dir: DataDir = None, train_file: TrainFile = None, validation_file: ValidationFile = None,
    text_columns: TextColumns = None, label_column: LabelColumn = "label", max_seq_length: MaxSeqLength = 128,
    batch_size: BatchSize = 64, device: Device = "auto", trust_remote_code: common.TrustRemoteCode = False,
    results: Results = "results/analyses.jsonl", force: Force = False, output: Output = None, plots: Plots = None,
    json: common.Json = False,
) -> None:
    """Held-out accuracy of a linear probe on every layer, for --model and each --against model.

    Each row also has the majority baseline and a control (the same probe trained on shuffled
    labels): what a layer encodes is the accuracy above the control. With a fine-tuned model and
    --probe-task task this is Sajjad et al.'s per-layer task accuracy (their Fig. 4).

    Examples:

        layerdrop analyze probe --model out/full-sst2 --task sst2 --probe-task task --plots figures/

        layerdrop analyze probe --model minilm-l6 --against out/ffn3-sst2 --task sst2 --probe-task bshift
    """
    args = {k: v for k, v in locals().items() if k not in ("json", "output", "plots", "results", "force")}
    _run({"analysis": "probe", **args, "against": tuple(against or ())}, json, output, plots, results, force)


@analyze_app.command("drift")
def drift(
    model: common.Model, task: Task, against: Against = None, split: Split = "validation", n_examples: NExamples = 2000,
    seed: Seed = 0, representation: Representation = "cls",
    data_dir: DataDir = None, train_file: TrainFile = None, validation_file: ValidationFile = None,
    text_columns: TextColumns = None, label_column: LabelColumn = "label", max_seq_length: MaxSeqLength = 128,
    batch_size: BatchSize = 64, device: Device = "auto", trust_remote_code: common.TrustRemoteCode = False,
    results: Results = "results/analyses.jsonl", force: Force = False, output: Output = None, plots: Plots = None,
    json: common.Json = False,
) -> None:
    """Per layer, the mean cosine similarity of the summary token between a pretrained --model and a
    model derived from it (--against: fine-tuned, dropped or edited), as in Sajjad et al.'s Fig. 5.

    Layers are matched by their original index; the --against model must come from --model (its
    saved config says so).

    Examples:

        layerdrop analyze drift --model minilm-l6 --against out/full-sst2 --task sst2 --plots figures/
    """
    args = {k: v for k, v in locals().items() if k not in ("json", "output", "plots", "results", "force")}
    _run({"analysis": "drift", **args, "against": tuple(against or ())}, json, output, plots, results, force)
