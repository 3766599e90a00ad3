from __future__ import annotations

from typing import Annotated

import typer

from layerdrop.cli import common


def drop(
    model: common.Model,
    output: Annotated[str, typer.Option("--output", "-o", help="Folder for the smaller model and its tokenizer.", rich_help_panel=common.OUTPUT)],
    strategy: common.Strategy = None,
    k: common.K = None,
    param: common.Params = None,
    layers: common.Layers = None,
    seed: common.Seed = 42,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a non-empty --output folder.", rich_help_panel=common.OUTPUT)] = False,
    trust_remote_code: common.TrustRemoteCode = False,
    json: common.Json = False,
) -> None:
    """Drop layers from a pretrained model and save the smaller model with its tokenizer.

    The saved folder loads back with plain transformers (AutoModel / AutoModelForSequenceClassification);
    its config.json records under "layerdrop" the source model, strategy, k, dropped and kept layers.

    Examples:

        layerdrop drop --model minilm-l6 --strategy top --k 2 --output out/minilm-l4

        layerdrop drop --model bert-base --strategy alternate --param parity=odd --k 4 --output out/bert-odd4

        layerdrop drop --model ./my-model --layers 0,5 --output out/small --overwrite
    """
    from layerdrop.selection.config import DropConfig
    from layerdrop.selection.dropping import drop_and_save

    strategy, params = common.strategy_and_params(strategy, param, layers)
    cfg = DropConfig(model=model, strategy=strategy, k=k, params=params, seed=seed, trust_remote_code=trust_remote_code)
    result = drop_and_save(cfg, output, overwrite, log=lambda msg: common.err.print(msg))
    if json:
        common.print_json(result.as_dict())
        return
    from rich.table import Table

    table = Table("model", "strategy", "K", "dropped", "kept", "parameters before", "parameters after", "saved to", box=None)
    table.add_row(
        model, result.selection.strategy, str(result.selection.k),
        common.layers_text(result.selection.dropped_layers), common.layers_text(result.selection.kept_layers),
        f"{result.parameters_before:,}", f"{result.parameters_after:,}", result.output,
    )
    common.out.print(table)
