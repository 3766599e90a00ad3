"""benchmarks/bundle.py: the model and GLUE folders for a machine without the hub or ../shared."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from layerdrop.experiments.config import RunConfig
from layerdrop.data.loading import load_task_data
from layerdrop.models.loading import resolve
from layerdrop.experiments.resources import Resources
from layerdrop.data.tasks import get_task
from tests.glue_fixtures import GLUE_FILES, write_glue
from tests.helpers import tiny_model_dir

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bundle_module():
    sys.path.insert(0, str(BENCHMARKS))  # bundle.py imports _common the way the scripts do
    try:
        spec = importlib.util.spec_from_file_location("bundle", BENCHMARKS / "bundle.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_fp16_bundle_halves_the_weights_and_runs_train_them_in_float32(bundle_module, tmp_path):
    model = tiny_model_dir(tmp_path / "tiny", "bert", n_layers=2)
    # Like minilm-l6's config (transformers 4.8), no dtype: transformers then loads the weights'
    # stored dtype, float16 after --fp16, unless the loader asks for float32.
    config = json.loads((model / "config.json").read_text())
    config.pop("dtype", None), config.pop("torch_dtype", None)
    (model / "config.json").write_text(json.dumps(config))
    glue = write_glue(tmp_path / "glue")
    dest = tmp_path / "bundle"
    assert bundle_module.main([str(dest), "--model", str(model), "--data-dir", str(glue), "--tasks", "sst2,rte", "--fp16"]) == 0

    assert sorted(p.name for p in (dest / "glue").iterdir()) == ["RTE", "SST-2"]
    assert (dest / "glue" / "SST-2" / "train.tsv").read_bytes() == (glue / "SST-2" / "train.tsv").read_bytes()
    stored, rounded = (sum(p.stat().st_size for p in d.glob("*.safetensors")) for d in (model, dest / "model"))
    assert rounded < 0.6 * stored

    from safetensors.torch import load_file

    original, half = load_file(model / "model.safetensors"), load_file(dest / "model" / "model.safetensors")
    assert original.keys() == half.keys()
    for name, tensor in original.items():
        assert half[name].dtype == (torch.float16 if tensor.dtype == torch.float32 else tensor.dtype)
        torch.testing.assert_close(half[name].float(), tensor.float(), rtol=2**-11, atol=1e-7)

    cfg = RunConfig(model=str(dest / "model"), task="sst2", k=0, data_dir=str(dest / "glue"))
    assert load_task_data(get_task("sst2"), str(dest / "glue"))["train"].labels
    loaded = Resources().fresh_model(cfg, resolve(cfg.model), get_task("sst2"), keep_pristine=False)
    assert {p.dtype for p in loaded.parameters()} == {torch.float32}


def test_bundle_refuses_bad_input_and_leaves_no_half_written_folder(bundle_module, tmp_path):
    from safetensors.torch import load_file, save_file

    model = tiny_model_dir(tmp_path / "tiny", "bert", n_layers=2)
    glue = write_glue(tmp_path / "glue", folders={"SST-2": GLUE_FILES["SST-2"]})
    dest = tmp_path / "new"
    with pytest.raises(SystemExit, match="exists already"):
        bundle_module.main([str(tmp_path), "--model", str(model), "--data-dir", str(glue)])
    with pytest.raises(SystemExit, match="qnlii"):
        bundle_module.main([str(dest), "--model", str(model), "--data-dir", str(glue), "--tasks", "sst2,qnlii"])
    with pytest.raises(SystemExit, match="no MRPC folder"):
        bundle_module.main([str(dest), "--model", str(model), "--data-dir", str(glue), "--tasks", "sst2,mrpc"])
    # A weight float16 cannot hold stops the bundle halfway through the model: nothing is left.
    weights = load_file(model / "model.safetensors")
    name = next(iter(weights))
    weights[name] = weights[name].clone().fill_(1e6)
    save_file(weights, model / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(SystemExit, match="65504"):
        bundle_module.main([str(dest), "--model", str(model), "--data-dir", str(glue), "--tasks", "sst2", "--fp16"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["glue", "tiny"]
