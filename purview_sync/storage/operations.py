"""The OperationPoll table: where the poll of Qualytics' finished operations stands, and which operation it
has taken on. Every write is conditional, so ticks that overlap (on one host or several) agree.

* ``state`` / ``watermark``: ``origin`` (when the poll first ran: nothing that finished before is pushed)
  and ``watermark`` (epoch seconds: every operation that finished before it has been seen);
* ``op`` / ``<operation id>``: the marker of one operation — ``claimed`` by the tick that pushes it (created
  with insert, so only one tick can), ``done`` once its push is scheduled; a claim older than its lease
  belongs to a tick that died and may be taken over (etag).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient

from purview_sync.storage.clients import TABLE_OPERATION_POLL, StorageClients
from purview_sync.storage.tables import replace_if_unchanged

STATE_PK, STATE_RK, MARKER_PK = "state", "watermark", "op"


@dataclass
class PollState:
    origin: float
    watermark: float
    etag: str | None = None
    fresh: bool = False  # this call created it (the poll's first tick ever)


class OperationPollRepo:
    def __init__(self, storage: StorageClients) -> None:
        self.table: TableClient = storage.table(TABLE_OPERATION_POLL)

    # --- the watermark ---------------------------------------------------------------------------------------
    def state(self, now: float) -> PollState:
        """The poll's state; the first call ever records ``now`` as both origin and watermark."""
        for _ in range(5):
            try:
                row = self.table.get_entity(STATE_PK, STATE_RK)
                return PollState(float(row["origin"]), float(row["watermark"]), row.metadata["etag"])
            except ResourceNotFoundError:
                pass
            try:
                meta = self.table.create_entity(
                    {"PartitionKey": STATE_PK, "RowKey": STATE_RK, "origin": now, "watermark": now}
                )
                return PollState(now, now, meta.get("etag"), fresh=True)
            except ResourceExistsError:
                continue  # another tick made it first: read theirs
        raise RuntimeError("the operations poll state could not be read")

    def advance(self, state: PollState, watermark: float) -> float:
        """Move the watermark forward to ``watermark`` (never back — but the first tick may set it before
        ``origin``, to wait for operations already running); a concurrent tick's write is re-read and the
        larger value kept. Returns the stored watermark."""
        for _ in range(10):
            if watermark <= state.watermark and not state.fresh:
                return state.watermark
            entity = {
                "PartitionKey": STATE_PK,
                "RowKey": STATE_RK,
                "origin": state.origin,
                "watermark": watermark,
            }
            if replace_if_unchanged(self.table, entity, state.etag) is not None:
                return watermark
            state = self.state(watermark)
        raise RuntimeError("the operations poll watermark could not be written (contention)")

    # --- per-operation markers -------------------------------------------------------------------------------
    @staticmethod
    def _rk(operation_id: int) -> str:
        return f"{int(operation_id):012d}"

    def claim(self, operation_id: int, ended_at: float, lease_seconds: float) -> str | None:
        """Take the operation on: an etag to finish it with, or None when it is done or being done."""
        rk = self._rk(operation_id)
        entity: dict[str, Any] = {
            "PartitionKey": MARKER_PK, "RowKey": rk, "status": "claimed",
            "claimed_at": time.time(), "ended_at": ended_at,
        }  # fmt: skip
        try:
            return str(self.table.create_entity(entity).get("etag"))
        except ResourceExistsError:
            pass
        try:
            row = self.table.get_entity(MARKER_PK, rk)
        except ResourceNotFoundError:
            return None
        if row.get("status") != "claimed" or float(row.get("claimed_at") or 0) + lease_seconds > time.time():
            return None
        return replace_if_unchanged(self.table, entity, row.metadata["etag"])  # the claimer died: take over

    def done(self, operation_id: int, ended_at: float, etag: str) -> bool:
        entity = {"PartitionKey": MARKER_PK, "RowKey": self._rk(operation_id), "status": "done",
                  "done_at": time.time(), "ended_at": ended_at}  # fmt: skip
        return replace_if_unchanged(self.table, entity, etag) is not None

    def status(self, operation_id: int) -> str | None:
        try:
            return str(self.table.get_entity(MARKER_PK, self._rk(operation_id)).get("status"))
        except ResourceNotFoundError:
            return None

    def forget_before(self, ended_before: float, limit: int = 100) -> int:
        """Drop done markers of operations that ended before ``ended_before`` (no query reaches them now)."""
        rows = self.table.query_entities(
            "PartitionKey eq @pk and status eq 'done' and ended_at lt @before",
            parameters={"pk": MARKER_PK, "before": ended_before},
            results_per_page=limit,
        )
        dropped = 0
        for row in rows:
            self.table.delete_entity(MARKER_PK, row["RowKey"])
            dropped += 1
            if dropped >= limit:
                break
        return dropped
