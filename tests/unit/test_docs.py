"""Every command and every built-in strategy is documented in README.md (after sqlite-utils)."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerdrop.selection import registry
from layerdrop.cli import app

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _commands():
    groups = [f"{group.name} {command.name}" for group in app.registered_groups
              for command in group.typer_instance.registered_commands]
    return sorted([command.name for command in app.registered_commands] + groups)


@pytest.mark.parametrize("command", _commands())
def test_command_documented(command):
    assert f"layerdrop {command}" in README


@pytest.mark.parametrize("strategy", sorted(registry.BUILTINS))
def test_strategy_documented(strategy):
    assert f"`{strategy}`" in README
