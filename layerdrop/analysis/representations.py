"""Hidden states of a model on a set of examples, extracted once and shared by every analysis.

A representation is one row per example (`cls`: the summary token; `mean`: the mean over real
tokens) or one row per real token (`tokens`), for the embeddings and every layer. Padding never
counts. Extraction runs batched under `inference_mode`, with no gradients.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from layerdrop.analysis.scoring import summary_positions

REPRESENTATIONS = ("cls", "mean", "tokens")


@dataclass
class Representations:
    """Per hidden state (embeddings first), a (rows, hidden) float32 CPU tensor.

    Attributes:
        labels: what each hidden state is, in the *original* model's 0-based layer indices: "emb",
            then the index each kept layer had before any was dropped (so a top-2-dropped MiniLM is
            emb, 0, 1, 2, 3 and an odd-alternate K=2 one, which lost layers 2 and 4, emb, 0, 1, 3, 5).
        layers: the representations, aligned row by row across layers.
        kind: cls, mean or tokens.
    """

    labels: list[str]
    layers: list
    kind: str

    @property
    def rows(self) -> int:
        return int(self.layers[0].shape[0])


def layer_labels(config, n_hidden_states: int) -> list[str]:
    """"emb" and the original index of every layer of a (possibly dropped) model."""
    kept = (getattr(config, "layerdrop", None) or {}).get("kept_layers")
    if not kept or len(kept) != n_hidden_states - 1:
        kept = range(n_hidden_states - 1)
    return ["emb", *(str(i) for i in kept)]


def extract(model, batches: Iterable[dict], kind: Literal["cls", "mean", "tokens"],
            summary_token: Literal["first", "last"], update=None) -> Representations:
    """Run `model` over `batches` (dicts of model inputs with an `attention_mask`, on its device)."""
    import torch

    if kind not in REPRESENTATIONS:
        raise ValueError(f"unknown representation {kind!r}")
    was_training = model.training
    model.eval()
    per_layer: list[list] = []
    try:
        with torch.inference_mode():
            for batch in batches:
                hidden = model.base_model(**batch, output_hidden_states=True).hidden_states
                mask = batch["attention_mask"].bool()
                if not per_layer:
                    per_layer = [[] for _ in hidden]
                for store, states in zip(per_layer, hidden):
                    states = states.float()
                    if kind == "cls":
                        rows = torch.arange(states.shape[0], device=states.device)
                        picked = states[rows, summary_positions(batch["attention_mask"], summary_token)]
                    elif kind == "mean":
                        weights = mask.unsqueeze(-1).to(states.dtype)
                        picked = (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)
                    else:
                        picked = states[mask]
                    store.append(picked.cpu())
                if update is not None:
                    update()
    finally:
        model.train(was_training)
    if not per_layer:
        raise ValueError("no examples to extract representations from")
    layers = [torch.cat(chunks) for chunks in per_layer]
    return Representations(layer_labels(model.config, len(layers)), layers, kind)
