"""Sublayer edits of post-LN encoders: remove feed-forward or attention sublayers, remove LayerNorms,
replace softmax attention. Self-contained on purpose (torch and transformers only): `layerdrop`
copies this file beside a saved model as `modeling_layerdrop.py`, so the folder loads with
`trust_remote_code=True` where layerdrop is not installed.

What removal means. A post-LN layer computes two sublayers, each `LN(h + f(h))`: f is the
self-attention, then the feed-forward block (BERT's `intermediate` and `output`). Removing a
sublayer makes it the identity, `h`, its residual LayerNorm included. The blocks are deleted: the
modules that held their weights are replaced by parameter-free stand-ins, so the parameters and
their compute are gone, not zeroed.

Removing a LayerNorm turns its sublayer into `h + f(h)`.

Attention normalizers replace the softmax of `softmax(q.k / sqrt(d))` (n_i = real keys of row i):
- `relu`: relu(q.k / sqrt(d)) / n_i. Wortsman, Lee, Gilmer & Kornblith 2023, "Replacing softmax
  with ReLU in Vision Transformers", arXiv 2309.08586 (they divide by the sequence length; with
  padding, the real length);
- `sigmoid`: sigmoid(q.k / sqrt(d) - log n_i). Ramapuram et al. 2024, "Theory, Analysis, and Best
  Practices for Sigmoid Self-Attention", arXiv 2409.04431 (bias b = -log n).
Masked keys get weight exactly 0. They plug in through transformers' `AttentionInterface` (with a
boolean mask from `AttentionMaskInterface`), so the stock layers run unchanged.

The edits a model carries live in `config.layerdrop["edits"]` (see `apply_edits`).
"""

from __future__ import annotations

import torch
from torch import nn

# Where each layout keeps the modules that removal replaces and the two LayerNorms.
# bert: BERT and its copies (RoBERTa, XLM-R, CamemBERT, ELECTRA); distilbert; xlnet.
LAYERNORMS = {
    "bert": {"attention": "attention.output.LayerNorm", "ffn": "output.LayerNorm"},
    "distilbert": {"attention": "sa_layer_norm", "ffn": "output_layer_norm"},
    "xlnet": {"attention": "rel_attn.layer_norm", "ffn": "ff.layer_norm"},
}
# The module(s) of each sublayer, whose parameters go when it is removed.
SUBLAYER_MODULES = {
    "bert": {"attention": ("attention",), "ffn": ("intermediate", "output")},
    "distilbert": {"attention": ("attention", "sa_layer_norm"), "ffn": ("ffn", "output_layer_norm")},
    "xlnet": {"attention": ("rel_attn",), "ffn": ("ff",)},
}
# Sublayer boundaries, for scoring a sublayer by how much it changes its input: the input is the
# first positional argument of the first module, the output what the second module returns (its
# first element if a tuple). xlnet's hidden states are (seq, batch, hidden) inside the stack.
BOUNDARIES = {
    "bert": {"attention": ("attention", "attention"), "ffn": ("intermediate", "output")},
    "distilbert": {"attention": ("attention", "sa_layer_norm"), "ffn": ("ffn", "output_layer_norm")},
    "xlnet": {"attention": ("rel_attn", "rel_attn"), "ffn": ("ff", "ff")},
}
# Layouts whose attention goes through transformers' AttentionInterface (XLNet's relative
# attention computes its own softmax).
NORMALIZER_LAYOUTS = ("bert", "distilbert")
NORMALIZERS = ("softmax", "relu", "sigmoid")
COMPONENTS = ("attention", "ffn")


class Passthrough(nn.Module):
    """Stands where a removed block was and returns its input (BERT's `intermediate`, XLNet's `ff`)."""

    def forward(self, hidden_states, *args, **kwargs):
        return hidden_states


class ResidualOnly(nn.Module):
    """Stands where BERT's `output` (dense, dropout, residual LayerNorm) was: returns the residual."""

    def forward(self, hidden_states, input_tensor):
        return input_tensor


class ZeroBranch(nn.Module):
    """Stands where DistilBERT's `ffn` was: a branch that adds nothing to the residual (its
    LayerNorm becomes an Identity, so the sublayer returns its input exactly)."""

    def forward(self, hidden_states):
        return torch.zeros_like(hidden_states)


class SkippedAttn(nn.Module):
    """Stands where a removed attention sublayer was. (Not named `*Attention`: transformers decides
    whether a model's attention implementation may be set by searching its module's source for
    such classes, and this module is the source of every edited model class.)

    bert: returns `(hidden_states, None)` (BertAttention's output, residual LayerNorm included);
    distilbert: `(0, None)`, added to the residual before an Identity LayerNorm;
    xlnet: `(h, g)`, both streams unchanged.
    """

    def __init__(self, layout: str):
        super().__init__()
        self.layout = layout

    def extra_repr(self) -> str:
        return f"layout={self.layout}"

    def forward(self, hidden_states, *args, **kwargs):
        if self.layout == "distilbert":
            return torch.zeros_like(hidden_states), None
        if self.layout == "xlnet":
            return hidden_states, args[0] if args else kwargs.get("g")
        return hidden_states, None


def _get(module: nn.Module, path: str) -> nn.Module:
    for part in path.split("."):
        module = getattr(module, part)
    return module


def _set(module: nn.Module, path: str, value: nn.Module) -> None:
    *parents, last = path.split(".")
    for part in parents:
        module = getattr(module, part)
    setattr(module, last, value)


def has_sublayer(layer: nn.Module, layout: str, component: str) -> bool:
    """Whether `layer` still computes its `component` ("attention" or "ffn") sublayer."""
    first = SUBLAYER_MODULES[layout][component][0]
    return not isinstance(getattr(layer, first), (Passthrough, ZeroBranch, SkippedAttn))


