"""TypedefRules: the Purview simulator's typedef writes (POST/PUT /types/typedefs): Atlas' validation of
names, supertypes, attribute defs and business-metadata options, applied all-or-nothing.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections import Counter
from typing import Any

from purview_sync.dev.purview.records import atlas_error, bad_params, now_ms
from purview_sync.dev.purview.store import PurviewStore
from purview_sync.dev.purview.vocab import (
    ATTR_NAME_RE,
    CATEGORIES,
    CLASSIFICATION_NAME_RE,
    PRIMITIVES,
    RESPONSE_LISTS,
    TYPE_NAME_RE,
)


class TypedefRules(PurviewStore):
    """Validate and store AtlasTypesDef bodies the way Atlas does (reference §5)."""

    def _apply_typedefs(self, body: Any, *, update: bool, who: str) -> dict[str, Any]:
        """Validate every def in an AtlasTypesDef, then store all of them (all-or-nothing)."""
        if not isinstance(body, dict):
            raise bad_params("body must be an AtlasTypesDef object")
        staged: list[tuple[str, dict[str, Any]]] = []
        new_entity_types = {d.get("name") for d in body.get("entityDefs") or [] if isinstance(d, dict)}
        new_enums = {d.get("name"): d for d in body.get("enumDefs") or [] if isinstance(d, dict)}
        for list_key, category in CATEGORIES.items():
            items = body.get(list_key) or []
            if not isinstance(items, list):
                raise bad_params(f"{list_key} must be an array")
            for raw in items:
                if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
                    raise bad_params(f"every entry of {list_key} needs a name")
                staged.append(
                    (category, self._validate_def(category, raw, update, new_entity_types, new_enums, who))
                )
        names = [d["name"] for _, d in staged]
        dupes = [n for n, count in Counter(names).items() if count > 1]
        if dupes:
            raise bad_params(f"type {dupes[0]} is defined more than once")
        result: dict[str, Any] = {key: [] for key in RESPONSE_LISTS}
        for category, d in staged:
            self._store_def(category, d)
            list_key = next(k for k, v in CATEGORIES.items() if v == category)
            result.setdefault(list_key, []).append(copy.deepcopy(d))
        return result

    def _validate_def(
        self,
        category: str,
        raw: dict[str, Any],
        update: bool,
        new_entity_types: set[Any],
        new_enums: dict[Any, dict[str, Any]],
        who: str,
    ) -> dict[str, Any]:
        name = raw["name"]
        existing = self._find_def(name)
        if update:
            if existing is None or existing[0] != category:
                raise atlas_error(404, "ATLAS-404-00-001", f"Given typename {name} was invalid")
        elif existing is not None:
            raise atlas_error(409, "ATLAS-409-00-001", f"Given type {name} already exists")
        regex = CLASSIFICATION_NAME_RE if category == "CLASSIFICATION" else TYPE_NAME_RE
        if not regex.match(name):
            kind = category.lower().replace("_", "-")
            raise atlas_error(
                400,
                "ATLAS-400-00-019",
                f"{name}: invalid name for {kind}.  Names must consist of a letter followed by a sequence of "
                "letter, number, space, or '_' characters",
            )
        old = existing[1] if existing else None
        now = now_ms()
        d: dict[str, Any] = {
            "category": category,
            "guid": old["guid"] if old else str(uuid.uuid4()),
            "createdBy": old["createdBy"] if old else who,
            "updatedBy": who,
            "createTime": old["createTime"] if old else now,
            "updateTime": now,
            "version": (old["version"] + 1) if old else 1,
            "name": name,
            "description": raw.get("description", old["description"] if old else "") or "",
            "typeVersion": raw.get("typeVersion") or "1.0",
            "lastModifiedTS": str(int(old["lastModifiedTS"]) + 1) if old else "1",
        }
        if raw.get("options"):
            d["options"] = dict(raw["options"])
        if category == "ENTITY" and raw.get("serviceType"):
            d["serviceType"] = str(raw["serviceType"])
        if category in ("ENTITY", "CLASSIFICATION"):
            supers = raw.get("superTypes") or []
            for s in supers:
                pool = self._defs[category]
                if s not in pool and not (category == "ENTITY" and s in new_entity_types):
                    raise atlas_error(400, "ATLAS-400-00-001", f"Unknown type {s} for {name}.superTypes")
            d["superTypes"] = list(supers)
            if category == "CLASSIFICATION":
                d["entityTypes"] = list(raw.get("entityTypes") or [])
        if category == "ENUM":
            d["elementDefs"] = list(raw.get("elementDefs") or [])
        if category == "RELATIONSHIP":
            for key in ("endDef1", "endDef2", "relationshipCategory", "propagateTags"):
                if key in raw:
                    d[key] = raw[key]
        d["attributeDefs"] = self._validate_attr_defs(category, name, raw, old, new_entity_types, new_enums)
        return d

    def _validate_attr_defs(
        self,
        category: str,
        def_name: str,
        raw: dict[str, Any],
        old: dict[str, Any] | None,
        new_entity_types: set[Any],
        new_enums: dict[Any, dict[str, Any]],
    ) -> list[dict[str, Any]]:
        attrs = raw.get("attributeDefs") or []
        if not isinstance(attrs, list):
            raise bad_params(f"{def_name}.attributeDefs must be an array")
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        for a in attrs:
            if (
                not isinstance(a, dict)
                or not isinstance(a.get("name"), str)
                or not isinstance(a.get("typeName"), str)
            ):
                raise bad_params(f"{def_name}: every attributeDef needs a name and a typeName")
            aname, tname = a["name"], a["typeName"]
            if aname in seen:
                raise atlas_error(
                    400,
                    "ATLAS-400-00-092",
                    f"Duplicate business-metadata attributes: {aname} not allowed within the same "
                    f"business-metadata: {def_name}",
                )
            seen.add(aname)
            norm = {
                "name": aname,
                "typeName": tname,
                "isOptional": bool(a.get("isOptional", True)),
                "cardinality": a.get("cardinality") or "SINGLE",
                "valuesMinCount": a.get("valuesMinCount", 0),
                "valuesMaxCount": a.get("valuesMaxCount", 1),
                "isUnique": bool(a.get("isUnique", False)),
                "isIndexable": bool(a.get("isIndexable", False)),
                "includeInNotification": bool(a.get("includeInNotification", False)),
                "options": {},
            }
            if a.get("description") is not None:
                norm["description"] = a["description"]
            if category == "BUSINESS_METADATA":
                norm["options"] = self._validate_bm_attr(def_name, a, new_entity_types, new_enums)
            elif isinstance(a.get("options"), dict):
                norm["options"] = dict(a["options"])
            out.append(norm)
        if old is not None and category == "BUSINESS_METADATA":
            new_by_name = {x["name"]: x for x in out}
            for prev in old["attributeDefs"]:
                now_def = new_by_name.get(prev["name"])
                if now_def is None:
                    raise atlas_error(
                        400, "ATLAS-400-00-00D", f"{def_name}.{prev['name']} : attribute delete not supported"
                    )
                if now_def["typeName"] != prev["typeName"]:
                    raise atlas_error(
                        400, "ATLAS-400-00-027", f"{def_name}.{prev['name']} : attribute update not supported"
                    )
                before = self._bm_applicable.get((def_name, prev["name"]), frozenset())
                after = frozenset(json.loads(now_def["options"]["applicableEntityTypes"]))
                if not before <= after:
                    raise atlas_error(
                        400,
                        "ATLAS-400-00-093",
                        f"Cannot remove applicableEntityTypes in Attribute Def: {prev['name']}, defined in "
                        f"business-metadata: {def_name}",
                    )
            old_names = {x["name"] for x in old["attributeDefs"]}
            for x in out:
                if x["name"] not in old_names and not x["isOptional"]:
                    raise atlas_error(
                        400, "ATLAS-400-00-00C", f"{def_name}.{x['name']} : can not add mandatory attribute"
                    )
        return out

    def _validate_bm_attr(
        self, bm: str, a: dict[str, Any], new_entity_types: set[Any], new_enums: dict[Any, dict[str, Any]]
    ) -> dict[str, str]:
        """Atlas' business-metadata attribute rules (reference §5.2, [C] AtlasBusinessMetadataType)."""
        aname, tname = a["name"], a["typeName"]
        if not ATTR_NAME_RE.match(aname):
            raise atlas_error(
                400,
                "ATLAS-400-00-09A",
                f"{aname}: invalid name. Attribute names must begin with a letter followed by a sequence of "
                "letters, numbers, or '_' characters",
            )
        base = tname[6:-1] if tname.startswith("array<") and tname.endswith(">") else tname
        if base not in PRIMITIVES and base not in self._defs["ENUM"] and base not in new_enums:
            if self._find_def(base) is not None:
                raise atlas_error(
                    400,
                    "ATLAS-400-00-094",
                    f"{bm}.{aname}: invalid attribute type. Business-metadata attribute cannot be of type "
                    "entity/classification/struct/business-metadata",
                )
            raise atlas_error(400, "ATLAS-400-00-001", f"Unknown type {tname} for {bm}.{aname}")
        options = a.get("options")
        if options is None:
            options = {}
        if not isinstance(options, dict) or not all(isinstance(v, str) for v in options.values()):
            raise bad_params(
                f"{bm}.{aname}.options must be a map of strings (e.g. applicableEntityTypes is a JSON array "
                "encoded as a string)"
            )
        applicable = options.get("applicableEntityTypes")
        if not applicable:
            raise atlas_error(
                400,
                "ATLAS-400-00-02B",
                f"Mandatory field {aname}.options.applicableEntityTypes has empty/null value",
            )
        try:
            types = json.loads(applicable)
        except ValueError:
            types = None
        if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
            raise bad_params(f"{bm}.{aname}.options.applicableEntityTypes must be a JSON array of type names")
        for t in types:
            if t not in self._defs["ENTITY"] and t not in new_entity_types:
                raise atlas_error(404, "ATLAS-404-00-001", f"Given typename {t} was invalid")
        if base == "string":
            max_len = options.get("maxStrLength")
            if not max_len:
                raise atlas_error(
                    400,
                    "ATLAS-400-00-02B",
                    f"Mandatory field {aname}.options.maxStrLength has empty/null value",
                )
            if not max_len.isdigit() or int(max_len) <= 0:
                raise bad_params(f"{bm}.{aname}.options.maxStrLength must be a positive integer string")
        return dict(options)
