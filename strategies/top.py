from __future__ import annotations

from layerdrop.selection.strategy import SelectionContext


def top(n_layers: int, k: int, ctx: SelectionContext) -> list[int]:
    """Drop the top K layers (the paper's best strategy at K=4 and 6)."""
    # The output of the highest kept layer feeds the classifier.
    return list(range(n_layers - k, n_layers))
