"""layerdrop: drop layers of pretrained transformers and measure what it costs.

The library is importable without typer; heavy imports (torch, transformers) happen inside the
functions that need them, so `import layerdrop` and `layerdrop --help` stay instant.
"""

__version__ = "0.2.0"


def load_model(model: str, trust_remote_code: bool = False, **kwargs):
    """Load a checkpoint layerdrop saved (or any supported one) with the class it was saved as.

    A model with sublayer edits (`--component ffn|attention`, `--drop-layernorm`, `--attention`)
    loads in its saved shape without remote code. `model`: a folder, hub id or alias; `kwargs` go
    to `from_pretrained` (e.g. `dtype`).
    """
    from layerdrop.models.loading import load_config, load_original, resolve

    source = resolve(model)
    return load_original(source, load_config(source, trust_remote_code), trust_remote_code, **kwargs)
