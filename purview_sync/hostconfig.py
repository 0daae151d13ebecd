"""What the app needs to know of host.json (the queue extension's retry count)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

HOST_JSON = Path(__file__).resolve().parent.parent / "host.json"


@lru_cache(maxsize=1)
def max_dequeue_count() -> int:
    try:
        queues = json.loads(HOST_JSON.read_text()).get("extensions", {}).get("queues", {})
        return int(queues.get("maxDequeueCount", 5))
    except (OSError, ValueError):
        return 5
