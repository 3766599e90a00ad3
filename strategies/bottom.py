from __future__ import annotations

from layerdrop.selection.strategy import SelectionContext


def bottom(n_layers: int, k: int, ctx: SelectionContext) -> list[int]:
    """Drop the bottom K layers, next to the embeddings (the paper's worst strategy)."""
    return list(range(k))
