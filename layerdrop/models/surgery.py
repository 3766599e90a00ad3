"""Remove encoder layers from a transformers model, in place, and say what was removed.

The layers are taken out of the `nn.ModuleList` (parameters and compute are gone, not masked),
the rest keep their order, the config's layer count and per-layer index attributes are updated,
and provenance goes into `config.layerdrop` so a saved model says where it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from layerdrop import __version__
from layerdrop.models.architectures import family_of

# Attributes that transformers keeps on (sub)modules of a layer to know its position in the
# stack (e.g. BERT's attention `layer_idx`, used by caches); they must follow the new positions.
LAYER_INDEX_ATTRS = ("layer_idx", "layer_id", "layer_index")
# Config lists with one entry per layer (newer architectures); they shrink with the stack.
PER_LAYER_CONFIG_LISTS = ("layer_types",)


def count_parameters(model) -> int:
    """Number of distinct parameters (tied weights are counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def layer_stack(model):
    """The `nn.ModuleList` of layers of `model` (a base model or one with a task head)."""
    family = family_of(model.config)
    module = model.base_model
    for part in family.layers.split("."):
        module = getattr(module, part)
    return module


def drop_layers(model, indices: Sequence[int], provenance: dict[str, Any] | None = None):
    """Physically remove the layers at `indices` (0-based, bottom = 0) from `model`, in place.

    Args:
        model: a transformers model of a family in `layerdrop.models.architectures.FAMILIES`.
        indices: current positions of the layers to remove.
        provenance: extra facts to record (source model, strategy, params, ...).

    Returns:
        The same model, smaller. `model.config.layerdrop` holds `dropped_layers` and
        `kept_layers` as indices of the *original* pretrained stack, even when a model is
        dropped more than once.
    """
    import torch

    family = family_of(model.config)
    stack = layer_stack(model)
    n = len(stack)
    dropped = sorted(set(int(i) for i in indices))
    # The boundary checks live here too, not only in the registry: surgery is a public API.
    assert len(dropped) == len(indices), f"duplicate layer indices in {list(indices)}"
    assert all(0 <= i < n for i in dropped), f"layer indices {dropped} out of range 0..{n - 1}"
    assert len(dropped) < n, "cannot drop every layer"
    kept = [i for i in range(n) if i not in set(dropped)]

    previous = dict(getattr(model.config, "layerdrop", None) or {})
    # Map current positions back to the original stack if this model was dropped before.
    original = previous.get("kept_layers", list(range(n)))
    n_original = previous.get("n_layers_original", n)
    params_before = count_parameters(model)

    new_stack = torch.nn.ModuleList(stack[i] for i in kept)
    for new_index, layer in enumerate(new_stack):
        for module in layer.modules():
            for attr in LAYER_INDEX_ATTRS:
                if isinstance(getattr(module, attr, None), int):
                    setattr(module, attr, new_index)
    parent = model.base_model
    *path, last = family.layers.split(".")
    for part in path:
        parent = getattr(parent, part)
    setattr(parent, last, new_stack)

    config = model.config
    setattr(config, family.n_layers_key, len(kept))
    for key in PER_LAYER_CONFIG_LISTS:
        values = getattr(config, key, None)
        if isinstance(values, list) and len(values) == n:
            setattr(config, key, [values[i] for i in kept])

    if previous.get("edits"):  # sublayer edits of earlier calls follow their layers to the new positions
        position = {old: new for new, old in enumerate(kept)}
        previous["edits"] = {**previous["edits"], **{
            key: {part: [position[i] for i in layers if i in position] for part, layers in previous["edits"][key].items()}
            for key in ("removed_sublayers", "removed_layernorms") if key in previous["edits"]}}
    all_dropped = sorted(set(previous.get("dropped_layers", [])) | {original[i] for i in dropped})
    record = {
        **previous,
        **(provenance or {}),
        "k": len(all_dropped),
        "dropped_layers": all_dropped,
        "kept_layers": [original[i] for i in kept],
        "n_layers_original": n_original,
        "n_layers": len(kept),
        "parameters_before": previous.get("parameters_before", params_before),
        "parameters_after": count_parameters(model),
        "layerdrop_version": __version__,
    }
    config.layerdrop = record
    return model
