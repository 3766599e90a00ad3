from __future__ import annotations

from typing import Literal

from layerdrop.errors import UsageError
from layerdrop.selection.strategy import SelectionContext


def contribution(
    n_layers: int,
    k: int | None,
    ctx: SelectionContext,
    *,
    threshold: float | None = None,
    n_examples: int = 512,
    split: Literal["train", "validation"] = "train",
) -> list[int]:
    """Drop the layers that change the summary token least (cosine similarity of input and output).

    A layer's score is the mean cosine similarity between the summary token's hidden state at
    the layer's input and at its output, over `n_examples` examples of the task's `split`, on the
    pretrained model (see layerdrop/analysis/scoring.py). With `threshold`, every layer scoring above it
    is dropped, as in the paper (then K follows from the threshold); with --k, the K most
    similar layers are dropped. `split=validation` reproduces the paper's dev-set recipe.
    """
    if (k is None) == (threshold is None):
        raise UsageError(
            "the contribution strategy needs exactly one of --k and --param threshold=...",
            "pass --k N to drop the N most similar layers, or a threshold such as 0.95",
        )
    if n_examples < 1:
        raise UsageError(f"--param n_examples={n_examples} must be positive", "pass e.g. n_examples=512")
    scores = ctx.layer_scores(n_examples=n_examples, split=split)
    if threshold is not None:
        return [i for i, score in enumerate(scores) if score > threshold]
    # Most similar first; ties go to the lower index so the choice is deterministic.
    ranked = sorted(range(n_layers), key=lambda i: (-scores[i], i))
    return sorted(ranked[:k])


contribution.sets_k = True  # with a threshold, K follows from the scores
