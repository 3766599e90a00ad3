"""Data-driven layer scores, computed on the pretrained model before any fine-tuning.

The contribution score of layer j (Sajjad et al., 2004.03844, section 3) is the mean cosine
similarity between the summary token's hidden state at the layer's input (hidden state j) and at
its output (hidden state j+1). A score near 1 means the layer barely changes the representation.
Hidden states come from `output_hidden_states=True`: no hook is registered, so nothing outlives
the call.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal


def summary_positions(attention_mask, summary_token: Literal["first", "last"]):
    """Index of the summary token in each row, from the attention mask: padding never counts.

    "first" is the first real token ([CLS], <s>); "last" the last real token (XLNet's <cls>),
    correct for both right and left padding.

    Args:
        attention_mask: (batch, seq) of 0/1.

    Returns:
        (batch,) long tensor of positions.
    """
    import torch

    mask = attention_mask.to(torch.long)
    if summary_token == "first":
        return mask.argmax(dim=1)  # first 1 in each row
    seq_len = mask.shape[1]
    return seq_len - 1 - mask.flip(dims=[1]).argmax(dim=1)  # last 1 in each row


def layer_similarities(model, batches: Iterable[dict], summary_token: Literal["first", "last"]) -> list[float]:
    """Mean cosine similarity of the summary token before and after each layer.

    Args:
        model: a transformers model (with or without a task head) in eval-able state.
        batches: dicts of model inputs, each with an `attention_mask`, already on the model's device.
        summary_token: see `summary_positions`.

    Returns:
        One score per layer, bottom first, each in [-1, 1].
    """
    import torch

    was_training = model.training
    model.eval()
    totals = None
    count = 0
    try:
        with torch.inference_mode():
            for batch in batches:
                hidden = model.base_model(**batch, output_hidden_states=True).hidden_states  # L+1 x (b, s, h)
                rows = torch.arange(batch["attention_mask"].shape[0], device=batch["attention_mask"].device)
                pos = summary_positions(batch["attention_mask"], summary_token)
                summary = torch.stack([h[rows, pos].float() for h in hidden])  # (L+1, b, h)
                cos = torch.nn.functional.cosine_similarity(summary[:-1], summary[1:], dim=-1)  # (L, b)
                totals = cos.sum(dim=1) if totals is None else totals + cos.sum(dim=1)
                count += cos.shape[1]
    finally:
        model.train(was_training)
    if not count:
        raise ValueError("no examples to score layers on")
    return [float(x) for x in (totals / count).clamp(-1.0, 1.0).cpu()]
