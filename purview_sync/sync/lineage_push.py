"""Lineage push: Qualytics computed containers → Purview lineage (DESIGN.md §5b; integration ``lineage``).

Per computed container of the datastore (``computed_table``, ``computed_join``, ``computed_file``):

* one ``qualytics_computed_table`` entity, qualifiedName
  ``qualytics://<QUALYTICS_UI_URL host>/datastores/<ds>/containers/<id>``, ``name`` the container's name, a
  description naming it, in the collection of the matched schema; its ``Qualytics`` values (score, counts,
  link — as a table's) are written like a table's, with the per-entity business-metadata endpoint;
* one ``qualytics_computed_process`` (``<qn>/process``): ``inputs`` = the matched tables/views it reads
  (``lineage_sources``), ``outputs`` = the computed entity, ``columnMapping`` where the definition names
  columns one to one. Sources that match no Purview asset are listed (``lineage_unmatched_sources``); no
  matched source → no process (an earlier one is deleted).

Idempotent: the wanted entities are read first (bulk GET by qualifiedName, strongly consistent), and only
those whose name, description, inputs, outputs or columnMapping differ are written — nothing changed → no
entity write. Writes: ``POST /entity/bulk`` with the product's own two types only (never a scanned entity),
≤ 50 entities a call (a computed entity and its process in the same call, linked by a placeholder guid),
through the client's retry policy and shared limiter. A call Purview refuses with 404 ``ATLAS-404-00-00A`` (a
referenced table vanished meanwhile) is retried one container at a time, so one stale reference fails only
its own container. Entities of this datastore whose computed container is gone (found by type and
qualifiedName prefix) are deleted with ``DELETE /entity/bulk``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from purview_sync.clients.http import HttpError, ThrottledError, error_text
from purview_sync.clients.purview import BULK_WRITE_MAX
from purview_sync.settings import LinkTemplates
from purview_sync.sync.delta import changed_count, values_hash
from purview_sync.sync.job import DatastoreJob, SyncContext
from purview_sync.sync.lineage_sources import SourceResolver, Sources
from purview_sync.sync.lineage_sql import column_pairs, container_sources
from purview_sync.sync.lineage_typedef import COMPUTED_PROCESS, COMPUTED_TABLE, ensure_lineage_typedefs
from purview_sync.sync.push import desired_values, table_facts
from purview_sync.sync.snapshot import is_archived
from purview_sync.sync.typedef import GROUP, TypedefError

log = logging.getLogger(__name__)

KIND_LABEL = {
    "computed_table": "computed table",
    "computed_join": "computed join",
    "computed_file": "computed file",
}
CURATOR_ACTION = (
    "Give the integration's identity the Data Curator role on the collection of the matched schema, then run "
    "the sync again."
)


def computed_prefix(ui_url: str, datastore_id: int) -> str:
    host = (urlsplit(ui_url).netloc or ui_url).lower()
    return f"qualytics://{host}/datastores/{int(datastore_id)}/containers/"


@dataclass
class Planned:
    """One computed container: what its two entities should be."""

    container: dict[str, Any]
    qn: str
    table: dict[str, Any]  # the computed entity's attributes
    process: dict[str, Any] | None  # the process's attributes without inputs/outputs; None → no process
    sources: Sources
    existing_table: dict[str, Any] | None = None
    existing_process: dict[str, Any] | None = None
    guid: str | None = None  # of the computed entity, once known
    entities: list[dict[str, Any]] = field(default_factory=list)  # what this push writes for it


def _ref_guids(entity: dict[str, Any] | None, key: str) -> set[str]:
    if entity is None:
        return set()
    refs = (entity.get("relationshipAttributes") or {}).get(key)
    if refs is None:
        refs = (entity.get("attributes") or {}).get(key)
    return {
        str(r["guid"])
        for r in refs or []
        if isinstance(r, dict) and r.get("guid") and (r.get("entityStatus") or "ACTIVE") == "ACTIVE"
    }


def column_mapping(container: dict[str, Any], sources: Sources, sink_qn: str) -> str | None:
    """Purview's ``columnMapping`` JSON string, or None where the definition does not name columns 1:1."""
    pairs = column_pairs(container.get("select_clause"))
    if not pairs:
        return None
    refs = container_sources(container)
    if container.get("container_type") == "computed_file" and len(refs) == 1:
        asset = sources.by_ref.get(refs[0].container_id)
        if asset is None:
            return None
        per_source = {asset.qualified_name: pairs}
    elif container.get("container_type") == "computed_join" and all(r.side for r in refs):
        per_source: dict[str, list[tuple[str, str]]] = {}  # type: ignore[no-redef]
        for source_col, sink_col in pairs:
            ref = next((r for r in refs if source_col.lower().startswith(f"{r.prefix}_".lower())), None)
            asset = sources.by_ref.get(ref.container_id) if ref else None
            if ref is None or asset is None:
                return None
            per_source.setdefault(asset.qualified_name, []).append(
                (source_col[len(ref.prefix or "") + 1 :], sink_col)
            )
    else:
        return None
    return json.dumps(
        [
            {
                "DatasetMapping": {"Source": qn, "Sink": sink_qn},
                "ColumnMapping": [{"Source": s, "Sink": t} for s, t in cols],
            }
            for qn, cols in per_source.items()
        ],
        separators=(",", ":"),
    )


