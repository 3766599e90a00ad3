#!/usr/bin/env bash
# What dropping and FFN removal change inside MiniLM, on SST-2: fine-tune the full model and four
# smaller ones (seed 1, the reference budget of ../sst2-stock), then CKA, probes and drift on the
# 872 dev sentences. Run from the repository root; the models go to $OUT (default out/analysis,
# about 90 MB each, not committed):
#   bash results/minilm-reference/analysis/run.sh
set -eu
here=results/minilm-reference/analysis
out=${OUT:-out/analysis}
train="--task sst2 --data-dir ../shared/data/glue --max-train-samples 2000 --epochs 3 --learning-rate 1e-4
       --warmup-ratio 0.1 --batch-size 32 --max-seq-length 128 --seed 1 --results $here/runs.jsonl --overwrite"
fit() { name=$1; shift; [ -f "$out/$name/config.json" ] || layerdrop run --model minilm-l6 $train "$@" --save-model "$out/$name"; }
fit sst2-full --k 0
fit sst2-top2 --strategy top --k 2
fit sst2-bottom2 --strategy bottom --k 2
fit sst2-even-alternate2 --strategy alternate --param parity=even --k 2
fit sst2-ffn-top3 --component ffn --strategy top --k 3
variants="--against $out/sst2-top2 --against $out/sst2-bottom2 --against $out/sst2-even-alternate2 --against $out/sst2-ffn-top3"
analyze="--task sst2 --data-dir ../shared/data/glue --results $here/analyses.jsonl --plots $here/figures"
# CKA: each fine-tuned smaller model against the fine-tuned full model, and the pretrained model against all five.
layerdrop analyze cka --model "$out/sst2-full" $variants $analyze > /dev/null
layerdrop analyze cka --model minilm-l6 --against "$out/sst2-full" $variants $analyze > /dev/null
# Probes on the pretrained model and the five fine-tuned ones.
for probe in task sentlen bshift; do
  layerdrop analyze probe --model minilm-l6 --against "$out/sst2-full" $variants --probe-task $probe $analyze > /dev/null
done
# Drift from the pretrained model to each fine-tuned one.
layerdrop analyze drift --model minilm-l6 --against "$out/sst2-full" $variants $analyze > /dev/null
layerdrop report $here --output $here/report.md
layerdrop report $here --format html --output $here/report.html