def has_layernorm(layer: nn.Module, layout: str, which: str) -> bool:
    """Whether the LayerNorm after `which` sublayer is still there (and its sublayer too)."""
    return has_sublayer(layer, layout, which) and isinstance(_get(layer, LAYERNORMS[layout][which]), nn.LayerNorm)


def remove_sublayer(layer: nn.Module, layout: str, component: str) -> None:
    """Make `component` of `layer` the identity, deleting its modules (see the module docstring)."""
    if layout == "bert":
        if component == "ffn":
            layer.intermediate, layer.output = Passthrough(), ResidualOnly()
        else:
            layer.attention = SkippedAttn(layout)
    elif layout == "distilbert":
        if component == "ffn":
            layer.ffn, layer.output_layer_norm = ZeroBranch(), nn.Identity()
        else:
            layer.attention, layer.sa_layer_norm = SkippedAttn(layout), nn.Identity()
    elif layout == "xlnet":
        if component == "ffn":
            layer.ff = Passthrough()
        else:
            layer.rel_attn = SkippedAttn(layout)
    else:
        raise ValueError(f"unknown layout {layout!r}")


def remove_layernorm(layer: nn.Module, layout: str, which: str) -> None:
    """Replace the LayerNorm after `which` sublayer with the identity: `h + f(h)`."""
    _set(layer, LAYERNORMS[layout][which], nn.Identity())


def _keep_mask(attention_mask, scores):
    """Boolean (…, q, k) mask of the keys a query may attend to, from a boolean or additive mask."""
    if attention_mask is None:
        return None
    if attention_mask.dtype == torch.bool:
        return attention_mask
    return attention_mask > torch.finfo(attention_mask.dtype).min / 2


def _normalized_attention(normalize_, masked_value: float):
    """An attention function for transformers' AttentionInterface. `normalize_(scores, n)` turns
    the scaled scores into weights in place; masked keys are set to `masked_value` first, which
    `normalize_` maps to exactly 0 (in-place steps: no extra (batch, heads, q, k) tensors)."""

    def attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
        if scaling is None:
            scaling = query.size(-1) ** -0.5
        scores = torch.matmul(query, key.transpose(2, 3)) * scaling  # (batch, heads, q, k)
        keep = _keep_mask(attention_mask, scores)
        # n_i in float32 whatever the scores' dtype: bf16 would round 301 keys to 300.
        if keep is None:
            n_keys = torch.full_like(scores[..., :1], scores.shape[-1], dtype=torch.float32)
        else:
            n_keys = keep.sum(dim=-1, keepdim=True).clamp(min=1).to(torch.float32)
            scores = scores.masked_fill_(~keep, masked_value)
        weights = normalize_(scores, n_keys)
        weights = nn.functional.dropout(weights, p=dropout, training=module.training)
        output = torch.matmul(weights, value).transpose(1, 2).contiguous()
        return output, weights

    return attention


# relu(s) / n = relu(s / n) for n > 0; a masked score of 0 stays 0.
relu_attention = _normalized_attention(lambda scores, n: scores.div_(n).relu_(), 0.0)
# sigmoid(-inf) = 0 exactly.
sigmoid_attention = _normalized_attention(lambda scores, n: scores.sub_(torch.log(n)).sigmoid_(), float("-inf"))
IMPLEMENTATIONS = {"relu": ("layerdrop_relu", relu_attention), "sigmoid": ("layerdrop_sigmoid", sigmoid_attention)}


def register_normalizers() -> None:
    """Register the normalizers with transformers (idempotent), each with the boolean padding mask
    that sdpa uses: a custom attention without a registered mask function would get no mask."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    for key, fn in IMPLEMENTATIONS.values():
        AttentionInterface.register(key, fn)
        AttentionMaskInterface.register(key, sdpa_mask)


def set_normalizer(model, normalizer: str) -> None:
    """Make `model` (one of NORMALIZER_LAYOUTS) attend with `normalizer` instead of softmax."""
    if normalizer == "softmax":
        return
    register_normalizers()
    model.set_attn_implementation(IMPLEMENTATIONS[normalizer][0])


def apply_edits(model, edits: dict) -> None:
    """Apply the edits recorded in `config.layerdrop["edits"]` to a stock model of that shape.

    `edits`: {"layers": dotted path of the layer stack from `model.base_model`, "layout": ...,
    "removed_sublayers": {"attention": [...], "ffn": [...]}, "removed_layernorms": {"attention":
    [...], "ffn": [...]}, "attention": "softmax" | "relu" | "sigmoid"}, layer positions 0-based in
    the saved stack.
    """
    stack = _get(model.base_model, edits["layers"])
    layout = edits["layout"]
    for component, positions in edits.get("removed_sublayers", {}).items():
        for i in positions:
            remove_sublayer(stack[i], layout, component)
    for which, positions in edits.get("removed_layernorms", {}).items():
        for i in positions:
            if has_sublayer(stack[i], layout, which):  # a removed sublayer took its LayerNorm with it
                remove_layernorm(stack[i], layout, which)
    set_normalizer(model, edits.get("attention", "softmax"))


def edited_class(base):
    """A subclass of the transformers class `base` that applies the config's edits when built, so
    `from_pretrained` loads the saved weights into a model of the saved shape."""

    class Edited(base):
        def __init__(self, config, *args, **kwargs):
            super().__init__(config, *args, **kwargs)
            edits = (getattr(config, "layerdrop", None) or {}).get("edits")
            if edits:
                apply_edits(self, edits)

    Edited.__name__ = Edited.__qualname__ = f"Layerdrop{base.__name__}"
    return Edited

