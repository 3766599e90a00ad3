"""Render report rows as md, csv, latex, html or json (the same table in every format)."""

from __future__ import annotations

import json
import math
from importlib import resources
from typing import Any

from layerdrop.reporting.report import FULL_MODEL, Row

FORMATS = ("md", "csv", "latex", "html", "json")


def published() -> dict[str, Any]:
    """Sajjad et al.'s published GLUE dev numbers (package data, with the citation)."""
    return json.loads(resources.files("layerdrop.reporting.published").joinpath("sajjad2020.json").read_text())


def _paper_strategy(row: Row) -> str:
    return "top" if row.strategy == FULL_MODEL else row.strategy


def paper_model(name: str, paper: dict[str, Any]) -> str | None:
    """The paper's name for a run's model: its alias, or the alias whose hub id it is (full, or
    its last part, so a local folder named `bert-base-uncased` matches too)."""
    from layerdrop.models.loading import ALIASES

    if name in paper["top"]:
        return name
    last = name.rstrip("/").rsplit("/", 1)[-1].lower()
    return next((alias for alias, hub_id in ALIASES.items() if alias in paper["top"]
                 and last == hub_id.rsplit("/", 1)[-1].lower()), None)


def paper_numbers(row: Row, tasks: list[str], paper: dict[str, Any]) -> dict[str, float]:
    """The published numbers matching this row's model, strategy and K (empty if none)."""
    found: dict[str, float] = {}
    model = paper_model(row.model, paper)
    if model is None:
        return found
    top = paper["top"].get(model, {}).get(str(row.k))
    if top and _paper_strategy(row) == "top":
        for task, value in zip(paper["tasks"], top):
            if task in tasks:
                found[f"paper {task}"] = value
    mean = paper["seven_task_mean"].get(model, {}).get(_paper_strategy(row), {}).get(str(row.k))
    if mean is not None:
        found["paper 7-task mean"] = mean
    return found


def model_label(row: Row) -> str:
    """The model's name and, in brackets, its training regime (tables show it when they hold several)."""
    return f"{row.model} [{row.regime}]"


def _params(count: int | None) -> str:
    if not count:
        return "–"
    return f"{count / 1e6:.1f}M" if count >= 1e5 else f"{count:,.0f}"


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def numeric_records(rows: list[Row], tasks: list[str], paper: dict | None = None) -> list[dict[str, Any]]:
    """One flat dict per row, numbers as numbers (csv and json)."""
    out = []
    for r in rows:
        rec: dict[str, Any] = {"model": r.model, "regime": r.regime, "strategy": r.strategy, "k": r.k, "dropped": r.dropped}
        for t in tasks:
            mean, std, n = r.tasks.get(t, (None, None, 0))
            rec.update({f"{t} mean": mean, f"{t} std": None if std is None or math.isnan(std) else std, f"{t} n": n})
        rec.update({"macro": r.macro, "macro w/o wnli": r.macro_no_wnli, "delta vs full": r.delta,
                    "retained %": r.retained, "parameters": r.parameters})
        if r.paired:
            low, high = (None if math.isnan(x) else x for x in r.paired["ci"])
            rec.update({"paired against": r.paired["against"], "paired diff": r.paired["diff"],
                        "paired ci low": low, "paired ci high": high, "paired n": r.paired["n"],
                        "ci_method": r.paired["method"], "ci_level": r.paired["level"]})
        if paper is not None:
            rec.update(paper_numbers(r, tasks, paper))
        out.append(rec)
    return out


