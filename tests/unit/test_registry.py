"""The registry: lookup, did-you-mean, plugins (entry points, files, modules), parameter checks."""

from __future__ import annotations

import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from layerdrop.selection import registry
from layerdrop.errors import UsageError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_registry():
    registry.reset()
    yield
    registry.reset()


def test_builtins_load_from_our_strategies_folder():
    # An unrelated PyPI package is named `strategies`: ours must be loaded by path, not by that name.
    fn = registry.get("top").load()
    module = sys.modules[fn.__module__]
    assert fn.__module__ == "layerdrop._strategies.top"
    assert Path(module.__file__).resolve().parent == registry.builtin_dir().resolve()
    assert registry.builtin_dir().resolve() == (REPO / "strategies").resolve()


def test_every_builtin_has_a_module_and_a_one_line_summary():
    for name, entry in registry.available().items():
        summary = entry.summary()
        assert summary and not summary.startswith("(unavailable"), name
        assert len(summary) < 120, f"{name}: the first docstring line is UI text, keep it short"


def test_unknown_strategy_suggests_the_closest():
    with pytest.raises(UsageError, match=r"unknown strategy 'symetric' \(did you mean 'symmetric'\?\)"):
        registry.get("symetric")


def _inject(monkeypatch, *entry_points):
    monkeypatch.delenv("LAYERDROP_DISABLE_PLUGINS", raising=False)
    monkeypatch.setattr(registry, "_entry_points", lambda: list(entry_points))
    registry.reset()


def _plugin_module(tmp_path, monkeypatch, body: str, name: str = "my_plugin") -> None:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))


def test_entry_point_plugin_is_listed_and_used(tmp_path, monkeypatch):
    _plugin_module(tmp_path, monkeypatch, '''
        def middle_first(n_layers, k, ctx, *, offset: int = 0):
            """Drop K layers starting in the middle."""
            start = n_layers // 2 + offset
            return list(range(start, start + k))
    ''')
    _inject(monkeypatch, EntryPoint("middle", "my_plugin:middle_first", registry.ENTRY_POINT_GROUP))
    entry = registry.available()["middle"]
    assert entry.origin.startswith("plugin")
    assert entry.summary() == "Drop K layers starting in the middle."
    assert registry.plan("middle", ["offset=1"]).select(12, 2).dropped_layers == (7, 8)


def test_plugins_can_be_disabled(monkeypatch):
    _inject(monkeypatch, EntryPoint("middle", "my_plugin:middle_first", registry.ENTRY_POINT_GROUP))
    monkeypatch.setenv("LAYERDROP_DISABLE_PLUGINS", "1")
    registry.reset()
    assert "middle" not in registry.available()


def test_duplicate_name_is_an_error(monkeypatch):
    _inject(monkeypatch, EntryPoint("top", "my_plugin:whatever", registry.ENTRY_POINT_GROUP))
    with pytest.raises(UsageError, match="registered twice"):
        registry.available()


def test_plugin_output_is_checked_like_builtins(tmp_path, monkeypatch):
    _plugin_module(tmp_path, monkeypatch, '''
        def dupes(n_layers, k, ctx):
            """Bad."""
            return [0] * k
        def too_many(n_layers, k, ctx):
            """Bad."""
            return list(range(k + 1))
        def not_ints(n_layers, k, ctx):
            """Bad."""
            return ["a"]
        def everything(n_layers, k, ctx):
            """Bad."""
            return list(range(n_layers))
        everything.sets_k = True
    ''', name="bad_plugin")
    for attr, message in [("dupes", "duplicate"), ("too_many", "instead of k=2"), ("not_ints", "not a list of layer indices")]:
        with pytest.raises(UsageError, match=message):
            registry.plan(f"bad_plugin:{attr}").select(12, 2)
    with pytest.raises(UsageError, match="every layer"):
        registry.plan("bad_plugin:everything").select(12, None)


def test_file_spec(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text('def first(n_layers, k, ctx):\n    """Drop the first K."""\n    return list(range(k))\n')
    assert registry.plan(f"{path}:first").select(6, 2).dropped_layers == (0, 1)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("/nonexistent/file.py:fn", "does not exist"),
        ("no_such_module_xyz:fn", "does not import"),
        ("layerdrop.errors:nothing_here", "has no function"),
        ("layerdrop.errors:did_you_mean", "does not follow the strategy contract"),
        (":fn", "malformed strategy spec"),
    ],
)
def test_bad_specs(spec, message):
    with pytest.raises(UsageError, match=message):
        registry.plan(spec)


def test_file_that_raises_on_import(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(UsageError, match="does not import: RuntimeError: boom"):
        registry.plan(f"{path}:fn")


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("alternate", ["pariti=odd"], "did you mean 'parity'"),
        ("alternate", ["parity=sideways"], "choose one of even, odd"),
        ("top", ["x=1"], "takes no parameters"),
        ("random", ["seed=abc"], "not a valid int"),
        ("explicit", [], "needs --param layers"),
        ("explicit", ["layers=1,x"], "not a valid int"),
        ("alternate", ["parity"], "malformed --param"),
        ("alternate", ["parity=odd", "parity=even"], "given twice"),
        ("contribution", ["threshold=high"], "not a valid float"),
    ],
)
def test_params_checked_against_signature(name, params, message):
    with pytest.raises(UsageError, match=message):
        registry.plan(name, params)


def test_params_converted_with_defaults():
    plan = registry.plan("contribution", ["threshold=0.9", "split=validation"])
    assert plan.params == {"threshold": 0.9, "n_examples": 512, "split": "validation"}
    assert registry.plan("explicit", ["layers=3, 1"]).params == {"layers": (3, 1)}


def test_a_strategy_that_raises_is_one_line(tmp_path):
    path = tmp_path / "buggy.py"
    path.write_text("def bad(n_layers, k, ctx):\n    return [1 / 0]\n")
    with pytest.raises(UsageError, match="raised ZeroDivisionError"):
        registry.plan(f"{path}:bad").select(6, 1)


def test_a_broken_plugin_does_not_hide_the_others(monkeypatch):
    import json as _json

    monkeypatch.setattr(registry, "_entry_points", lambda: [EntryPoint("broken", "no_such_mod_xyz:fn", registry.ENTRY_POINT_GROUP)])
    monkeypatch.delenv("LAYERDROP_DISABLE_PLUGINS", raising=False)
    registry.reset()
    from typer.testing import CliRunner

    from layerdrop.cli import app

    result = CliRunner().invoke(app, ["strategies", "--json"])
    assert result.exit_code == 0, result.stderr
    rows = {row["name"]: row for row in _json.loads(result.stdout)}
    assert "top" in rows and rows["broken"]["description"].startswith("(unavailable")
