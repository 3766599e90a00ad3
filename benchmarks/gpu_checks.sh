#!/usr/bin/env bash
# Issue #5's GPU checks in one command: benchmarks 1-3 with --device cuda --precision bf16, the
# GPU's own bf16 matmul rate (utilization.py measures it), and the machine they ran on.
#
#   bash benchmarks/gpu_checks.sh [OUTDIR]          # default OUTDIR: gpu-checks
#
# Each script's whole output goes to OUTDIR/<name>.log, and their SUMMARY lines to
# OUTDIR/summary.txt; stdout shows the same as it runs. Settings, from the environment:
#   PYTHON=python3         the interpreter that has torch, transformers and layerdrop importable
#   MODEL=minilm-l6        alias or model folder (benchmarks/bundle.py makes one for a machine without it)
#   LAYERDROP_GLUE_DIR     GLUE folder in the original layout (else ../shared/data/glue)
#   DEVICE=cuda PRECISION=bf16
#   REPEATS=3              finetune_vs_trainer rounds on SST-2 (one seed each); RTE runs one
#   QUICK=1                every script's --quick: a smoke run of the plumbing, not figures
#   LIMIT=0                seconds each script may run before it is stopped (0: no limit), so one
#                          that hangs leaves time for the rest under a session's time cap
# About 5 minutes on one H100/H200-class GPU without QUICK (an estimate: not yet run on one).
set -uo pipefail

out=${1:-gpu-checks}
py=${PYTHON:-python3}
model=${MODEL:-minilm-l6}
flags=(--device "${DEVICE:-cuda}" --precision "${PRECISION:-bf16}")
quick=()
[[ -n ${QUICK:-} ]] && quick=(--quick)
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
: >"$out/summary.txt"
export LAYERDROP_NO_PROGRESS=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1

failed=0
check() {  # check NAME SCRIPT ARGS...: run one benchmark, keep its log, note a failure and go on
    local name=$1 script=$2
    shift 2
    echo "== $name: $script $*"
    # -k: a script that ignores SIGTERM at its limit is killed 15 s later
    timeout -k 15 "${LIMIT:-0}" "$py" "$here/$script" "$@" 2>&1 | tee "$out/$name.log"
    local rc=${PIPESTATUS[0]}
    if ((${LIMIT:-0} > 0 && rc == 124)); then
        echo "== $name stopped after LIMIT=$LIMIT s" | tee -a "$out/$name.log"
        failed=1
    elif ((rc == 137)); then
        echo "== $name killed (SIGKILL: out of memory, or LIMIT's -k after it ignored SIGTERM)" | tee -a "$out/$name.log"
        failed=1
    elif ((rc != 0)); then
        echo "== $name exited $rc" | tee -a "$out/$name.log"
        failed=1
    fi
    # after each script, so a run cut short still has the summaries so far
    grep -h '^SUMMARY' "$out/$name.log" >>"$out/summary.txt"
}

{
    date -u +"%Y-%m-%d %H:%M:%S UTC"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 || true
    "$py" -c 'import torch, transformers, accelerate; print("torch", torch.__version__, "cuda", torch.version.cuda,
"transformers", transformers.__version__, "accelerate", accelerate.__version__)' 2>&1
    echo "model $model; GLUE ${LAYERDROP_GLUE_DIR:-../shared/data/glue}; ${flags[*]} ${quick[*]}"
} | tee "$out/machine.txt"

check utilization utilization.py --model "$model" "${flags[@]}" "${quick[@]}"
check drop_speedup drop_speedup.py "${flags[@]}" "${quick[@]}"
check finetune_sst2 finetune_vs_trainer.py --model "$model" --repeats "${REPEATS:-3}" "${flags[@]}" "${quick[@]}"
check finetune_rte finetune_vs_trainer.py --model "$model" --task rte "${flags[@]}" "${quick[@]}"

echo "== summaries"
cat "$out/summary.txt"
exit $failed
