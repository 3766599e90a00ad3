from __future__ import annotations

import random

from layerdrop.selection.strategy import SelectionContext


def random_layers(n_layers: int, k: int, ctx: SelectionContext, *, seed: int | None = None) -> list[int]:
    """Drop K layers chosen uniformly at random (seeded): the baseline every strategy must beat."""
    # Its own generator, so the choice depends on the seed alone, not on global RNG state.
    rng = random.Random(ctx.seed if seed is None else seed)
    return sorted(rng.sample(range(n_layers), k))
