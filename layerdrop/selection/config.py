"""The frozen config of choosing and dropping layers, shared by `plan`, `drop` and every run."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class DropConfig:
    """What `layerdrop drop` and `layerdrop plan` need to choose and remove layers.

    Attributes:
        model: alias (`layerdrop models`), hub id or local folder.
        strategy: strategy name, `file.py:function` or `package.module:function`.
        k: number of layers to drop; None for strategies that decide it (explicit, threshold).
        params: strategy parameters as given, `("parity=odd", ...)`; checked against the
            strategy's signature before anything loads.
        component: "layer" (whole layers), "ffn" or "attention" (that sublayer of K layers).
        attention: softmax (stock), relu or sigmoid attention weights.
        drop_layernorm: None, or remove the LayerNorm after every layer's "attention" or "ffn" sublayer.
        seed: seed for strategies with randomness.
        trust_remote_code: allow code from the model repository to run.
    """

    model: str
    strategy: str = "top"
    k: int | None = None
    params: tuple[str, ...] = ()
    component: str = "layer"
    attention: str = "softmax"
    drop_layernorm: str | None = None
    seed: int = 42
    trust_remote_code: bool = False


def config_dict(config) -> dict[str, Any]:
    """A JSON-ready dict of any config dataclass (tuples become lists)."""
    return json.loads(json.dumps(asdict(config)))
