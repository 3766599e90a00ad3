"""The one strategy registry: built-ins, installed plugins and one-off specs.

- Built-ins are listed once, below, as lazy targets; their modules live in the top-level
  `strategies/` folder and are loaded by explicit file path (an unrelated PyPI package is also
  called `strategies`, so `import strategies` could pick up the wrong one).
- Third-party strategies register through the entry-point group `layerdrop.strategies`
  (`LAYERDROP_DISABLE_PLUGINS=1` turns them off).
- `--strategy path/to/file.py:function` or `package.module:function` loads one function for one
  run. A plugin is code that runs with the user's rights: nothing is loaded that the user did not
  install or name.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from layerdrop.errors import LayerdropError, UsageError, unknown_name
from layerdrop.selection.params import bind_params, check_contract, parse_pairs
from layerdrop.selection.strategy import Selection, SelectionContext

ENTRY_POINT_GROUP = "layerdrop.strategies"
BUILTIN_PACKAGE = "layerdrop._strategies"

# name -> "module:function" inside the built-in strategies folder. Registration happens here only.
BUILTINS: dict[str, str] = {
    "top": "top:top",
    "bottom": "bottom:bottom",
    "alternate": "alternate:alternate",
    "symmetric": "symmetric:symmetric",
    "explicit": "explicit:explicit",
    "random": "random_layers:random_layers",
    "contribution": "contribution:contribution",
}


@dataclass(frozen=True)
class StrategyEntry:
    """A strategy known by name, loaded only when used.

    Attributes:
        name: the name users pass to `--strategy`.
        target: "module:function" (built-ins: inside the strategies folder).
        origin: "built-in", "plugin (<distribution>)" or "file"/"module" for one-off specs.
    """

    name: str
    target: str
    origin: str

    def load(self):
        module_name, _, attr = self.target.partition(":")
        if self.origin == "built-in":
            module = _load_builtin_module(module_name)
        elif self.origin == "file":
            module = _load_file(Path(module_name))
        else:
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:  # any import-time failure of third-party code
                raise UsageError(f"strategy '{self.name}' from {self.origin} does not import: {exc}", "fix or uninstall the plugin") from exc
        fn = getattr(module, attr, None)
        if fn is None:
            raise UsageError(f"strategy '{self.name}': {module_name} has no function '{attr}'", "check the name after ':'")
        check_contract(fn, f"'{self.name}'")
        return fn

    def summary(self) -> str:
        """First line of the docstring: the strategy's one-line description."""
        try:
            doc = inspect.getdoc(self.load()) or ""
        except UsageError as exc:
            return f"(unavailable: {exc})"
        return doc.strip().splitlines()[0] if doc.strip() else ""


def builtin_dir() -> Path:
    """The built-in strategies folder: inside an installed wheel, or the source tree's `strategies/`."""
    here = Path(__file__).resolve().parents[1]  # the layerdrop package
    for candidate in (here / "_strategies", here.parent / "strategies"):
        if (candidate / "__init__.py").is_file():
            return candidate
    raise RuntimeError(f"built-in strategies not found next to {here}")  # a broken install, not user error


def _load_builtin_module(module_name: str):
    full = f"{BUILTIN_PACKAGE}.{module_name}"
    if full in sys.modules:
        return sys.modules[full]
    folder = builtin_dir()
    if BUILTIN_PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(BUILTIN_PACKAGE, folder / "__init__.py", submodule_search_locations=[str(folder)])
        package = importlib.util.module_from_spec(spec)
        sys.modules[BUILTIN_PACKAGE] = package
        spec.loader.exec_module(package)
    return importlib.import_module(full)


def _load_file(path: Path):
    if not path.is_file():
        raise UsageError(f"strategy file {path} does not exist", "pass --strategy path/to/file.py:function")
    name = f"layerdrop_plugin_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # user code: report, don't crash
        raise UsageError(f"strategy file {path} does not import: {type(exc).__name__}: {exc}", "fix the file") from exc
    return module


def _entry_points():
    """Installed plugin entry points (a seam that tests replace to inject plugins)."""
    from importlib.metadata import entry_points

    return entry_points(group=ENTRY_POINT_GROUP)


