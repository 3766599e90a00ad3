"""Strategy parameters: `--param key=value` strings checked and converted by the signature.

Everything here runs before any model loads, so a typo costs milliseconds, not a download.
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any, Literal

from layerdrop.errors import UsageError, did_you_mean

# The positional part of the contract: (n_layers, k, ctx).
CONTRACT_ARGS = 3


def strategy_params(fn) -> dict[str, inspect.Parameter]:
    """The strategy's own keyword parameters (everything after n_layers, k, ctx)."""
    params = list(inspect.signature(fn).parameters.values())
    return {p.name: p for p in params[CONTRACT_ARGS:] if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def check_contract(fn, label: str) -> None:
    """A strategy must take (n_layers, k, ctx) positionally."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError) as exc:
        raise UsageError(f"strategy {label} is not a function", "point it at a function") from exc
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < CONTRACT_ARGS and not any(p.kind == p.VAR_POSITIONAL for p in params):
        raise UsageError(
            f"strategy {label} does not follow the strategy contract",
            "it must be def f(n_layers, k, ctx, *, ...) -> list of layer indices",
        )


def parse_pairs(raw: list[str] | tuple[str, ...], flag: str = "--param", example: str = "parity=odd") -> dict[str, str]:
    """`["parity=odd", "seed=3"]` -> `{"parity": "odd", "seed": "3"}`; errors name `flag`."""
    pairs: dict[str, str] = {}
    for item in raw:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise UsageError(f"malformed {flag} '{item}'", f"write it as key=value, e.g. {flag} {example}")
        if key in pairs:
            raise UsageError(f"{flag} {key} is given twice", "pass each setting once")
        pairs[key] = value.strip()
    return pairs


def _hints(fn) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except Exception:  # unresolvable annotations: fall back to treating values as given
        return {}


def convert(value: str, annotation: Any, name: str) -> Any:
    """Convert one string value to the annotated type, or raise a UsageError that shows the type."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value.lower() in ("none", "null", "") and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return convert(value, arg, name)
            except UsageError as exc:
                errors.append(exc)
        raise errors[0]
    if origin is Literal:
        if value in args:
            return value
        raise UsageError(f"--param {name}={value} is not allowed", f"choose one of {', '.join(map(str, args))}")
    if origin in (tuple, list):
        item_type = args[0] if args else str
        parts = [p for p in value.replace(" ", "").split(",") if p != ""]
        items = [convert(p, item_type, name) for p in parts]
        return tuple(items) if origin is tuple else items
    if annotation is bool:
        lowered = value.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise UsageError(f"--param {name}={value} is not a boolean", "use true or false")
    if annotation in (int, float):
        try:
            return annotation(value)
        except ValueError:
            raise UsageError(f"--param {name}={value} is not a valid {annotation.__name__}", f"pass a number, e.g. {name}=1") from None
    return value


def bind_params(fn, label: str, raw: dict[str, Any]) -> dict[str, Any]:
    """Check `raw` against the strategy's signature and return converted params with defaults.

    Raises:
        UsageError: unknown parameter (with did-you-mean), wrong type, or a required one missing.
    """
    declared = strategy_params(fn)
    hints = _hints(fn)
    converted: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in declared:
            fix = f"its parameters are {', '.join(declared)}" if declared else "it takes no parameters"
            raise UsageError(f"unknown parameter '{key}' for strategy {label}{did_you_mean(key, declared)}", fix)
        converted[key] = convert(value, hints.get(key, str), key) if isinstance(value, str) else value
    missing = [n for n, p in declared.items() if p.default is inspect.Parameter.empty and n not in converted]
    if missing:
        raise UsageError(f"strategy {label} needs --param {missing[0]}=...", "see layerdrop strategies for its parameters")
    defaults = {n: p.default for n, p in declared.items() if p.default is not inspect.Parameter.empty}
    return {**defaults, **converted}
