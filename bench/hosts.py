"""The function app the benchmark drives, in its own process (``SubprocessHost``) or already in this one
(``InProcessHost``), and the API calls it makes on it: connect an integration, run a sync to its end."""

from __future__ import annotations

import contextlib
import os
import re
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Protocol

import requests

from bench.estate import COLLECTION

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TERMINAL = {"completed", "completed_with_errors", "cancelled", "failed"}


class Host(Protocol):
    url: str
    key: str
    label: str

    def peak_rss(self) -> int: ...

    def cpu_seconds(self) -> float: ...


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SubprocessHost:
    """``python -m purview_sync.devhost --no-simulators`` with the simulators' settings, in its own process."""

    label = "host process (devhost + function app)"

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env, self.log_path = env, log_path
        self.key = secrets.token_urlsafe(24)
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> SubprocessHost:
        port = _free_port()
        env = {**os.environ, **self.env, "DEVHOST_FUNCTION_KEY": self.key, "PYTHONUNBUFFERED": "1"}
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "purview_sync.devhost", "--no-simulators", "--port", str(port),
             "--state-dir", str(self.log_path.parent / f"state-{port}")],  # not the developer's .devhost/
            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the devhost exited ({self.process.returncode}); see {self.log_path}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/api/health", timeout=5).status_code == 200:
                    return self
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the devhost did not answer /api/health within {timeout}s; see {self.log_path}"
                )
            time.sleep(0.2)

    def peak_rss(self) -> int:
        """The host process's peak resident set (``VmHWM``), in bytes."""
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(r"^VmHWM:\s+(\d+)\s+kB", status, re.M)
        return int(match.group(1)) * 1024 if match else 0

    def cpu_seconds(self) -> float:
        """User + system CPU time of the host process so far."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class InProcessHost:
    """A devhost already running in this process (the test suite's session fixture)."""

    label = "bench process (in-process host + simulators)"

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key

    def peak_rss(self) -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kB

    def cpu_seconds(self) -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime


class Api:
    def __init__(self, host: Host) -> None:
        self.base, self.key = host.url + "/api", host.key
        self.session = requests.Session()
        self.session.trust_env = False  # plain http on 127.0.0.1: no proxy

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.base + path, headers={"x-functions-key": self.key}, timeout=60,
                                    **kwargs)  # fmt: skip


def connect(api: Api, local: Any) -> str:
    body = local.connect_body(domains=[COLLECTION], event_driven=False)
    resp = api.call("POST", "/integrations", json=body)
    if resp.status_code != 201:
        raise RuntimeError(f"connect failed: HTTP {resp.status_code} {resp.text}")
    return str(resp.json()["id"])


def sync(api: Api, integration: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    resp = api.call("POST", f"/integrations/{integration}/sync", json=body)
    if resp.status_code != 202:
        raise RuntimeError(f"POST /sync failed: HTTP {resp.status_code} {resp.text}")
    run_id = resp.json()["id"]
    deadline = time.monotonic() + timeout
    while True:
        time.sleep(0.25)
        run = api.call("GET", f"/integrations/{integration}/syncs/{run_id}").json()
        if run.get("status") in TERMINAL:
            return run
        if time.monotonic() > deadline:
            raise RuntimeError(f"run {run_id} did not end within {timeout}s: {run}")
