from __future__ import annotations

from typing import Literal

from layerdrop.errors import UsageError
from layerdrop.selection.strategy import SelectionContext


def alternate(n_layers: int, k: int, ctx: SelectionContext, *, parity: Literal["even", "odd"] = "even") -> list[int]:
    """Drop K alternating layers from the top: parity=even|odd is the paper's even-/odd-alternate.

    The paper numbers layers from 1. Even-alternate drops the K highest even-numbered layers
    (L=12, K=4: paper layers 12,10,8,6 = indices 11,9,7,5); odd-alternate the K highest
    odd-numbered ones (indices 10,8,6,4).
    """
    first_paper_number = 2 if parity == "even" else 1
    candidates = [p - 1 for p in range(first_paper_number, n_layers + 1, 2)]  # 0-based, bottom up
    if k > len(candidates):
        raise UsageError(
            f"alternate (parity={parity}) can drop at most {len(candidates)} of {n_layers} layers, not --k {k}",
            f"choose --k up to {len(candidates)}",
        )
    return sorted(candidates[len(candidates) - k :])