class LineagePush:
    def __init__(self, job: DatastoreJob, context: SyncContext) -> None:
        self.job, self.context, self.report = job, context, job.report
        self.purview, self.qualytics = context.purview, context.qualytics
        self.ds_id = context.snapshot.id
        settings = job.services.settings
        self.ui_url = settings.qualytics_ui_url.rstrip("/")
        self.links = LinkTemplates(self.ui_url, settings.qualytics_link_templates)
        self.prefix = computed_prefix(self.ui_url, self.ds_id)
        root = context.match.root
        self.collection = root.collection_id if root else None
        self.anchor = root.qualified_name if root else None

    def run(self) -> None:
        computed = [c for c in self.qualytics.list_computed_containers(self.ds_id) if not is_archived(c)]
        ours = self._our_entities()
        if not computed and not ours:
            return
        self.types_missing = False
        if computed and self.job.dry_run:  # a preview writes no typedef: are the two types there to read?
            self.types_missing = any(
                self.purview.get_entity_def(t) is None for t in (COMPUTED_TABLE, COMPUTED_PROCESS)
            )
        elif computed:
            try:
                ensure_lineage_typedefs(self.purview)
            except TypedefError as exc:
                self.report.error(str(exc), exc.action, asset=self.anchor)
                return
        plans = self._plan(computed)
        self._write(plans)
        self._write_values(plans)
        wanted = {p.qn for p in plans} | {f"{p.qn}/process" for p in plans if p.process is not None}
        stale = [guid for qn, guid in ours.items() if qn not in wanted]
        stale += [
            p.existing_process["guid"] for p in plans if p.process is None and p.existing_process is not None
        ]
        self._delete(sorted(set(stale)))

    # --- reading ------------------------------------------------------------------------------------------
    def _our_entities(self) -> dict[str, str]:
        """qualifiedName → guid of this datastore's lineage entities: a search by the two types and the
        qualifiedName prefix — or, where Purview refuses ``prefix`` (400), by the types alone, compared here."""
        types = {"or": [{"entityType": t} for t in (COMPUTED_TABLE, COMPUTED_PROCESS)]}
        by_prefix = {"attributeName": "qualifiedName", "operator": "prefix", "attributeValue": self.prefix}
        try:
            hits = list(self.purview.search({"and": [types, by_prefix]}))
        except HttpError as exc:
            if exc.status != 400:
                raise
            try:
                hits = list(self.purview.search(types))
            except HttpError as again:
                if again.status != 400:
                    raise
                hits = []  # the types themselves are refused: they do not exist yet, so nothing of ours does
        return {
            str(hit.get("qualifiedName")): str(hit.get("id"))
            for hit in hits
            if str(hit.get("qualifiedName", "")).startswith(self.prefix) and hit.get("id")
        }

    def _plan(self, computed: list[dict[str, Any]]) -> list[Planned]:
        resolver = SourceResolver(self.job, self.context)
        resolver.prefetch(computed)
        ds_name = self.context.snapshot.datastore.get("name") or self.ds_id
        plans = []
        for container in computed:
            cid, name = int(container["id"]), str(container.get("name") or container["id"])
            qn = f"{self.prefix}{cid}"
            kind = KIND_LABEL.get(str(container.get("container_type")), "computed container")
            sources = resolver.sources(container)
            for label in sources.unmatched:
                self.report.unmatched_source(name, label)
            link = self.links.table(self.ds_id, cid)
            table = {
                "qualifiedName": qn,
                "name": name,
                "description": f"Qualytics {kind} '{name}' (container {cid}) of datastore '{ds_name}': {link}",
            }
            process = None
            if sources.assets:
                process = {
                    "qualifiedName": f"{qn}/process",
                    "name": name,
                    "description": f"How the Qualytics {kind} '{name}' is computed from the tables it reads",
                }
                mapping = column_mapping(container, sources, qn)
                if mapping is not None:
                    process["columnMapping"] = mapping
            plans.append(Planned(container, qn, table, process, sources))
        existing = {
            str((e.get("attributes") or {}).get("qualifiedName")): e
            for type_name, qns in (
                (COMPUTED_TABLE, [p.qn for p in plans]),
                (COMPUTED_PROCESS, [f"{p.qn}/process" for p in plans]),
            )
            for e in (
                self.purview.get_entities_by_qualified_name(type_name, qns)
                if qns and not self.types_missing
                else []
            )
            if e.get("status", "ACTIVE") == "ACTIVE"
        }
        for p in plans:
            p.existing_table = existing.get(p.qn)
            p.existing_process = existing.get(f"{p.qn}/process")
            p.guid = p.existing_table.get("guid") if p.existing_table else None
        return plans

    # --- writing ------------------------------------------------------------------------------------------
    @staticmethod
    def _differs(current: dict[str, Any] | None, wanted: dict[str, Any], keys: tuple[str, ...]) -> bool:
        if current is None:
            return True
        attrs = current.get("attributes") or {}
        return any((attrs.get(k) or None) != (wanted.get(k) or None) for k in keys)

    def _entities_of(self, p: Planned, placeholder: str, process_placeholder: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        table_ref = {"guid": p.guid} if p.guid else {"guid": placeholder}
        if p.guid is None or self._differs(p.existing_table, p.table, ("name", "description")):
            out.append(
                {"typeName": COMPUTED_TABLE, "guid": p.guid or placeholder, "attributes": dict(p.table)}
            )
        if p.process is not None:
            inputs = [{"guid": a.guid, "typeName": a.type_name} for a in p.sources.assets]
            current = p.existing_process
            changed = (
                self._differs(current, p.process, ("name", "description", "columnMapping"))
                or _ref_guids(current, "inputs") != {a.guid for a in p.sources.assets}
                or p.guid is None
                or _ref_guids(current, "outputs") != {p.guid}
            )
            if changed:
                attrs = {
                    **p.process,
                    "inputs": inputs,
                    "outputs": [{**table_ref, "typeName": COMPUTED_TABLE}],
                }
                if (
                    "columnMapping" not in p.process
                    and current
                    and (current.get("attributes") or {}).get("columnMapping")
                ):
                    attrs["columnMapping"] = None  # the definition no longer names columns one to one
                guid = current.get("guid") if current else None
                out.append(
                    {"typeName": COMPUTED_PROCESS, "guid": guid or process_placeholder, "attributes": attrs}
                )
        return out

    def _write(self, plans: list[Planned]) -> None:
        for i, p in enumerate(plans):
            p.entities = self._entities_of(p, f"-{2 * i + 1}", f"-{2 * i + 2}")
        pending = [p for p in plans if p.entities]
        if not pending:
            log.info("lineage push: %d computed containers, nothing changed", len(plans))
            return
        batch: list[Planned] = []
        for p in pending:
            if batch and sum(len(b.entities) for b in batch) + len(p.entities) > BULK_WRITE_MAX:
                self._send(batch)
                batch = []
            batch.append(p)
        if batch:
            self._send(batch)

    def _send(self, batch: list[Planned]) -> None:
        entities = [e for p in batch for e in p.entities]
        if self.job.dry_run:  # a preview: counted as a real run would write them, not sent
            self.report.lineage_entities_written += len(entities)
            return
        try:
            result = self.purview.upsert_entities(entities, collection_id=self.collection)
        except ThrottledError:
            raise
        except HttpError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            if exc.status == 404 and body.get("errorCode") == "ATLAS-404-00-00A" and len(batch) > 1:
                for p in batch:  # one stale reference fails the whole call: find it, keep the others
                    self._send([p])
                return
            for p in batch:
                self._refused(p, exc)
            return
        assignments = result.get("guidAssignments") or {}
        for p in batch:
            placeholder = next((e["guid"] for e in p.entities if e["typeName"] == COMPUTED_TABLE), None)
            if p.guid is None and placeholder in assignments:
                p.guid = assignments[placeholder]
        self.report.lineage_entities_written += len(entities)

    def _refused(self, p: Planned, exc: HttpError) -> None:
        name = p.table["name"]
        if exc.status in (401, 403):
            message, action = (
                f"Purview refused to write the lineage of '{name}' (HTTP {exc.status}).",
                CURATOR_ACTION,
            )
        elif exc.status == 404:
            message = f"A table '{name}' reads is no longer in Purview (HTTP 404: {error_text(exc.body)})."
            action = "The table was deleted or rescanned since it was matched; run the sync again."
        else:
            message = f"Purview rejected the lineage of '{name}' (HTTP {exc.status}: {error_text(exc.body)})."
            action = (
                f"Check the entity types {COMPUTED_TABLE} and {COMPUTED_PROCESS} in Purview (see the README, "
                "Lineage), then run the sync again."
            )
        p.entities = []
        self.report.error(message, action, asset=p.qn)

    def _write_values(self, plans: list[Planned]) -> None:
        """The computed entity's ``Qualytics`` values, as a table's (``push.plan``): all of them when any
        differs — from the entity, or from the ``PushState`` hash when the account's reads leave them out."""
        snapshot, state, integration = self.context.snapshot, self.job.services.push_state, self.job.integration
        todo = [(p, desired_values(table_facts(snapshot, p.container, self.links))) for p in plans
                if p.guid is not None or (self.job.dry_run and p.entities)]  # (a preview: would be created)
        shown = any((p.existing_table or {}).get("businessAttributes") for p, _ in todo)
        containers = {int(p.container["id"]) for p, _ in todo}
        written = state.hashes(integration.id, snapshot.id, containers) if todo and not shown else {}
        saved: dict[tuple[int, str], str] = {}
        for p, wanted in todo:
            current = ((p.existing_table or {}).get("businessAttributes") or {}).get(GROUP)
            changed = changed_count(current, wanted, shown=shown, last=written.get(p.guid or ""))
            self.report.attributes_unchanged += len(wanted) - changed
            if not changed:
                continue
            try:
                if not self.job.dry_run and p.guid is not None:
                    self.purview.write_business_metadata(p.guid, GROUP, wanted)
                    saved[(int(p.container["id"]), p.guid)] = values_hash(wanted)
            except HttpError as exc:
                self.report.error(
                    f"Purview refused the {GROUP} values of '{p.table['name']}' (HTTP {exc.status}: "
                    f"{error_text(exc.body)}).",
                    CURATOR_ACTION,
                    asset=p.qn,
                )
                continue
            self.report.attributes_written += changed
        if saved:
            state.put_hashes(integration.id, snapshot.id, saved)

    def _delete(self, guids: list[str]) -> None:
        if not guids:
            return
        try:
            if not self.job.dry_run:
                self.purview.delete_entities(guids)
        except HttpError as exc:
            self.report.error(
                f"Purview refused to delete {len(guids)} lineage entities of computed containers that are gone "
                f"(HTTP {exc.status}: {error_text(exc.body)}).",
                CURATOR_ACTION,
                asset=self.anchor,
            )
            return
        self.report.lineage_entities_deleted += len(guids)


def push_lineage(job: DatastoreJob, context: SyncContext) -> None:
    """The lineage half of a push; nothing at all (not one request) unless the integration has it on."""
    if not job.integration.lineage or job.report.status == "failed":
        return
    try:
        LineagePush(job, context).run()
    except ThrottledError as exc:
        job.report.error(
            f"Purview kept throttling while writing lineage ({exc}).",
            "Run the sync again later; lineage already written is kept and skipped.",
            asset=context.match.root.qualified_name if context.match.root else None,
        )
