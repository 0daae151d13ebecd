"""The local run: embedded defaults (Azurite + simulators + sample estate) or the settings as given."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path

import azure.functions as func

from purview_sync.dev.host import DevHost, HostConfig
from purview_sync.dev.local_env import LocalEnvironment

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def find_app(module_name: str = "function_app") -> func.FunctionApp:
    """Exactly one FunctionApp in the module, as the Python worker requires."""
    module = importlib.import_module(module_name)
    apps = [v for v in vars(module).values() if isinstance(v, func.FunctionRegister)]
    if len(apps) != 1:
        raise RuntimeError(f"{module_name} must define exactly one FunctionApp (found {len(apps)})")
    return apps[0]  # type: ignore[return-value]


def build_host(port: int) -> DevHost:
    key = os.environ.get("DEVHOST_FUNCTION_KEY") or secrets.token_urlsafe(24)
    os.environ["DEVHOST_FUNCTION_KEY"] = key
    lease = float(os.environ.get("DEVHOST_MESSAGE_LEASE_SECONDS") or 60)
    config = HostConfig.from_file(PROJECT_ROOT / "host.json")
    host_id = os.environ.get("DEVHOST_HOST_ID") or "devhost"  # hosts with one id are instances of one app
    return DevHost(find_app(), config, key, os.environ.get, port=port, lease_seconds=lease, host_id=host_id)


def write_state(state_dir: Path, host: DevHost) -> list[Path]:
    """Leave the URL and the function key where the ``purview-sync`` command looks for them (owner-only)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, value in (("url", host.url), ("function-key", host.function_key)):
        path = state_dir / name
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(value + "\n")
        written.append(path)
    return written


def banner(host: DevHost, connect_body: dict[str, object] | None) -> str:
    key = host.function_key
    lines = [
        "",
        f"purview-sync devhost on {host.url}  (function key: {key})",
        f"  curl {host.url}/api/health",
        f"  curl -H 'x-functions-key: {key}' {host.url}/api/integrations",
    ]
    if connect_body:
        lines += [
            "Connect the simulated Purview account, then sync:",
            f"  curl -H 'x-functions-key: {key}' -H 'content-type: application/json' \\",
            f"       -d '{json.dumps(connect_body)}' {host.url}/api/integrations",
            f"  curl -X POST -H 'x-functions-key: {key}' {host.url}/api/integrations/<id>/sync",
            f"  curl -H 'x-functions-key: {key}' {host.url}/api/integrations/<id>/syncs",
            "Or with the command, which finds this host and its key by itself (secret: the same value):",
            f"  .venv/bin/purview-sync connect --purview-url {connect_body['purview_url']} "
            f"--tenant {connect_body['tenant_id']} --client-id {connect_body['client_id']}",
            "  .venv/bin/purview-sync sync <id> --watch",
        ]
    lines.append("Ctrl-C stops it.")
    return "\n".join(lines)


def start_instances(count: int, port: int, state_dir: Path) -> list[subprocess.Popen[bytes]]:
    """``count`` more hosts of this app as their own processes (their own instance of the app each), on the
    settings of this one (``os.environ``: the same storage, simulators and function key)."""
    others = []
    for i in range(1, count + 1):
        other_port = port + i if port else 0
        command = [sys.executable, "-m", "purview_sync.devhost", "--no-simulators", "--port", str(other_port),
                   "--state-dir", str(state_dir / f"instance-{i + 1}")]  # fmt: skip
        others.append(subprocess.Popen(command, cwd=PROJECT_ROOT, env=dict(os.environ)))
        print(f"instance {i + 1} of {count + 1}: http://127.0.0.1:{other_port} (same key)", flush=True)
    return others


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m purview_sync.devhost", description=__doc__)
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument(
        "--no-simulators",
        action="store_true",
        help="use the settings from the environment as given (no Azurite, no simulators)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=PROJECT_ROOT / ".devhost",
        help="TLS files of the local run, its URL and its function key (read by the purview-sync command)",
    )
    parser.add_argument(
        "--instances",
        type=int,
        default=1,
        help="run this many host processes on the same storage and settings, like a scaled-out app (the "
        "others on the next ports, as --no-simulators hosts); they share one Purview budget",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("azure").setLevel(logging.WARNING)

    local = None
    if not args.no_simulators:
        local = LocalEnvironment(workdir=args.state_dir).start(estate=True)
        os.environ.update(local.env())
    host = build_host(args.port).start()
    state_files = write_state(args.state_dir, host)
    print(banner(host, local.connect_body(lineage=True) if local else None), flush=True)
    others = start_instances(args.instances - 1, args.port, args.state_dir)

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    for other in others:
        other.terminate()
    for other in others:
        try:
            other.wait(timeout=15)
        except subprocess.TimeoutExpired:
            other.kill()
    host.stop()
    for path in state_files:
        path.unlink(missing_ok=True)
    if local is not None:
        local.stop()
