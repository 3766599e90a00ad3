from __future__ import annotations

from typing import Annotated, Optional

import typer

from layerdrop.cli import common


def report(
    paths: Annotated[list[str], typer.Argument(help="Sweep folders (results/<name>) or runs files (.jsonl).")],
    metric: Annotated[Optional[str], typer.Option("--metric", help="A sub-metric (e.g. f1, accuracy) instead of each task's main metric.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="md, csv, latex, html (one self-contained page: table, notes, figures inlined as SVG, analyses) or json.")] = "md",
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Write the table to this file instead of stdout.")] = None,
    against: Annotated[Optional[str], typer.Option("--against", help="Pair each row with this strategy at the same K, instead of the full model.")] = None,
    plots: Annotated[Optional[str], typer.Option("--plots", help="Write PNG and SVG figures into this folder.")] = None,
    compare_paper: Annotated[bool, typer.Option("--compare-paper", help="Add Sajjad et al.'s published numbers where model (alias such as bert-base, its hub id, or a folder named like it), strategy and K match.")] = False,
    ci_level: Annotated[float, typer.Option("--ci-level", help="Confidence level of the paired intervals (0 < level < 1).")] = 0.95,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse, instead of warning, to pool runs of one row made with different settings or code.")] = False,
    task: Annotated[Optional[list[str]], typer.Option("--task", "-t", help="Only runs of this task, repeatable (the macro average is then over these).")] = None,
    regime: Annotated[Optional[str], typer.Option("--regime", help="Only runs of this training regime, as the table's notes name it: stock, 'fast: compact_vocab', pre-0.2, ... One table per regime.")] = None,
) -> None:
    """Turn run records into a paper-style table (and figures), with any `layerdrop analyze` records found.

    Rows are model x training regime x strategy x K, with the dropped layers; columns are each
    task's main metric (%) as mean ± std (n seeds), the macro average with and without WNLI, the
    change against the full model (K=0) of the same regime, the share of its score retained, and
    parameters. "paired Δ" is the mean difference against that full model (or --against), paired
    by seed, with a Student-t interval (n < 10 seeds) or a bootstrap one (n >= 10): an interval
    that spans 0 does not show a difference. Notes under the table name the method and count the
    intervals. Runs whose last-epoch training loss stayed at or above 97% of an input-blind
    answer's (the entropy of the training labels, or their variance for regression) are named on
    stderr: they did not learn.

    Examples:

        layerdrop report results/my-sweep

        layerdrop report results/my-sweep --format latex --output table.tex --plots figures/

        layerdrop report results/my-sweep --format html --output report.html

        layerdrop report results/my-sweep --against top --metric f1

        layerdrop report results/my-sweep --ci-level 0.99 --strict --regime stock
    """
    from pathlib import Path

    from layerdrop.reporting import report as reports
    from layerdrop.errors import UsageError
    from layerdrop.reporting.formats import FORMATS, published, render

    if fmt not in FORMATS:
        raise UsageError(f"unknown --format '{fmt}'", f"choose one of {', '.join(FORMATS)}")
    if not 0 < ci_level < 1:
        raise UsageError(f"--ci-level {ci_level} is outside (0, 1)", "pass e.g. --ci-level 0.95")
    from layerdrop.errors import DataError

    if plots is not None:
        from layerdrop.outputs import check_output_dir

        check_output_dir(plots, overwrite=True, flag="--plots")
    analyses = [record for record in reports.analysis_records(paths) if not task or record["task"] in task]
    try:
        frame = reports.load(paths, metric, strict=strict, regime=regime, tasks=tuple(task or ()))
    except DataError:
        if not analyses or metric or against or regime or compare_paper or task:  # flags about runs need runs
            raise
        frame = None  # analyses only: no run table
    rows, tasks, notes, paper = [], [], [], None
    if frame is not None:
        reports.check_against(frame, against)
        rows, tasks = reports.build(frame, against, level=ci_level)
        paper = published() if compare_paper else None
        if paper is not None and not any(r.model in paper["top"] or r.model in paper["seven_task_mean"] for r in rows):
            common.err.print("note: the paper has no numbers for these models (it used bert-base, xlnet-base, roberta-base, distilbert-base)",
                             highlight=False, markup=False)
        notes = reports.notes(rows, frame, ci_level)
    if fmt == "html":
        from layerdrop.reporting.page import report_page

        text = report_page(paths, rows, tasks, frame, paper, notes, analyses, ci_level, metric)
    elif frame is None:
        if fmt != "md":
            raise UsageError(f"{', '.join(paths)} hold only analyses, which --format {fmt} does not show",
                             "use --format md or html")
        text = ""
    else:
        text = render(rows, tasks, fmt, paper, notes, level=ci_level)
    if fmt == "md" and analyses:
        from layerdrop.reporting.analyses import markdown

        text += "\n## Analyses\n\n" + "\n".join(markdown(record) for record in analyses)
    if output:
        target = Path(output)
        if target.is_dir():
            raise UsageError(f"--output {output} is a folder", "pass a file path such as table.md")
        if any(target.resolve() == p.resolve() for p in reports.find_runs_files(paths)):
            raise UsageError(f"--output {output} is one of the runs files being read", "write the table somewhere else")
        target.parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text, encoding="utf-8")
        common.err.print(f"wrote {output}", highlight=False, markup=False)
    else:
        print(text, end="")
    if plots:
        from layerdrop.reporting.analyses import write_analysis_plots
        from layerdrop.reporting.plots import write_plots

        written = write_plots(rows, tasks, frame, plots, metric or "main metric") if frame is not None else []
        for record in analyses:
            written += write_analysis_plots(record, plots)
        common.err.print(f"wrote {len(written)} figures to {plots}", highlight=False, markup=False)