def display_table(rows: list[Row], tasks: list[str], paper: dict | None = None,
                  level: float = 0.95) -> tuple[list[str], list[list[str]]]:
    """Header and string cells: `mean ± std (n)` per task, then the summary columns."""
    from layerdrop.reporting.intervals import percent

    header = ["model", "strategy", "K", "dropped", *tasks, "macro", "macro w/o WNLI", "Δ vs full", "retained", "params",
              f"paired Δ [{percent(level)} CI]"]
    several_regimes = len({r.regime for r in rows}) > 1
    paper_cols: list[str] = []
    if paper is not None:
        paper_cols = sorted({c for r in rows for c in paper_numbers(r, tasks, paper)}, key=lambda c: (c != "paper 7-task mean", c))
        header += paper_cols
    body = []
    for r in rows:
        cells = [model_label(r) if several_regimes else r.model, r.strategy, str(r.k), r.dropped]
        for t in tasks:
            mean, std, n = r.tasks.get(t, (None, math.nan, 0))
            cells.append("–" if mean is None else f"{mean:.2f} ± {_fmt(std)} ({n})")
        cells += [_fmt(r.macro), _fmt(r.macro_no_wnli), "" if r.strategy == FULL_MODEL else ("–" if r.delta is None else f"{r.delta:+.2f}"),
                  _fmt(r.retained, 1) + ("%" if r.retained is not None else ""),
                  _params(r.parameters)]
        if r.paired:
            low, high = r.paired["ci"]
            interval = "no interval" if math.isnan(low) else f"[{_fmt(low)}, {_fmt(high)}]"
            cells.append(f"{r.paired['diff']:+.2f} {interval} vs {r.paired['against']} (n={r.paired['n']})")
        else:
            cells.append("")
        if paper is not None:
            found = paper_numbers(r, tasks, paper)
            cells += [_fmt(found.get(c)) for c in paper_cols]
        body.append(cells)
    return header, body


def render(rows: list[Row], tasks: list[str], fmt: str, paper: dict | None = None, notes: list[str] = (),
           level: float = 0.95) -> str:
    """The table in `fmt`; md, html and latex carry `notes` below it (csv and json carry the same
    facts per row: `regime`, `ci_method`, `ci_level`)."""
    table = _table(rows, tasks, fmt, paper, level)
    if not notes or fmt in ("csv", "json"):
        return table
    if fmt == "md":
        return table + "\n" + "\n".join(f"- {note}" for note in notes) + "\n"
    if fmt == "html":
        import html

        return table + "".join(f"<p>{html.escape(note)}</p>\n" for note in notes)
    return table + "".join(f"% {note}\n" for note in notes)  # latex


def _table(rows: list[Row], tasks: list[str], fmt: str, paper: dict | None = None, level: float = 0.95) -> str:
    if fmt in ("csv", "json"):
        import pandas as pd

        data = numeric_records(rows, tasks, paper)
        if fmt == "json":
            return json.dumps(data, indent=2) + "\n"
        frame = pd.DataFrame(data)
        # Counts stay integers: a column with a gap (no paired n on the full-model row) would
        # otherwise turn into floats and print 3 as "3.0".
        counts = [c for c in frame.columns if c.endswith(" n") or c == "parameters"]
        return frame.astype({c: "Int64" for c in counts}).to_csv(index=False)
    header, body = display_table(rows, tasks, paper, level)
    if fmt == "md":
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |" for cells in body]
        return "\n".join(lines) + "\n"
    if fmt == "html":
        import pandas as pd

        return pd.DataFrame(body, columns=header).to_html(index=False, escape=True) + "\n"
    if fmt == "latex":
        def tex(text: str) -> str:
            for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
                         ("±", r"$\pm$"), ("Δ", r"$\Delta$"), ("–", "--")):
                text = text.replace(a, b)
            return text

        lines = [r"\begin{tabular}{" + "l" * 4 + "r" * (len(header) - 4) + "}", r"\toprule",
                 " & ".join(tex(h) for h in header) + r" \\", r"\midrule"]
        lines += [" & ".join(tex(c) for c in cells) + r" \\" for cells in body]
        lines += [r"\bottomrule", r"\end{tabular}"]
        return "\n".join(lines) + "\n"
    raise ValueError(f"unknown format {fmt}")
