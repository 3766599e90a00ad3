"""Dropout masks from a faster random-number generator, for fp32 training on CPU.

PyTorch's CPU dropout draws one Bernoulli sample per element from its mt19937 generator, serially:
about 7-10 ns an element here, against 0.4 ns for the multiply that applies the mask. On MiniLM's
short SST-2 batches those draws were 6% of a single-threaded training step (`aten::bernoulli_`,
benchmarks/step_profile.py), the largest cost after the matmuls and copies.

`fast_dropout` swaps the model's `nn.Dropout` modules, for the span of fine-tuning, for
`FastDropout`, whose mask comes from numpy's SFC64 generator: one 32-bit draw per element (two per
64-bit output), kept when it is at least round(p * 2**32). The keep probability is 1 - p to within
2**-33 (torch's own draw compares a 24-bit float), every element is independent, and survivors are
scaled by 1 / (1 - p) as usual, so the masks have torch's distribution and only the draws differ.
The generator is seeded from the run's seed, so a seeded run repeats exactly.

The attention probabilities are dropped inside the attention kernel, which reads only the
dropout rate from the module's `dropout`. So while the swap lasts, a model on transformers' SDPA
kernel runs `attention` instead (registered as "layerdrop_sdpa"): for modules whose dropout was
swapped, the same softmax(QK^T * scaling + mask) V that SDPA computes on CPU in training, with the
probabilities' mask drawn here; everything else goes to SDPA unchanged.

A mask costs ~1.5 ns an element and the whole forward and backward ~3.5 against ~10. Functional
`F.dropout` calls keep torch's masks; so do GPUs, whose fused kernels are fast already, and bf16.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import cache

import numpy as np
import torch

from layerdrop.architectures import checkpointing

KERNEL = "layerdrop_sdpa"
# numpy's SeedSequence entropy: the run's seed with this tag, so these streams do not coincide
# with any other numpy generator seeded from the same integer.
_STREAM_TAG = 0x1A7E_D809


def applies(device_type: str, precision: str) -> bool:
    """Whether fine-tuning on this device and precision draws its dropout masks here."""
    return device_type == "cpu" and precision == "fp32"


def keep_mask(shape: torch.Size, p: float, generator: np.random.Generator) -> torch.Tensor:
    """A float32 tensor of `shape`: 1 / (1 - p) with probability 1 - p, else 0, independently."""
    n = shape.numel()
    bits = generator.bit_generator.random_raw((n + 1) // 2).view(np.uint32)[:n]
    threshold = np.uint32(min(round(p * 2**32), 2**32 - 1))
    scale = np.float32(1.0 / (1.0 - p))
    return torch.from_numpy(np.multiply(bits >= threshold, scale, dtype=np.float32)).view(shape)


class FastDropout(torch.nn.Dropout):
    """nn.Dropout whose training masks come from `generator` (see the module docstring)."""

    def __init__(self, p: float, generator: np.random.Generator):
        super().__init__(p)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.p >= 1.0 or x.dtype != torch.float32 or x.device.type != "cpu":
            return super().forward(x)
        # The mask needs no gradient, so autograd keeps only it for the backward pass, as torch's does.
        return x * keep_mask(x.shape, self.p, self.generator)


# Arguments the math below has no use for, and that SDPA ignores for an encoder's self-attention.
_UNUSED = ("encoder_hidden_states", "position_ids")


def attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling: float | None = None, **kwargs):
    """transformers' SDPA attention, with the probabilities' dropout mask from `module.dropout`'s
    generator when that is a FastDropout (the same interface as `sdpa_attention_forward`).

    Anything the math here does not reproduce goes to SDPA: causal attention (SDPA's default when a
    module does not say), grouped key/value heads, other dtypes and devices, extra arguments
    (position bias, softcapping, ...), and masks with a row that may attend nowhere, which SDPA
    answers with zeros.
    """
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    drop = getattr(module, "dropout", None)
    causal = kwargs.get("is_causal", getattr(module, "is_causal", True))
    extra = any(value is not None and value is not False and name not in _UNUSED
                for name, value in kwargs.items() if name != "is_causal")
    boolean = attention_mask is not None and attention_mask.dtype == torch.bool
    if (dropout == 0.0 or not isinstance(drop, FastDropout) or causal or extra
            or query.dtype != torch.float32 or query.device.type != "cpu" or key.shape[1] != query.shape[1]
            or (boolean and not bool(attention_mask.any(dim=-1).all()))):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs)
    scores = torch.matmul(query, key.transpose(2, 3)) * (query.shape[-1] ** -0.5 if scaling is None else scaling)
    if boolean:  # SDPA's masks: True where a query may attend
        scores = scores.masked_fill(~attention_mask, torch.finfo(scores.dtype).min)
    elif attention_mask is not None:
        scores = scores + attention_mask[..., : key.shape[-2]]
    probs = torch.softmax(scores, dim=-1)
    probs = probs * keep_mask(probs.shape, dropout, drop.generator)
    return torch.matmul(probs, value).transpose(1, 2).contiguous(), None


@cache  # once per process: transformers' registries are global
def _register() -> None:
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import sdpa_mask

    AttentionInterface.register(KERNEL, attention)
    AttentionMaskInterface.register(KERNEL, sdpa_mask)  # the masks SDPA gets: boolean, or None without padding


@contextmanager
def fast_dropout(model: torch.nn.Module, seed: int, stream: int = 0):
    """Swap the model's plain nn.Dropout modules for FastDropout while the block runs, then put
    the originals back, so evaluation, saving and everything after see the model as transformers
    built it. `stream` separates processes that train on the same seed. Yields how many were swapped.

    Only exact nn.Dropout instances are swapped; subclasses may do more than drop. Nothing is swapped
    under gradient checkpointing, whose recomputed forward restores torch's random state, not this
    generator's. Records' `dropout_masks` names where these modules draw; an eager attention
    kernel's functional dropout (and XLNet's) still draws from torch, seeded all the same.
    """
    if checkpointing(model):
        yield 0
        return
    generator = np.random.Generator(np.random.SFC64(np.random.SeedSequence([_STREAM_TAG, seed % 2**64, stream])))
    config = getattr(model, "config", None)
    kernel = getattr(config, "_attn_implementation", None)
    swapped = []
    try:
        for module in list(model.modules()):
            for name, child in module.named_children():
                if type(child) is torch.nn.Dropout:
                    fast = FastDropout(child.p, generator)
                    fast.train(child.training)
                    setattr(module, name, fast)
                    swapped.append((module, name, child, fast))
        if swapped and kernel == "sdpa":
            _register()
            config._attn_implementation = KERNEL
        yield len(swapped)
    finally:
        if config is not None and getattr(config, "_attn_implementation", None) == KERNEL:
            config._attn_implementation = kernel
        for module, name, original, fast in swapped:
            original.train(fast.training)
            setattr(module, name, original)
