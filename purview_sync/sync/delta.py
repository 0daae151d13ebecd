"""What push compares: an asset's wanted values against what Purview holds — read from the entity, or,
when the account's bulk GET leaves ``businessAttributes`` out, against the hash of what was last written
(``storage.pushstate``) — and the warning that says so, once per run."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
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


def changed_count(current: dict[str, Any] | None, wanted: dict[str, Any], *, shown: bool, last: str | None) -> int:
    """How many of ``wanted`` differ from what Purview holds: compared with the entity's values when the
    account shows them (``shown``: some entity of the read carried ``businessAttributes``), otherwise with
    ``last``, the hash of what was last written there (all of them when that differs or is unknown)."""
    if current is not None or shown:
        return len(changed_values(current, wanted))
    return 0 if last == values_hash(wanted) else len(wanted)


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


class HashRecorder:
    """Records what push wrote where (the ``PushState`` hashes) while it writes: every ``every`` hashes go
    to storage on a thread of their own, so the writes to Purview never wait for Table Storage (saving a
    slice's hashes at its end cost ~10 % of the push's time). ``close`` waits for the last batch and
    raises the first storage error, as saving them in one go did."""

    def __init__(self, put: Callable[[dict[tuple[int, str], str]], None], every: int = 100) -> None:
        self._put, self._every = put, every
        self._batch: dict[tuple[int, str], str] = {}
        self._saves: list[Future[None]] = []
        self._pool: ThreadPoolExecutor | None = None

    def add(self, container: int, guid: str, values: dict[str, Any]) -> None:
        """The values written on an asset of this container (0 = the datastore's own asset)."""
        self._batch[(container, guid)] = values_hash(values)
        if len(self._batch) >= self._every:
            self._flush()

    def _flush(self) -> None:
        if not self._batch:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="push-state")
        self._saves.append(self._pool.submit(self._put, self._batch))
        self._batch = {}

    def close(self) -> None:
        self._flush()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        for save in self._saves:
            save.result()
