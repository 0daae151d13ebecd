"""What pull reads before it decides: each Qualytics resource's own tags, its mapping rows and the tags
its matched Purview asset should give it (``Resource``), for the datastore, its containers and fields.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from purview_sync.storage.mappings import TagMapping
from purview_sync.sync.job import SyncContext
from purview_sync.sync.matcher import MatchedAsset
from purview_sync.sync.tagnames import TagSource, desired_tags


def _entry_name(entry: Any) -> str | None:
    if isinstance(entry, dict):
        name = entry.get("name")
        return str(name) if name else None
    return str(entry) if entry else None


def own_tag_names(entity: dict[str, Any]) -> list[str]:
    """The names a tag write of this entity must keep: every name it shows now.

    A parent's names are never subtracted — whether Qualytics shows a datastore's tags on its children
    only in ``global_tags`` or materialises them there is not documented, and a name the user put on both
    must survive. At worst an inherited tag becomes explicit on the child. Only an entry the API itself
    marks ``inherited: true`` is left out (the marker is used when present, never assumed).
    """
    own: list[str] = []
    for entry in entity.get("global_tags") or []:
        name = _entry_name(entry)
        if not name or name in own:
            continue
        if isinstance(entry, dict) and entry.get("inherited") is True:
            continue
        own.append(name)
    return own


@dataclass
class Resource:
    kind: str  # datastore | container | field
    id: int
    label: str  # for messages: "finance_db.dbo", "transactions", "transactions.amount"
    own: list[str]
    desired: dict[str, TagSource]
    mapped: dict[str, TagMapping]
    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)  # mapped names no longer desired

    @property
    def new_own(self) -> list[str]:
        kept = [n for n in self.own if n not in self.remove]
        return kept + [n for n in self.add if n not in kept]

    @property
    def changed(self) -> bool:
        return self.new_own != self.own


def _desired(asset: MatchedAsset | None) -> dict[str, TagSource]:
    return desired_tags(asset.classifications, asset.labels) if asset is not None else {}


def collect_resources(context: SyncContext, mappings: list[TagMapping]) -> list[Resource]:
    """The datastore, its tables and their fields, each with its own tags, desired tags and mappings."""
    by_resource: dict[tuple[str, int], dict[str, TagMapping]] = defaultdict(dict)
    for m in mappings:
        by_resource[(m.resource_kind, m.resource_id)][m.tag_name] = m
    snapshot, match = context.snapshot, context.match
    ds = snapshot.datastore
    ds_id = int(ds["id"])
    ds_label = ".".join(str(p) for p in (ds.get("database"), ds.get("schema")) if p) or str(ds.get("name"))
    mapped = by_resource.get(("datastore", ds_id), {})
    resources = [Resource("datastore", ds_id, ds_label, own_tag_names(ds), _desired(match.root), mapped)]
    for table in snapshot.tables:
        tid = int(table["id"])
        mapped = by_resource.get(("container", tid), {})
        resources.append(
            Resource(
                "container",
                tid,
                str(table.get("name")),
                own_tag_names(table),
                _desired(match.tables.get(tid)),
                mapped,
            )
        )
        for fld in snapshot.fields_by_table.get(tid, []):
            fid = int(fld["id"])
            mapped = by_resource.get(("field", fid), {})
            resources.append(
                Resource(
                    "field",
                    fid,
                    f"{table.get('name')}.{fld.get('name')}",
                    own_tag_names(fld),
                    _desired(match.columns.get(fid)),
                    mapped,
                )
            )
    return resources


