"""The Typer application: global options (where the app is, its key), output and exit codes.

Exit codes: 0 success / a completed run; 1 a run that ended completed_with_errors, failed or cancelled (or a
failed diagnostics check); 2 a usage error or an HTTP error (the message names the API's error.code and what
to do).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from purview_sync.cli.client import ApiClient, CliError, resolve

OK, RUN_NOT_OK, USAGE = 0, 1, 2
GOOD_RUN = {"completed", "running", "cancelling"}

app = typer.Typer(
    name="purview-sync",
    help="Drive a purview-sync app (the local devhost or one deployed in Azure) through its HTTP API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print the API's JSON (for scripts) instead of tables.")
]
IdArg = Annotated[str, typer.Argument(help="The integration id (see `purview-sync integrations`).")]


class _Redacting:
    """A stdout/stderr stand-in that blanks known secrets (the function key, a typed client secret)."""

    def __init__(self, stderr: bool, secrets: list[str]):
        # the stream of the moment (a test runner swaps them), bound once: never a proxy installed later
        self.target = sys.stderr if stderr else sys.stdout
        self.secrets = secrets

    def write(self, text: str) -> int:
        for secret in self.secrets:
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return self.target.write(text)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return bool(getattr(self.target, "isatty", lambda: False)())

    def fileno(self) -> int:
        return self.target.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self.target, "encoding", None) or "utf-8"


@dataclass
class State:
    url: str | None = None
    key: str | None = None
    timeout: float = 60.0
    secrets: list[str] = field(default_factory=list)
    _client: ApiClient | None = None

    def client(self) -> ApiClient:
        if self._client is None:
            base, key = resolve(self.url, self.key)
            self._client = ApiClient(base, key, self.timeout)
            self.secrets.extend(self._client.secrets)
        return self._client

    def console(self, stderr: bool = False) -> Console:
        out = _Redacting(stderr, self.secrets)
        width = None if out.isatty() else int(os.environ.get("COLUMNS") or 150)
        return Console(file=out, width=width, soft_wrap=False, highlight=False)

    def print_json(self, data: Any) -> None:
        self.console().out(json.dumps(data, indent=2, sort_keys=False), highlight=False)


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    if not isinstance(obj, State):  # a command invoked without the callback (tests calling it directly)
        obj = ctx.find_root().obj = State()
    return obj


F = TypeVar("F", bound=Callable[..., Any])


def command(func: F) -> F:
    """CliError → its message and what to do on stderr (the API's error JSON on stdout with --json), exit 2."""

    @functools.wraps(func)
    def wrapper(ctx: typer.Context, *args: Any, **kwargs: Any) -> Any:
        st = state(ctx)
        try:
            return func(ctx, *args, **kwargs)
        except CliError as exc:
            if kwargs.get("as_json") and exc.body is not None:
                st.print_json(exc.body)
            err = st.console(stderr=True)
            err.print(f"[bold red]error:[/] {escape(exc.message)}", soft_wrap=True)
            if exc.hint:
                hint = exc.hint.replace("{id}", str(kwargs.get("integration_id") or "ID"))
                err.print(f"  [yellow]→[/] {escape(hint)}", soft_wrap=True)
            raise typer.Exit(USAGE) from None
        except typer.Abort:
            st.console(stderr=True).print("aborted")
            raise typer.Exit(USAGE) from None

    return wrapper  # type: ignore[return-value]


def run_exit_code(run: dict[str, Any]) -> int:
    return OK if run.get("status") in GOOD_RUN else RUN_NOT_OK


@app.callback()
def main_options(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            envvar="PURVIEW_SYNC_URL",
            help="The app's root URL (default: the local devhost, http://127.0.0.1:7071).",
            show_default=False,
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            envvar="PURVIEW_SYNC_KEY",
            help="The function key (default for a local URL: the one the devhost left in .devhost/function-key).",
            show_default=False,
            show_envvar=True,
        ),
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per HTTP request.")] = 60.0,
) -> None:
    ctx.obj = State(url=url, key=key, timeout=timeout, secrets=[key] if key else [])
