"""Tokenize a split once, then pad each batch only to its own longest example.

Padding every example to `max_seq_length` (the `run_glue.py` default) spends most of the compute
on padding for GLUE's short sentences; per-batch padding removes it without changing results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from layerdrop.data.loading import Split


@dataclass(frozen=True)
class Encoded:
    """A tokenized split, unpadded.

    Attributes:
        input_ids: token ids per example (truncated to max_seq_length).
        token_type_ids: segment ids per example, or None when the model takes none (DistilBERT).
        labels: label ids or float scores.
        pad_id / pad_type_id: what padding is filled with.
        pad_left: XLNet pads on the left.
    """

    input_ids: list[list[int]]
    token_type_ids: list[list[int]] | None
    labels: list
    pad_id: int
    pad_type_id: int
    pad_left: bool

    def __len__(self) -> int:
        return len(self.input_ids)

    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.input_ids]


def subset(encoded: Encoded, indices: Sequence[int]) -> Encoded:
    """The examples at `indices`, in that order."""
    types = encoded.token_type_ids
    return Encoded(
        [encoded.input_ids[i] for i in indices], [types[i] for i in indices] if types is not None else None,
        [encoded.labels[i] for i in indices], encoded.pad_id, encoded.pad_type_id, encoded.pad_left,
    )


def encode(tokenizer, split: Split, max_seq_length: int) -> Encoded:
    """Tokenize every example once (fast tokenizers batch this in Rust)."""
    texts = [list(field) for field in split.texts]
    enc = tokenizer(*texts[:2], truncation=True, max_length=max_seq_length, padding=False)
    wants_types = "token_type_ids" in getattr(tokenizer, "model_input_names", ()) and "token_type_ids" in enc
    return Encoded(
        input_ids=list(enc["input_ids"]),
        token_type_ids=list(enc["token_type_ids"]) if wants_types else None,
        labels=list(split.labels),
        pad_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
        pad_type_id=getattr(tokenizer, "pad_token_type_id", 0) or 0,
        pad_left=getattr(tokenizer, "padding_side", "right") == "left",
    )


def collate(encoded: Encoded, indices: Sequence[int], regression: bool) -> dict:
    """Build one padded batch of tensors for `indices`."""
    import torch

    longest = max(len(encoded.input_ids[i]) for i in indices)
    n = len(indices)
    input_ids = torch.full((n, longest), encoded.pad_id, dtype=torch.long)
    attention_mask = torch.zeros((n, longest), dtype=torch.long)
    types = torch.full((n, longest), encoded.pad_type_id, dtype=torch.long) if encoded.token_type_ids else None
    for row, i in enumerate(indices):
        ids = encoded.input_ids[i]
        span = slice(longest - len(ids), longest) if encoded.pad_left else slice(0, len(ids))
        input_ids[row, span] = torch.tensor(ids)
        attention_mask[row, span] = 1
        if types is not None:
            types[row, span] = torch.tensor(encoded.token_type_ids[i])
    batch = {"input_ids": input_ids, "attention_mask": attention_mask}
    if types is not None:
        batch["token_type_ids"] = types
    labels = [encoded.labels[i] for i in indices]
    batch["labels"] = torch.tensor(labels, dtype=torch.float if regression else torch.long)
    return batch


def shuffled_batches(n: int, batch_size: int, generator) -> list[list[int]]:
    """One epoch of training batches in a seeded random order."""
    import torch

    order = torch.randperm(n, generator=generator).tolist()
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def length_grouped_batches(lengths: list[int], batch_size: int, generator, group_batches: int) -> list[list[int]]:
    """One epoch of training batches of similar lengths, in a seeded random order.

    As transformers' LengthGroupedSampler: shuffle everything, cut into groups of
    `group_batches` batches, sort each group by length, cut it into batches, shuffle the
    batches. Every epoch sees every example once in a new order; a batch holds neighbours in
    length only within a random group, so there is no length curriculum.

    The group size trades padding against how alike a batch is. The Sampler's 50 batches
    nearly sort a 2,000-example epoch, so each batch holds one narrow band of lengths; over five
    seeds on SST-2 that scored 0.3 points below groups of 8 and 0.7 below random batches, within
    seed noise. Groups of 8 keep batches mixed and still pad 2.4x fewer tokens than random
    batches (results/benchmarks.md).
    """
    import torch

    order = torch.randperm(len(lengths), generator=generator).tolist()
    group = batch_size * group_batches
    batches = []
    for start in range(0, len(order), group):
        chunk = sorted(order[start : start + group], key=lambda i: -lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    shuffle = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in shuffle]


def padded_tokens(lengths: Sequence[int], batches: list[list[int]]) -> int:
    """Tokens the model computes on for these batches: each batch padded to its longest example."""
    return sum(max(lengths[i] for i in batch) * len(batch) for batch in batches)


def length_sorted_batches(encoded: Encoded, batch_size: int) -> list[list[int]]:
    """Evaluation batches of similar lengths (least padding); predictions are put back in order."""
    order = sorted(range(len(encoded)), key=lambda i: len(encoded.input_ids[i]))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
