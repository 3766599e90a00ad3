"""One self-contained HTML page: the table, its notes, the figures (inline SVG) and the analyses.

No script, no stylesheet or font from the network: the file is what a researcher sends a colleague,
and it opens the same offline.
"""

from __future__ import annotations

import html
from typing import Any

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1200px;
       color: #222; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.0em; margin-top: 1.5em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th { background: #f4f4f4; } td:nth-child(-n+4) { text-align: left; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; vertical-align: top; }
figure svg { max-width: 100%; height: auto; } figcaption { font-size: 0.8em; color: #555; }
.note { font-size: 0.9em; color: #333; } footer { margin-top: 3em; font-size: 0.8em; color: #777; }
"""


def _figure(title: str, svg: str) -> str:
    return f"<figure>{svg}<figcaption>{html.escape(title)}</figcaption></figure>\n"


def _analysis_table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n"


def _analysis_section(record: dict[str, Any]) -> str:
    from layerdrop.reporting.analyses import short, svg_figures, title

    result, config = record["result"], record["config"]
    name = short(record["models"][0]["name"])
    heading = title(record)
    parts = [f"<h3>{html.escape(heading)}: {html.escape(name)} on {html.escape(record['task'])}</h3>\n",
             f"<p class='note'>{record['data']['examples']} examples of the {html.escape(config['split'])} split, "
             f"{html.escape(str(result.get('representation')))} representation, seed {config['seed']}.</p>\n"]
    if record["analysis"] == "drift":
        for comparison in result["comparisons"]:
            parts.append(_analysis_table(["against", *comparison["layers"]],
                                         [[short(comparison["against"]), *(f"{v:.3f}" for v in comparison["cosine"])]]))
    elif record["analysis"] == "probe":
        for model in result["models"]:
            parts.append(_analysis_table([short(model["model"]), *model["layers"]],
                                         [["accuracy", *(f"{v:.3f}" for v in model["accuracy"])],
                                          ["control", *(f"{v:.3f}" for v in model["control"])],
                                          ["majority", *(f"{v:.3f}" for v in model["majority"])]]))
    parts += [_figure(f"{heading}: {name}", svg) for svg in svg_figures(record)]
    return "".join(parts)


def page(title: str, table_html: str | None, notes: list[str], figures: list[tuple[str, str]],
         analyses: list[dict[str, Any]], footer: str) -> str:
    """The whole page. `figures`: (caption, inline SVG) of the run table's figures."""
    parts = ["<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n",
             f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
             f"<h1>{html.escape(title)}</h1>\n"]
    if table_html:
        parts += ["<h2>Results</h2>\n", table_html]
        parts += [f"<p class='note'>{html.escape(note)}</p>\n" for note in notes]
    if figures:
        parts.append("<h2>Figures</h2>\n")
        parts += [_figure(caption, svg) for caption, svg in figures]
    if analyses:
        parts.append("<h2>Analyses</h2>\n")
        parts += [_analysis_section(record) for record in analyses]
    parts.append(f"<footer>{html.escape(footer)}</footer>\n</body>\n</html>\n")
    return "".join(parts)


def report_page(paths: list[str], rows, tasks: list[str], frame, paper, notes: list[str], analyses: list[dict[str, Any]],
                level: float, metric: str | None) -> str:
    """`layerdrop report --format html`: the table and notes, the run figures and the analyses."""
    import matplotlib.pyplot as plt

    from layerdrop import __version__
    from layerdrop.reporting.formats import render
    from layerdrop.reporting.plots import figures, svg_text

    table = render(rows, tasks, "html", paper, (), level=level) if frame is not None else None
    inline = []
    if frame is not None:
        for stem, fig in figures(rows, tasks, frame, metric or "main metric"):
            inline.append((stem, svg_text(fig)))
            plt.close(fig)
    return page(f"layerdrop report: {', '.join(paths)}", table, notes, inline, analyses,
                f"Written by layerdrop {__version__} from {', '.join(paths)}.")
