"""Does `layerdrop run` hold one copy of the weights plus optimizer state, and no more?

Builds a BERT-base-shaped classifier (`BertConfig()` defaults: 12 layers, hidden 768, random
weights, saved as safetensors with MiniLM's tokenizer, which has BERT-base's vocabulary) and runs
`layerdrop run` on it in a fresh process (8 examples per batch, at most 64 tokens), so the record's
`memory.peak_rss_mib` is that run's alone. The yardstick is the least any training loop needs: a
second fresh process loads the same model with plain transformers and takes three steps of
forward, backward, clipping and fused AdamW on a batch of the largest shape layerdrop trains on
(8 x 64). Its peak holds the libraries, weights 4P, gradients 4P, AdamW's moments 8P (P
parameters, fp32) and one batch's activations. layerdrop's peak above it (data, tokenizer,
allocator slack) must stay below one copy of the weights, 4P: a second copy of the model (say, a
pristine one kept for re-use) would cross that line on its own. The same run on
minilm-l6 with the default workload of `finetune_vs_trainer.py` reports that benchmark's peak.

    python benchmarks/memory.py            # BERT-base shape, 256 SST-2 examples; then minilm-l6, 2,000 examples, 3 epochs, batch 32
    python benchmarks/memory.py --quick    # BERT-base shape only, 64 examples
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import _common

BASELINE = ("import resource, torch, transformers, accelerate, layerdrop.experiments.runner, layerdrop.training.loop; "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")

# The minimal loop: one model, fused AdamW, the largest batch shape; prints its peak RSS in MiB.
REFERENCE = """
import resource, sys, torch
from transformers import AutoModelForSequenceClassification
model = AutoModelForSequenceClassification.from_pretrained(sys.argv[1], num_labels=2)
model.train()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
batch, length = int(sys.argv[2]), int(sys.argv[3])
for _ in range(3):
    ids = torch.randint(1000, 20000, (batch, length))
    loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=torch.randint(0, 2, (batch,))).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def reference_peak(model_dir: str, batch: int, length: int) -> float:
    done = subprocess.run([sys.executable, "-c", REFERENCE, model_dir, str(batch), str(length)], capture_output=True,
                          text=True, check=True, cwd=_common.REPO)
    return float(done.stdout.strip().splitlines()[-1])


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="target: layerdrop peak - minimal training loop peak < 4P (no second copy of the weights)")
    p.add_argument("--data-dir", help="GLUE folder (default $LAYERDROP_GLUE_DIR, else ../shared/data/glue)")
    p.add_argument("--train-samples", type=int, default=256, help="SST-2 examples for the BERT-base-shaped run (default 256)")
    _common.device_arguments(p)
    p.add_argument("--quick", action="store_true", help="64 training examples, and skip the minilm-l6 run")
    args = p.parse_args(argv)
    if args.quick:
        args.train_samples = 64
    return args


def bert_base_dir(folder: Path) -> tuple[Path, int]:
    """A BERT-base-shaped classifier with random weights and a real tokenizer, saved in `folder`."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from layerdrop.models.loading import resolve

    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(num_labels=2))
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(resolve("minilm-l6").location).save_pretrained(folder)
    return folder, sum(p.numel() for p in model.parameters())


def run_once(model: str, glue: str, args, train_samples: int, epochs: str, workdir: Path, *extra: str) -> dict:
    results = workdir / f"runs-{len(list(workdir.glob('runs-*')))}.jsonl"
    cmd = [sys.executable, "-m", "layerdrop", "run", "--model", model, "--task", "sst2", "--k", "0", "--data-dir", glue,
           "--max-train-samples", str(train_samples), "--epochs", epochs, "--learning-rate", "1e-4",
           "--device", args.device, "--precision", args.precision, "--results", str(results), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=_common.REPO)
    if done.returncode != 0:
        raise SystemExit(f"layerdrop run failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(results.read_text().splitlines()[-1])


def main(argv=None) -> int:
    args = _common.setup(parse_args, argv)
    glue = _common.glue_dir(args.data_dir)
    print(f"# {_common.machine()}")
    baseline = float(subprocess.run([sys.executable, "-c", BASELINE], capture_output=True, text=True, check=True,
                                    cwd=_common.REPO).stdout.strip())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder, n_params = bert_base_dir(tmp / "bert-base-shaped")
        minimal = reference_peak(str(folder), 8, 64)
        for regime, extra in (("stock", ()), ("--fast", ("--fast",))):
            record = run_once(str(folder), glue, args, args.train_samples, "1", tmp, "--batch-size", "8", "--max-seq-length", "64",
                              *extra)
            rows.append(_row(f"bert-base shape, batch 8 x 64, {regime}", n_params, record, baseline, minimal))
        if not args.quick:
            for regime, extra in (("stock", ()), ("--fast", ("--fast",))):
                record = run_once("minilm-l6", glue, args, 2000, "3", tmp, *extra)
                rows.append(_row(f"minilm-l6, finetune_vs_trainer default, {regime}", record["parameters_after"], record,
                                 baseline, None))
    print()
    print(_common.table(["model", "parameters P", "train examples", "weights MiB (4P)", "imports-only RSS MiB",
                         "minimal loop peak MiB", "layerdrop peak MiB", "excess MiB", "peak GPU MiB"], rows))
    print()
    for name, _, _, weights, _, minimal, peak, excess, _ in rows[:2]:
        print(f"SUMMARY memory: {name}: layerdrop run peaked at {peak:.0f} MiB, the minimal training loop at {minimal:.0f} MiB; "
              f"excess {excess:.0f} MiB (target: under one copy of the weights, {weights:.0f} MiB): "
              f"{'PASS' if excess < weights else 'FAIL'}")
    return 0


def _row(name: str, n_params: int, record: dict, baseline: float, minimal: float | None) -> list:
    peak = record["memory"]["peak_rss_mib"]
    return [name, n_params, record["train_examples"], 4 * n_params / 2**20, baseline, minimal, peak,
            None if minimal is None else peak - minimal, record["memory"]["peak_gpu_allocated_mib"]]


if __name__ == "__main__":
    raise SystemExit(main())
