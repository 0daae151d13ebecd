"""Rich renderables for what the API answers: integrations, collections, runs, a run's entries, checks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

STATUS_STYLE = {
    "completed": "green",
    "skipped": "dim",
    "running": "cyan",
    "pending": "dim",
    "cancelling": "yellow",
    "cancelled": "yellow",
    "completed_with_errors": "yellow",
    "failed": "red",
    "ok": "green",
    "warning": "yellow",
}
CHECK_MARK = {"ok": "✔", "warning": "!", "failed": "✘"}


def status(value: Any) -> Text:
    text = str(value or "-")
    return Text(text, style=STATUS_STYLE.get(text, ""))


ID_COLUMNS = {"id", "run"}  # 32-hex ids are copied from here: never wrapped
WRAPPING = {"datastore", "purview_url", "domains", "friendly name", "parent", "closest Purview names"}


def _table(*columns: str, title: str | None = None) -> Table:
    """Names and URLs wrap when narrow; ids (copied from here), statuses, dates and counts stay on one line."""
    table = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left", pad_edge=False, show_edge=False)
    for name in columns:
        if name in ID_COLUMNS:
            table.add_column(name, no_wrap=True, min_width=32)
        elif name in WRAPPING:
            table.add_column(name, overflow="fold")
        else:
            table.add_column(name, no_wrap=True)
    return table


def _row(table: Table, *cells: Any) -> None:
    """Cells as plain text: names from the API are never read as Rich markup."""
    table.add_row(*(c if isinstance(c, Text) else Text(str(c)) for c in cells))


def _flag(value: Any) -> str:
    return "yes" if value is True else "no" if value is False else "-"


def _when(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if not value:
        return "-"
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).strftime(fmt)
    except ValueError:
        return str(value)


def _duration(run: dict[str, Any]) -> str:
    try:
        start = datetime.fromisoformat(str(run["started_at"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(run["finished_at"]).replace("Z", "+00:00"))
    except (KeyError, TypeError, ValueError):
        return ""
    return f" in {(end - start).total_seconds():.1f} s"


def integrations_table(items: list[dict[str, Any]]) -> RenderableType:
    if not items:
        return Text("No integrations yet: connect one with `purview-sync connect`.")
    table = _table("id", "purview_url", "auth", "domains", "events", "last sync")
    for it in items:
        last = it.get("last_sync") or {}
        _row(
            table,
            it.get("id", ""),
            it.get("purview_url", ""),
            it.get("auth", ""),
            ", ".join(it.get("domains") or []) or "(all)",
            _flag(it.get("event_driven")),
            Text.assemble(status(last.get("status")), f" {_when(last.get('finished_at'))}" if last else ""),
        )
    return table


INTEGRATION_FIELDS = (
    "id", "purview_url", "tenant_id", "client_id", "auth", "domains", "event_driven", "overwrite_tags",
    "dimension_scores", "lineage", "schedule", "created_at", "updated_at",
)  # fmt: skip


def integration_view(it: dict[str, Any]) -> RenderableType:
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name in INTEGRATION_FIELDS:
        if name not in it:
            continue
        value = it[name]
        if name == "domains":
            shown = ", ".join(value or []) or "(all collections)"
        elif name == "schedule":
            shown = "-" if not value else f"{value.get('cron')} (next {_when(value.get('next_run_at'))})"
        elif isinstance(value, bool):
            shown = _flag(value)
        else:
            shown = "-" if value is None else str(value)
        _row(table, name, shown)
    parts: list[RenderableType] = [table]
    for warning in it.get("warnings") or []:
        parts.append(Text(f"warning: {warning}", style="yellow"))
    last = it.get("last_sync")
    if last:
        parts.append(Text.assemble("last sync: ", status(last.get("status")), f" {last.get('id', '')}"))
    return Group(*parts)


def collections_table(items: list[dict[str, Any]]) -> RenderableType:
    table = _table("name (use as --domain)", "friendly name", "parent")
    for c in items:
        _row(table, c.get("name", ""), c.get("friendly_name") or "", c.get("parent") or "")
    return table


def runs_table(items: list[dict[str, Any]]) -> RenderableType:
    if not items:
        return Text("No runs yet: start one with `purview-sync sync ID --watch`.")
    table = _table("run", "status", "started", "took", "done", "written", "tags", "errors")
    for run in items:
        progress, totals = run.get("progress") or {}, run.get("totals") or {}
        state = status(run.get("status"))
        if run.get("trigger") not in (None, "manual"):
            state.append(f" ({run['trigger']})", style="dim")
        if (run.get("options") or {}).get("dry_run"):
            state.append(" (dry run)", style="dim")
        _row(
            table,
            run.get("id", ""),
            state,
            _when(run.get("started_at"), "%m-%d %H:%M"),
            _duration(run).removeprefix(" in ") or "-",
            f"{progress.get('datastores_done', 0)}/{progress.get('datastores_total', 0)}",
            str(totals.get("attributes_written", 0)),
            _tags(totals),
            str(totals.get("errors", 0)),
        )
    return table


def _tags(counts: dict[str, Any]) -> str:
    return f"+{counts.get('tags_added', 0)} -{counts.get('tags_removed', 0)} ~{counts.get('tags_skipped', 0)}"


def entries_table(run: dict[str, Any]) -> RenderableType:
    table = _table("datastore", "status", "matched", "unmatched", "written", "tags", "errors")
    for entry in run.get("datastores") or []:
        state = status(entry.get("status"))
        if entry.get("reason") and entry.get("status") != "skipped":
            state.append(f" {entry['reason']}", style="dim")
        _row(
            table,
            f"{entry.get('name', '')} (#{entry.get('datastore_id', '')})",
            state,
            f"{entry.get('tables_matched', 0)} t · {entry.get('columns_matched', 0)} c",
            f"{entry.get('tables_unmatched', 0)} t · {entry.get('columns_unmatched', 0)} c",
            f"{entry.get('attributes_written', 0)} ({entry.get('attributes_unchanged', 0)} unchanged)",
            _tags(entry),
            str(len(entry.get("errors") or [])),
        )
    return table


def entry_notes(run: dict[str, Any]) -> RenderableType | None:
    """Below the table, in full: why a datastore was skipped, and each error with what to do about it."""
    lines: list[Text] = []
    for entry in run.get("datastores") or []:
        name = f"{entry.get('name', '')} (#{entry.get('datastore_id', '')})"
        if entry.get("status") == "skipped" and entry.get("reason"):
            lines.append(Text.assemble((name, "bold"), " skipped: ", str(entry["reason"])))
        for error in entry.get("errors") or []:
            asset = f" {error['asset']}" if error.get("asset") else ""
            line = Text.assemble((f"{name}{asset}", "bold"), ": ", (str(error.get("message", "")), "red"))
            if error.get("action"):
                line.append(f"\n  → {error['action']}", style="yellow")
            lines.append(line)
    return Group(*lines) if lines else None


def run_summary(run: dict[str, Any]) -> Text:
    progress, totals = run.get("progress") or {}, run.get("totals") or {}
    dry = (run.get("options") or {}).get("dry_run")
    text = Text.assemble(
        "Preview (dry run, nothing written) " if dry else "Run ",
        (run.get("id", ""), "bold"),
        " ",
        status(run.get("status")),
        _duration(run) if run.get("finished_at") else "",
        f": {progress.get('datastores_done', 0)}/{progress.get('datastores_total', 0)} datastores, "
        f"{totals.get('attributes_written', 0)} attributes written, "
        f"tags {_tags(totals)}, {totals.get('errors', 0)} errors",
    )
    return text


def suggestions(run: dict[str, Any]) -> RenderableType | None:
    rows = [
        (entry.get("name", ""), s)
        for entry in run.get("datastores") or []
        for s in entry.get("suggestions") or []
        if s.get("candidates")
    ]
    if not rows:
        return None
    table = _table("datastore", "unmatched", "closest Purview names", title="Suggestions")  # fmt: skip
    for name, s in rows:
        _row(table, name, f"{s.get('kind', '')} {s.get('name', '')}", ", ".join(s.get("candidates") or []))
    return table


def run_view(run: dict[str, Any]) -> RenderableType:
    parts: list[RenderableType] = [entries_table(run)]
    for extra in (entry_notes(run), suggestions(run)):
        if extra is not None:
            parts.append(extra)
    return Group(*parts)


def checklist(checks: list[dict[str, Any]]) -> RenderableType:
    lines: list[RenderableType] = []
    for check in checks:
        state = str(check.get("status", ""))
        style = STATUS_STYLE.get(state, "")
        line = Text.assemble(
            (f"{CHECK_MARK.get(state, '?')} ", style), (str(check.get("name", "")), "bold"), f"  [{state}]"
        )
        if check.get("detail"):
            line.append(f"\n    {check['detail']}")
        if check.get("action") and state != "ok":
            line.append(f"\n    → {check['action']}", style="yellow")
        lines.append(line)
    failed = sum(1 for c in checks if c.get("status") == "failed")
    warned = sum(1 for c in checks if c.get("status") == "warning")
    lines.append(Text(f"{len(checks) - failed - warned} ok, {warned} warnings, {failed} failed"))
    return Group(*lines)
