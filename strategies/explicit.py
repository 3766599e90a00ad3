from __future__ import annotations

from layerdrop.errors import UsageError
from layerdrop.selection.strategy import SelectionContext


def explicit(n_layers: int, k: int | None, ctx: SelectionContext, *, layers: tuple[int, ...]) -> list[int]:
    """Drop exactly the listed layers (--layers 2,5,7; 0-based, bottom = 0)."""
    if k is not None and k != len(layers):
        raise UsageError(f"--k {k} disagrees with the {len(layers)} layers in --layers", "omit --k with the explicit strategy")
    return list(layers)


explicit.sets_k = True  # K is the number of listed layers
