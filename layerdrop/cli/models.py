from __future__ import annotations

from layerdrop.cli import common


def models(json: common.Json = False) -> None:
    """List the model aliases and what each resolves to.

    Any hub id or local model folder works with --model too; aliases are shorthands.

    Examples:

        layerdrop models

        layerdrop models --json
    """
    from rich.table import Table

    from layerdrop.models.loading import ALIASES, resolve

    rows = []
    for alias, hub_id in ALIASES.items():
        source = resolve(alias)
        rows.append({"alias": alias, "hub_id": hub_id, "resolves_to": source.location, "kind": source.kind})
    if json:
        common.print_json(rows)
        return
    table = Table("alias", "hub id", "resolves to", box=None)
    for row in rows:
        where = row["resolves_to"] if row["kind"] == "packaged" else "hub (or its local cache)"
        table.add_row(row["alias"], row["hub_id"], where)
    common.out.print(table)
