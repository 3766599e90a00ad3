"""Where each model family keeps its stack of layers.

One entry per `config.model_type`. Adding a BERT-like family is one line here; everything else
(surgery, scoring, the summary token) reads this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from layerdrop.errors import ModelError


@dataclass(frozen=True)
class Family:
    """How to find and resize one family's layer stack.

    Attributes:
        layers: dotted path from the base model (`model.base_model`) to the `nn.ModuleList` of layers.
        n_layers_key: the config attribute that holds the number of layers.
        summary_token: which token summarises a sequence: "first" ([CLS], <s>) or "last"
            (XLNet pads on the left and summarises with its final token).
        layout: the layer's module names: "bert" (attention.self.query, intermediate, output: BERT
            and its copies), "distilbert" (attention.q_lin, ffn), "xlnet": where the sublayers
            that component edits remove live.
    """

    layers: str
    n_layers_key: str
    summary_token: Literal["first", "last"] = "first"
    layout: Literal["bert", "distilbert", "xlnet"] = "bert"


FAMILIES: dict[str, Family] = {
    "bert": Family("encoder.layer", "num_hidden_layers"),
    "roberta": Family("encoder.layer", "num_hidden_layers"),
    "xlm-roberta": Family("encoder.layer", "num_hidden_layers"),
    "camembert": Family("encoder.layer", "num_hidden_layers"),
    "electra": Family("encoder.layer", "num_hidden_layers"),
    # DistilBERT keeps its blocks under `transformer` and counts them in `n_layers`.
    "distilbert": Family("transformer.layer", "n_layers", layout="distilbert"),
    # XLNet has no `encoder` wrapper; its relative-position machinery is per model, not per
    # layer, so removing layers needs nothing else.
    "xlnet": Family("layer", "n_layer", summary_token="last", layout="xlnet"),
}


def family_of(config) -> Family:
    """Return the family entry for a transformers config, or raise a clear ModelError."""
    model_type = getattr(config, "model_type", None)
    family = FAMILIES.get(model_type)
    if family is None:
        raise ModelError(
            f"model family '{model_type}' is not supported for layer dropping",
            f"supported families: {', '.join(sorted(FAMILIES))}; "
            "adding a BERT-like one is one line in layerdrop/models/architectures.py",
        )
    return family


def n_layers_of(config) -> int:
    """Number of layers in the stack, read from the config alone (no weights)."""
    return int(getattr(config, family_of(config).n_layers_key))
