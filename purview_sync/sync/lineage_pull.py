"""Lineage pull: Purview lineage between matched tables/views → Qualytics container lineage edges
(DESIGN.md §5b; integration ``lineage``).

Read cheaply: the matched table entities, already fetched by the matcher, name the processes that write them
(``relationshipAttributes.outputFromProcesses``); one bulk GET (≤ 100 a call) reads those processes. Every
process of any type (ADF, Synapse, Databricks, custom — not the product's own ``qualytics_computed_process``,
which Qualytics already knows as its computed container) whose input resolves to a Qualytics container
becomes one edge input container → this datastore's container. An input of another datastore is resolved by
its qualifiedName (database, schema, table) against the Qualytics datastores. Each datastore's pull owns the
edges that end in its containers, so an edge across two datastores is made once.

Edges are ``POST /api/lineage/edges`` ``{source_container_id, target_container_id, source_type: "purview",
description}`` — ``manual`` when Qualytics refuses ``purview`` (400/422), remembered for the rest of the pull.
``LineageMappings`` hold every edge pull created (an intent row before the POST, the edge id after); an edge
whose process or endpoint is gone from Purview is deleted (``DELETE /api/lineage/edges/{id}``) with its row.
Edges without a row — a user's, Qualytics' inferred ones, another catalog's — are never touched. Qualytics
answering 403 (the Lineage add-on is off, or the token's user is not a Manager) → one warning saying what to
do, and no further lineage call for this datastore; the datastore does not fail.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from purview_sync.clients.http import HttpError
from purview_sync.storage.lineage import LineageMapping, LineageRepo
from purview_sync.sync.job import DatastoreJob, SyncContext
from purview_sync.sync.lineage_typedef import COMPUTED_PROCESS
from purview_sync.sync.matcher import parse_qualified_name

log = logging.getLogger(__name__)

LINEAGE_FORBIDDEN = (
    "Qualytics refused lineage (HTTP 403), so Purview lineage was not pulled. Turn on the Lineage add-on in "
    "Qualytics and give the user of QUALYTICS_API_TOKEN the Manager role (creating and deleting lineage "
    "edges needs it), then run the sync again — or set the integration's lineage to false."
)


class _Forbidden(Exception):
    pass


def _refused_fields(exc: HttpError) -> set[str]:
    """The body fields a 400/422 names (FastAPI ``detail: [{loc: ["body", field], ...}]``); empty when it
    names none (then the caller cannot tell, and treats it as a refused ``source_type``)."""
    detail = exc.body.get("detail") if isinstance(exc.body, dict) else None
    names = set()
    for item in detail if isinstance(detail, list) else []:
        loc = item.get("loc") if isinstance(item, dict) else None
        if isinstance(loc, list) and len(loc) > 1 and loc[0] == "body":
            names.add(str(loc[1]))
    return names


def _active(ref: dict[str, Any]) -> bool:
    return (ref.get("entityStatus") or "ACTIVE") == "ACTIVE" and (
        ref.get("relationshipStatus") or "ACTIVE"
    ) == "ACTIVE"


class LineagePull:
    def __init__(self, job: DatastoreJob, context: SyncContext) -> None:
        self.job, self.context, self.report = job, context, job.report
        self.qualytics, self.purview = context.qualytics, context.purview
        self.repo: LineageRepo = job.services.lineage
        self.integration_id = job.integration.id
        self.ds_id = context.snapshot.id
        self.source_type = "purview"
        self.with_description = True
        self._datastores: list[dict[str, Any]] | None = None
        self._tables: dict[int, dict[str, int]] = {}

    def run(self) -> None:
        rows = {r.key: r for r in self.repo.list_for_datastore(self.integration_id, self.ds_id)}
        wanted = self._wanted()
        try:
            mine = self._owned_targets(rows.values())
            for key, row in rows.items():
                if key not in wanted and row.target_container_id in mine:
                    self._remove(row)
            for key, processes in wanted.items():
                row = rows.get(key)
                if row is None or row.edge_id is None:
                    self._add(key, processes, row)
        except _Forbidden:
            self.report.warnings.append(LINEAGE_FORBIDDEN)

    def _owned_targets(self, rows: Any) -> set[int]:
        """The target containers this pull decides for: all of them for a whole datastore; for one slice of a
        large one, the slice's tables — and, with the last slice, targets no longer among the datastore's
        tables (a container deleted in Qualytics), from one listing."""
        targets = {r.target_container_id for r in rows}
        if self.context.complete:
            return targets
        mine = {int(t["id"]) for t in self.context.snapshot.tables} & targets
        if self.context.with_root and targets - mine:
            existing = {int(t["id"]) for t in self.qualytics.list_tables(self.ds_id)}
            mine |= targets - existing
        return mine

    # --- what Purview says -------------------------------------------------------------------------------
    def _wanted(self) -> dict[tuple[int, int], list[dict[str, Any]]]:
        match = self.context.match
        writers = {
            cid: asset.output_from_processes
            for cid, asset in match.tables.items()
            if asset.output_from_processes
        }
        if not writers:
            return {}
        own = {asset.guid: cid for cid, asset in match.tables.items()}
        guids = sorted({g for processes in writers.values() for g in processes})
        processes = {e.get("guid"): e for e in self.purview.get_entities(guids)}
        wanted: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
        for target, process_guids in writers.items():
            target_guid = match.tables[target].guid
            for guid in process_guids:
                process = processes.get(guid)
                if not process or process.get("status", "ACTIVE") != "ACTIVE":
                    continue
                if process.get("typeName") == COMPUTED_PROCESS:
                    continue  # the product's own: a Qualytics computed container, already lineage there
                if target_guid not in self._refs(process, "outputs"):
                    continue
                for ref in self._refs(process, "inputs").values():
                    source = own.get(str(ref.get("guid"))) or self._foreign(ref)
                    if source is not None and source != target:
                        wanted[(source, target)].append(process)
        return dict(wanted)

    @staticmethod
    def _refs(process: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
        """guid → reference, from ``relationshipAttributes`` (with status) merged over ``attributes``."""
        out: dict[str, dict[str, Any]] = {}
        for ref in (process.get("attributes") or {}).get(key) or []:
            if isinstance(ref, dict) and ref.get("guid"):
                out[str(ref["guid"])] = dict(ref)
        for ref in (process.get("relationshipAttributes") or {}).get(key) or []:
            if isinstance(ref, dict) and ref.get("guid"):
                if not _active(ref):
                    out.pop(str(ref["guid"]), None)
                    continue
                out[str(ref["guid"])] = {**out.get(str(ref["guid"]), {}), **ref}
        return out

    def _foreign(self, ref: dict[str, Any]) -> int | None:
        """A container of another datastore, by the input's qualifiedName (database, schema, table)."""
        qn = str((ref.get("uniqueAttributes") or {}).get("qualifiedName") or "")
        parsed = parse_qualified_name(qn, str(ref.get("typeName") or "")) if qn else None
        if parsed is None or parsed.table is None:
            return None
        if self._datastores is None:
            self._datastores = list(self.qualytics.list_datastores())
        for ds in self._datastores:
            if str(ds.get("database") or "").lower() != parsed.database.lower():
                continue
            if str(ds.get("schema") or "").lower() != str(parsed.schema or "").lower():
                continue
            ds_id = int(ds["id"])
            if ds_id not in self._tables:
                self._tables[ds_id] = {
                    str(t.get("name", "")).lower(): int(t["id"]) for t in self.qualytics.list_tables(ds_id)
                }
            found = self._tables[ds_id].get(parsed.table.lower())
            if found is not None:
                return found
        return None

    # --- Qualytics edges ---------------------------------------------------------------------------------
    def _add(self, key: tuple[int, int], processes: list[dict[str, Any]], row: LineageMapping | None) -> None:
        first = processes[0]
        attrs = first.get("attributes") or {}
        name = attrs.get("name") or attrs.get("qualifiedName") or first.get("guid")
        description = f"From the Purview process '{name}' ({first.get('typeName')}), synced by purview-sync"
        if len(processes) > 1:
            description += f" (and {len(processes) - 1} more)"
        row = row or LineageMapping(self.ds_id, key[0], key[1])
        row.processes = [str(p.get("guid")) for p in processes]
        row.description = description
        if self.job.dry_run:  # a preview: counted, nothing stored or created
            self.report.lineage_edges_added += 1
            return
        self.repo.put(self.integration_id, row)  # intent first: a crash after the POST still leaves it ours
        body = {"source_container_id": key[0], "target_container_id": key[1], "description": description}
        edge = self._create(body)
        if edge is None:
            self.repo.delete(self.integration_id, row)
            return
        row.edge_id, row.source_type = int(edge["id"]), edge.get("source_type") or self.source_type
        self.repo.put(self.integration_id, row)
        self.report.lineage_edges_added += 1

    def _create(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """POST the edge; a refused ``source_type`` falls back to ``manual``, a refused ``description`` is left
        out (whether either may be sent is open, qualytics-lineage.md §1.2) — both remembered for the pull."""
        for _ in range(3):
            attempt = {**body, "source_type": self.source_type}
            if not self.with_description:
                attempt.pop("description", None)
            try:
                return self.qualytics.create_lineage_edge(attempt)
            except HttpError as exc:
                if exc.status == 403:
                    raise _Forbidden() from exc
                refused = _refused_fields(exc) if exc.status in (400, 422) else set()
                if "description" in refused and self.with_description:
                    log.info("Qualytics refused the edge description (%s); edges go without one", exc)
                    self.with_description = False
                    continue
                if exc.status in (400, 422) and self.source_type != "manual" and refused <= {"source_type"}:
                    log.info("Qualytics refused source_type %s (%s); using manual", self.source_type, exc)
                    self.source_type = "manual"
                    continue
                self.report.warnings.append(
                    f"Qualytics did not create the lineage edge {body['source_container_id']} → "
                    f"{body['target_container_id']} (HTTP {exc.status}); it is tried again on the next pull."
                )
                return None
        return None

    def _remove(self, row: LineageMapping) -> None:
        if self.job.dry_run:  # a preview: counted, nothing deleted
            self.report.lineage_edges_removed += row.edge_id is not None
            return
        if row.edge_id is not None:
            try:
                gone = not self.qualytics.delete_lineage_edge(row.edge_id)
            except HttpError as exc:
                if exc.status == 403:
                    raise _Forbidden() from exc
                self.report.warnings.append(
                    f"Qualytics did not delete the lineage edge {row.edge_id} (HTTP {exc.status}); it is tried "
                    "again on the next pull."
                )
                return
            if not gone:
                self.report.lineage_edges_removed += 1
        self.repo.delete(self.integration_id, row)


def pull_lineage(job: DatastoreJob, context: SyncContext) -> None:
    """The lineage half of a pull; nothing at all (not one request) unless the integration has it on."""
    if not job.integration.lineage or job.container_id is not None or job.report.status == "failed":
        return
    LineagePull(job, context).run()
