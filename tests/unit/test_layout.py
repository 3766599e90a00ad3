"""The rooms of the package import only downwards: lower rooms never reach higher ones.

data and models are the floor; selection, analysis and training build on them; experiments runs
them; reporting reads what experiments wrote; cli sits on top. An import under `if TYPE_CHECKING:`
is a type hint, not a dependency, and does not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "layerdrop"
# room -> rooms it must never import
FORBIDDEN = {
    "data": {"models", "selection", "analysis", "training", "experiments", "reporting", "cli"},
    "models": {"data", "selection", "analysis", "training", "experiments", "reporting", "cli"},
    "selection": {"analysis", "training", "experiments", "reporting", "cli"},
    "analysis": {"selection", "training", "experiments", "reporting", "cli"},
    "training": {"selection", "analysis", "experiments", "reporting", "cli"},
    "experiments": {"reporting", "cli"},
    "reporting": {"training", "cli"},
}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    hints = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            hints.update(id(child) for child in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if id(node) in hints:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
            found.extend(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_rooms_import_only_downwards(room):
    crossings = []
    for path in sorted((PACKAGE / room).rglob("*.py")):
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "layerdrop" and len(parts) > 1 and parts[1] in FORBIDDEN[room]:
                crossings.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    assert not crossings, "\n".join(crossings)


def test_modules_stay_small():
    sizes = {str(p.relative_to(PACKAGE.parent)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert not {name: n for name, n in sizes.items() if n > 500}, "modules past 500 lines"
