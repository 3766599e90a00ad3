"""Analysis records (`layerdrop analyze`) as numbers, figures and report sections.

CKA: one heatmap per comparison, axes in each model's 0-based layer indices of the original stack.
Probes: accuracy against layer, one line per model, its control dashed. Drift: cosine against layer.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", str(text).rstrip("/").rsplit("/", 1)[-1]).strip("-") or "model"


def _name(record: dict[str, Any]) -> str:
    return record["models"][0]["name"]


def short(name: str) -> str:
    """A model as tables and figures name it: an alias or hub id as given, a folder by its last part."""
    from pathlib import PurePath

    return PurePath(name).name if name.startswith(("/", ".", "~")) or name.count("/") > 1 else name


def numbers_csv(record: dict[str, Any]) -> str:
    """The record's numbers in long format, one row per number."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    result = record["result"]
    if record["analysis"] == "cka":
        writer.writerow(["model", "against", "model_layer", "against_layer", "cka"])
        for comparison in result["comparisons"]:
            for row, values in zip(comparison["rows"], comparison["matrix"]):
                for column, value in zip(comparison["columns"], values):
                    writer.writerow([_name(record), comparison["against"], row, column, f"{value:.6f}"])
    elif record["analysis"] == "drift":
        writer.writerow(["model", "against", "layer", "cosine"])
        for comparison in result["comparisons"]:
            for layer, value in zip(comparison["layers"], comparison["cosine"]):
                writer.writerow([_name(record), comparison["against"], layer, f"{value:.6f}"])
    else:
        writer.writerow(["model", "probe_task", "layer", "accuracy", "control", "selectivity", "majority"])
        for model in result["models"]:
            for layer, acc, control, majority in zip(model["layers"], model["accuracy"], model["control"], model["majority"]):
                writer.writerow([model["model"], result["probe_task"], layer, f"{acc:.4f}", f"{control:.4f}",
                                 f"{acc - control:.4f}", f"{majority:.4f}"])
    return buffer.getvalue()


def _figures(record: dict[str, Any]):
    """(file stem, matplotlib figure) for each figure of an analysis record."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    result, task, name = record["result"], record["task"], _name(record)
    if record["analysis"] == "cka":
        for comparison in result["comparisons"]:
            matrix = np.array(comparison["matrix"])
            fig, ax = plt.subplots(figsize=(1.2 + 0.55 * matrix.shape[1], 1.0 + 0.5 * matrix.shape[0]))
            image = ax.imshow(matrix, cmap="magma", vmin=0, vmax=1, origin="lower", aspect="auto")
            ax.set_xticks(range(matrix.shape[1]), comparison["columns"])
            ax.set_yticks(range(matrix.shape[0]), comparison["rows"])
            ax.set_xlabel(f"{short(comparison['against'])}: layer")
            ax.set_ylabel(f"{short(name)}: layer")
            kind = "debiased " if result.get("debiased") else ""
            ax.set_title(f"{kind}linear CKA, {result['representation']}, {task} ({comparison['n_rows']} rows)", fontsize=9)
            for (i, j), value in np.ndenumerate(matrix):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6, color="white" if value < 0.6 else "black")
            fig.colorbar(image, ax=ax)
            yield f"cka-{task}-{_slug(name)}-vs-{_slug(comparison['against'])}", fig
    elif record["analysis"] == "drift":
        fig, ax = plt.subplots(figsize=(6, 3.8))
        for comparison in result["comparisons"]:  # x = the original layer index, so models line up
            x = [-1 if layer == "emb" else int(layer) for layer in comparison["layers"]]
            ax.plot(x, comparison["cosine"], marker="o", label=short(comparison["against"]))
        ax.set_xlabel("layer (−1 = embeddings; 0-based, original stack)")
        ax.set_ylabel(f"cosine, {result['representation']} vector")
        ax.set_title(f"drift from {short(name)}, {task}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        yield f"drift-{task}-{_slug(name)}", fig
    else:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for model in result["models"]:
            x = [-1 if layer == "emb" else int(layer) for layer in model["layers"]]
            line = ax.plot(x, model["accuracy"], marker="o", label=short(model["model"]))[0]
            ax.plot(x, model["control"], linestyle="--", color=line.get_color(), linewidth=0.8)
        first = result["models"][0]
        ax.axhline(first["majority"][0], color="black", linestyle=":", linewidth=1, label="majority")
        ax.set_xlabel("layer (−1 = embeddings; 0-based, original stack)")
        ax.set_ylabel("held-out accuracy")
        ax.set_title(f"probe: {result['probe_task']} on {task} ({result['representation']}; dashed: shuffled-label control)",
                     fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        yield f"probe-{result['probe_task']}-{task}-{_slug(name)}", fig


def write_analysis_plots(record: dict[str, Any], folder: str | Path) -> list[Path]:
    """Write the record's figures as PNG and SVG into `folder`."""
    import matplotlib.pyplot as plt

    from layerdrop.reporting.plots import save_figure

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for stem, fig in _figures(record):
        fig.tight_layout()
        written += save_figure(fig, folder, stem)
        plt.close(fig)
    return written


def svg_figures(record: dict[str, Any]) -> list[str]:
    """The record's figures as inline SVG markup (for a self-contained HTML page)."""
    import matplotlib.pyplot as plt

    from layerdrop.reporting.plots import svg_text

    out = []
    for _, fig in _figures(record):
        fig.tight_layout()
        out.append(svg_text(fig))
        plt.close(fig)
    return out


def title(record: dict[str, Any]) -> str:
    """What an analysis is, in a heading: "CKA", "Probe (bshift)", "Drift"."""
    return {"cka": "CKA", "probe": f"Probe ({record['result'].get('probe_task')})", "drift": "Drift"}[record["analysis"]]


def markdown(record: dict[str, Any]) -> str:
    """A short section for a markdown report: what was compared, and the numbers."""
    config, result = record["config"], record["result"]
    lines = [f"### {title(record)}: {short(_name(record))} on {record['task']} ({record['data']['examples']} examples, "
             f"{config['split']}, {result.get('representation')})", ""]
    if record["analysis"] == "cka":
        for comparison in result["comparisons"]:
            lines += [f"against {short(comparison['against'])} (rows: {short(_name(record))}, columns: "
                      f"{short(comparison['against'])})", "",
                      "| layer | " + " | ".join(comparison["columns"]) + " |",
                      "|---" * (len(comparison["columns"]) + 1) + "|"]
            lines += [f"| {row} | " + " | ".join(f"{v:.3f}" for v in values) + " |"
                      for row, values in zip(comparison["rows"], comparison["matrix"])]
            lines.append("")
    elif record["analysis"] == "drift":
        for comparison in result["comparisons"]:
            lines += [f"against {short(comparison['against'])}", "", "| layer | " + " | ".join(comparison["layers"]) + " |",
                      "|---" * (len(comparison["layers"]) + 1) + "|",
                      "| cosine | " + " | ".join(f"{v:.3f}" for v in comparison["cosine"]) + " |", ""]
    else:
        for model in result["models"]:
            lines += [f"{short(model['model'])} (majority {model['majority'][0]:.3f}; {result['train']} train / {result['test']} "
                      f"held-out, {result['classes']} classes)", "",
                      "| layer | " + " | ".join(model["layers"]) + " |", "|---" * (len(model["layers"]) + 1) + "|",
                      "| accuracy | " + " | ".join(f"{v:.3f}" for v in model["accuracy"]) + " |",
                      "| control | " + " | ".join(f"{v:.3f}" for v in model["control"]) + " |", ""]
    return "\n".join(lines)
