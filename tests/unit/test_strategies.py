"""Strategies: the paper's exact index sets, and validity of every registered strategy over (L, K)."""

from __future__ import annotations

import random

import pytest

from layerdrop.selection import registry
from layerdrop.errors import UsageError
from layerdrop.selection.strategy import SelectionContext

# Sajjad et al. (2004.03844), as 0-based indices with bottom = 0 (../shared/reference/sajjad2020.md).
GOLDEN = [
    # (strategy, params, L, K, dropped)
    ("top", {}, 12, 2, [10, 11]), ("top", {}, 12, 4, [8, 9, 10, 11]), ("top", {}, 12, 6, [6, 7, 8, 9, 10, 11]),
    ("bottom", {}, 12, 2, [0, 1]), ("bottom", {}, 12, 4, [0, 1, 2, 3]), ("bottom", {}, 12, 6, [0, 1, 2, 3, 4, 5]),
    ("alternate", {"parity": "even"}, 12, 2, [9, 11]), ("alternate", {"parity": "even"}, 12, 4, [5, 7, 9, 11]),
    ("alternate", {"parity": "even"}, 12, 6, [1, 3, 5, 7, 9, 11]),
    ("alternate", {"parity": "odd"}, 12, 2, [8, 10]), ("alternate", {"parity": "odd"}, 12, 4, [4, 6, 8, 10]),
    ("alternate", {"parity": "odd"}, 12, 6, [0, 2, 4, 6, 8, 10]),
    ("symmetric", {}, 12, 2, [5, 6]), ("symmetric", {}, 12, 4, [4, 5, 6, 7]), ("symmetric", {}, 12, 6, [3, 4, 5, 6, 7, 8]),
    ("top", {}, 6, 1, [5]), ("top", {}, 6, 2, [4, 5]), ("top", {}, 6, 3, [3, 4, 5]),
    ("bottom", {}, 6, 1, [0]), ("bottom", {}, 6, 2, [0, 1]), ("bottom", {}, 6, 3, [0, 1, 2]),
    ("alternate", {"parity": "even"}, 6, 1, [5]), ("alternate", {"parity": "even"}, 6, 2, [3, 5]),
    ("alternate", {"parity": "even"}, 6, 3, [1, 3, 5]),
    ("alternate", {"parity": "odd"}, 6, 1, [4]), ("alternate", {"parity": "odd"}, 6, 2, [2, 4]),
    ("alternate", {"parity": "odd"}, 6, 3, [0, 2, 4]),
    ("symmetric", {}, 6, 1, [3]), ("symmetric", {}, 6, 2, [2, 3]), ("symmetric", {}, 6, 3, [2, 3, 4]),
]


@pytest.mark.parametrize(("name", "params", "n_layers", "k", "dropped"), GOLDEN)
def test_paper_index_sets(name, params, n_layers, k, dropped):
    selection = registry.plan(name, params).select(n_layers, k)
    assert list(selection.dropped_layers) == dropped
    assert sorted(selection.kept_layers + selection.dropped_layers) == list(range(n_layers))


def test_alternate_defaults_to_even():
    assert registry.plan("alternate").select(12, 4).dropped_layers == (5, 7, 9, 11)


def fake_scores(n_layers: int, n_examples: int = 512, split: str = "train") -> list[float]:
    rng = random.Random(n_layers * 1000 + n_examples)
    return [round(rng.uniform(0.5, 1.0), 3) for _ in range(n_layers)]


# Required parameters for strategies that have them. A new strategy with a required parameter
# must add an example here, or test_every_strategy_over_grid fails and says so.
EXAMPLE_PARAMS = {"explicit": lambda n_layers, k: {"layers": tuple(range(0, n_layers, 2))[:k]}}


def _params_for(name: str, n_layers: int, k: int) -> dict:
    from layerdrop.selection.params import strategy_params

    fn = registry.get(name).load()
    required = [p for p, spec in strategy_params(fn).items() if spec.default is spec.empty]
    if not required:
        return {}
    assert name in EXAMPLE_PARAMS, f"strategy {name} has required params {required}: add them to EXAMPLE_PARAMS"
    return EXAMPLE_PARAMS[name](n_layers, k)


@pytest.mark.parametrize("name", sorted(registry.available()))
def test_every_strategy_over_grid(name):
    """Every registered strategy, for L = 1..13 and K = 0..L: a valid selection or a clear UsageError."""
    for n_layers in range(1, 14):
        for k in range(0, n_layers + 1):
            params = _params_for(name, n_layers, k)
            ctx = SelectionContext(n_layers=n_layers, seed=7, score_provider=lambda **kw: fake_scores(n_layers, **kw))
            try:
                selection = registry.plan(name, params).select(n_layers, k, ctx)
            except UsageError as exc:
                assert "\n" not in str(exc)
                assert k >= n_layers or name in ("alternate", "explicit"), f"{name} refused L={n_layers} K={k}: {exc}"
                continue
            assert k < n_layers
            assert selection.k == k
            assert len(set(selection.dropped_layers)) == k
            assert all(0 <= i < n_layers for i in selection.dropped_layers)
            assert list(selection.dropped_layers) == sorted(selection.dropped_layers)


def test_random_is_seeded_and_depends_on_seed():
    plan = registry.plan("random")
    pick = lambda seed: plan.select(12, 4, SelectionContext(n_layers=12, seed=seed)).dropped_layers  # noqa: E731
    assert pick(1) == pick(1)
    assert len({pick(seed) for seed in range(10)}) > 1
    assert registry.plan("random", {"seed": "3"}).select(12, 4).dropped_layers == pick(3)


def test_alternate_refuses_more_than_half():
    with pytest.raises(UsageError, match="at most 6 of 12"):
        registry.plan("alternate").select(12, 7)
    # Odd-alternate of an odd number of layers can take one more.
    assert registry.plan("alternate", {"parity": "odd"}).select(7, 4).dropped_layers == (0, 2, 4, 6)


def test_explicit_sets_k_and_checks_it():
    plan = registry.plan("explicit", ["layers=2,5,7"])
    assert plan.select(12, None).dropped_layers == (2, 5, 7)
    with pytest.raises(UsageError, match="disagrees"):
        plan.select(12, 2)
    with pytest.raises(UsageError, match="duplicate"):
        registry.plan("explicit", ["layers=2,2"]).select(12, None)
    with pytest.raises(UsageError, match="outside"):
        registry.plan("explicit", ["layers=12"]).select(12, None)


def test_contribution_threshold_and_k_follow_scores():
    scores = [0.90, 0.97, 0.80, 0.99, 0.93, 0.96]
    ctx = lambda: SelectionContext(n_layers=6, score_provider=lambda **kw: scores)  # noqa: E731
    by_threshold = registry.plan("contribution", ["threshold=0.95"]).select(6, None, ctx())
    assert by_threshold.dropped_layers == (1, 3, 5)
    assert by_threshold.layer_scores == scores
    assert registry.plan("contribution").select(6, 2, ctx()).dropped_layers == (1, 3)
    with pytest.raises(UsageError, match="exactly one of --k"):
        registry.plan("contribution", ["threshold=0.9"]).select(6, 2, ctx())
    with pytest.raises(UsageError, match="needs a model and a task"):
        registry.plan("contribution").select(6, 2)


@pytest.mark.parametrize(("k", "message"), [(-1, "negative"), (12, "every layer"), (13, "every layer"), (None, "needs --k")])
def test_k_out_of_range(k, message):
    with pytest.raises(UsageError, match=message):
        registry.plan("top").select(12, k)
