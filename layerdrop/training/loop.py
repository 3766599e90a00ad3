"""Fine-tune and evaluate a (smaller) sequence classifier.

Accelerate places the model, runs mixed precision and shards batches across processes, so
`accelerate launch layerdrop run ...` uses every GPU. The loop itself is a plain transformers
fine-tuning: AdamW (or Adam, SGD), the chosen learning-rate schedule with optional warmup, gradient
clipping through accelerate, torch's dropout, and length-grouped batches padded per batch. By
default the model computes exactly what transformers' own modules compute. `cfg.fast` adds the
speed paths of `layerdrop.training.fast`, and `TrainStats.fast_paths` says which of them ran.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from layerdrop import interrupts, progress
from layerdrop.data.batching import Encoded, collate, length_grouped_batches, length_sorted_batches, shuffled_batches
from layerdrop.errors import RunFailed, UsageError

if TYPE_CHECKING:  # the loop reads a RunConfig's fields; training never imports experiments at run time
    from layerdrop.experiments.config import RunConfig

PRECISIONS = {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}


def make_accelerator(cfg: RunConfig):
    """An Accelerator for `--device` and `--precision` (one per process: Accelerate keeps global state)."""
    import torch
    from accelerate import Accelerator

    device = cfg.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {device} was asked for, but CUDA is not available here", "use --device auto or cpu")
    if device == "mps" and not torch.backends.mps.is_available():
        raise UsageError("--device mps was asked for, but MPS is not available here", "use --device auto or cpu")
    on_cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available() and not torch.backends.mps.is_available())
    if cfg.precision == "fp16" and on_cpu:
        raise UsageError("--precision fp16 needs a CUDA GPU", "use fp32 or bf16 on CPU")
    if device.startswith("cuda:"):
        torch.cuda.set_device(int(device.split(":", 1)[1]))  # Accelerate uses the current device
    return Accelerator(cpu=device == "cpu", mixed_precision=PRECISIONS[cfg.precision])


@dataclass(frozen=True)
class TrainStats:
    seconds: float
    steps: int
    examples: int
    tokens: int
    sum_squared_lengths: int  # sum of n**2 over the examples seen: attention's FLOPs grow with it
    final_loss: float
    # Mean loss over each epoch's batches, first to last: one batch of 16-32 examples is too noisy
    # to tell a cell that learned from one stuck at chance (ln 2 for two classes), and the curve
    # shows when a slow cell left that plateau.
    epoch_losses: tuple[float, ...]
    # The `--fast` paths that ran, by name, as they reported it (empty in stock mode), and under
    # --fast, each path that did not run with the reason it stood down.
    fast_paths: tuple[str, ...] = ()
    fast_skipped: dict[str, str] = field(default_factory=dict)
    # Rows of the word-embedding table that were trained (`fast.compact_vocab`); None when the
    # whole table was.
    embedding_rows: int | None = None

    @property
    def last_epoch_loss(self) -> float:
        return self.epoch_losses[-1] if self.epoch_losses else float("nan")

    @property
    def examples_per_second(self) -> float:
        return self.examples / self.seconds if self.seconds else 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


class _Batches:
    """A re-iterable list of index batches for a DataLoader's batch_sampler."""

    def __init__(self, batches: list[list[int]]):
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def _loader(encoded: Encoded, batches: list[list[int]], regression: bool):
    from torch.utils.data import DataLoader

    # The dataset is just indices; collate builds the padded tensors for a whole batch at once.
    return DataLoader(range(len(encoded)), batch_sampler=_Batches(batches),
                      collate_fn=lambda idx: collate(encoded, idx, regression))


def _optimizer(model, cfg: RunConfig):
    import torch

    # No weight decay on biases and LayerNorm weights, as in the transformers examples.
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if param.ndim < 2 else decay).append(param)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.learning_rate, momentum=0.9)
    # The fused kernel does the same AdamW update in one pass over memory: 5x faster per step on
    # CPU for MiniLM (0.021 s vs 0.104 s foreach), where the optimizer rivals the backward pass.
    device = next(model.parameters()).device.type
    fused = device in ("cpu", "cuda", "mps")
    cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
    return cls(groups, lr=cfg.learning_rate, fused=fused or None)


