"""The local Functions host's configuration: what it reads from host.json (route prefix, queue batch size,
dequeue limit, visibility timeout, polling interval, message encoding) and the timespans it is written in."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


def parse_timespan(value: str | int | float | None, default: float) -> float:
    """host.json timespans are ``hh:mm:ss`` (optionally ``d.hh:mm:ss``)."""
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return float(value)
    days = 0
    if "." in value.split(":")[0]:
        day_part, value = value.split(".", 1)
        days = int(day_part)
    parts = [float(p) for p in value.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0.0)
    hours, minutes, seconds = parts[-3:]
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


@dataclass(frozen=True)
class HostConfig:
    route_prefix: str = "api"
    batch_size: int = 16
    max_dequeue_count: int = 5
    visibility_timeout: float = 0.0
    max_polling_interval: float = 2.0
    message_encoding: str = "base64"

    @classmethod
    def from_file(cls, path: Path) -> HostConfig:
        data = json.loads(path.read_text()) if path.exists() else {}
        ext = data.get("extensions", {})
        queues = ext.get("queues", {})
        return cls(
            route_prefix=ext.get("http", {}).get("routePrefix", "api").strip("/"),
            batch_size=int(queues.get("batchSize", 16)),
            max_dequeue_count=int(queues.get("maxDequeueCount", 5)),
            visibility_timeout=parse_timespan(queues.get("visibilityTimeout"), 0.0),
            max_polling_interval=parse_timespan(queues.get("maxPollingInterval"), 2.0),
            message_encoding=str(queues.get("messageEncoding", "base64")).lower(),
        )