@cache
def _registered() -> dict[str, StrategyEntry]:
    entries = {name: StrategyEntry(name, target, "built-in") for name, target in BUILTINS.items()}
    if os.environ.get("LAYERDROP_DISABLE_PLUGINS", "0") in ("1", "true", "yes"):
        return entries
    for ep in _entry_points():
        dist = getattr(getattr(ep, "dist", None), "name", None) or "unknown distribution"
        if ep.name in entries:
            raise UsageError(
                f"strategy name '{ep.name}' is registered twice: by {entries[ep.name].origin} and by plugin {dist}",
                "uninstall one of them, or set LAYERDROP_DISABLE_PLUGINS=1",
            )
        entries[ep.name] = StrategyEntry(ep.name, ep.value, f"plugin ({dist})")
    return entries


def available() -> dict[str, StrategyEntry]:
    """Every strategy that can be named: built-ins first, then plugins."""
    return dict(_registered())


def reset() -> None:
    """Forget the cached registry (after installing a plugin, or in tests)."""
    _registered.cache_clear()


def get(spec: str) -> StrategyEntry:
    """Find a strategy by name, `file.py:function` or `package.module:function`."""
    if ":" in spec:
        target, _, attr = spec.rpartition(":")
        if not target or not attr:
            raise UsageError(f"malformed strategy spec '{spec}'", "write path/to/file.py:function or package.module:function")
        origin = "file" if target.endswith(".py") or os.sep in target else "module"
        return StrategyEntry(spec, spec, origin)
    entries = available()
    if spec not in entries:
        raise unknown_name("strategy", spec, entries, "run `layerdrop strategies` to list them")
    return entries[spec]


@dataclass(frozen=True)
class Plan:
    """A strategy with its checked parameters, ready to select layers for any L."""

    entry: StrategyEntry
    fn: Any
    params: dict[str, Any]

    @property
    def sets_k(self) -> bool:
        return bool(getattr(self.fn, "sets_k", False))

    def select(self, n_layers: int, k: int | None, ctx: SelectionContext | None = None, component: str = "layer") -> Selection:
        """Run the strategy and check its answer: ints, unique, in range, exactly k, not all layers.

        With a sublayer `component`, `n_layers` counts the layers that have one and the strategy
        may choose all of them (a model without any feed-forward sublayer still computes).
        """
        name = self.entry.name
        ctx = ctx or SelectionContext(n_layers=n_layers)
        whole = component == "layer"
        if k is not None:
            if k < 0:
                raise UsageError(f"--k {k} is negative", "pass the number of layers to drop, 0 or more")
            if whole and k >= n_layers:
                raise UsageError(f"--k {k} would drop every layer of a {n_layers}-layer model", f"choose --k between 0 and {n_layers - 1}")
            if not whole and k > n_layers:
                raise UsageError(f"--k {k} is more than the {n_layers} {component} sublayers this model has",
                                 f"choose --k between 0 and {n_layers}")
        elif not self.sets_k:
            raise UsageError(f"strategy '{name}' needs --k", "pass --k N, the number of layers to drop")
        if k == 0 and not self.sets_k:
            return Selection(name, self.params, n_layers, (), component=component)
        try:
            raw = self.fn(n_layers, k, ctx, **self.params)
        except LayerdropError:
            raise
        except Exception as exc:  # a bug in (plugin) strategy code: one line, not a traceback
            raise UsageError(f"strategy '{name}' raised {type(exc).__name__}: {exc}", "fix the strategy") from exc
        try:
            indices = [int(i) for i in raw]
            ok = all(not isinstance(i, bool) and int(i) == i for i in raw)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise UsageError(f"strategy '{name}' returned {raw!r}, not a list of layer indices", "fix the strategy")
        problems = []
        if len(set(indices)) != len(indices):
            problems.append("duplicate indices")
        if any(not 0 <= i < n_layers for i in indices):
            problems.append(f"indices outside 0..{n_layers - 1}")
        if k is not None and len(indices) != k:
            problems.append(f"{len(indices)} layers instead of k={k}")
        if whole and len(set(indices)) >= n_layers:
            problems.append("every layer")
        if problems:
            raise UsageError(f"strategy '{name}' chose {sorted(indices)} for L={n_layers}: {', '.join(problems)}", "fix the strategy or its parameters")
        scores = next(iter(ctx.scores.values()), None) if len(ctx.scores) == 1 else None
        return Selection(name, self.params, n_layers, tuple(sorted(indices)), scores, component)


def plan(spec: str, raw_params: dict[str, Any] | list[str] | tuple[str, ...] = ()) -> Plan:
    """Look up a strategy and check its parameters, before any model is loaded."""
    entry = get(spec)
    fn = entry.load()
    pairs = parse_pairs(raw_params) if isinstance(raw_params, (list, tuple)) else dict(raw_params)
    return Plan(entry, fn, bind_params(fn, f"'{entry.name}'", pairs))
