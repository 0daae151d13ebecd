"""The Key Vault simulator's stored secrets (versions, soft-delete dates), its request log records, the
service constants (resource, app id, recoverable days, name rule) and Key Vault's error body.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from purview_sync.dev.simserver import SimRequest, SimResponse, json_response

VAULT_RESOURCE = "https://vault.azure.net"
VAULT_APP_ID = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"  # first-party Key Vault app; accepted as audience too
RECOVERABLE_DAYS = 90
NAME_RE = re.compile(r"^[0-9a-zA-Z-]{1,127}$")

Handler = Callable[[SimRequest, dict[str, Any]], SimResponse]


@dataclass
class SecretVersion:
    version: str
    value: str
    content_type: str | None
    tags: dict[str, str] | None
    created: int
    updated: int
    enabled: bool = True


@dataclass
class StoredSecret:
    """All versions of one secret name; ``versions[-1]`` is the current one."""

    name: str
    versions: list[SecretVersion] = field(default_factory=list)
    deleted_date: int | None = None
    scheduled_purge_date: int | None = None

    @property
    def current(self) -> SecretVersion:
        return self.versions[-1]


@dataclass
class RequestRecord:
    """One request as the vault saw it (status after auth), for tests that assert the challenge flow."""

    method: str
    path: str
    status: int
    caller: str | None  # oid of the token's principal, None when unauthenticated


def error_response(
    status: int, code: str, message: str, inner: str | None = None, **headers: str
) -> SimResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if inner:
        error["innererror"] = {"code": inner}
    return json_response({"error": error}, status, **headers)
