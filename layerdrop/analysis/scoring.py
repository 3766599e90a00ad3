"""Data-driven layer scores, computed on the pretrained model before any fine-tuning.

The contribution score of layer j (Sajjad et al., 2004.03844, section 3) is the mean cosine
similarity between the summary token's hidden state at the layer's input (hidden state j) and at
its output (hidden state j+1). A score near 1 means the layer barely changes the representation.
Hidden states come from `output_hidden_states=True`: no hook is registered, so nothing outlives
the call.

For a sublayer (`--component ffn|attention`) the same score compares the summary token at the
sublayer's input and output, read with forward hooks that are removed when the call returns.
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


def sublayer_similarities(model, batches: Iterable[dict], summary_token: Literal["first", "last"],
                          component: str) -> list[float]:
    """Mean cosine similarity of the summary token before and after each layer's `component`
    ("attention" or "ffn") sublayer, read at the boundaries `layerdrop.models.edits.BOUNDARIES`
    names. A layer without that sublayer scores 1 (it changes nothing)."""
    import torch

    from layerdrop.models.architectures import family_of
    from layerdrop.models.edits import BOUNDARIES, has_sublayer
    from layerdrop.models.surgery import layer_stack

    family = family_of(model.config)
    first, last = BOUNDARIES[family.layout][component]
    stack = layer_stack(model)
    seen: dict[int, list] = {}

    def capture(i: int, slot: int):
        def hook(module, args, kwargs_or_output, *rest):
            if slot == 0:  # the input: first positional argument, or first keyword if called with keywords
                value = args[0] if args else next(iter(kwargs_or_output.values()))
            else:  # the output, or its first element
                value = kwargs_or_output[0] if isinstance(kwargs_or_output, tuple) else kwargs_or_output
            if len(seen.setdefault(i, [])) <= slot:  # XLNet calls `ff` twice when it has a query stream
                seen[i].append(value)
        return hook

    handles = []
    for i, layer in enumerate(stack):
        if has_sublayer(layer, family.layout, component):
            handles.append(getattr(layer, first).register_forward_pre_hook(capture(i, 0), with_kwargs=True))
            handles.append(getattr(layer, last).register_forward_hook(capture(i, 1)))
    was_training = model.training
    model.eval()
    totals = torch.zeros(len(stack), dtype=torch.float64)
    count = 0
    try:
        with torch.inference_mode():
            for batch in batches:
                seen.clear()
                model.base_model(**batch)
                mask = batch["attention_mask"]
                rows = torch.arange(mask.shape[0], device=mask.device)
                pos = summary_positions(mask, summary_token)
                for i in range(len(stack)):
                    if i not in seen:
                        totals[i] += mask.shape[0]
                        continue
                    x, y = seen[i]
                    if family.layout == "xlnet":  # (seq, batch, hidden) inside XLNet's stack
                        x, y = x.transpose(0, 1), y.transpose(0, 1)
                    cos = torch.nn.functional.cosine_similarity(x[rows, pos].float(), y[rows, pos].float(), dim=-1)
                    totals[i] += cos.sum().double().cpu()
                count += mask.shape[0]
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    if not count:
        raise ValueError("no examples to score sublayers on")
    return [float(x) for x in (totals / count).clamp(-1.0, 1.0)]
