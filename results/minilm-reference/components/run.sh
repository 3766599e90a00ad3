#!/usr/bin/env bash
# The component reference sweep: two single-threaded workers share every grid file (each claims
# the next free cell). SST-2 runs whole first, then MRPC in order of priority (K = 3, the matched
# layer drop, the normalizers and LayerNorms, then the rest). Run ids are hashes of each cell, so
# rerunning this skips what is done. Run from the repository root:
#   bash results/minilm-reference/components/run.sh
set -u
here=results/minilm-reference/components
sweep() { OMP_NUM_THREADS=1 layerdrop sweep --config "$here/$1.toml" --results-dir results/minilm-reference "${@:2}"; }
worker() {
  for grid in ffn layers attention layernorm ffn-all layers-k4; do sweep $grid --task sst2; done
  sweep ffn --task mrpc --k 3
  for grid in layers attention layernorm ffn-all layers-k4 ffn; do sweep $grid --task mrpc; done
}
worker & worker & wait
