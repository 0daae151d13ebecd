"""Lineage in the Purview simulator: a ``Process`` (or subtype) entity's ``inputs`` / ``outputs`` object-id
references (reference/purview-lineage-and-import.md B1, purview-api.md §10), and the inverse ends every
``DataSet`` shows, ``inputToProcesses`` / ``outputFromProcesses``.

On ``POST /entity/bulk`` a process's ``inputs``/``outputs`` may come in ``attributes`` (what peers send) or in
``relationshipAttributes``; each is a list of ``{guid}`` (a placeholder of the same batch, or an existing
entity) or ``{typeName, uniqueAttributes: {qualifiedName}}``. A reference that resolves to nothing fails the
whole request with 404 ``ATLAS-404-00-00A`` (Atlas: no shell entities over REST); a nested list is 400
``ATLAS-400-00-021``; a Process used as an input is 400 ``ATLAS-400-00-036``. A list replaces the set; an
omitted key keeps it. Stored as relationships ``dataset_process_inputs`` / ``process_dataset_outputs``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from purview_sync.dev.purview.records import Entity, Rel, atlas_error
from purview_sync.dev.purview.store import PurviewStore

LINEAGE_ENDS = {"inputs": "dataset_process_inputs", "outputs": "process_dataset_outputs"}
INVERSE = {"inputs": "inputToProcesses", "outputs": "outputFromProcesses"}


class Lineage(PurviewStore):
    def _lineage_refs(
        self, item: dict[str, Any], resolve: Callable[[Any, str], str], batch_types: dict[str, str]
    ) -> dict[str, list[str]]:
        """``{"inputs": [guid…], "outputs": [...]}`` named by a Process item (absent keys are kept as they are)."""
        if "Process" not in self._ancestors(item["typeName"]):
            return {}
        out: dict[str, list[str]] = {}
        for attr in LINEAGE_ENDS:
            value = None
            for holder in (item.get("relationshipAttributes") or {}, item.get("attributes") or {}):
                if attr in holder:
                    value = holder[attr]
            present = attr in (item.get("attributes") or {}) or attr in (
                item.get("relationshipAttributes") or {}
            )
            if not present:
                continue
            if value is None:
                out[attr] = []
                continue
            if not isinstance(value, list):
                value = [value]
            guids: list[str] = []
            for ref in value:
                if not isinstance(ref, dict):
                    raise atlas_error(400, "ATLAS-400-00-021", f"ObjectId is not valid {ref}")
                guid = resolve(ref, attr)
                target_type = batch_types.get(guid) or self._entities[guid].type_name
                if "DataSet" not in self._ancestors(target_type):
                    raise atlas_error(
                        400,
                        "ATLAS-400-00-036",
                        f"{LINEAGE_ENDS[attr]}: invalid relationshipDef: {target_type} is not a DataSet",
                    )
                if guid not in guids:
                    guids.append(guid)
            out[attr] = guids
        return out

    def _set_lineage_ends(self, process: Entity, attr: str, guids: list[str]) -> None:
        rel_type = LINEAGE_ENDS[attr]
        before = process.relationships.get(attr)
        for rel in before if isinstance(before, list) else []:
            self._lineage_of.get((rel.guid, INVERSE[attr]), set()).discard(process.guid)
        process.relationships[attr] = [
            Rel(g, rel_type, self._rel_guid(rel_type, process.guid, g)) for g in guids
        ]
        for g in guids:
            self._lineage_of.setdefault((g, INVERSE[attr]), set()).add(process.guid)

    def _inverse_rels(self, dataset: Entity) -> dict[str, list[Rel]]:
        """The processes that read / write a DataSet, as its relationshipAttributes show them."""
        out: dict[str, list[Rel]] = {}
        for attr, inverse in INVERSE.items():
            rel_type = LINEAGE_ENDS[attr]
            processes = sorted(self._lineage_of.get((dataset.guid, inverse), set()))
            out[inverse] = [Rel(p, rel_type, self._rel_guid(rel_type, p, dataset.guid)) for p in processes]
        return out

    def _delete_entity(self, entity: Entity, who: str) -> None:
        """Atlas' default soft delete: status DELETED, the qualifiedName free for a new entity, search drops it;
        GET by guid still answers and relationship ends show the entity DELETED."""
        if entity.status == "DELETED":
            return
        self._unindex(entity)
        self._by_type_qn.pop((entity.type_name, entity.qualified_name), None)
        entity.status = "DELETED"
        entity.touch(who)

    # --- seeding ------------------------------------------------------------------------------------------
    def add_process(
        self,
        type_name: str,
        qualified_name: str,
        *,
        inputs: Iterable[str],
        outputs: Iterable[str],
        name: str | None = None,
        collection: str | None = None,
    ) -> str:
        """A Process entity (an unknown ``type_name`` is registered as a Process subtype, e.g.
        ``adf_copy_activity``) reading the ``inputs`` guids and writing the ``outputs`` guids; its DataSets
        then show it in ``inputToProcesses`` / ``outputFromProcesses``."""
        with self._lock:
            if type_name not in self._defs["ENTITY"]:
                self._store_def("ENTITY", self._builtin_def("ENTITY", type_name, {"superTypes": ["Process"]}))
            attrs = {"qualifiedName": qualified_name, "name": name or qualified_name.rsplit("/", 1)[-1]}
            process = self._create(
                type_name, attrs, collection or self.account, guid=None, who="ServiceAdmin"
            )
            self._set_lineage_ends(process, "inputs", list(inputs))
            self._set_lineage_ends(process, "outputs", list(outputs))
            return process.guid
