"""The Purview simulator's stored records (collections, entities, relationships, classifications, callers,
answered calls), the error responses each plane gives, and small time/token helpers.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from purview_sync.dev.simserver import SimResponse


def now_ms() -> int:
    return int(time.time() * 1000)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def unb64(token: str) -> dict[str, Any]:
    padded = token + "=" * (-len(token) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    if not isinstance(value, dict):
        raise ValueError("token is not an object")
    return value


# --- errors ------------------------------------------------------------------------------------------
class HttpError(Exception):
    """Raised inside handlers; carries the full response so each plane keeps its own error shape."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body}")
        self.response = SimResponse(status=status, body=body, headers=dict(headers or {}))


def atlas_error(status: int, code: str, message: str) -> HttpError:
    return HttpError(status, {"requestId": str(uuid.uuid4()), "errorCode": code, "errorMessage": message})


def gateway_error(status: int, code: str, message: str, **headers: str) -> HttpError:
    return HttpError(status, {"error": {"code": code, "message": message}}, headers)


def account_error(status: int, code: str, message: str, target: str | None = None) -> HttpError:
    return HttpError(status, {"error": {"code": code, "message": message, "target": target, "details": []}})


def bad_params(message: str) -> HttpError:
    return atlas_error(400, "ATLAS-400-00-01A", f"invalid parameters: {message}")


# --- state --------------------------------------------------------------------------------------------
@dataclass
class Collection:
    name: str
    friendly_name: str
    parent: str | None
    description: str | None
    created_at: int


@dataclass
class Rel:
    """One end of a relationship as stored on the entity that shows it in ``relationshipAttributes``."""

    guid: str
    relationship_type: str
    relationship_guid: str


@dataclass
class Classification:
    type_name: str
    entity_guid: str  # the entity it was attached to; differs from the holder when propagated
    attributes: dict[str, Any] = field(default_factory=dict)
    last_modified: int = 1


@dataclass
class Entity:
    guid: str
    type_name: str
    attributes: dict[str, Any]
    collection: str
    seq: int
    relationships: dict[str, Rel | list[Rel] | None] = field(default_factory=dict)
    classifications: list[Classification] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    business: dict[str, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    status: str = "ACTIVE"
    created_by: str = "ServiceAdmin"
    updated_by: str = "ServiceAdmin"
    create_time: int = 0
    update_time: int = 0
    version: int = 0
    last_modified: int = 1

    @property
    def qualified_name(self) -> str:
        return str(self.attributes.get("qualifiedName") or "")

    @property
    def name(self) -> str:
        return str(self.attributes.get("name") or "")

    def touch(self, who: str) -> None:
        self.update_time = now_ms()
        self.updated_by = who
        self.last_modified += 1
        self.version += 1


@dataclass(frozen=True)
class SimCall:
    """One request the simulator answered; tests inspect these (e.g. "never isOverwrite=true")."""

    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    principal: str | None
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None


@dataclass
class Caller:
    principal: str  # appid (client id) when present, else oid
    ids: tuple[str, ...]
    claims: dict[str, Any]
