"""The ``purview-sync`` command against the real devhost (Azurite + simulators), in-process through Typer's
CliRunner: connect, a watched sync, --json, exit codes, error messages, and never a secret in the output."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from purview_sync.cli import app
from purview_sync.dev.host import DevHost
from purview_sync.dev.local_env import APP_CLIENT_ID, APP_CLIENT_SECRET, TENANT_ID, LocalEnvironment
from purview_sync.dev.main import write_state
from tests.conftest import Api
from tests.helpers import add_estate

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def cli(devhost: DevHost) -> Iterator[Any]:
    """Run the command with the devhost's URL and key in the environment; check every output for secrets."""
    runner = CliRunner()
    outputs: list[str] = []

    def invoke(*args: str, input: str | None = None, **env: str | None) -> Result:
        base_env = {"PURVIEW_SYNC_URL": devhost.url, "PURVIEW_SYNC_KEY": devhost.function_key,
                    "PURVIEW_CLIENT_SECRET": None, "COLUMNS": "200", "TTY_COMPATIBLE": None}  # fmt: skip
        result = runner.invoke(app, list(args), input=input, env={**base_env, **env})
        outputs.append(result.output)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    yield invoke
    for text in outputs:
        assert APP_CLIENT_SECRET not in text
        assert devhost.function_key not in text


def connect_args(local: LocalEnvironment, *extra: str) -> list[str]:
    return ["connect", "--purview-url", local.purview_url, "--tenant", TENANT_ID, "--client-id", APP_CLIENT_ID,
            *extra]  # fmt: skip


@pytest.fixture
def integration(cli: Any, local: LocalEnvironment) -> str:
    result = cli(*connect_args(local, "--json"), PURVIEW_CLIENT_SECRET=APP_CLIENT_SECRET)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["id"]


def test_connect_reads_the_secret_from_a_prompt_and_never_prints_it(
    cli: Any, local: LocalEnvironment, api: Api
) -> None:
    result = cli(
        *connect_args(local, "--domain", "fin01,mkt02", "--no-event-driven"), input=APP_CLIENT_SECRET + "\n"
    )
    assert result.exit_code == 0, result.output
    assert "Client secret" in result.output and "Connected integration" in result.output
    iid = re.search(r"Connected integration (\w+)", result.output).group(1)  # type: ignore[union-attr]
    stored = api.get(f"/integrations/{iid}").json()
    assert stored["domains"] == ["fin01", "mkt02"] and stored["event_driven"] is False
    assert stored["auth"] == "client_secret"

    listed = cli("integrations")
    assert listed.exit_code == 0 and iid in listed.output and "fin01, mkt02" in listed.output
    shown = cli("integrations", iid, "--json")
    assert json.loads(shown.stdout)["id"] == iid

    edited = cli("edit", iid, "--event-driven", "--all-domains", "--json")
    assert edited.exit_code == 0, edited.output
    assert json.loads(edited.stdout)["event_driven"] is True and json.loads(edited.stdout)["domains"] == []
    assert cli("edit", iid).exit_code == 2  # nothing to change: a usage error

    names = json.loads(cli("collections", iid, "--json").stdout)["items"]
    assert {"fin01", "mkt02"} <= {c["name"] for c in names}
    assert "fin01" in cli("collections", iid).output

    assert cli("delete", iid, input="n\n").exit_code == 2  # declined: nothing deleted
    assert api.get(f"/integrations/{iid}").status_code == 200
    deleted = cli("delete", iid, "--yes")
    assert deleted.exit_code == 0 and api.get(f"/integrations/{iid}").status_code == 404


def test_a_refused_secret_names_the_code_and_what_to_do(cli: Any, local: LocalEnvironment) -> None:
    result = cli(*connect_args(local), PURVIEW_CLIENT_SECRET="not-the-secret-value")
    assert result.exit_code == 2
    assert "422 authentication_failed" in result.stderr and "not-the-secret-value" not in result.output
    as_json = cli(*connect_args(local, "--json"), PURVIEW_CLIENT_SECRET="not-the-secret-value")
    assert as_json.exit_code == 2
    assert json.loads(as_json.stdout)["error"]["code"] == "authentication_failed"


def test_a_watched_sync_reaches_all_datastores_and_exits_0(
    cli: Any, local: LocalEnvironment, integration: str
) -> None:
    ids = add_estate(local, [2, 1])
    args = ["sync", integration, "--no-pull", "--watch", "--interval", "0.2"]
    result = cli(*args, *[a for ds in ids for a in ("--datastore", str(ds))])
    assert result.exit_code == 0, result.output
    progress = re.findall(r"(\w+): (\d+)/(\d+) datastores done, (\d+) attributes written", result.output)
    assert progress, result.output
    state, done, total, written = progress[-1]
    assert state == "completed" and done == total == "2" and int(written) > 0
    assert all(int(d) <= int(t) for _, d, t, _ in progress)
    assert "completed" in result.output and "attributes written" in result.output
    run_id = re.search(r"Run (\w+) completed", result.output).group(1)  # type: ignore[union-attr]

    runs = json.loads(cli("runs", integration, "--json").stdout)["items"]
    assert runs[0]["id"] == run_id and runs[0]["status"] == "completed"
    assert run_id in cli("runs", integration).output
    shown = cli("show", integration, run_id, "--json")
    assert shown.exit_code == 0
    run = json.loads(shown.stdout)
    assert run["progress"]["datastores_done"] == run["progress"]["datastores_total"] == 2
    table = cli("show", integration, run_id)
    assert table.exit_code == 0 and all(f"(#{ds})" in table.output for ds in ids)


