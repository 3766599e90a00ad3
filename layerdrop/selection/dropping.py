"""Choose layers with a strategy and remove them: the library behind `plan` and `drop`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from layerdrop.models import loading as models
from layerdrop.models.components import candidates, check_layernorm, check_names, check_positions, check_request
from layerdrop.selection import registry
from layerdrop.models.architectures import family_of, n_layers_of
from layerdrop.selection.config import DropConfig, config_dict
from layerdrop.errors import UsageError
from layerdrop.outputs import atomic_dir, check_output_dir
from layerdrop.selection.strategy import ScoreProvider, Selection, SelectionContext


def select_layers(
    cfg: DropConfig,
    n_layers: int | None = None,
    model_config=None,
    score_provider: ScoreProvider | None = None,
) -> Selection:
    """Apply `cfg.strategy` to a model of `n_layers` layers (read from the model's config if None).

    Parameters are checked before the model's config is read, so a typo never waits on a model.
    """
    plan = registry.plan(cfg.strategy, cfg.params)
    check_names(cfg.component, cfg.attention, cfg.drop_layernorm)
    if n_layers is None:
        if model_config is None:
            model_config = models.load_config(models.resolve(cfg.model), cfg.trust_remote_code)
        n_layers = n_layers_of(model_config)
    if model_config is not None:
        check_request(model_config, cfg.component, cfg.attention, cfg.drop_layernorm)
    # A sublayer strategy chooses among the layers that still have that sublayer (all of them,
    # unless the model was edited before), and its indices are mapped back to layer positions.
    choices = candidates(model_config, cfg.component) if model_config is not None else list(range(n_layers))
    provider = score_provider
    if score_provider is not None and len(choices) != n_layers:
        provider = lambda **kwargs: [score_provider(**kwargs)[i] for i in choices]  # noqa: E731
    ctx = SelectionContext(
        n_layers=len(choices),
        seed=cfg.seed,
        model_type=getattr(model_config, "model_type", None),
        score_provider=provider,
    )
    selection = plan.select(len(choices), cfg.k, ctx, component=cfg.component)
    if model_config is not None:
        positions = [choices[i] for i in selection.dropped_layers]
        check_positions(model_config, cfg.component, positions)
        check_layernorm(model_config, cfg.drop_layernorm, cfg.component, positions)
    if len(choices) == n_layers:
        return selection
    return replace(selection, n_layers=n_layers, dropped_layers=tuple(choices[i] for i in selection.dropped_layers))


def provenance(cfg: DropConfig, source: models.ModelSource, selection: Selection) -> dict[str, Any]:
    """What `config.layerdrop` records about how a model was made smaller."""
    return {
        "source_model": source.name,
        "source_location": source.location if source.kind == "hub" else source.name,
        "strategy": selection.strategy,
        "params": selection.params,
        "component": selection.component,
        "seed": cfg.seed,
        "layer_scores": selection.layer_scores,
    }


@dataclass(frozen=True)
class DropResult:
    config: dict[str, Any]
    model_type: str
    selection: Selection
    parameters_before: int
    parameters_after: int
    output: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "model_type": self.model_type,
            **self.selection.as_dict(),
            "parameters_before": self.parameters_before,
            "parameters_after": self.parameters_after,
            "output": self.output,
        }


def drop_and_save(cfg: DropConfig, output: str | Path, overwrite: bool = False, log=print) -> DropResult:
    """Load `cfg.model` with its own head, drop the selected layers, save model and tokenizer.

    The output folder loads back with plain transformers; nothing is written unless it all worked.
    """
    from layerdrop.models.components import edit_model, save_pretrained
    from layerdrop.models.surgery import count_parameters

    out = check_output_dir(output, overwrite)
    source = models.resolve(cfg.model)
    model_config = models.load_config(source, cfg.trust_remote_code)
    family_of(model_config)  # unsupported families fail before weights load
    selection = select_layers(cfg, model_config=model_config)
    if selection.k == 0 and cfg.attention == "softmax" and cfg.drop_layernorm is None:
        raise UsageError("--k 0 drops nothing, so there is no smaller model to save", "pass --k 1 or more")
    tokenizer = models.load_tokenizer(source, cfg.trust_remote_code)  # checked first: it loads in a moment
    log(f"loading {source.name} ({source.location})")
    model = models.load_original(source, model_config, cfg.trust_remote_code)
    before = count_parameters(model)
    edit_model(model, cfg.component, selection.dropped_layers, cfg.attention, cfg.drop_layernorm,
               provenance(cfg, source, selection))
    after = count_parameters(model)
    what = "layers" if cfg.component == "layer" else f"the {cfg.component} sublayer of layers"
    log(f"dropped {what} {list(selection.dropped_layers)}; saving to {out}")
    with atomic_dir(out) as tmp:
        save_pretrained(model, tokenizer, tmp)
    return DropResult(config_dict(cfg), model_config.model_type, selection, before, after, str(out))
