#!/usr/bin/env bash
# What dropping and FFN removal change inside MiniLM, on SST-2 or MRPC ($TASK, default sst2):
# fine-tune the full model and four smaller ones (seed 1, the reference budget of ../sst2-stock and
# ../mrpc), then CKA, probes and drift on the task's dev set (872 sentences, 408 pairs). Run from
# the repository root; the models go to $OUT (default out/analysis, about 90 MB each, not committed):
#   bash results/minilm-reference/analysis/run.sh
#   TASK=mrpc bash results/minilm-reference/analysis/run.sh
set -eu
here=results/minilm-reference/analysis
out=${OUT:-out/analysis}
task=${TASK:-sst2}
train="--task $task --data-dir ../shared/data/glue --max-train-samples 2000 --epochs 3 --learning-rate 1e-4
       --warmup-ratio 0.1 --batch-size 32 --max-seq-length 128 --seed 1 --results $here/runs.jsonl --overwrite"
fit() { name=$1; shift; [ -f "$out/$name/config.json" ] || layerdrop run --model minilm-l6 $train "$@" --save-model "$out/$name"; }
fit $task-full --k 0
fit $task-top2 --strategy top --k 2
fit $task-bottom2 --strategy bottom --k 2
fit $task-even-alternate2 --strategy alternate --param parity=even --k 2
fit $task-ffn-top3 --component ffn --strategy top --k 3
variants="--against $out/$task-top2 --against $out/$task-bottom2 --against $out/$task-even-alternate2 --against $out/$task-ffn-top3"
analyze="--task $task --data-dir ../shared/data/glue --results $here/analyses.jsonl --plots $here/figures"
# CKA: each fine-tuned smaller model against the fine-tuned full model, and the pretrained model against all five.
layerdrop analyze cka --model "$out/$task-full" $variants $analyze > /dev/null
layerdrop analyze cka --model minilm-l6 --against "$out/$task-full" $variants $analyze > /dev/null
# Probes on the pretrained model and the five fine-tuned ones.
for probe in task sentlen bshift; do
  layerdrop analyze probe --model minilm-l6 --against "$out/$task-full" $variants --probe-task $probe $analyze > /dev/null
done
# Drift from the pretrained model to each fine-tuned one.
layerdrop analyze drift --model minilm-l6 --against "$out/$task-full" $variants $analyze > /dev/null
layerdrop report $here --output $here/report.md
layerdrop report $here --format html --output $here/report.html
