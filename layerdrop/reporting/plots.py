"""Figures for papers: score against K per strategy, per-task panels, score against parameters
left (layer and sublayer removal side by side), contribution heatmaps.

Each figure is written as PNG (for READMEs) and SVG (for papers).
"""

from __future__ import annotations

from pathlib import Path

from layerdrop.reporting.report import FULL_MODEL, Row


def save_figure(fig, folder: Path, stem: str) -> list[Path]:
    import matplotlib

    written = []
    # The same figure gives the same bytes: an SVG otherwise carries the time it was written and
    # random clip-path ids, so regenerating committed figures would change every file.
    with matplotlib.rc_context({"svg.hashsalt": "layerdrop"}):
        for ext in ("png", "svg"):
            path = folder / f"{stem}.{ext}"
            fig.savefig(path, dpi=150, bbox_inches="tight", metadata={"Date": None} if ext == "svg" else None)
            written.append(path)
    return written


def _start(rows: list[Row], strategy: str) -> Row | None:
    """Where a strategy's line starts at K = 0: the K = 0 row of its own variant (`top relu attn`
    starts at `relu attn`), else the full model."""
    variant = next((r.variant for r in rows if r.strategy == strategy), "")
    own = next((r for r in rows if r.k == 0 and r.variant == variant and r.strategy != FULL_MODEL), None) if variant else None
    return own or next((r for r in rows if r.strategy == FULL_MODEL), None)


def _lines(ax, rows: list[Row], value, title: str, ylabel: str) -> None:
    base = next((r for r in rows if r.strategy == FULL_MODEL), None)
    strategies = sorted({r.strategy for r in rows if r.k > 0})
    for strategy in strategies:
        points = sorted((r.k, value(r)) for r in rows if r.strategy == strategy and value(r) is not None)
        start = _start(rows, strategy)
        if start is not None and value(start) is not None:
            points = [(0, value(start)), *points]
        if points:
            ax.plot([k for k, _ in points], [v for _, v in points], marker="o", label=strategy)
    if base is not None and value(base) is not None:
        ax.axhline(value(base), color="black", linestyle="--", linewidth=1, label=FULL_MODEL)
    ax.set_title(title)
    ax.set_xlabel("layers dropped (K)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ks = sorted({r.k for r in rows})
    ax.set_xticks(ks)


def _against_parameters(ax, rows: list[Row], title: str, ylabel: str) -> None:
    """Score against parameters left, one line per removal (layer and sublayer strategies side by
    side at equal parameter counts), one marker per variant that removes nothing (relu attn, ...)."""
    base = next((r for r in rows if r.strategy == FULL_MODEL), None)
    for strategy in sorted({r.strategy for r in rows if r.k > 0}):
        points = sorted((r.parameters / 1e6, r.macro) for r in rows
                        if r.strategy == strategy and r.parameters and r.macro is not None)
        start = _start(rows, strategy)
        if start is not None and start.parameters and start.macro is not None:
            points.append((start.parameters / 1e6, start.macro))
        if points:
            points.sort()
            style = "--" if any(part in strategy for part in (" ffn", " attn-sublayer")) else "-"
            ax.plot([p for p, _ in points], [v for _, v in points], marker="o", linestyle=style, label=strategy)
    for row in rows:
        if row.k == 0 and row.strategy != FULL_MODEL and row.parameters and row.macro is not None:
            ax.plot([row.parameters / 1e6], [row.macro], marker="s", linestyle="none", label=row.strategy)
    if base is not None and base.macro is not None:
        ax.axhline(base.macro, color="black", linestyle=":", linewidth=1, label=FULL_MODEL)
    ax.set_title(title)
    ax.set_xlabel("parameters left (millions)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def figures(rows: list[Row], tasks: list[str], frame, metric_name: str):
    """(file stem, matplotlib figure) for every figure of every model and regime."""
    import re

    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed, works on servers
    import matplotlib.pyplot as plt

    from layerdrop.reporting.formats import model_label

    for model, regime in sorted({(r.model, r.regime) for r in rows}):
        mine = [r for r in rows if (r.model, r.regime) == (model, regime)]
        title = model_label(mine[0])
        # One set of files per model and regime; the stock one keeps the plain model name.
        stem = model if regime == "stock" else f"{model}-{re.sub(r'[^A-Za-z0-9.]+', '-', regime).strip('-')}"
        fig, ax = plt.subplots(figsize=(6, 4))
        _lines(ax, mine, lambda r: r.macro, f"{title}: macro average over {', '.join(tasks)}", f"{metric_name} (%)")
        ax.legend(fontsize=8)
        yield f"{stem}-macro-vs-k", fig

        fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), squeeze=False)
        for ax, task in zip(axes[0], tasks):
            _lines(ax, mine, lambda r, t=task: r.tasks[t][0] if t in r.tasks else None, task, f"{metric_name} (%)")
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
        yield f"{stem}-tasks-vs-k", fig

        if any(r.parameters for r in mine):
            fig, ax = plt.subplots(figsize=(6.4, 4.2))
            _against_parameters(ax, mine, f"{title}: macro average over {', '.join(tasks)}", f"{metric_name} (%)")
            yield f"{stem}-macro-vs-parameters", fig

        scores = frame[(frame["model"] == model) & (frame["regime"] == regime) & frame["layer_scores"].notna()
                       & (frame["component"] == "layer")]  # a sublayer strategy's scores measure something else
        if len(scores):
            yield f"{stem}-contribution-scores", _heatmap(plt, scores, title)


def write_plots(rows: list[Row], tasks: list[str], frame, folder: str | Path, metric_name: str) -> list[Path]:
    """Write every figure for every model into `folder`; returns the paths written."""
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for stem, fig in figures(rows, tasks, frame, metric_name):
        written += save_figure(fig, folder, stem)
        plt.close(fig)
    return written


def svg_text(fig) -> str:
    """A figure as inline SVG markup (no XML prolog), the same bytes every time."""
    import io

    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "layerdrop"}):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _heatmap(plt, scores, title: str):
    import numpy as np

    tasks = sorted(scores["task"].unique())
    per_task = [np.mean(np.array(scores[scores["task"] == t]["layer_scores"].tolist()), axis=0) for t in tasks]
    matrix = np.array(per_task).T  # (layers, tasks)
    fig, ax = plt.subplots(figsize=(1.6 + 1.1 * len(tasks), 0.5 + 0.45 * matrix.shape[0]))
    image = ax.imshow(matrix, cmap="viridis", aspect="auto", origin="lower")
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_yticks(range(matrix.shape[0]), [str(i) for i in range(matrix.shape[0])])
    ax.set_ylabel("layer (0 = bottom)")
    ax.set_title(f"{title}: contribution score\n(cosine similarity, layer input vs output)", fontsize=9)
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, f"{value:.3f}", ha="center", va="center", fontsize=7, color="white" if value < matrix.mean() else "black")
    fig.colorbar(image, ax=ax)
    return fig
