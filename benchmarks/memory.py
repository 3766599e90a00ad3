"""Does `layerdrop run` hold one copy of the weights plus optimizer state, and no more?

Builds a BERT-base-shaped classifier (`BertConfig()` defaults: 12 layers, hidden 768, random
weights, saved as safetensors with MiniLM's tokenizer, which has BERT-base's vocabulary) and runs
`layerdrop run` on it in a fresh process, so the record's `memory.peak_rss_mib` is that run's
alone. Batches are small (8 examples, at most 64 tokens) so that activations, which grow with
batch and length, stay well under one copy of the weights. Expected peak, from the model's parameter count P (fp32, 4 bytes each):

    process baseline (python, torch, transformers, layerdrop imported; measured the same way)
  + weights 4P + gradients 4P + AdamW's two moments 8P
  + activations of one batch and the data

The excess (peak minus baseline minus 16P) must stay below one copy of the weights (4P): a second
copy of the model (say, a pristine one kept for re-use) would push it over. The same run on
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

BASELINE = ("import resource, torch, transformers, accelerate, layerdrop.runner, layerdrop.train; "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="target: peak - baseline - 16P < 4P (no second copy of the weights)")
    p.add_argument("--data-dir", help="GLUE folder (default $LAYERDROP_GLUE_DIR, else ../shared/data/glue)")
    p.add_argument("--train-samples", type=int, default=256, help="SST-2 examples for the BERT-base-shaped run (default 256)")
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"), help="auto: bf16 on GPU, fp32 on CPU")
    p.add_argument("--quick", action="store_true", help="64 training examples, and skip the minilm-l6 run")
    args = p.parse_args(argv)
    if args.quick:
        args.train_samples = 64
    return args


def bert_base_dir(folder: Path) -> tuple[Path, int]:
    """A BERT-base-shaped classifier with random weights and a real tokenizer, saved in `folder`."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from layerdrop.models import resolve

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
    rows, verdicts = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder, n_params = bert_base_dir(tmp / "bert-base-shaped")
        record = run_once(str(folder), glue, args, args.train_samples, "1", tmp, "--batch-size", "8", "--max-seq-length", "64")
        weights = 4 * n_params / 2**20
        state = 4 * weights  # weights + gradients + two AdamW moments
        peak = record["memory"]["peak_rss_mib"]
        excess = peak - baseline - state
        rows.append(["bert-base shape", n_params, record["train_examples"], weights, state, baseline, peak, excess,
                     record["memory"]["peak_gpu_allocated_mib"]])
        verdicts.append(excess < weights)
        if not args.quick:
            record = run_once("minilm-l6", glue, args, 2000, "3", tmp)
            n_params = record["parameters_after"]
            weights = 4 * n_params / 2**20
            peak = record["memory"]["peak_rss_mib"]
            rows.append(["minilm-l6 (finetune_vs_trainer default)", n_params, record["train_examples"], weights, 4 * weights,
                         baseline, peak, peak - baseline - 4 * weights, record["memory"]["peak_gpu_allocated_mib"]])
    print()
    print(_common.table(["model", "parameters P", "train examples", "weights MiB (4P)", "weights+grads+AdamW MiB (16P)",
                         "baseline RSS MiB", "peak RSS MiB", "excess MiB", "peak GPU MiB"], rows))
    print()
    first = rows[0]
    print(f"SUMMARY memory: BERT-base-shaped run peaked at {first[6]:.0f} MiB = baseline {first[5]:.0f} + 16P {first[4]:.0f} "
          f"+ {first[7]:.0f} MiB of activations and data (target: under one weights copy, {first[3]:.0f} MiB): "
          f"{'PASS' if verdicts[0] else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
