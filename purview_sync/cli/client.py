"""The HTTP side of the command: where the app is, its function key, and one call = one checked response.

The command is a client of the app's HTTP API only (``/api/...``); it imports nothing else of the package.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

DEFAULT_URL = "http://127.0.0.1:7071"
# Where ``python -m purview_sync.devhost`` (scripts/run) leaves its URL and function key.
DEVHOST_DIR = Path(__file__).resolve().parents[2] / ".devhost"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

KEY_HINT = (
    "pass --key or set PURVIEW_SYNC_KEY (the local devhost prints its key and leaves it in "
    ".devhost/function-key; for an app in Azure: az functionapp keys list -g <group> -n <app>)"
)
CODE_HINTS = {
    "not_found": "list the integrations with `purview-sync integrations` and the runs with `purview-sync runs ID`",
    "sync_in_progress": "follow it with `purview-sync show {id} {run_id} --watch` or stop it with "
    "`purview-sync cancel {id}`",
    "no_sync_in_progress": "start one with `purview-sync sync {id}`",
    "validation_error": "fix the option for `{field}` and try again",
    "payload_too_large": "send fewer domains or datastore ids",
}


class CliError(Exception):
    """Something the person at the terminal has to fix; exit code 2. ``body`` is the API's JSON, if any."""

    def __init__(self, message: str, hint: str | None = None, body: Any = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.body = body
        self.status = status


def devhost_dir() -> Path:
    return Path(os.environ.get("PURVIEW_SYNC_DEVHOST_DIR") or DEVHOST_DIR)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def resolve(url: str | None, key: str | None) -> tuple[str, str | None]:
    """The app's root URL and function key: the flags / env first, else the local devhost's.

    The devhost's key is only ever sent to a loopback URL, never to an app somewhere else.
    """
    state = devhost_dir()
    base = (url or _read(state / "url") or DEFAULT_URL).rstrip("/")
    if base.endswith("/api"):
        base = base[: -len("/api")]
    if not urlsplit(base).scheme or not urlsplit(base).hostname:
        raise CliError(f"--url {base!r} is not a URL", "use e.g. https://<app>.azurewebsites.net")
    if key is None and urlsplit(base).hostname in LOOPBACK:
        key = _read(state / "function-key")
    return base, key


@dataclass
class ApiClient:
    base: str
    key: str | None
    timeout: float = 60.0
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def secrets(self) -> list[str]:
        return [self.key] if self.key else []

    def call(self, method: str, path: str, body: Any = None, *, expect: tuple[int, ...] = ()) -> Any:
        """One request to ``/api{path}``; the parsed JSON (None for an empty body) of a 2xx, else CliError."""
        headers = {"accept": "application/json"}
        if self.key:
            headers["x-functions-key"] = self.key
        try:
            resp = self.session.request(
                method, f"{self.base}/api{path}", json=body, headers=headers, timeout=self.timeout
            )
        except requests.exceptions.SSLError as exc:
            raise CliError(
                f"TLS to {self.base} failed ({type(exc).__name__})",
                "check the URL; for a private CA point REQUESTS_CA_BUNDLE at its bundle",
            ) from None
        except requests.RequestException as exc:
            raise CliError(
                f"cannot reach {self.base} ({type(exc).__name__})",
                "is the app running? Start the local one with scripts/run, or point --url / "
                "PURVIEW_SYNC_URL at the deployed app",
            ) from None
        data = _json(resp)
        if resp.ok or resp.status_code in expect:
            return data
        raise api_error(resp.status_code, data, self.base)


def _json(resp: requests.Response) -> Any:
    if not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        return None


def api_error(status: int, data: Any, base: str) -> CliError:
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        if status in (401, 403):
            return CliError(
                f"HTTP {status}: the function key was refused or is missing", KEY_HINT, data, status
            )
        if status == 404:
            return CliError(
                f"HTTP 404: {base} has no such route",
                "check --url: the app's root, e.g. https://<app>.azurewebsites.net (without /api)",
                data,
                status,
            )
        return CliError(f"HTTP {status} from {base}", "see the app's logs", data, status)
    code = str(error.get("code") or "error")
    message = str(error.get("message") or "")
    extras = {k: v for k, v in error.items() if k not in ("code", "message")}
    details = ", ".join(f"{k}: {_short(v)}" for k, v in extras.items())
    hint = CODE_HINTS.get(code)
    if hint:  # {id} is filled in with the integration id of the command line, when it has one
        hint = hint.replace("{run_id}", str(extras.get("run_id", "RUN"))).replace(
            "{field}", str(extras.get("field", "the field named"))
        )
    return CliError(
        f"HTTP {status} {code}: {message}" + (f" ({details})" if details else ""), hint, data, status
    )


def _short(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
