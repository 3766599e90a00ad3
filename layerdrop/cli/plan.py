from __future__ import annotations

from typing import Annotated, Optional

import typer

from layerdrop.cli import common


def plan(
    strategy: common.Strategy = None,
    k: common.K = None,
    param: common.Params = None,
    layers: common.Layers = None,
    n_layers: Annotated[
        Optional[int], typer.Option("--n-layers", "-L", help="Number of layers, instead of reading it from --model.")
    ] = None,
    model: Annotated[
        Optional[str],
        typer.Option("--model", "-m", help="Read L from this model's config (no weights are loaded).", rich_help_panel=common.MODEL),
    ] = None,
    task: Annotated[
        Optional[str], typer.Option("--task", "-t", help="Task whose data data-driven strategies (contribution) score layers on.")
    ] = None,
    data_dir: Annotated[
        Optional[str], typer.Option("--data-dir", envvar="LAYERDROP_GLUE_DIR", help="GLUE folder for --task (default: the hub).")
    ] = None,
    component: common.Component = "layer",
    seed: common.Seed = 42,
    trust_remote_code: common.TrustRemoteCode = False,
    json: common.Json = False,
) -> None:
    """Show which layers a strategy would drop and keep, without touching weights.

    Layers are 0-based, bottom = 0. With --component ffn or attention, "dropped" are the layers
    that would lose that sublayer.

    Examples:

        layerdrop plan --strategy alternate --param parity=odd --k 4 --n-layers 12

        layerdrop plan --strategy top --k 2 --model bert-base --json

        layerdrop plan --layers 2,5,7 --n-layers 12

        layerdrop plan --strategy contribution --param threshold=0.95 --model bert-base --task rte

        layerdrop plan --component ffn --strategy contribution --k 3 --model minilm-l6 --task sst2
    """
    from layerdrop.selection.config import DropConfig
    from layerdrop.selection.dropping import select_layers
    from layerdrop.errors import UsageError

    if (n_layers is None) == (model is None):
        raise UsageError("plan needs exactly one of --n-layers and --model", "pass --n-layers 12, or --model bert-base")
    if n_layers is not None and n_layers < 1:
        raise UsageError(f"--n-layers {n_layers} must be at least 1", "pass the number of layers of your model")
    strategy, params = common.strategy_and_params(strategy, param, layers)
    if task is not None:
        if model is None:
            raise UsageError("plan --task needs --model", "pass the model whose layers are scored, e.g. --model bert-base")
        from layerdrop.experiments.config import RunConfig
        from layerdrop.experiments.resources import Resources
        from layerdrop.experiments.runner import choose_layers

        run_cfg = RunConfig(model=model, task=task, strategy=strategy, k=k, params=params, component=component, seed=seed,
                            data_dir=data_dir, trust_remote_code=trust_remote_code)
        # Data and weights load only for a strategy that scores, on the device `run` would use.
        selection = choose_layers(run_cfg, Resources(), _default_device()).selection
    else:
        cfg = DropConfig(model=model or "", strategy=strategy, k=k, params=params, component=component, seed=seed,
                         trust_remote_code=trust_remote_code)
        selection = select_layers(cfg, n_layers=n_layers)
    if json:
        common.print_json({**selection.as_dict(), "model": model})
        return
    from rich.table import Table

    if selection.layer_scores:
        unit = "layer" if component == "layer" else f"{component} sublayer"
        scores = Table("layer", f"score (cosine similarity, {unit} input vs output)", box=None)
        for index, score in enumerate(selection.layer_scores):
            scores.add_row(str(index), f"{score:.4f}" + ("  dropped" if index in selection.dropped_layers else ""))
        common.out.print(scores)
    whole = component == "layer"
    table = Table("strategy", "params", "component", "L", "K", "dropped" if whole else f"lose their {component}",
                  "kept", box=None)
    table.add_row(
        selection.strategy, common.params_text(selection.params), component, str(selection.n_layers), str(selection.k),
        common.layers_text(selection.dropped_layers), common.layers_text(selection.kept_layers) if whole else "every layer",
    )
    common.out.print(table)


def _default_device() -> str:
    """`--device auto`'s choice, as `layerdrop run` makes it: CUDA, then MPS, then the CPU."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    return "mps" if torch.backends.mps.is_available() else "cpu"
