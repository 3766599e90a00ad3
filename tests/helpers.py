"""Tiny models and tokenizers built offline, for tests that need a model but not its knowledge."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Width overrides for families whose config names differ from BERT's (only what attribute_map
# does not already translate). A new family in FAMILIES works with the defaults.
_TINY_OVERRIDES = {
    "xlnet": {"d_inner": 37, "d_head": 16, "max_position_embeddings": None},  # None: XLNet refuses the key
    "distilbert": {"hidden_dim": 37, "dim": 32},
    "electra": {"embedding_size": 16},
}
WORDS = (
    "the a movie film was is good bad great awful not very and it i loved hated plot actors "
    "boring fun sentence one two cat dog sat on mat yes no because of"
).split()


def tiny_config(model_type: str, n_layers: int = 4, **extra):
    """A 32-wide config of `model_type` with `n_layers` layers (attribute_map handles XLNet/DistilBERT names)."""
    from transformers import AutoConfig

    kwargs = dict(vocab_size=128, hidden_size=32, num_attention_heads=2, intermediate_size=37,
                  max_position_embeddings=64, num_hidden_layers=n_layers)
    kwargs.update(_TINY_OVERRIDES.get(model_type, {}))
    kwargs.update(extra)
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    config = AutoConfig.for_model(model_type, **kwargs)
    config.num_hidden_layers = n_layers  # via attribute_map: n_layer (XLNet), n_layers (DistilBERT)
    return config


def bert_tokenizer(folder: Path):
    """A WordPiece tokenizer over a small vocabulary, saved in `folder` (BERT special tokens)."""
    from transformers import BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *[f"w{i}" for i in range(40)]]
    # transformers 5 takes the vocabulary as `vocab`; a `vocab_file=` keyword is silently ignored,
    # which left a tokenizer of the five special tokens that read every word as [UNK].
    tokenizer = BertTokenizerFast(vocab={token: i for i, token in enumerate(vocab)})
    assert len(tokenizer) == len(vocab)
    return tokenizer


def tiny_model_dir(folder: Path, model_type: str = "bert", n_layers: int = 4, head: bool = False, seed: int = 0) -> Path:
    """Save a randomly initialised tiny model (and, for BERT-vocab families, a tokenizer) to `folder`."""
    import torch
    from transformers import AutoModel, AutoModelForSequenceClassification

    torch.manual_seed(seed)
    config = tiny_config(model_type, n_layers)
    cls = AutoModelForSequenceClassification if head else AutoModel
    model = cls.from_config(config)
    model.save_pretrained(folder)
    bert_tokenizer(folder).save_pretrained(folder)
    return folder


def run_cli(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run the real `layerdrop` CLI in a subprocess, offline, and capture its output."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "layerdrop", *args], capture_output=True, text=True, env=full_env, timeout=timeout
    )


def invoke_cli(*args: str) -> subprocess.CompletedProcess:
    """Run the `layerdrop` CLI in this process: the same app, parsing and exit codes as `run_cli`,
    without the ~5 s a fresh interpreter spends importing torch and transformers. Tests that kill,
    signal or race processes use `run_cli`, and so do the one-line-error tests of `test_cli.py`:
    transformers' log handler and Python's warnings do not write to the stderr captured here.
    """
    import signal

    from typer.testing import CliRunner

    from layerdrop.cli import app

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    unraisable = sys.unraisablehook
    try:
        result = CliRunner().invoke(app, list(args))
    finally:
        for sig, handler in handlers.items():  # `sweep` and `run` install their own
            signal.signal(sig, handler)
        sys.unraisablehook = unraisable  # and their own hook (layerdrop.interrupts)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash, not an exit code: show its traceback
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


def assert_clean_error(result, code: int = 2, *needles: str) -> str:
    """Exit `code`, exactly one line on stderr naming the problem, no traceback; returns that line."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def assert_failed_run(result, *needles: str) -> str:
    """A run that started and failed: exit 1, no traceback, the reason as the last stderr line."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    last = [line for line in result.stderr.splitlines() if line.strip()][-1]
    assert last.startswith("error:"), last
    for needle in needles:
        assert needle in last, (needle, last)
    return last
