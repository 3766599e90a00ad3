"""Run each layer's per-token sublayers on the real tokens only while fine-tuning.

Batches are padded to their longest sequence; on 2,000 SST-2 sentences in length groups of 8, a
quarter of every batch is padding. Attention needs the padded (batch, length) layout, but the
attention output block (dense, dropout, LayerNorm with the residual) and the feed-forward block
work on each position alone, and they hold three quarters of a BERT layer's weights. So while
`applied()` lasts, those blocks gather the real positions, run the stock module on them as one
(tokens, hidden) matrix, and scatter the result back, with zeros at the padding.

What a real token computes is unchanged, and so are the loss and every gradient, up to float rounding
(`tests/unit/test_unpad.py`): a padding position is only ever a key, which the attention mask hides,
or a query whose output nothing reads. Position 0, which the classifier reads, is always computed,
so left-padded batches come out the same too. Dropout draws masks over the real positions only, so a seeded
run draws other masks than padded training would (records say `unpadded_sublayers`). Only
instance attributes are set, and deleted afterwards; parameters and the saved model are untouched.
Padding-free batches, hidden states or attention maps asked for, and gradient checkpointing run the
stock layers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from layerdrop.architectures import FAMILIES, asks_for_more, checkpointing, plain_encoder, stock_classifier
from layerdrop.surgery import layer_stack


def applies_to_config(config) -> bool:
    """Whether a classifier of `config` has layers whose per-token blocks this module knows."""
    return plain_encoder(config)


def applies(model) -> bool:
    """True when `model` is a sequence classifier whose layers' per-token blocks this module knows
    (other heads, token classification, read every position, padding included)."""
    return stock_classifier(model) and applies_to_config(model.config) and len(layer_stack(model)) > 0


class _Positions:
    """The current batch's positions to compute, set around each call of the encoder."""

    def __init__(self):
        self.index = None  # flat indices into batch * length, or None: run the stock blocks
        self.shape = None

    def capture(self, module, args, kwargs):
        mask = kwargs.get("attention_mask")
        self.clear()
        if mask is None or mask.dim() != 2 or asks_for_more(module.config, kwargs):
            return
        keep = mask != 0
        # The classifier reads position 0 of every row, which is padding in a left-padded short row:
        # computed as the stock layers compute it, whatever it holds.
        keep[:, 0] = True
        if bool(keep.all()):
            return
        self.shape = tuple(mask.shape)
        self.index = keep.reshape(-1).nonzero().squeeze(1)

    def clear(self, *_):
        self.index = self.shape = None

    def wrap(self, block):
        """`block` (tensors of shape (batch, length, ...) in, one out) run on the real positions."""

        def on_real_tokens(*tensors):
            index, shape = self.index, self.shape
            if index is None or any(tuple(t.shape[:2]) != shape for t in tensors):
                return block(*tensors)
            rows = shape[0] * shape[1]
            out = block(*(t.reshape(rows, *t.shape[2:]).index_select(0, index) for t in tensors))
            return out.new_zeros(rows, *out.shape[1:]).index_copy(0, index, out).view(*shape, *out.shape[1:])

        return on_real_tokens


def _blocks(model, layer):
    """(owner, attribute) of the per-token blocks in `layer`: called with tensors, one tensor out."""
    if FAMILIES[model.config.model_type].layout == "bert":
        # BertSelfOutput(context, residual) and BertLayer.feed_forward_chunk(attention_output)
        return [(layer.attention.output, "forward"), (layer, "feed_forward_chunk")]
    return [(layer.ffn, "forward")]  # DistilBERT's FFN: lin1, activation, lin2, dropout


@contextlib.contextmanager
def applied(model) -> Iterator[bool]:
    """Within the block, `model`'s per-token sublayers skip the padding; yields whether they do."""
    if not applies(model) or checkpointing(model):
        yield False
        return
    positions = _Positions()
    # Around the encoder, not the classifier, so a direct call of the encoder gets its own positions;
    # cleared after every call, so a layer called on its own runs the stock blocks.
    encoder = model.base_model
    hooks = [encoder.register_forward_pre_hook(positions.capture, with_kwargs=True),
             encoder.register_forward_hook(positions.clear, always_call=True)]
    patched = []
    try:
        for layer in layer_stack(model):
            for owner, name in _blocks(model, layer):
                own = owner.__dict__.get(name)  # a hook's wrapper (accelerate's offload), put back afterwards
                setattr(owner, name, positions.wrap(getattr(owner, name)))
                patched.append((owner, name, own))
        yield True
    finally:
        for hook in hooks:
            hook.remove()
        for owner, name, own in reversed(patched):
            if own is None:
                delattr(owner, name)  # the class's method again
            else:
                setattr(owner, name, own)