def test_a_watched_sync_on_a_terminal_draws_the_live_bar(
    cli: Any, local: LocalEnvironment, integration: str
) -> None:
    ids = add_estate(local, [1])
    result = cli("sync", integration, "--no-pull", "--datastore", str(ids[0]), "--watch", "--interval", "0.2",
                 TTY_COMPATIBLE="1")  # fmt: skip
    assert result.exit_code == 0, result.output
    plain = ANSI.sub("", result.output)
    assert "1/1 datastores" in plain and "attributes written" in plain


def test_json_of_a_watched_sync_is_the_final_run(cli: Any, local: LocalEnvironment, integration: str) -> None:
    ids = add_estate(local, [1])
    result = cli("sync", integration, "--datastore", str(ids[0]), "--watch", "--interval", "0.2", "--json")
    assert result.exit_code == 0, result.stderr
    run = json.loads(result.stdout)  # progress went to stderr; stdout is only the JSON
    assert run["status"] == "completed" and run["datastores"][0]["datastore_id"] == ids[0]
    assert "datastores done" in result.stderr


def test_a_failed_run_exits_1_with_the_error_and_its_action(
    cli: Any, local: LocalEnvironment, integration: str
) -> None:
    assert local.purview
    ids = add_estate(local, [1])
    local.purview.server.set_faults(fail_kinds={"search": 403})  # Purview refuses: insufficient_permissions
    try:
        result = cli(
            "sync", integration, "--no-pull", "--datastore", str(ids[0]), "--watch", "--interval", "0.2"
        )
    finally:
        local.purview.server.set_faults(fail_kinds={})
    assert result.exit_code == 1, result.output
    assert "completed_with_errors" in result.output and "insufficient_permissions" in result.output
    assert "→" in result.output  # the error's action
    run_id = re.search(r"Run (\w+) completed_with_errors", result.output).group(1)  # type: ignore[union-attr]
    shown = cli("show", integration, run_id, "--json")
    assert shown.exit_code == 1 and json.loads(shown.stdout)["status"] == "completed_with_errors"


def test_http_errors_exit_2_with_the_code_and_what_to_do(cli: Any, integration: str) -> None:
    missing = cli("runs", "0" * 32)
    assert missing.exit_code == 2
    assert "404 not_found" in missing.stderr and "purview-sync integrations" in missing.stderr
    as_json = cli("show", integration, "nope", "--json")
    assert as_json.exit_code == 2 and json.loads(as_json.stdout)["error"]["code"] in (
        "not_found",
        "validation_error",
    )

    bad_key = cli("integrations", PURVIEW_SYNC_KEY="wrong-key")
    assert bad_key.exit_code == 2 and "401" in bad_key.stderr and "PURVIEW_SYNC_KEY" in bad_key.stderr

    nothing = cli("sync", integration, "--no-pull", "--no-push")
    assert nothing.exit_code == 2 and "400 validation_error" in nothing.stderr

    cancel = cli("cancel", integration)
    assert cancel.exit_code == 2 and "no_sync_in_progress" in cancel.stderr

    unreachable = cli("integrations", PURVIEW_SYNC_URL="http://127.0.0.1:9")
    assert unreachable.exit_code == 2 and "cannot reach" in unreachable.stderr

    usage = cli("sync")
    assert usage.exit_code == 2


def test_diagnostics_is_a_checklist_or_says_the_app_lacks_it(cli: Any, integration: str) -> None:
    result = cli("diagnostics", integration)
    if "no diagnostics route" in result.stderr:
        assert result.exit_code == 2 and "update the app" in result.stderr
    else:
        data = json.loads(cli("diagnostics", integration, "--json").stdout)
        assert {"name", "status", "detail", "action"} <= set(data["checks"][0])
        failed = any(c["status"] == "failed" for c in data["checks"])
        assert result.exit_code == (1 if failed else 0)
        assert data["checks"][0]["name"] in result.output


def test_the_devhost_url_and_key_are_the_defaults(
    cli: Any, devhost: DevHost, integration: str, tmp_path: Path
) -> None:
    write_state(tmp_path, devhost)
    assert (tmp_path / "function-key").stat().st_mode & 0o077 == 0
    result = cli("integrations", "--json", PURVIEW_SYNC_URL=None, PURVIEW_SYNC_KEY=None,
                 PURVIEW_SYNC_DEVHOST_DIR=str(tmp_path))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert integration in {i["id"] for i in json.loads(result.stdout)["items"]}
    # the devhost's key goes to a loopback URL only, never to an app somewhere else
    elsewhere = cli("integrations", PURVIEW_SYNC_URL="https://example.invalid", PURVIEW_SYNC_KEY=None,
                    PURVIEW_SYNC_DEVHOST_DIR=str(tmp_path), PURVIEW_SYNC_TIMEOUT=None)  # fmt: skip
    assert elsewhere.exit_code == 2 and "cannot reach" in elsewhere.stderr


def test_the_console_script_and_module_entry_points() -> None:
    script = Path(sys.executable).with_name("purview-sync")
    assert script.exists(), "scripts/bootstrap installs the project (pip install -e .)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PURVIEW_SYNC")}
    for argv in ([str(script), "--help"], [sys.executable, "-m", "purview_sync.cli", "sync", "--help"]):
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "Usage" in done.stdout


def test_the_command_is_a_client_of_the_http_api_only() -> None:
    """It imports nothing of the package but itself: the app's layers can move without breaking it."""
    for path in (ROOT / "purview_sync" / "cli").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith("purview_sync") or name.startswith("purview_sync.cli"), (
                    path,
                    name,
                )