def fine_tune(model, train: Encoded, cfg: RunConfig, accelerator, regression: bool) -> TrainStats:
    """Train `model` in place on `train` for `cfg.epochs` (fractional epochs stop mid-way)."""
    import torch

    from layerdrop.training.fast import compact_vocab

    generator = torch.Generator().manual_seed(cfg.seed)
    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    total_steps = max(1, math.ceil(cfg.epochs * steps_per_epoch))
    model.to(accelerator.device)  # before the optimizer, so fused AdamW sees the final device
    compaction, skipped = None, {}
    if cfg.fast:
        reason = compact_vocab.skip_reason(model, cfg.optimizer, cfg.weight_decay, cfg.precision,
                                           accelerator.distributed_type.value)
        if reason is None:
            compaction = compact_vocab.compact(model, train.input_ids, train.pad_id, cfg.weight_decay)
        else:
            skipped["compact_vocab"] = reason
    try:
        stats = _train(model, train, cfg, accelerator, regression, total_steps, generator, compaction)
    finally:
        if compaction is not None:
            compaction.restore()  # also after a failure: the caller gets a plain transformers model back
    if compaction is None:
        return replace(stats, fast_skipped=skipped)
    # Counted where it ran: optimizer steps taken through the compact table (each checks that the
    # forward looked words up in it).
    if compaction.steps:
        return replace(stats, fast_paths=("compact_vocab",), embedding_rows=len(compaction.compact.used_ids))
    return replace(stats, fast_skipped={"compact_vocab": "no optimizer step was taken"})


def _train(model, train: Encoded, cfg: RunConfig, accelerator, regression: bool, total_steps: int, generator,
           compaction) -> TrainStats:
    import torch
    from transformers import get_scheduler

    optimizer = _optimizer(model, cfg)
    scheduler = get_scheduler(cfg.lr_scheduler, optimizer, num_warmup_steps=int(cfg.warmup_ratio * total_steps),
                              num_training_steps=total_steps)
    # A prepared scheduler steps once per process per call, matching `total_steps` counted in
    # global batches when several processes share each step's batches.
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    model.train()
    step, examples, loss_value = 0, 0, float("nan")
    # Token counts stay on the device until the end: an int() per step would wait for the
    # optimizer step's kernels on a GPU before the next batch could be queued.
    tokens = squares = torch.zeros((), dtype=torch.long, device=accelerator.device)
    epoch_losses: list[float] = []
    start = time.perf_counter()
    for epoch in range(math.ceil(cfg.epochs)):
        epoch_loss, epoch_batches = 0.0, 0
        if cfg.group_by_length:
            batches = length_grouped_batches(train.lengths(), cfg.batch_size, generator, cfg.length_group_batches)
        else:
            batches = shuffled_batches(len(train), cfg.batch_size, generator)
        batches = batches[: total_steps - step * accelerator.num_processes]  # fractional epochs, in global batches
        loader = accelerator.prepare(_loader(train, batches, regression))
        with progress.bar(f"epoch {epoch + 1}/{math.ceil(cfg.epochs)}", len(loader)) as update:
            for batch in loader:
                interrupts.check()
                with accelerator.autocast():
                    loss = model(**batch).loss
                loss_value = loss.item()
                epoch_loss, epoch_batches = epoch_loss + loss_value, epoch_batches + 1
                if not math.isfinite(loss_value):
                    raise RunFailed(
                        f"training loss became {loss_value} at step {step + 1}",
                        "lower --learning-rate, or use --precision fp32",
                    )
                accelerator.backward(loss)
                lr = optimizer.param_groups[0]["lr"]  # the group with any compacted table; the step uses it
                if cfg.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                optimizer.step()
                if compaction is not None and not getattr(optimizer, "step_was_skipped", False):
                    compaction.stepped(lr)
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                examples += batch["input_ids"].shape[0]
                lengths = batch["attention_mask"].sum(dim=1)
                tokens = tokens + lengths.sum()
                squares = squares + (lengths * lengths).sum()
                rate = examples / max(time.perf_counter() - start, 1e-9)
                update(info=f"loss {loss_value:.4f}  {rate:.0f} ex/s")
        if epoch_batches:
            epoch_losses.append(epoch_loss / epoch_batches)
    accelerator.wait_for_everyone()
    seconds = time.perf_counter() - start
    n = accelerator.num_processes
    return TrainStats(seconds, step, examples * n, int(tokens) * n, int(squares) * n, loss_value, tuple(epoch_losses))


def predict(model, encoded: Encoded, cfg: RunConfig, accelerator, regression: bool, label: str = "eval"):
    """Predictions for every example of `encoded`, in the original order.

    Evaluation is not sharded: every process predicts the whole (small) dev set with the
    unwrapped model, so there is no ragged gather and no padding duplicates to remove.
    """
    import torch

    batches = length_sorted_batches(encoded, cfg.eval_batch_size)
    order = [i for batch in batches for i in batch]
    model = accelerator.unwrap_model(model)
    model.eval()
    outputs = []
    with torch.inference_mode(), progress.bar(label, len(batches)) as update:
        for indices in batches:
            interrupts.check()
            batch = collate(encoded, indices, regression)
            batch.pop("labels")
            with accelerator.autocast():
                logits = model(**{k: v.to(accelerator.device) for k, v in batch.items()}).logits.float()
            outputs.append(logits.squeeze(-1) if regression else logits.argmax(dim=-1))
            update()
    values = torch.cat(outputs).tolist()
    predictions = [None] * len(encoded)
    for index, value in zip(order, values):
        predictions[index] = value
    return predictions
