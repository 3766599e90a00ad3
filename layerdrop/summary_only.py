"""Compute only the summary token in the last layer while fine-tuning and evaluating a classifier.

A sequence classifier reads one position of the last layer's output, [CLS] or <s> at index 0
(BERT, RoBERTa, XLM-R, CamemBERT, ELECTRA, DistilBERT); the rest of that layer's output is computed
and thrown away. The summary token still attends to every token, so the last layer needs keys and
values for all of them, but its query, attention output projection, feed-forward block and
LayerNorms only for the summary token. For MiniLM-L6 that is 83% of the last layer's weights and,
after K=3 are dropped, a quarter of the encoder's matmul work.

The logits, the loss and every gradient are the full layer's up to float rounding
(`tests/unit/test_summary_only.py`). Dropout draws masks over fewer elements, so a seeded run draws
other masks than full-layer training would, from the same distribution. Only the running forward
changes: the instance's `forward` is replaced inside `applied()` and restored after, so parameters,
optimizer state and the saved model are untouched. Anything unusual at call time (hidden states or
attention maps asked for, a mask layout other than 4-D, another attention kernel) runs the stock
forward instead, and so does a layer under gradient checkpointing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from layerdrop.architectures import FAMILIES, asks_for_more, plain_encoder, stock_classifier
from layerdrop.surgery import layer_stack

# The attention kernels whose masks this module slices; flash attention takes 2-D masks.
KERNELS = ("eager", "sdpa")


def applies(model) -> bool:
    """True when `model` is a sequence classifier of a family whose last layer can be cut to its summary token."""
    return (stock_classifier(model) and applies_to_config(model.config)
            and model.config._attn_implementation in KERNELS and len(layer_stack(model)) > 0)


def applies_to_config(config) -> bool:
    """`applies` for the sequence classifier of `config`, before any model is built."""
    return (plain_encoder(config) and FAMILIES[config.model_type].summary_token == "first"
            # Configs from before transformers 5 may ask for relative position scores; stay out of their way.
            and getattr(config, "position_embedding_type", "absolute") in (None, "absolute"))


def _parts(model):
    """The last layer, its self-attention module, and its query, key and value projections."""
    layer = layer_stack(model)[-1]
    if FAMILIES[model.config.model_type].layout == "bert":
        attention = layer.attention.self
        return layer, attention, (attention.query, attention.key, attention.value)
    attention = layer.attention
    return layer, attention, (attention.q_lin, attention.k_lin, attention.v_lin)


def query_only_parameters(model) -> int:
    """Parameters of the last layer that meet only the summary token (all but its key and value
    projections): what `layerdrop.flops` leaves out per other token."""
    layer, _, (_, key, value) = _parts(model)
    kv = sum(p.numel() for module in (key, value) for p in module.parameters())
    return sum(p.numel() for p in layer.parameters()) - kv


@contextlib.contextmanager
def applied(model) -> Iterator[bool]:
    """Within the block, `model`'s last layer computes only position 0; yields whether it does."""
    if not applies(model):
        yield False
        return
    layer, attention, projections = _parts(model)
    own = layer.__dict__.get("forward")  # a hook's wrapper (accelerate's offload), put back afterwards
    stock = layer.forward
    summary = _bert_summary if FAMILIES[model.config.model_type].layout == "bert" else _distilbert_summary

    def forward(hidden_states, attention_mask=None, *args, **kwargs):
        mask = _query_row(attention_mask, hidden_states.shape[1])
        # BertEncoder passes encoder_hidden_states positionally, None for an encoder.
        # Checkpointing wraps the class's forward (GradientCheckpointingLayer), which this one bypasses.
        checkpointing = getattr(layer, "gradient_checkpointing", False) and layer.training
        if mask is False or checkpointing or any(a is not None for a in args) or asks_for_more(model.config, kwargs):
            return stock(hidden_states, attention_mask, *args, **kwargs)
        first = hidden_states[:, :1]
        context = _attend(attention, first, hidden_states, mask, model.config, *projections)
        return summary(layer, attention, context, first)

    layer.forward = forward
    try:
        yield True
    finally:
        if own is None:
            del layer.forward  # the class's forward again
        else:
            layer.forward = own


def _query_row(mask, length: int):
    """The mask's row for query position 0, or False for a layout this module does not know."""
    if mask is None:
        return None
    if mask.dim() != 4 or mask.shape[-1] != length or mask.shape[-2] not in (1, length):
        return False
    return mask[:, :, :1, :]


def _attend(attention, query_in, hidden_states, mask, config, q, k, v):
    """Multi-head attention of the summary token's query over every token, by the model's own kernel."""
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
    from transformers.models.bert.modeling_bert import eager_attention_forward

    head = attention.attention_head_size
    batch, length = hidden_states.shape[:2]
    query = q(query_in).view(batch, 1, -1, head).transpose(1, 2)
    key = k(hidden_states).view(batch, length, -1, head).transpose(1, 2)
    value = v(hidden_states).view(batch, length, -1, head).transpose(1, 2)
    kernel = ALL_ATTENTION_FUNCTIONS.get_interface(config._attn_implementation, eager_attention_forward)
    context, _ = kernel(attention, query, key, value, mask, dropout=attention.dropout.p if attention.training else 0.0,
                        scaling=attention.scaling)
    return context.reshape(batch, 1, -1)


def _bert_summary(layer, attention, context, first):
    """The rest of BertLayer (and its RoBERTa and ELECTRA copies) at position 0: (batch, 1, hidden)."""
    attention_output = layer.attention.output(context, first)  # dense, dropout, LayerNorm with the residual
    return layer.feed_forward_chunk(attention_output)


def _distilbert_summary(layer, attention, context, first):
    """The rest of DistilBERT's TransformerBlock at position 0: (batch, 1, dim)."""
    attention_output = layer.sa_layer_norm(attention.out_lin(context) + first)
    return layer.output_layer_norm(layer.ffn(attention_output) + attention_output)
