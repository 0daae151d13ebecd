"""connect · integrations · edit · delete · collections."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from purview_sync.cli import render
from purview_sync.cli.app import IdArg, JsonOpt, State, app, command, state
from purview_sync.cli.client import CliError

SECRET_ENV = "PURVIEW_CLIENT_SECRET"

PurviewUrl = Annotated[
    str | None,
    typer.Option(
        "--purview-url", help="The account root, https://<account>.purview.azure.com.", show_default=False
    ),
]
Tenant = Annotated[
    str | None, typer.Option("--tenant", help="The Entra tenant id (GUID).", show_default=False)
]
ClientId = Annotated[
    str | None,
    typer.Option("--client-id", help="The app registration's client id (or a user-assigned identity's).",
                 show_default=False),
]  # fmt: skip
ManagedIdentity = Annotated[
    bool,
    typer.Option("--managed-identity", help="No client secret: the app's managed identity (with --client-id: "
                 "that user-assigned identity)."),
]  # fmt: skip
Domains = Annotated[
    list[str] | None,
    typer.Option("--domain", "-d", help="A collection name (e.g. fin01; repeat or comma-separate). None: all.",
                 show_default=False),
]  # fmt: skip
EventDriven = Annotated[bool | None, typer.Option("--event-driven/--no-event-driven", show_default=False,
                                                   help="Push a datastore when Qualytics reports a scan (default on).")]  # fmt: skip
Overwrite = Annotated[bool | None, typer.Option("--overwrite-tags/--no-overwrite-tags", show_default=False,
                                                 help="Take over Qualytics tags of the same name (default off).")]  # fmt: skip
Dimensions = Annotated[bool | None, typer.Option("--dimension-scores/--no-dimension-scores", show_default=False,
                                                  help="Also push the eight dimension scores (default off).")]  # fmt: skip
Lineage = Annotated[bool | None, typer.Option("--lineage/--no-lineage", show_default=False,
                                               help="Push and pull lineage (default off).")]  # fmt: skip
Schedule = Annotated[
    str | None,
    typer.Option("--schedule", help="A 5-field cron (UTC) on which a sync starts by itself, e.g. '0 2 * * *'.",
                 show_default=False),
]  # fmt: skip
ScheduleMode = Annotated[
    str, typer.Option("--schedule-mode", help="What a scheduled sync does: both, push or pull.")
]


def _domains(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _secret(st: State) -> str:
    """The client secret from PURVIEW_CLIENT_SECRET or a hidden prompt; never a flag, never printed."""
    secret = os.environ.get(SECRET_ENV) or typer.prompt("Client secret (the secret's value)", hide_input=True)
    secret = secret.strip()
    if not secret:
        raise CliError("the client secret is empty", f"type it at the prompt or set {SECRET_ENV}")
    st.secrets.append(secret)
    return secret


def _options(body: dict[str, Any], **values: Any) -> dict[str, Any]:
    body.update({k: v for k, v in values.items() if v is not None})
    return body


def _schedule(cron: str | None, mode: str) -> dict[str, Any] | None:
    if cron is None:
        return None
    if mode not in ("both", "push", "pull"):
        raise CliError(
            f"--schedule-mode {mode!r} is not one of both, push, pull", "e.g. --schedule-mode push"
        )
    return {"cron": cron, "pull": mode in ("both", "pull"), "push": mode in ("both", "push")}


def _show(st: State, data: Any, as_json: bool) -> None:
    if as_json:
        st.print_json(data)
    else:
        st.console().print(render.integration_view(data))


@app.command()
@command
def connect(
    ctx: typer.Context,
    purview_url: Annotated[
        str, typer.Option("--purview-url", help="The account root, https://<account>.purview.azure.com.")
    ],
    tenant: Annotated[str, typer.Option("--tenant", help="The Entra tenant id (GUID).")],
    client_id: ClientId = None,
    managed_identity: ManagedIdentity = False,
    domain: Domains = None,
    event_driven: EventDriven = None,
    overwrite_tags: Overwrite = None,
    dimension_scores: Dimensions = None,
    lineage: Lineage = None,
    schedule: Schedule = None,
    schedule_mode: ScheduleMode = "both",
    as_json: JsonOpt = False,
) -> None:
    """Connect a Purview account: the app proves the connection, then stores it.

    With --client-id the client secret is read from PURVIEW_CLIENT_SECRET or a hidden prompt.
    """
    st = state(ctx)
    body: dict[str, Any] = {"purview_url": purview_url, "tenant_id": tenant}
    if client_id:
        body["client_id"] = client_id
        if not managed_identity:
            body["client_secret"] = _secret(st)
    _options(body, domains=_domains(domain), event_driven=event_driven, overwrite_tags=overwrite_tags,
             dimension_scores=dimension_scores, lineage=lineage, schedule=_schedule(schedule, schedule_mode))  # fmt: skip
    created = st.client().call("POST", "/integrations", body)
    if as_json:
        st.print_json(created)
        return
    out = st.console()
    out.print(f"[green]Connected[/] integration [bold]{created.get('id', '')}[/]")
    out.print(render.integration_view(created))
    iid = created.get("id", "")
    out.print(f"Next: purview-sync diagnostics {iid}\n      purview-sync sync {iid} --dry-run --watch")


@app.command()
@command
def integrations(
    ctx: typer.Context,
    integration_id: Annotated[
        str | None, typer.Argument(help="Show only this one.", show_default=False)
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the integrations (or show one)."""
    st = state(ctx)
    if integration_id:
        _show(st, st.client().call("GET", f"/integrations/{integration_id}"), as_json)
        return
    data = st.client().call("GET", "/integrations")
    if as_json:
        st.print_json(data)
    else:
        st.console().print(render.integrations_table((data or {}).get("items") or []))


