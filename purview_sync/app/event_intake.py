"""Tolerant event intake (DESIGN.md §4, round 2): our own event body, or whatever a Qualytics Flow sends.

A Flow's Webhook / HTTP action fills a message template from tokens (``{{datastore_name}}``,
``{{datastore_link}}``, ``{{operation_type}}``, ``{{target_link}}`` …, reference/qualytics-api.md §9) — no
token is a datastore id, and whether the action posts the message as JSON or as text is not documented. So:

* a JSON object: extra keys are ignored; the datastore is ``datastore_id``, else the id in a
  ``…/datastores/<id>`` link in any string value (``datastore_link`` first), else ``datastore_name``;
  ``container_id``, else a ``…/datastores/<id>/tables/<id>`` link; ``type`` defaults to ``scan_completed``;
* any other body that is not JSON (a text message): the same links, found in the text;
* malformed — a JSON value that is not an object, no datastore reference at all, ``datastore_id`` /
  ``container_id`` not an integer, ``type`` not one of the three, ``integration_id`` not a string —
  raises ``ApiError`` 400 ``validation_error`` naming the field (the queue dead-letters it at once).

A name is resolved to an id later, on the queue (``resolve_datastore``), through the Qualytics API with a
process-wide cache, so that an intake never waits on Qualytics and a Qualytics outage is retried.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

from pydantic_core import from_json

from purview_sync.app.services import Services
from purview_sync.errors import ApiError, validation_error
from purview_sync.models import EVENT_TYPES, EventMessage

log = logging.getLogger(__name__)

DATASTORE_LINK = re.compile(r"/datastores/(\d{1,18})(?!\d)")
TABLE_LINK = re.compile(r"/datastores/(\d{1,18})/(?:tables|containers)/(\d{1,18})(?!\d)")
LINK_KEYS = ("datastore_link", "target_link", "container_link")  # looked at first, in this order
NAME_CACHE_SECONDS = 300.0
MISSING_NAME_CACHE_SECONDS = 30.0
MAX_NAME_LENGTH = 1024


def parse_event(raw: bytes, *, max_bytes: int = 64 * 1024) -> EventMessage:
    """The body of ``POST /api/events`` or a ``qualytics-events`` message → the event, or 400 (413)."""
    if len(raw) > max_bytes:
        raise ApiError(413, "payload_too_large", f"The request body is larger than {max_bytes} bytes.")
    try:
        body = from_json(raw) if raw.strip() else None
    except ValueError:
        return _from_text(raw.decode("utf-8", "replace"))
    if not isinstance(body, dict):
        raise validation_error(
            "body", "The event must be a JSON object (or a text message with a datastore link)."
        )
    return _from_object(body)


def _from_object(body: dict[str, Any]) -> EventMessage:
    kind = body.get("type")
    if kind is None:
        kind = "scan_completed"
    elif kind not in EVENT_TYPES:
        raise validation_error("type", f"type: must be one of {', '.join(EVENT_TYPES)} (or left out)")
    integration_id = body.get("integration_id")
    if integration_id is not None and not isinstance(integration_id, str):
        raise validation_error("integration_id", "integration_id: must be a string (or null)")
    datastore_id = _integer(body, "datastore_id")
    container_id = _integer(body, "container_id")
    strings = _strings(body)
    datastore_id, linked_container = _from_links(strings, datastore_id)
    if container_id is None:
        container_id = linked_container
    name = body.get("datastore_name")
    name = name.strip() if isinstance(name, str) and name.strip() else None
    if datastore_id is None and name is None:
        raise validation_error(
            "datastore_id",
            "datastore_id: the event names no datastore — send datastore_id, a …/datastores/<id> link "
            "(e.g. datastore_link) or datastore_name",
        )
    if name is not None and len(name) > MAX_NAME_LENGTH:
        raise validation_error("datastore_name", f"datastore_name: longer than {MAX_NAME_LENGTH} characters")
    return EventMessage(
        type=kind,
        datastore_id=datastore_id,
        datastore_name=None if datastore_id is not None else name,
        container_id=container_id,
        integration_id=integration_id,
    )


def _from_text(text: str) -> EventMessage:
    datastore_id, container_id = _from_links([text], None)
    if datastore_id is None:
        raise validation_error(
            "body",
            "The body is neither a JSON object nor a text with a …/datastores/<id> link "
            "(put {{datastore_link}} in the Flow's message).",
        )
    return EventMessage(datastore_id=datastore_id, container_id=container_id)


def _from_links(strings: list[str], datastore_id: int | None) -> tuple[int | None, int | None]:
    """The datastore of the first ``…/datastores/<id>`` link (unless given), and the container of the first
    ``…/datastores/<that id>/tables/<id>`` link."""
    if datastore_id is None:
        link = _first(DATASTORE_LINK, strings)
        datastore_id = int(link.group(1)) if link is not None else None
    if datastore_id is None:
        return None, None
    table = _first(TABLE_LINK, strings, lambda m: int(m.group(1)) == datastore_id)
    return datastore_id, int(table.group(2)) if table is not None else None


def _integer(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise validation_error(key, f"{key}: must be an integer (or null)")
    if not 0 <= value < 2**63:
        raise validation_error(key, f"{key}: out of range")
    return value


def _strings(body: dict[str, Any]) -> list[str]:
    """Every string value, the link keys first; nested objects and lists too (iteratively: no recursion)."""
    first = [body[k] for k in LINK_KEYS if isinstance(body.get(k), str)]
    rest: list[str] = []
    stack: list[Any] = [v for k, v in body.items() if k not in LINK_KEYS]
    seen = 0
    while stack and seen < 10_000:
        value = stack.pop()
        seen += 1
        if isinstance(value, str):
            rest.append(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return first + rest


def _first(pattern: re.Pattern[str], strings: list[str], accept: Any = None) -> re.Match[str] | None:
    for text in strings:
        for match in pattern.finditer(text):
            if accept is None or accept(match):
                return match
    return None


# --- a name → the datastore id, through the Qualytics API -------------------------------------------------


class _NameCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[float, int | None]] = {}

    def get(self, key: tuple[str, str]) -> tuple[bool, int | None]:
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, key: tuple[str, str], value: int | None) -> None:
        ttl = NAME_CACHE_SECONDS if value is not None else MISSING_NAME_CACHE_SECONDS
        with self._lock:
            self._entries[key] = (time.monotonic() + ttl, value)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


NAMES = _NameCache()


def resolve_datastore(services: Services, event: EventMessage) -> int | None:
    """The event's datastore id; a name goes through ``GET /datastores?name=`` (cached). None = unknown."""
    if event.datastore_id is not None:
        return event.datastore_id
    name = event.datastore_name
    if not name:
        return None
    key = (services.settings.qualytics_api_url, name)
    hit, cached = NAMES.get(key)
    if hit:
        return cached
    qualytics = services.qualytics()
    try:
        matches = sorted(
            (d for d in qualytics.find_datastores(name) if d.get("name") == name), key=lambda d: int(d["id"])
        )
    finally:
        qualytics.close()
    found = int(matches[0]["id"]) if matches else None
    if len(matches) > 1:
        log.warning(
            "datastore name %r names %d datastores; using the oldest (id %s)", name, len(matches), found
        )
    NAMES.put(key, found)
    return found
