"""sync · runs · show · cancel · diagnostics."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from purview_sync.cli import render
from purview_sync.cli.app import RUN_NOT_OK, IdArg, JsonOpt, State, app, command, run_exit_code, state
from purview_sync.cli.client import CliError
from purview_sync.cli.watch import watch

Watch = Annotated[bool, typer.Option("--watch", "-w", help="Follow the run live, then show its entries.")]
Interval = Annotated[
    float, typer.Option("--interval", help="Seconds between polls with --watch.", hidden=True)
]


def _finish(st: State, integration_id: str, run: dict[str, Any], as_json: bool, follow: bool,
            interval: float) -> None:  # fmt: skip
    """Either report the run as the API answered, or follow it to its end; the exit code follows its status."""
    client = st.client()
    if follow:
        progress_console = st.console(stderr=as_json)  # with --json, stdout carries only the JSON
        try:
            run = watch(client, progress_console, integration_id, run["id"], interval)
        except KeyboardInterrupt:
            st.console(stderr=True).print(
                f"Stopped watching; the run goes on. Follow it: purview-sync show {integration_id} {run['id']}"
                f"  ·  stop it: purview-sync cancel {integration_id}"
            )
            raise typer.Exit(130) from None
    if as_json:
        st.print_json(run)
    else:
        out = st.console()
        if follow or run.get("datastores") is not None:
            out.print(render.run_view(run))
        out.print(render.run_summary(run), soft_wrap=True)
    raise typer.Exit(run_exit_code(run))


@app.command()
@command
def sync(
    ctx: typer.Context,
    integration_id: IdArg,
    pull: Annotated[
        bool, typer.Option("--pull/--no-pull", help="Pull Purview classifications into Qualytics tags.")
    ] = True,
    push: Annotated[
        bool, typer.Option("--push/--no-push", help="Push Qualytics scores and counts to Purview.")
    ] = True,
    datastore: Annotated[
        list[int] | None,
        typer.Option(
            "--datastore", help="Only this Qualytics datastore id (repeat for more).", show_default=False
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="A preview: counts what a sync would do, writes nothing.")
    ] = False,
    follow: Watch = False,
    interval: Interval = 1.0,
    as_json: JsonOpt = False,
) -> None:
    """Start a sync (exit 0 once started); with --watch follow it (exit 0 completed, 1 otherwise)."""
    st = state(ctx)
    body: dict[str, Any] = {"pull": pull, "push": push}
    if datastore:
        body["datastore_ids"] = list(dict.fromkeys(datastore))
    if dry_run:
        body["dry_run"] = True
    try:
        run = st.client().call("POST", f"/integrations/{integration_id}/sync", body)
    except CliError as exc:
        error = exc.body.get("error") if isinstance(exc.body, dict) else None
        if dry_run and isinstance(error, dict) and error.get("field") == "dry_run":
            raise CliError("this app cannot run previews yet (no dry_run)", "update the app, or sync without "
                           "--dry-run", exc.body, exc.status) from None  # fmt: skip
        raise
    if not follow and not as_json:
        st.console().print(
            f"Started run [bold]{run.get('id', '')}[/] ({run.get('status')}); follow it: "
            f"purview-sync show {integration_id} {run.get('id', '')} --watch",
            soft_wrap=True,
        )
        return
    _finish(st, integration_id, run, as_json, follow, interval)


@app.command()
@command
def runs(ctx: typer.Context, integration_id: IdArg, as_json: JsonOpt = False) -> None:
    """The integration's runs, newest first."""
    st = state(ctx)
    data = st.client().call("GET", f"/integrations/{integration_id}/syncs")
    if as_json:
        st.print_json(data)
    else:
        st.console().print(render.runs_table((data or {}).get("items") or []))


@app.command()
@command
def show(
    ctx: typer.Context,
    integration_id: IdArg,
    run_id: Annotated[str, typer.Argument(help="The run id (see `purview-sync runs ID`).")],
    follow: Watch = False,
    interval: Interval = 1.0,
    as_json: JsonOpt = False,
) -> None:
    """One run with its per-datastore entries (exit 1 when it ended completed_with_errors, failed, cancelled)."""
    st = state(ctx)
    run = st.client().call("GET", f"/integrations/{integration_id}/syncs/{run_id}")
    _finish(st, integration_id, run, as_json, follow, interval)


@app.command()
@command
def cancel(
    ctx: typer.Context,
    integration_id: IdArg,
    follow: Watch = False,
    interval: Interval = 1.0,
    as_json: JsonOpt = False,
) -> None:
    """Cancel the running sync: the datastores in progress finish, the rest end cancelled."""
    st = state(ctx)
    run = st.client().call("POST", f"/integrations/{integration_id}/cancel")
    if not follow:
        if as_json:
            st.print_json(run)
        else:
            st.console().print(render.run_summary(run), soft_wrap=True)
        return
    _finish(st, integration_id, run, as_json, follow, interval)


@app.command()
@command
def diagnostics(ctx: typer.Context, integration_id: IdArg, as_json: JsonOpt = False) -> None:
    """What the integration can and cannot do on the real services, check by check (exit 1 if one failed)."""
    st = state(ctx)
    try:
        data = st.client().call("GET", f"/integrations/{integration_id}/diagnostics")
    except CliError as exc:
        if exc.status == 404 and not (isinstance(exc.body, dict) and "error" in exc.body):
            raise CliError(
                "this app has no diagnostics route (GET /api/integrations/{id}/diagnostics)",
                "update the app to a version with diagnostics; meanwhile a dry run "
                f"(purview-sync sync {integration_id} --dry-run --watch) shows what a sync would do",
                exc.body,
                404,
            ) from None
        raise
    checks = (data or {}).get("checks") or []
    if as_json:
        st.print_json(data)
    else:
        st.console().print(render.checklist(checks))
    if any(c.get("status") == "failed" for c in checks):
        raise typer.Exit(RUN_NOT_OK)
