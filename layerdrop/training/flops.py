"""Training FLOPs of a BERT-like encoder, counting only real (non-padding) tokens.

For a training pass (forward + backward) over examples with real lengths n_1 .. n_E:

    FLOPs = sum_i ( 6 * P * n_i  +  12 * L * h * n_i**2 )

    P  non-embedding parameters (total minus the nn.Embedding look-up tables). Every weight meets every
       token in one multiply-add: 2 FLOPs forward, 4 backward (gradients of inputs and of weights),
       so 6 per parameter per token. The pooler and classifier see one token per example, so
       counting them per token overstates the total slightly (under 2% for MiniLM-L6).
    L  layers, h  hidden size. Attention's two sequence-by-sequence products per layer, Q K^T and
       A V, each cost 2 * n * h FLOPs per token forward: 4 * n * h per token per layer, times 3
       for forward + backward.

Per real token that is  6 * P + 12 * L * h * (sum n_i**2 / sum n_i). Padding never counts, so a
loop that pads wastes compute this formula does not reward.

Embedding look-ups, softmax, LayerNorm, GELU and the optimizer step are left out, as in Kaplan et
al. (2020) and the PaLM paper's MFU; they are small next to the matmuls.

Each run record's `throughput` carries these figures for the run (`layerdrop.experiments.runner`);
`benchmarks/utilization.py` checks them against a longer matmul measurement.
"""

from __future__ import annotations

from collections.abc import Sequence


def attention_flops_per_token(n_layers: int, hidden: int, lengths: Sequence[int]) -> float:
    """Training FLOPs per real token of Q K^T and A V: 12 * L * h * sum(n**2) / sum(n)."""
    total = sum(lengths)
    if total == 0:
        return 0.0
    return 12.0 * n_layers * hidden * sum(n * n for n in lengths) / total


def training_flops_per_token(non_embedding_params: int, n_layers: int, hidden: int, lengths: Sequence[int]) -> float:
    """Training (forward + backward) FLOPs per real token: 6 * P + 12 * L * h * sum(n**2) / sum(n).

    Args:
        non_embedding_params: parameters outside the embeddings (after any layers were dropped).
        n_layers: encoder layers (after dropping).
        hidden: hidden size.
        lengths: real token count of each training example (after truncation).
    """
    return 6.0 * non_embedding_params + attention_flops_per_token(n_layers, hidden, lengths)


def matmul_flops(m: int, k: int, n: int) -> float:
    """FLOPs of one (m x k) @ (k x n) product: one multiply and one add per term."""
    return 2.0 * m * k * n


def training_flops_from_counts(non_embedding_params: int, n_layers: int, hidden: int, tokens: int,
                               sum_squared_lengths: int) -> float:
    """Training FLOPs of a run that saw `tokens` real tokens whose squared lengths sum to
    `sum_squared_lengths`: 6 * P * tokens + 12 * L * h * sum(n**2)."""
    return 6.0 * non_embedding_params * tokens + 12.0 * n_layers * hidden * sum_squared_lengths


def embedding_parameters(model) -> int:
    """Parameters in the model's nn.Embedding tables (looked up, never multiplied)."""
    import torch

    return sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding) for p in m.parameters(recurse=False))
