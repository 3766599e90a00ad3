"""A sweep's checks before any cell runs: names, models, K, settings and data, every problem at once.

A typo in a grid of hundreds of cells should fail in a second with exit 2, not cell after cell.
"""

from __future__ import annotations

from typing import Any

from layerdrop.errors import LayerdropError, UsageError
from layerdrop.experiments.config import RunConfig
from layerdrop.experiments.sweep import SweepConfig
from layerdrop.selection.strategy import ScoresNeeded


def validate(sweep: SweepConfig) -> dict[str, int]:
    """Check every model, task and strategy before anything runs; report all problems at once.

    Returns:
        model name -> number of layers (read from configs only).
    """
    from layerdrop.models import loading as models
    from layerdrop.selection import registry
    from layerdrop.models.architectures import n_layers_of
    from layerdrop.data.tasks import get_task

    problems: list[str] = []
    if not sweep.models or not sweep.tasks or not (sweep.strategies or sweep.baseline):
        problems.append("a sweep needs at least one model, one task and one strategy")
    if sweep.strategies and not sweep.ks and not all(s.sets_k for s in sweep.strategies):
        problems.append("no K values: pass --k (repeatable) or k = [...]")
    if any(k < 0 for k in sweep.ks):
        problems.append(f"negative K in {list(sweep.ks)}")
    for task in sweep.tasks:
        if sweep.train.get("train_file") is None:
            try:
                get_task(task)
            except LayerdropError as exc:
                problems.append(str(exc).rstrip("."))
    valid_specs = []
    for spec in sweep.strategies:
        try:
            registry.plan(spec.name, spec.params)
            valid_specs.append(spec)
        except LayerdropError as exc:
            problems.append(str(exc).rstrip("."))
    layers: dict[str, int] = {}
    configs: dict[str, Any] = {}
    for model in sweep.models:
        try:
            configs[model] = models.load_config(models.resolve(model), sweep.train.get("trust_remote_code", False))
            layers[model] = n_layers_of(configs[model])
        except LayerdropError as exc:
            problems.append(str(exc).rstrip("."))
    try:
        RunConfig(model="m", task="t", **sweep.train).validate()
    except LayerdropError as exc:
        problems.append(str(exc).rstrip("."))
    from layerdrop.models.components import check_layernorm, check_names, check_request

    for component in sweep.components:
        for attention in sweep.attention:
            for layernorm in sweep.drop_layernorm:
                try:
                    check_names(component, attention, layernorm)
                    for model in layers:
                        check_request(configs[model], component, attention, layernorm)
                except LayerdropError as exc:
                    problems.append(str(exc).rstrip("."))
    for model, n in layers.items():
        for component in sweep.components:
            for spec in valid_specs:
                for k in () if spec.sets_k else sweep.ks:
                    try:  # on a pretrained model only the count matters, whichever layers a strategy picks
                        for layernorm in sweep.drop_layernorm:
                            check_layernorm(configs[model], layernorm, component, range(k or 0))
                    except LayerdropError as exc:
                        problems.append(f"{model}: {str(exc).rstrip('.')}")
                    try:
                        registry.plan(spec.name, spec.params).select(n, k, component=component)
                    except ScoresNeeded:
                        if k >= n + (component != "layer"):  # data-driven: chosen at run time, but K must fit
                            problems.append(f"{model}: --k {k} is more than a {n}-layer model has to drop ({component})")
                    except LayerdropError as exc:
                        problems.append(f"{model}: {str(exc).rstrip('.')}")
    if problems:
        unique = list(dict.fromkeys(problems))
        raise UsageError(f"the sweep has {len(unique)} problem(s): " + " | ".join(unique), "fix them; nothing has run")
    return layers


def check_data(cells: list[RunConfig], resources) -> None:
    """Load every task's data the cells need, into the `Resources` the sweep then runs with.

    A missing or malformed file then stops the sweep before any cell runs (exit 2, every problem
    at once), instead of failing cell after cell; and the data is read once, not twice.
    """
    from layerdrop.experiments.resources import DataSource

    problems, seen = [], set()
    for cell in cells:
        source = DataSource.of(cell)  # the key the cache loads the data under
        if source in seen:
            continue
        seen.add(source)
        try:
            resources.task_data(cell)
        except LayerdropError as exc:
            problems.append(str(exc).rstrip("."))
    problems = list(dict.fromkeys(problems))  # one missing folder is one problem, however many tasks
    if problems:
        raise UsageError(f"the sweep's data has {len(problems)} problem(s): " + " | ".join(problems), "fix them; nothing has run")