@app.command()
@command
def edit(
    ctx: typer.Context,
    integration_id: IdArg,
    purview_url: PurviewUrl = None,
    tenant: Tenant = None,
    client_id: ClientId = None,
    new_secret: Annotated[
        bool, typer.Option("--new-secret", help=f"Replace the client secret (from {SECRET_ENV} or a prompt).")
    ] = False,
    managed_identity: ManagedIdentity = False,
    domain: Domains = None,
    all_domains: Annotated[bool, typer.Option("--all-domains", help="Select every collection.")] = False,
    event_driven: EventDriven = None,
    overwrite_tags: Overwrite = None,
    dimension_scores: Dimensions = None,
    lineage: Lineage = None,
    schedule: Schedule = None,
    schedule_mode: ScheduleMode = "both",
    no_schedule: Annotated[bool, typer.Option("--no-schedule", help="Stop the scheduled syncs.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Change an integration; URL, credential and domain changes are proven again (on failure nothing changes)."""
    st = state(ctx)
    if new_secret and managed_identity:
        raise CliError("--new-secret and --managed-identity exclude each other", "pass one of them")
    body: dict[str, Any] = {}
    _options(body, purview_url=purview_url, tenant_id=tenant, client_id=client_id,
             domains=[] if all_domains else _domains(domain), event_driven=event_driven,
             overwrite_tags=overwrite_tags, dimension_scores=dimension_scores, lineage=lineage,
             schedule=_schedule(schedule, schedule_mode))  # fmt: skip
    if no_schedule:
        body["schedule"] = None
    if managed_identity:
        body["client_secret"] = None
    if new_secret:
        body["client_secret"] = _secret(st)
    if not body:
        raise CliError("nothing to change", "pass at least one option; see `purview-sync edit --help`")
    _show(st, st.client().call("PATCH", f"/integrations/{integration_id}", body), as_json)


@app.command()
@command
def delete(
    ctx: typer.Context,
    integration_id: IdArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove an integration: its config, secret, runs and tag mappings (tags already in Qualytics stay)."""
    st = state(ctx)
    if not yes:
        typer.confirm(f"Delete integration {integration_id}?", abort=True)
    st.client().call("DELETE", f"/integrations/{integration_id}")
    if as_json:
        st.print_json({"id": integration_id, "deleted": True})
    else:
        st.console().print(f"Deleted integration {integration_id}.")


@app.command()
@command
def collections(ctx: typer.Context, integration_id: IdArg, as_json: JsonOpt = False) -> None:
    """The Purview collections to pick as --domain."""
    st = state(ctx)
    data = st.client().call("GET", f"/integrations/{integration_id}/collections")
    if as_json:
        st.print_json(data)
    else:
        st.console().print(render.collections_table((data or {}).get("items") or []))
