"""The strategy contract: what a strategy is given and what it must return.

A strategy is a plain function. It receives the number of layers, `k` and a `SelectionContext`,
plus its own keyword-only parameters, and returns the 0-based indices of the layers to drop
(bottom layer = 0). It never touches a model. The registry checks every result the same way,
so built-ins and plugins get identical guarantees.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from layerdrop.errors import UsageError


class ScoresNeeded(UsageError):
    """A data-driven strategy was asked to choose layers without a model and task."""


class Strategy(Protocol):
    """`fn(n_layers, k, ctx, *, **params) -> indices to drop`.

    Optional function attributes:
        sets_k (bool): the strategy may be called with `k=None` and decides how many layers to
            drop itself (e.g. a similarity threshold).
    """

    def __call__(self, n_layers: int, k: int | None, ctx: SelectionContext, /, **params: Any) -> Sequence[int]: ...


ScoreProvider = Callable[..., list[float]]


@dataclass
class SelectionContext:
    """What a strategy may consult besides L and K.

    Attributes:
        n_layers: number of layers of the model being dropped.
        seed: the run's seed, for strategies with randomness.
        model_type: `config.model_type`, when a model is known.
        score_provider: computes data-driven layer scores on demand (see `layerdrop.analysis.scoring`);
            None when no model and task are available (e.g. `plan --n-layers 12`).
        scores: every set of scores computed through this context, keyed by their arguments,
            so a run can record them.
    """

    n_layers: int
    seed: int = 42
    model_type: str | None = None
    score_provider: ScoreProvider | None = None
    scores: dict[str, list[float]] = field(default_factory=dict)

    def layer_scores(self, **kwargs: Any) -> list[float]:
        """One score per layer, computed once per distinct set of arguments."""
        if self.score_provider is None:
            raise ScoresNeeded(
                "this strategy scores layers on data, which needs a model and a task",
                "pass --model and --task",
            )
        key = ",".join(f"{k}={v}" for k, v in sorted(kwargs.items()))
        if key not in self.scores:
            self.scores[key] = [float(s) for s in self.score_provider(**kwargs)]
        return self.scores[key]


@dataclass(frozen=True)
class Selection:
    """The checked outcome of a strategy: which layers go and which stay (0-based, sorted).

    With a sublayer `component` ("ffn", "attention"), `dropped_layers` are the layers that lose
    that sublayer (no layer goes) and `n_layers` counts the model's layers. `as_dict` says it the
    way run records do: `dropped_layers` empty, every layer kept, `removed_sublayers` the rest.
    """

    strategy: str
    params: dict[str, Any]
    n_layers: int
    dropped_layers: tuple[int, ...]
    layer_scores: list[float] | None = None
    component: str = "layer"

    @property
    def k(self) -> int:
        return len(self.dropped_layers)

    @property
    def kept_layers(self) -> tuple[int, ...]:
        dropped = set(self.dropped_layers)
        return tuple(i for i in range(self.n_layers) if i not in dropped)

    def as_dict(self) -> dict[str, Any]:
        whole = self.component == "layer"
        return {
            "strategy": self.strategy,
            "params": self.params,
            "component": self.component,
            "n_layers": self.n_layers,
            "k": self.k,
            "dropped_layers": list(self.dropped_layers) if whole else [],
            "kept_layers": list(self.kept_layers) if whole else list(range(self.n_layers)),
            "removed_sublayers": {part: list(self.dropped_layers) if part == self.component else []
                                  for part in ("attention", "ffn")},
            "layer_scores": self.layer_scores,
        }

