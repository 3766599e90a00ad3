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
    component: common.Component = "layer",
    attention: common.Attention = "softmax",
    drop_layernorm: common.DropLayernorm = None,
    seed: common.Seed = 42,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a non-empty --output folder.", rich_help_panel=common.OUTPUT)] = False,
    trust_remote_code: common.TrustRemoteCode = False,
    json: common.Json = False,
) -> None:
    """Drop layers (or sublayers) from a pretrained model and save the smaller model with its tokenizer.

    A model with whole layers dropped loads back with plain transformers (AutoModel /
    AutoModelForSequenceClassification); its config.json records under "layerdrop" the source
    model, strategy, k, dropped and kept layers. A model with sublayer edits (--component ffn or
    attention, --drop-layernorm, --attention relu|sigmoid) also gets modeling_layerdrop.py: load it
    with layerdrop.load_model(folder), or with from_pretrained(folder, trust_remote_code=True).

    Examples:

        layerdrop drop --model minilm-l6 --strategy top --k 2 --output out/minilm-l4

        layerdrop drop --model bert-base --strategy alternate --param parity=odd --k 4 --output out/bert-odd4

        layerdrop drop --model ./my-model --layers 0,5 --output out/small --overwrite

        layerdrop drop --model minilm-l6 --component ffn --strategy top --k 3 --output out/minilm-ffn3
    """
    from layerdrop.selection.config import DropConfig
    from layerdrop.selection.dropping import drop_and_save

    strategy, params = common.strategy_and_params(strategy, param, layers)
    cfg = DropConfig(model=model, strategy=strategy, k=k, params=params, component=component, attention=attention,
                     drop_layernorm=drop_layernorm, seed=seed, trust_remote_code=trust_remote_code)
    result = drop_and_save(cfg, output, overwrite, log=lambda msg: common.err.print(msg))
    if json:
        common.print_json(result.as_dict())
        return
    from rich.table import Table

    whole = component == "layer"
    table = Table("model", "strategy", "component", "K", "dropped" if whole else f"lose their {component}", "kept",
                  "parameters before", "parameters after", "saved to", box=None)
    table.add_row(
        model, result.selection.strategy, component, str(result.selection.k), common.layers_text(result.selection.dropped_layers),
        common.layers_text(result.selection.kept_layers) if whole else "every layer",
        f"{result.parameters_before:,}", f"{result.parameters_after:,}", result.output,
    )
    common.out.print(table)
