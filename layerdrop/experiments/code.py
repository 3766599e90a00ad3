"""Which code made a record: the commit it ran from, and a hash of the source it ran.

`versions.layerdrop_source` is for people: `git:<commit>` from a checkout (`+dirty` when the code
under layerdrop/ or strategies/ differs from that commit), else `sha256:<hash>` of an installed
package. `versions.layerdrop_code` is for tables and twins: a hash of the .py files that ran, the
built-in strategies included, so two dirty trees with different code never look alike and a
docs-only commit does not split a table.
"""

from __future__ import annotations

import hashlib
import subprocess
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
ROOT = PACKAGE.parent
CODE_PATHS = ("layerdrop", "strategies", "pyproject.toml")


def _source_folders() -> list[Path]:
    # An installed wheel holds the strategies in the package (`_strategies`); a source tree beside it.
    beside = ROOT / "strategies"
    from_checkout = (beside / "__init__.py").is_file() and (ROOT / "pyproject.toml").is_file()
    return [PACKAGE] + ([beside] if from_checkout else [])


@cache
def code_hash() -> str:
    """`sha256:<16 hex>` over the path and bytes of every .py file of the package and strategies."""
    digest = hashlib.sha256()
    for folder in _source_folders():
        for path in sorted(folder.rglob("*.py")):
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return f"sha256:{digest.hexdigest()[:16]}"


@cache
def source_identity() -> str:
    """`git:<commit>[+dirty]` from a checkout, else the code hash."""
    if (ROOT / ".git").exists() and (ROOT / "pyproject.toml").is_file():
        git = ["git", "-C", str(ROOT)]
        try:
            commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                                    check=True).stdout.strip()
            dirty = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS],
                                   capture_output=True, text=True, timeout=10, check=True).stdout.strip()
            return f"git:{commit}" + ("+dirty" if dirty else "")
        except (OSError, subprocess.SubprocessError):
            pass
    return code_hash()
