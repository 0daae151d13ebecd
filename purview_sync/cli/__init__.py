"""``purview-sync``: the command-line client of the app's HTTP API (Typer commands, Rich output).

It talks only HTTP to a running app (the local devhost or one in Azure) and imports nothing else of the
package. ``main`` is the console script declared in pyproject.toml; ``python -m purview_sync.cli`` works too.
"""

from __future__ import annotations

from purview_sync.cli import cmd_integrations, cmd_runs  # noqa: F401  (they register their commands)
from purview_sync.cli.app import app


def main() -> None:
    app(prog_name="purview-sync")


__all__ = ["app", "main"]
