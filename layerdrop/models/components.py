"""What `--component`, `--attention` and `--drop-layernorm` do to a model, checked and recorded.

The edits themselves are in `layerdrop.models.edits` (self-contained, so it can travel with a saved
model). This module checks a request against a model's config before any weights load, applies it,
records it in `config.layerdrop["edits"]`, and saves an edited model so that it loads back.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from layerdrop.errors import UsageError, unknown_name
from layerdrop.models import edits as sublayers
from layerdrop.models.architectures import family_of, n_layers_of

COMPONENTS = ("layer", *sublayers.COMPONENTS)
NORMALIZERS = sublayers.NORMALIZERS
LAYERNORMS = ("attention", "ffn")
SUBLAYER_NAMES = {"attention": "attention", "ffn": "feed-forward"}


def check_names(component: str, attention: str, drop_layernorm: str | None) -> None:
    """The three settings are known names (did-you-mean otherwise); no model needed."""
    if component not in COMPONENTS:
        raise unknown_name("component", component, COMPONENTS, "")
    if attention not in NORMALIZERS:
        raise unknown_name("attention normalizer", attention, NORMALIZERS, "")
    if drop_layernorm is not None and drop_layernorm not in LAYERNORMS:
        raise unknown_name("LayerNorm to drop", drop_layernorm, LAYERNORMS, "")


def recorded_edits(config) -> dict[str, Any]:
    """The sublayer edits a model already carries (empty for a stock model)."""
    return dict((getattr(config, "layerdrop", None) or {}).get("edits") or {})


def removed_sublayers(config, component: str) -> list[int]:
    return list(recorded_edits(config).get("removed_sublayers", {}).get(component, []))


def candidates(config, component: str) -> list[int]:
    """Positions (0-based, in the model's current stack) of the layers that still have `component`;
    for "layer", every layer. Strategies choose among these: K counts them."""
    n = n_layers_of(config)
    if component == "layer":
        return list(range(n))
    gone = set(removed_sublayers(config, component))
    return [i for i in range(n) if i not in gone]


def check_request(config, component: str, attention: str, drop_layernorm: str | None) -> None:
    """Refuse what this model's family cannot take, from its config alone."""
    check_names(component, attention, drop_layernorm)
    family = family_of(config)
    if attention != "softmax" and family.layout not in sublayers.NORMALIZER_LAYOUTS:
        raise UsageError(f"--attention {attention}: {config.model_type} computes its own softmax inside its "
                         "attention (not through transformers' AttentionInterface), so it cannot be replaced",
                         "use --attention softmax with this family, or a BERT-like or DistilBERT model")
    if component != "layer" and not candidates(config, component):
        raise UsageError(f"--component {component}: every layer of this model has already lost its "
                         f"{SUBLAYER_NAMES[component]} sublayer", "choose another component, or --component layer")


def check_positions(config, component: str, positions: Sequence[int]) -> None:
    """A layer may lose one sublayer, not both: that is dropping the layer."""
    if component == "layer":
        return
    other = "ffn" if component == "attention" else "attention"
    both = sorted(set(positions) & set(removed_sublayers(config, other)))
    if both:
        raise UsageError(f"layer{'s' if len(both) > 1 else ''} {', '.join(map(str, both))} would be left with neither "
                         "attention nor feed-forward sublayer", "remove whole layers with --component layer")


def check_layernorm(config, drop_layernorm: str | None, component: str = "layer", positions: Sequence[int] = ()) -> None:
    """`--drop-layernorm X` needs a layer that still has sublayer X and its LayerNorm after this
    run's removals (`positions` of `component`)."""
    if drop_layernorm is None:
        return
    edits = recorded_edits(config)
    gone = set(edits.get("removed_sublayers", {}).get(drop_layernorm, []))
    gone |= set(edits.get("removed_layernorms", {}).get(drop_layernorm, []))
    left = set(range(n_layers_of(config)))
    if component == drop_layernorm:
        gone |= set(positions)
    elif component == "layer":
        left -= set(positions)
    if not left - gone:
        raise _no_layernorm_left(drop_layernorm)


def _no_layernorm_left(which: str) -> UsageError:
    return UsageError(f"--drop-layernorm {which}: no layer of this model has a LayerNorm after its "
                      f"{SUBLAYER_NAMES[which]} sublayer any more", "leave out --drop-layernorm")


def edit_model(model, component: str, positions: Sequence[int], attention: str = "softmax",
               drop_layernorm: str | None = None, provenance: dict[str, Any] | None = None):
    """Remove `component` at `positions` (0-based layers of the current stack; whole layers for
    "layer"), then the LayerNorms and the normalizer; record all of it in `config.layerdrop`.

    Returns the same model, smaller.
    """
    from layerdrop import __version__
    from layerdrop.models.surgery import count_parameters, drop_layers, layer_stack

    check_request(model.config, component, attention, drop_layernorm)
    check_positions(model.config, component, positions)
    check_layernorm(model.config, drop_layernorm, component, positions)
    if component == "layer":
        if positions:
            drop_layers(model, positions, provenance)
    if component == "layer" and drop_layernorm is None and attention == "softmax":
        return model  # whole layers only: stock classes express it, nothing more to record
    family = family_of(model.config)
    previous = dict(getattr(model.config, "layerdrop", None) or {})
    before = previous.get("parameters_before", count_parameters(model))
    stack = layer_stack(model)
    for i in positions if component != "layer" else ():
        sublayers.remove_sublayer(stack[i], family.layout, component)
    edits = recorded_edits(model.config)
    removed = {c: sorted(set(edits.get("removed_sublayers", {}).get(c, [])) | (set(positions) if c == component else set()))
               for c in sublayers.COMPONENTS}
    norms = {which: list(edits.get("removed_layernorms", {}).get(which, [])) for which in LAYERNORMS}
    if drop_layernorm is not None:
        present = [i for i, layer in enumerate(stack) if sublayers.has_layernorm(layer, family.layout, drop_layernorm)]
        if not present:  # a model whose config does not say what was removed (edited by hand)
            raise _no_layernorm_left(drop_layernorm)
        for i in present:
            sublayers.remove_layernorm(stack[i], family.layout, drop_layernorm)
        norms[drop_layernorm] = sorted(set(norms[drop_layernorm]) | set(present))
    # A sublayer removed after its LayerNorm took the LayerNorm with it: only the sublayer is recorded.
    norms = {which: sorted(set(layers) - set(removed[which])) for which, layers in norms.items()}
    normalizer = attention if attention != "softmax" else edits.get("attention", "softmax")
    sublayers.set_normalizer(model, normalizer)
    model.config.layerdrop = {
        **previous, **(provenance or {}),
        "edits": {"layers": family.layers, "layout": family.layout, "removed_sublayers": removed,
                  "removed_layernorms": norms, "attention": normalizer},
        "parameters_before": before, "parameters_after": count_parameters(model), "layerdrop_version": __version__,
    }
    return model


def needs_remote_code(config) -> bool:
    """Whether stock transformers classes cannot express this model's edits."""
    edits = recorded_edits(config)
    return bool(edits) and (any(edits.get("removed_sublayers", {}).values())
                            or any(edits.get("removed_layernorms", {}).values())
                            or edits.get("attention", "softmax") != "softmax")


# Auto classes a saved edited model is mapped to, when its family has them.
AUTO_CLASSES = {
    "AutoModel": "MODEL_MAPPING_NAMES",
    "AutoModelForSequenceClassification": "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES",
    "AutoModelForMaskedLM": "MODEL_FOR_MASKED_LM_MAPPING_NAMES",
    "AutoModelForTokenClassification": "MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES",
    "AutoModelForQuestionAnswering": "MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES",
}
MODELING_FILE = "modeling_layerdrop.py"


def stock_class_names(model_type: str) -> dict[str, str]:
    """{auto class: the family's stock class name} for the auto classes in AUTO_CLASSES."""
    from transformers.models.auto import modeling_auto

    names = {}
    for auto, mapping in AUTO_CLASSES.items():
        name = getattr(modeling_auto, mapping).get(model_type)
        if isinstance(name, str):
            names[auto] = name
    return names


def save_pretrained(model, tokenizer, folder: str | Path) -> None:
    """Save model and tokenizer; an edited model also gets `modeling_layerdrop.py` and an
    `auto_map`, so `AutoModel*.from_pretrained(folder, trust_remote_code=True)` rebuilds its shape
    (as LLM-Drop does). `layerdrop.load_model(folder)` needs no remote code."""
    import json

    folder = Path(folder)
    classes = stock_class_names(model.config.model_type)
    if needs_remote_code(model.config):
        model.config.auto_map = {auto: f"{MODELING_FILE[:-3]}.Layerdrop{name}" for auto, name in classes.items()}
    elif getattr(model.config, "auto_map", None):  # edits undone since it was loaded: no modeling file to map to
        kept = {k: v for k, v in model.config.auto_map.items() if not str(v).startswith(MODELING_FILE[:-3])}
        if kept:
            model.config.auto_map = kept
        else:
            del model.config.auto_map
    model.save_pretrained(folder)
    # transformers names the saved class; a reloaded edited model is Layerdrop<Class>, which plain
    # transformers does not know: record the stock class, which auto_map and load_model rebuild.
    config_file = folder / "config.json"
    saved = json.loads(config_file.read_text())
    stock = [name.removeprefix("Layerdrop") for name in saved.get("architectures") or []]
    if stock != saved.get("architectures"):
        saved["architectures"] = stock
        config_file.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")
    if tokenizer is not None:
        tokenizer.save_pretrained(folder)
    if needs_remote_code(model.config):
        source = Path(sublayers.__file__).read_text()
        lines = [f"\n\n# Generated by layerdrop for a {model.config.model_type} model: one class per Auto class.",
                 f"import transformers as _transformers  # noqa: E402\n"]
        lines += [f"Layerdrop{name} = edited_class(_transformers.{name})" for name in classes.values()]
        (folder / MODELING_FILE).write_text(source + "\n".join(lines) + "\n")
