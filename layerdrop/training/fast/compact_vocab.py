"""Train only the word-embedding rows that the training set uses.

A GLUE subsample touches a few thousand of a vocabulary's 30,000+ tokens, yet a dense embedding
gradient covers the whole table: every step zero-fills it (47 MB for MiniLM), clips over it, and the
optimizer reads and writes all of it. For MiniLM that table is half of the model's parameters.

The rows no training example uses get a zero gradient on every step. From AdamW's zero moments a
zero gradient gives a zero update, so such a row only changes through decoupled weight decay, by the
factor (1 - lr_t * weight_decay) per step. `CompactEmbedding` therefore trains a small table of the
used rows, and `restore` writes them back and applies that product of factors to the others: the
same model as training the full table, up to float rounding (`tests/unit/test_compact_vocab.py`).
It runs only under `--fast`.
Adam and SGD fold weight decay into the gradient, where it goes through the moments; with weight
decay on, those keep the full table (`applies` says when compaction gives the same model).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


class CompactEmbedding(nn.Module):
    """Looks up `weight[remap[input_ids]]`: the model still sees the original ids (RoBERTa derives
    position ids from where the padding id is), only the table is smaller."""

    def __init__(self, full: nn.Embedding, used_ids: torch.Tensor):
        super().__init__()
        remap = torch.full((full.num_embeddings,), -1, dtype=torch.long, device=full.weight.device)
        remap[used_ids] = torch.arange(len(used_ids), device=full.weight.device)
        self.register_buffer("remap", remap, persistent=False)
        self.used_ids = used_ids
        self.weight = nn.Parameter(full.weight.detach()[used_ids].clone())
        # The padding row gets no gradient in the full table; keep that for its compact row
        # (`compact` always includes it).
        self.padding_idx = None if full.padding_idx is None else int(remap[full.padding_idx])
        self.embedding_dim = full.embedding_dim
        self.num_embeddings = full.num_embeddings  # what code that inspects the table expects
        # Look-ups made while gradients flow: the proof that training read this table. A model
        # whose forward bypassed `set_input_embeddings` would leave it at 0 (and its table frozen).
        self.training_lookups = 0

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            self.training_lookups += 1
        return nn.functional.embedding(self.remap[input_ids], self.weight, self.padding_idx)


@dataclass
class Compaction:
    """A model whose input embedding is compacted for training; `restore` undoes it."""

    model: nn.Module
    full: nn.Embedding
    compact: CompactEmbedding
    weight_decay: float
    unused_scale: float = 1.0
    steps: int = 0  # optimizer steps taken through the compact table: the record's proof that it ran

    def stepped(self, lr: float) -> None:
        """Record the decay the unused rows got from an optimizer step taken at rate `lr`.

        Fails loudly at the first step if the model's forward never looked words up in the compact
        table (a model that bypasses `set_input_embeddings`): its embeddings would not train."""
        if not self.compact.training_lookups:
            from layerdrop.errors import RunFailed

            raise RunFailed("--fast: the model's forward never read the compacted embedding table (compact_vocab), "
                            "so its embeddings would not train", "run without --fast")
        self.unused_scale *= 1.0 - lr * self.weight_decay
        self.steps += 1

    def restore(self) -> None:
        """Put the full table back with the trained rows in it."""
        with torch.no_grad():
            weight = self.full.weight
            if self.unused_scale != 1.0:
                weight.mul_(self.unused_scale)
            weight[self.compact.used_ids] = self.compact.weight.to(weight.dtype)
        self.model.set_input_embeddings(self.full)


# One process, or data-parallel copies of the whole model. Not DeepSpeed or FSDP: they shard the
# parameters and run their own loss scaling, which this module has not been checked against.
PLAIN_DISTRIBUTED = ("NO", "MULTI_CPU", "MULTI_GPU")


def skip_reason(model: nn.Module, optimizer: str, weight_decay: float, precision: str, distributed: str = "NO") -> str | None:
    """Why compacting `model`'s input embedding would not train the same model (up to float
    rounding), or None when it would.

    Not under fp16, whose loss scaler skips the optimizer steps that overflow; the training loop
    counts only the steps taken, but that path has not run on a GPU here."""
    if precision == "fp16":
        return "fp16 (its loss scaler skips steps)"
    if str(distributed) not in PLAIN_DISTRIBUTED:
        return f"{distributed} shards the parameters"
    try:
        table = model.get_input_embeddings()
    except (AttributeError, NotImplementedError):  # not a transformers model, or one without a table
        return "the model has no input embedding table"
    if type(table) is not nn.Embedding:
        return f"the input embedding is a {type(table).__name__}, not an nn.Embedding"
    if not table.weight.requires_grad:
        return "the embedding table is frozen"
    if table.max_norm is not None or table.scale_grad_by_freq or table.sparse:
        return "the embedding uses max_norm, scale_grad_by_freq or sparse look-ups"
    output = getattr(model, "get_output_embeddings", lambda: None)()
    if output is not None and getattr(output, "weight", None) is table.weight:
        return "the table is tied to an output layer that multiplies every row"
    if weight_decay and optimizer != "adamw":
        return f"{optimizer} with weight decay sends the decay through every row's gradient"
    return None


def applies(model: nn.Module, optimizer: str, weight_decay: float, precision: str, distributed: str = "NO") -> bool:
    """Whether compacting `model`'s input embedding trains the same model (`skip_reason` is None)."""
    return skip_reason(model, optimizer, weight_decay, precision, distributed) is None


def compact(model: nn.Module, train_ids: list[list[int]], pad_id: int, weight_decay: float) -> Compaction:
    """Swap `model`'s input embedding for one over the ids in `train_ids` and the padding id
    batches are filled with (call `applies` first)."""
    full = model.get_input_embeddings()
    used = {token for ids in train_ids for token in ids} | {pad_id}
    if full.padding_idx is not None:
        used.add(full.padding_idx)
    used = sorted(used)
    if used[0] < 0 or used[-1] >= full.num_embeddings:
        raise ValueError(f"token id {used[0] if used[0] < 0 else used[-1]} is outside the {full.num_embeddings}-row embedding table")
    table = CompactEmbedding(full, torch.tensor(used, dtype=torch.long, device=full.weight.device))
    model.set_input_embeddings(table)
    return Compaction(model, full, table, weight_decay)
