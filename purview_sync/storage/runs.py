"""The SyncRuns table: per integration the lock row (create/etag + lease), run rows and per-datastore rows."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient

from purview_sync.models import is_id
from purview_sync.storage.clients import (
    TABLE_SYNC_RUNS,
    StorageClients,
)
from purview_sync.storage.tables import load_json_list, replace_if_unchanged, to_json

LOCK_RK = "lock"
RUN_HISTORY = 50  # runs kept per integration

TERMINAL_RUN = frozenset({"completed", "completed_with_errors", "cancelled", "failed"})
TERMINAL_DATASTORE = frozenset({"completed", "skipped", "failed", "cancelled"})


@dataclass
class Lock:
    run_id: str
    lease_until: float
    etag: str


@dataclass
class Run:
    id: str
    integration_id: str
    status: str
    options: dict[str, Any]
    started_at: str
    finished_at: str | None = None
    reason: str | None = None
    datastores_total: int = 0
    trigger: str = "manual"  # manual (POST /sync) | event | schedule
    etag: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_RUN


@dataclass
class DatastoreRow:
    run_id: str
    datastore_id: int
    name: str
    status: str = "pending"
    reason: str | None = None
    attempts: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unmatched_sample: list[str] = field(default_factory=list)
    lineage_unmatched_sources: list[str] = field(default_factory=list)
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    started_at: str | None = None
    finished_at: str | None = None
    # parts of a datastore too big for one execution (DESIGN.md §3c): the part that runs now, the cursor
    # (the last table, by Qualytics container id, whose slice is done), which queue message holds the part
    # and until when, and whether the message for ``part`` is on the queue (part 0: the run enqueued it)
    part: int = 0
    cursor: int | None = None
    part_message: str | None = None
    part_lease_until: float = 0.0
    handed_off: bool = True
    etag: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_DATASTORE

    def to_api(self) -> dict[str, Any]:
        return {
            "datastore_id": self.datastore_id,
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "attempts": self.attempts,
            **self.counts,
            "errors": self.errors,
            "warnings": self.warnings,
            "unmatched_sample": self.unmatched_sample,
            "lineage_unmatched_sources": self.lineage_unmatched_sources,
            "parts": self.part + 1 if self.started_at else 0,
            "suggestions": self.suggestions,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


def run_rk(run_id: str) -> str:
    return f"run-{run_id}"


def ds_rk(run_id: str, datastore_id: int) -> str:
    return f"ds-{run_id}-{datastore_id:012d}"


class SyncRepo:
    """The SyncRuns table: PartitionKey = integration id; RowKeys ``lock``, ``run-<id>``, ``ds-<run>-<ds>``."""

    def __init__(self, storage: StorageClients) -> None:
        self.table: TableClient = storage.table(TABLE_SYNC_RUNS)

    # lock -------------------------------------------------------------------------------------
    def read_lock(self, integration_id: str) -> Lock | None:
        try:
            e = self.table.get_entity(integration_id, LOCK_RK)
        except ResourceNotFoundError:
            return None
        return Lock(run_id=e["run_id"], lease_until=float(e["lease_until"]), etag=e.metadata["etag"])

    def try_lock(
        self, integration_id: str, run_id: str, ttl: float, *, released: Callable[[Lock], bool] | None = None
    ) -> tuple[bool, Lock | None]:
        """Take the lock (create), or take over an expired lease or one whose holder is done (``released``:
        its run has already finished and is only about to free it) with an etag-conditional update.

        Returns (taken, previous lock) — previous is the abandoned lock when one was taken over, or the
        live lock when the attempt failed.
        """
        entity = {
            "PartitionKey": integration_id,
            "RowKey": LOCK_RK,
            "run_id": run_id,
            "lease_until": time.time() + ttl,
        }
        try:
            self.table.create_entity(entity)
            return True, None
        except ResourceExistsError:
            pass
        current = self.read_lock(integration_id)
        if current is None:  # released in between: try once more
            try:
                self.table.create_entity(entity)
                return True, None
            except ResourceExistsError:
                return False, self.read_lock(integration_id)
        if current.lease_until > time.time() and not (released and released(current)):
            return False, current
        if replace_if_unchanged(self.table, entity, current.etag) is not None:
            return True, current
        return False, self.read_lock(integration_id)

    def renew_lock(self, integration_id: str, run_id: str, ttl: float) -> None:
        lock = self.read_lock(integration_id)
        if lock is None or lock.run_id != run_id:
            return
        entity = {
            "PartitionKey": integration_id,
            "RowKey": LOCK_RK,
            "run_id": run_id,
            "lease_until": time.time() + ttl,
        }
        replace_if_unchanged(self.table, entity, lock.etag)  # lost to a take-over: that run owns it now

    def release_lock(self, integration_id: str, run_id: str) -> None:
        lock = self.read_lock(integration_id)
        if lock is None or lock.run_id != run_id:
            return
        try:
            self.table.delete_entity(
                integration_id, LOCK_RK, etag=lock.etag, match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            pass

    # runs -------------------------------------------------------------------------------------
    @staticmethod
    def _run_from(e: dict[str, Any]) -> Run:
        return Run(
            id=e["RowKey"][len("run-") :],
            integration_id=e["PartitionKey"],
            status=e["status"],
            options=json.loads(e.get("options") or "{}"),
            started_at=e["started_at"],
            finished_at=e.get("finished_at"),
            reason=e.get("reason"),
            datastores_total=int(e.get("datastores_total") or 0),
            trigger=e.get("trigger") or "manual",
            etag=e.metadata["etag"],
        )

    def _run_entity(self, run: Run) -> dict[str, Any]:
        return {
            "PartitionKey": run.integration_id,
            "RowKey": run_rk(run.id),
            "status": run.status,
            "options": to_json(run.options),
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "reason": run.reason,
            "datastores_total": run.datastores_total,
            "trigger": run.trigger,
        }

    def create_run(self, run: Run, datastores: list[DatastoreRow]) -> None:
        """Run row + its datastore rows in transactions of ≤ 100 (one partition)."""
        ops: list[tuple[str, dict[str, Any]]] = [("upsert", self._run_entity(run))]
        ops += [("upsert", self._ds_entity(integration_id=run.integration_id, row=row)) for row in datastores]
        for start in range(0, len(ops), 100):
            self.table.submit_transaction(ops[start : start + 100])  # type: ignore[arg-type]

    def get_run(self, integration_id: str, run_id: str) -> Run | None:
        if not is_id(integration_id) or not is_id(run_id):
            return None
        try:
            return self._run_from(self.table.get_entity(integration_id, run_rk(run_id)))
        except ResourceNotFoundError:
            return None

    def update_run(self, run: Run) -> bool:
        """Etag-conditional replace; False when someone else changed the run first."""
        etag = replace_if_unchanged(self.table, self._run_entity(run), run.etag)
        if etag is None:
            return False
        run.etag = etag
        return True

    def list_runs(self, integration_id: str) -> list[Run]:
        rows = self.table.query_entities(
            "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
            parameters={"pk": integration_id, "lo": "run-", "hi": "run."},
        )
        return sorted((self._run_from(e) for e in rows), key=lambda r: r.started_at, reverse=True)

    def prune(self, integration_id: str, keep: int = RUN_HISTORY) -> None:
        for run in self.list_runs(integration_id)[keep:]:
            if run.finished:
                self.delete_run(integration_id, run.id)

    def delete_run(self, integration_id: str, run_id: str) -> None:
        for row in self.datastore_rows(integration_id, run_id):
            self.table.delete_entity(integration_id, ds_rk(run_id, row.datastore_id))
        self.table.delete_entity(integration_id, run_rk(run_id))

    def delete_partition(self, integration_id: str) -> None:
        for e in self.table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": integration_id}, select=["RowKey"]
        ):
            self.table.delete_entity(integration_id, e["RowKey"])

    # datastore rows ---------------------------------------------------------------------------
    @staticmethod
    def _ds_entity(integration_id: str, row: DatastoreRow) -> dict[str, Any]:
        return {
            "PartitionKey": integration_id,
            "RowKey": ds_rk(row.run_id, row.datastore_id),
            "run_id": row.run_id,
            "datastore_id": row.datastore_id,
            "name": row.name,
            "status": row.status,
            "reason": row.reason,
            "attempts": row.attempts,
            "counts": to_json(row.counts),
            "errors": to_json(row.errors)[:30000],
            "warnings": to_json(row.warnings[:50]),
            "unmatched_sample": to_json(row.unmatched_sample),
            "lineage_unmatched_sources": to_json(row.lineage_unmatched_sources),
            "suggestions": to_json(row.suggestions),  # bounded by sync.suggestions
            "started_at": row.started_at,
            "finished_at": row.finished_at,
            "part": row.part,
            "cursor": str(row.cursor) if row.cursor is not None else None,
            "part_message": row.part_message,
            "part_lease_until": row.part_lease_until,
            "handed_off": row.handed_off,
        }

    @staticmethod
    def _ds_from(e: dict[str, Any]) -> DatastoreRow:
        return DatastoreRow(
            run_id=e["run_id"],
            datastore_id=int(e["datastore_id"]),
            name=e.get("name") or "",
            status=e["status"],
            reason=e.get("reason"),
            attempts=int(e.get("attempts") or 0),
            counts=json.loads(e.get("counts") or "{}"),
            errors=load_json_list(e.get("errors")),
            warnings=json.loads(e.get("warnings") or "[]"),
            unmatched_sample=json.loads(e.get("unmatched_sample") or "[]"),
            lineage_unmatched_sources=json.loads(e.get("lineage_unmatched_sources") or "[]"),
            suggestions=load_json_list(e.get("suggestions")),
            started_at=e.get("started_at"),
            finished_at=e.get("finished_at"),
            part=int(e.get("part") or 0),
            cursor=int(e["cursor"]) if e.get("cursor") is not None else None,
            part_message=e.get("part_message"),
            part_lease_until=float(e.get("part_lease_until") or 0.0),
            handed_off=bool(e.get("handed_off", True)),
            etag=e.metadata["etag"],
        )

    def get_datastore_row(self, integration_id: str, run_id: str, datastore_id: int) -> DatastoreRow | None:
        try:
            return self._ds_from(self.table.get_entity(integration_id, ds_rk(run_id, datastore_id)))
        except ResourceNotFoundError:
            return None

    def update_datastore_row(self, integration_id: str, row: DatastoreRow) -> bool:
        etag = replace_if_unchanged(self.table, self._ds_entity(integration_id, row), row.etag)
        if etag is None:
            return False
        row.etag = etag
        return True

    def datastore_rows(self, integration_id: str, run_id: str) -> list[DatastoreRow]:
        prefix = f"ds-{run_id}-"
        rows = self.table.query_entities(
            "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
            parameters={"pk": integration_id, "lo": prefix, "hi": prefix[:-1] + "."},
        )
        return sorted((self._ds_from(e) for e in rows), key=lambda r: r.datastore_id)
