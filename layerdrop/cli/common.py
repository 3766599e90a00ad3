"""Options shared by several commands, and the stderr console."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, NoReturn, Optional

import typer
from rich.console import Console

STATE = {"debug": False}
err = Console(stderr=True, highlight=False)
# Piped stdout is data: never truncate or wrap it to a pretend 80-column terminal.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 1000)

SELECTION = "Choosing layers"
MODEL = "Model"
OUTPUT = "Output"

Model = Annotated[
    str,
    typer.Option("--model", "-m", help="Alias (see `layerdrop models`), hub id, or local model folder.", rich_help_panel=MODEL),
]
Strategy = Annotated[
    Optional[str],
    typer.Option(
        "--strategy", "-s",
        help="Strategy name (see `layerdrop strategies`), or path/to/file.py:function, or package.module:function. Default: top.",
        rich_help_panel=SELECTION,
    ),
]
K = Annotated[
    Optional[int],
    typer.Option("--k", "-k", help="Number of layers to drop. Omit for explicit --layers or a contribution threshold.", rich_help_panel=SELECTION),
]
Params = Annotated[
    Optional[list[str]],
    typer.Option("--param", "-p", help="Strategy parameter key=value, repeatable (e.g. parity=odd).", rich_help_panel=SELECTION),
]
Layers = Annotated[
    Optional[str],
    typer.Option("--layers", help="Comma-separated 0-based layers to drop (bottom = 0); implies --strategy explicit.", rich_help_panel=SELECTION),
]
Component = Annotated[
    str,
    typer.Option("--component", help="What K removes: layer (whole layers), ffn (the feed-forward sublayer of K layers) "
                 "or attention (their attention sublayer). A removed sublayer becomes the identity, its residual "
                 "LayerNorm included; its parameters are deleted.", rich_help_panel=SELECTION),
]
Attention = Annotated[
    str,
    typer.Option("--attention", help="Attention weights: softmax (stock), relu (relu(qk/sqrt d)/n, Wortsman et al. 2023) "
                 "or sigmoid (sigmoid(qk/sqrt d - log n), Ramapuram et al. 2024); n = real keys of the row.",
                 rich_help_panel=SELECTION),
]
DropLayernorm = Annotated[
    Optional[str],
    typer.Option("--drop-layernorm", help="Remove the LayerNorm after every layer's attention or ffn sublayer (half of "
                 "the encoder's LayerNorms).", rich_help_panel=SELECTION),
]
Seed = Annotated[int, typer.Option("--seed", help="Seed (random strategy, subsampling, training).", rich_help_panel=SELECTION)]
TrustRemoteCode = Annotated[
    bool,
    typer.Option("--trust-remote-code", help="Allow code shipped in the model repository to run. Off by default.", rich_help_panel=MODEL),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of a table.", rich_help_panel=OUTPUT)]


DEFAULT_STRATEGY = "top"


def strategy_and_params(strategy: str | None, params: list[str] | None, layers: str | None) -> tuple[str, tuple[str, ...]]:
    """Apply the default strategy, and fold `--layers` into `--strategy explicit --param layers=...`."""
    from layerdrop.errors import UsageError

    params = tuple(params or ())
    if layers is None:
        return strategy or DEFAULT_STRATEGY, params
    parts = [p.strip() for p in layers.split(",")]
    if not parts or not all(p.lstrip("-").isdigit() for p in parts):
        raise UsageError(f"malformed --layers '{layers}'", "pass comma-separated 0-based layer indices, e.g. --layers 2,5,7")
    if strategy not in (None, "explicit"):
        raise UsageError(f"--layers names the layers itself, so --strategy {strategy} does not apply", "drop --strategy, or drop --layers")
    return "explicit", (*params, f"layers={','.join(parts)}")


def fail(message: str, code: int = 2) -> NoReturn:
    from rich.markup import escape

    err.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def json_text(data: Any) -> str:
    return json.dumps(data, indent=2, default=str) + "\n"


def print_json(data: Any) -> None:
    sys.stdout.write(json_text(data))


def layers_text(layers) -> str:
    return ",".join(str(i) for i in layers) if layers else "-"


def params_text(params: dict[str, Any]) -> str:
    """`{"parity": "odd", "layers": (2, 5)}` -> `parity=odd, layers=2,5`."""
    def value(v: Any) -> str:
        return layers_text(v) if isinstance(v, (list, tuple)) else str(v)

    return ", ".join(f"{k}={value(v)}" for k, v in params.items()) or "-"


def run_table(runs: list[dict[str, Any]]):
    """The small per-run summary table printed by `run` (and per cell by `sweep`)."""
    from rich.table import Table

    from layerdrop.experiments.config import variant_words

    table = Table("task", "model", "strategy", "K", "removed", "params before", "params after", "metrics", "train s", box=None)
    for r in runs:
        metrics = ", ".join(f"{k}={v:.4f}" for k, v in (r.get("metrics") or {}).items())
        config = r.get("config") or {}
        component = config.get("component", "layer")
        removed = (r.get("removed_sublayers") or {}).get(component, []) if component != "layer" else r["dropped_layers"]
        variant = " ".join([r["strategy"], *variant_words(component, config.get("attention", "softmax"),
                                                          config.get("drop_layernorm"), r["k"])])
        table.add_row(
            r["task"], r["model"]["name"], variant, str(r["k"]), layers_text(removed),
            f"{r.get('parameters_before', 0):,}", f"{r.get('parameters_after', 0):,}",
            metrics or r.get("status", ""), "reused" if r.get("reused_from") else f"{r.get('train_seconds', 0):.1f}",
        )
    return table
