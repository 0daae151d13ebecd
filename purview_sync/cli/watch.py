"""``--watch``: poll a run until it ends, with a live bar of datastores done / total and attributes written.

On a terminal the bar redraws in place; in a pipe or a CI log every change is one plain line instead.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from purview_sync.cli.client import ApiClient, CliError

TERMINAL = {"completed", "completed_with_errors", "failed", "cancelled"}
MAX_POLL_FAILURES = 5  # consecutive unreachable polls before giving up (the run goes on regardless)


def _line(run: dict[str, Any]) -> tuple[str, int, int, int]:
    progress, totals = run.get("progress") or {}, run.get("totals") or {}
    return (
        str(run.get("status")),
        int(progress.get("datastores_done", 0)),
        int(progress.get("datastores_total", 0)),
        int(totals.get("attributes_written", 0)),
    )


def _poll(client: ApiClient, path: str) -> dict[str, Any]:
    failures = 0
    while True:
        try:
            return client.call("GET", path)
        except CliError as exc:
            failures += 1
            if exc.status is not None or failures >= MAX_POLL_FAILURES:
                raise
            time.sleep(1.0)


def watch(
    client: ApiClient, console: Console, integration_id: str, run_id: str, interval: float = 1.0
) -> dict[str, Any]:
    """Poll ``GET /syncs/{run_id}`` until the run ends; return the last single-run view."""
    path = f"/integrations/{integration_id}/syncs/{run_id}"
    run = _poll(client, path)
    if not console.is_terminal:
        last: tuple[str, int, int, int] | None = None
        while True:
            now = _line(run)
            if now != last:
                state, done, total, written = now
                console.print(f"{state}: {done}/{total} datastores done, {written} attributes written")
                last = now
            if run.get("status") in TERMINAL:
                return run
            time.sleep(interval)
            run = _poll(client, path)
    columns = (
        TextColumn("[bold]{task.fields[state]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("datastores"),
        TextColumn("· {task.fields[written]} attributes written"),
        TimeElapsedColumn(),
    )
    progress = Progress(
        *columns, console=console, transient=False, redirect_stdout=False, redirect_stderr=False
    )
    with progress:
        state, done, total, written = _line(run)
        task = progress.add_task("sync", total=total or None, completed=done, state=state, written=written)
        while True:
            state, done, total, written = _line(run)
            progress.update(task, total=total or None, completed=done, state=state, written=written)
            if run.get("status") in TERMINAL:
                progress.refresh()
                return run
            time.sleep(interval)
            run = _poll(client, path)
