"""Table Storage repositories: integrations, sync runs (lock row, run rows, per-datastore rows) and
tag mappings. Keys are always server-generated ids or hashes — never an OData filter built from user text.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from purview_sync.models import Integration, is_id
from purview_sync.storage.clients import (
    TABLE_EVENTS,
    TABLE_INTEGRATIONS,
    TABLE_SYNC_RUNS,
    TABLE_TAG_MAPPINGS,
    StorageClients,
)

INTEGRATION_PK = "integration"
LOCK_RK = "lock"
RUN_HISTORY = 50  # runs kept per integration

TERMINAL_RUN = frozenset({"completed", "completed_with_errors", "cancelled", "failed"})
TERMINAL_DATASTORE = frozenset({"completed", "skipped", "failed", "cancelled"})


def replace_if_unchanged(table: TableClient, entity: dict[str, Any], etag: str | None) -> str | None:
    """Replace ``entity`` only if its row still has ``etag``; the new etag, or None when someone else
    changed (or deleted) the row first."""
    try:
        meta = table.update_entity(
            entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
        )
    except (ResourceModifiedError, ResourceNotFoundError):
        return None
    return meta.get("etag", etag)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


# --- integrations ---------------------------------------------------------------------------------


class IntegrationRepo:
    def __init__(self, storage: StorageClients) -> None:
        self.table: TableClient = storage.table(TABLE_INTEGRATIONS)

    @staticmethod
    def _to_entity(integration: Integration) -> dict[str, Any]:
        data = asdict(integration)
        return {
            "PartitionKey": INTEGRATION_PK,
            "RowKey": integration.id,
            **{k: v for k, v in data.items() if k not in ("id", "domains", "last_sync")},
            "domains": _json(integration.domains),
            "last_sync": _json(integration.last_sync) if integration.last_sync else None,
        }

    @staticmethod
    def _from_entity(entity: dict[str, Any]) -> Integration:
        return Integration(
            id=entity["RowKey"],
            purview_url=entity["purview_url"],
            tenant_id=entity["tenant_id"],
            client_id=entity.get("client_id"),
            auth=entity["auth"],
            domains=json.loads(entity.get("domains") or "[]"),
            event_driven=bool(entity.get("event_driven")),
            overwrite_tags=bool(entity.get("overwrite_tags")),
            created_at=entity["created_at"],
            updated_at=entity["updated_at"],
            secret_ref=entity.get("secret_ref"),
            last_sync=json.loads(entity["last_sync"]) if entity.get("last_sync") else None,
        )

    def create(self, integration: Integration) -> None:
        self.table.create_entity(self._to_entity(integration))

    def save(self, integration: Integration) -> None:
        self.table.upsert_entity(self._to_entity(integration), mode=UpdateMode.REPLACE)

    def get(self, integration_id: str) -> Integration | None:
        if not is_id(integration_id):
            return None
        try:
            return self._from_entity(self.table.get_entity(INTEGRATION_PK, integration_id))
        except ResourceNotFoundError:
            return None

    def list(self) -> list[Integration]:
        rows = self.table.query_entities("PartitionKey eq @pk", parameters={"pk": INTEGRATION_PK})
        return sorted((self._from_entity(e) for e in rows), key=lambda i: i.created_at)

    def set_last_sync(self, integration_id: str, summary: dict[str, Any]) -> None:
        try:
            self.table.update_entity(
                {"PartitionKey": INTEGRATION_PK, "RowKey": integration_id, "last_sync": _json(summary)},
                mode=UpdateMode.MERGE,
            )
        except ResourceNotFoundError:
            pass

    def delete(self, integration_id: str) -> None:
        self.table.delete_entity(INTEGRATION_PK, integration_id)


# --- sync runs ------------------------------------------------------------------------------------


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
    started_at: str | None = None
    finished_at: str | None = None
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

    def try_lock(self, integration_id: str, run_id: str, ttl: float) -> tuple[bool, Lock | None]:
        """Take the lock (create), or take over an expired lease (etag-conditional update).

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
        if current.lease_until > time.time():
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
            etag=e.metadata["etag"],
        )

    def _run_entity(self, run: Run) -> dict[str, Any]:
        return {
            "PartitionKey": run.integration_id,
            "RowKey": run_rk(run.id),
            "status": run.status,
            "options": _json(run.options),
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "reason": run.reason,
            "datastores_total": run.datastores_total,
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
            "counts": _json(row.counts),
            "errors": _json(row.errors)[:30000],
            "warnings": _json(row.warnings[:50]),
            "unmatched_sample": _json(row.unmatched_sample),
            "started_at": row.started_at,
            "finished_at": row.finished_at,
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
            errors=_load_list(e.get("errors")),
            warnings=json.loads(e.get("warnings") or "[]"),
            unmatched_sample=json.loads(e.get("unmatched_sample") or "[]"),
            started_at=e.get("started_at"),
            finished_at=e.get("finished_at"),
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


def _load_list(raw: str | None) -> list[Any]:
    try:
        return json.loads(raw or "[]")
    except json.JSONDecodeError:  # truncated by the 32 KB property limit
        return [{"message": "error list truncated", "action": "see the function logs"}]


# --- tag mappings ---------------------------------------------------------------------------------

TAG_KIND = "tag"  # resource_kind of the rows that record a tag itself as pull's (created or taken over)


@dataclass
class TagMapping:
    """One Qualytics tag on one Qualytics resource that pull put there (or took over).

    Rows with ``resource_kind == "tag"`` (``resource_id`` 0) record the tag itself: pull created it
    (``taken_over`` False — it may delete it once nothing uses it) or took over an existing tag of the same
    name (``taken_over`` True — never deleted). A created-row is written *before* the tag is created and a
    resource row *before* the tag is written onto the resource, so a crash in between leaves a claim that
    the redelivery completes, never a tag of pull's that looks like the user's.
    """

    resource_kind: str  # datastore | container | field | tag
    resource_id: int
    tag_name: str
    source: str  # the Purview classification / label it came from ("classification:X", "label:Y")
    taken_over: bool = False
    datastore_id: int | None = None  # the Qualytics datastore the resource belongs to
    claimed_at: str | None = None  # tag rows: when pull claimed the tag (ISO 8601, UTC)

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.resource_kind, self.resource_id, self.tag_name)


