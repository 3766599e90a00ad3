from __future__ import annotations

from layerdrop.selection.strategy import SelectionContext


def symmetric(n_layers: int, k: int, ctx: SelectionContext) -> list[int]:
    """Drop the K middle layers, keeping as many at the bottom as at the top."""
    # When L-K is odd the paper gives no rule: the extra kept layer goes to the bottom, because
    # the paper finds the lower layers matter most. L=6, K=1 drops index 3.
    keep_bottom = (n_layers - k + 1) // 2
    return list(range(keep_bottom, keep_bottom + k))
