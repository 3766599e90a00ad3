from __future__ import annotations

from layerdrop.cli import common


def strategies(json: common.Json = False) -> None:
    """List every strategy: name, where it comes from, and what it does.

    Plugins come from the entry-point group `layerdrop.strategies` (set LAYERDROP_DISABLE_PLUGINS=1
    to ignore them). A plugin is code that runs with your rights.

    Examples:

        layerdrop strategies

        layerdrop strategies --json
    """
    from rich.table import Table

    from layerdrop.selection import registry
    from layerdrop.errors import UsageError
    from layerdrop.selection.params import strategy_params

    rows = []
    for entry in registry.available().values():
        try:
            fn = entry.load()
        except UsageError as exc:  # one broken plugin must not hide the others
            rows.append({"name": entry.name, "origin": entry.origin, "params": {}, "description": f"(unavailable: {exc})"})
            continue
        params = {
            name: ("(required)" if p.default is p.empty else p.default) for name, p in strategy_params(fn).items()
        }
        rows.append({"name": entry.name, "origin": entry.origin, "params": params, "description": entry.summary()})
    if json:
        common.print_json(rows)
        return
    table = Table("strategy", "origin", "parameters (default)", "description", box=None)
    for row in rows:
        table.add_row(row["name"], row["origin"], common.params_text(row["params"]), row["description"])
    common.out.print(table)