class MappingRepo:
    """The TagMappings table: PartitionKey = integration id; RowKey = kind, resource id, hash of the name."""

    def __init__(self, storage: StorageClients) -> None:
        self.table: TableClient = storage.table(TABLE_TAG_MAPPINGS)

    @staticmethod
    def _rk(kind: str, resource_id: int, tag_name: str) -> str:
        digest = hashlib.sha256(tag_name.encode()).hexdigest()[:32]
        return f"{kind}-{resource_id:012d}-{digest}"

    @staticmethod
    def _from(e: dict[str, Any]) -> TagMapping:
        ds = e.get("datastore_id")
        return TagMapping(
            resource_kind=e["resource_kind"],
            resource_id=int(e["resource_id"]),
            tag_name=e["tag_name"],
            source=e.get("source") or "",
            taken_over=bool(e.get("taken_over")),
            datastore_id=int(ds) if ds is not None else None,
            claimed_at=e.get("claimed_at"),
        )

    def _entity(self, mapping: TagMapping) -> dict[str, Any]:
        return {
            "PartitionKey": "",  # set by the caller
            "RowKey": self._rk(mapping.resource_kind, mapping.resource_id, mapping.tag_name),
            **asdict(mapping),
        }

    def list(self, integration_id: str) -> list[TagMapping]:
        """Every row of the integration (resource rows and tag rows)."""
        rows = self.table.query_entities("PartitionKey eq @pk", parameters={"pk": integration_id})
        return [self._from(e) for e in rows]

    def list_for_datastore(self, integration_id: str, datastore_id: int) -> list[TagMapping]:
        """The resource rows of one datastore (its own, its containers' and its fields')."""
        rows = self.table.query_entities(
            "PartitionKey eq @pk and datastore_id eq @ds",
            parameters={"pk": integration_id, "ds": int(datastore_id)},
        )
        return [m for m in map(self._from, rows) if m.resource_kind != TAG_KIND]

    def owned_tags(self, integration_id: str) -> dict[str, TagMapping]:
        """Tag name → the row saying pull created (or took over) that tag, for this integration."""
        prefix = f"{TAG_KIND}-"
        rows = self.table.query_entities(
            "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
            parameters={"pk": integration_id, "lo": prefix, "hi": prefix[:-1] + "."},
        )
        return {m.tag_name: m for m in map(self._from, rows)}

    def tag_in_use(self, tag_name: str) -> bool:
        """Whether any integration maps ``tag_name`` onto some resource (a scan, for few names only)."""
        rows = self.table.query_entities(
            "tag_name eq @name and resource_kind ne @tag",
            parameters={"name": tag_name, "tag": TAG_KIND},
            select=["RowKey"],
            results_per_page=1,
        )
        return next(iter(rows), None) is not None

    def all_tag_names(self) -> set[str]:
        return {e["tag_name"] for e in self.table.list_entities(select=["tag_name"])}

    def claim_tag(self, integration_id: str, row: TagMapping) -> bool:
        """Insert a ``tag`` row unless one exists (an existing claim is kept as it is); True if inserted."""
        try:
            self.table.create_entity({**self._entity(row), "PartitionKey": integration_id})
            return True
        except ResourceExistsError:
            return False

    def put(self, integration_id: str, mapping: TagMapping) -> None:
        self.put_many(integration_id, [mapping])

    def put_many(self, integration_id: str, mappings: list[TagMapping]) -> None:
        """Upserts in transactions of ≤ 100 (one partition)."""
        ops = [("upsert", {**self._entity(m), "PartitionKey": integration_id}) for m in mappings]
        for start in range(0, len(ops), 100):
            self.table.submit_transaction(ops[start : start + 100])  # type: ignore[arg-type]

    def delete(self, integration_id: str, mapping: TagMapping) -> None:
        try:
            self.table.delete_entity(
                integration_id, self._rk(mapping.resource_kind, mapping.resource_id, mapping.tag_name)
            )
        except ResourceNotFoundError:
            pass

    def delete_many(self, integration_id: str, mappings: list[TagMapping]) -> None:
        """Deletes in transactions of ≤ 100; a row already gone is not an error."""
        ops = [("delete", {"PartitionKey": integration_id, "RowKey": self._rk(*m.key)}) for m in mappings]
        for start in range(0, len(ops), 100):
            chunk = ops[start : start + 100]
            try:
                self.table.submit_transaction(chunk)  # type: ignore[arg-type]
            except (ResourceNotFoundError, TableTransactionError):
                for _, entity in chunk:  # one row was gone: the rest one by one
                    try:
                        self.table.delete_entity(integration_id, entity["RowKey"])
                    except ResourceNotFoundError:
                        pass

    def delete_all(self, integration_id: str) -> None:
        for e in self.table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": integration_id}, select=["RowKey"]
        ):
            self.table.delete_entity(integration_id, e["RowKey"])


class EventStateRepo:
    """Per integration × datastore: when an event-driven push is due (coalescing) and when one last ran."""

    def __init__(self, storage: StorageClients) -> None:
        self.table: TableClient = storage.table(TABLE_EVENTS)
