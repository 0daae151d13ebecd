"""What push compares: an asset's wanted values against what Purview holds — read from the entity, or,
when the account's bulk GET leaves ``businessAttributes`` out, against the hash of what was last written
(``storage.pushstate``) — and the warning that says so, once per run."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from typing import Any

from purview_sync.sync.job import DatastoreJob

log = logging.getLogger(__name__)


def same_value(current: Any, wanted: Any) -> bool:
    numbers = (int, float)
    if isinstance(current, numbers) and isinstance(wanted, numbers):
        if isinstance(current, bool) or isinstance(wanted, bool):
            return current is wanted
        return abs(float(current) - float(wanted)) < 1e-3  # Atlas 'float' may come back with float32 noise
    return current == wanted


def changed_values(current: dict[str, Any] | None, wanted: dict[str, Any]) -> dict[str, Any]:
    current = current or {}
    return {k: v for k, v in wanted.items() if k not in current or not same_value(current[k], v)}


def values_hash(values: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:32]


BULK_GET_WITHOUT_VALUES = (
    "Purview's bulk GET returned no businessAttributes for this datastore's assets; values were compared "
    "with what this app last wrote instead (a value changed in Purview by hand is not noticed)."
)
_warned_runs: set[str] = set()
_warned_lock = threading.Lock()


def warn_once(job: DatastoreJob, message: str) -> None:
    """The warning on the first datastore of the run that meets it (per process), logged once."""
    key = f"{job.run_id or id(job)}|{message}"
    with _warned_lock:
        if key in _warned_runs:
            return
        if len(_warned_runs) > 10_000:
            _warned_runs.clear()
        _warned_runs.add(key)
    log.warning("%s", message)
    job.report.warnings.append(message)
