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
            and its copies), "distilbert" (attention.q_lin, ffn), "xlnet"; `layerdrop.summary_only`
            and `layerdrop.unpad` read it.
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
            "adding a BERT-like one is one line in layerdrop/architectures.py",
        )
    return family


def n_layers_of(config) -> int:
    """Number of layers in the stack, read from the config alone (no weights)."""
    return int(getattr(config, family_of(config).n_layers_key))


def plain_encoder(config) -> bool:
    """A BERT- or DistilBERT-layout encoder without decoder parts or chunked feed-forward blocks:
    the layers `layerdrop.summary_only` and `layerdrop.unpad` know how to run piecewise."""
    family = FAMILIES.get(getattr(config, "model_type", None))
    return (family is not None and family.layout in ("bert", "distilbert")
            and not getattr(config, "is_decoder", False) and not getattr(config, "add_cross_attention", False)
            and not getattr(config, "chunk_size_feed_forward", 0))


def stock_classifier(model) -> bool:
    """A sequence classifier built from transformers' own code. Hub code (`--trust-remote-code`)
    may reuse a family's model_type with layers of its own, and other heads read other positions."""
    return (getattr(model, "config", None) is not None  # a hand-written nn.Module (tests) has none
            and type(model).__module__.startswith("transformers.models.")
            and type(model).__name__.endswith("ForSequenceClassification"))


def checkpointing(model) -> bool:
    """Whether `model` recomputes its layers' forward in the backward pass (gradient checkpointing)."""
    # transformers 5 renamed the property and warns on the old name.
    flag = "is_activation_checkpointing" if hasattr(type(model), "is_activation_checkpointing") else "is_gradient_checkpointing"
    return bool(getattr(model, flag, False))


def asks_for_more(config, kwargs) -> bool:
    """Whether a forward call with `kwargs` wants more than the logits of every row: hidden states,
    attention maps or a cache (`layerdrop.summary_only` and `layerdrop.unpad` then run the stock layers)."""
    wanted = lambda key: kwargs.get(key, getattr(config, key, False))  # noqa: E731
    return (wanted("output_attentions") or wanted("output_hidden_states")
            or kwargs.get("past_key_values") is not None or kwargs.get("encoder_hidden_states") is not None)
