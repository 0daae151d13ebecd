"""BusinessMetadataValues: the Purview simulator's checks and writes of business-metadata values on an
entity (types, ranges, applicability, mandatory attributes, merge vs isOverwrite).
"""

from __future__ import annotations

from typing import Any

from purview_sync.dev.purview.records import Entity, atlas_error, bad_params
from purview_sync.dev.purview.store import PurviewStore
from purview_sync.dev.purview.vocab import INT_RANGES


class BusinessMetadataValues(PurviewStore):
    """Validate, write and remove ``{group: {attribute: value}}`` on an entity."""

    def _value_error(self, type_name: str, value: Any, options: dict[str, str]) -> str | None:
        if type_name.startswith("array<") and type_name.endswith(">"):
            if not isinstance(value, list):
                return f"invalid value for type {type_name}"
            for item in value:
                err = self._value_error(type_name[6:-1], item, options)
                if err:
                    return err
            return None
        if type_name == "string":
            if not isinstance(value, str):
                return "invalid value for type string"
            max_len = int(options.get("maxStrLength") or 0)
            if max_len and len(value) > max_len:
                return " Business attribute-value exceeds maximum length limit"
            return None
        if type_name in INT_RANGES:
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or (isinstance(value, float) and not value.is_integer())
            ):
                return f"invalid value for type {type_name}"
            lo, hi = INT_RANGES[type_name]
            return None if lo <= value <= hi else f"value out of range for type {type_name}"
        if type_name in ("float", "double", "bigdecimal"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"invalid value for type {type_name}"
            return None
        if type_name == "boolean":
            return None if isinstance(value, bool) else "invalid value for type boolean"
        enum = self._defs["ENUM"].get(type_name)
        if enum is not None:
            allowed = {e.get("value") for e in enum.get("elementDefs") or []}
            return None if value in allowed else f"invalid value for enum {type_name}"
        return f"unsupported type {type_name}"

    def _check_bm(self, entity: Entity, payload: Any, *, overwrite: bool) -> dict[str, dict[str, Any]]:
        """Validate ``{group: {attr: value}}`` for an entity; raise the Atlas 400 the service would give."""
        if not isinstance(payload, dict):
            raise bad_params("business metadata must be an object {group: {attribute: value}}")
        applicable = self._applicable_bm(entity.type_name)
        messages: list[str] = []
        for bm, attrs in payload.items():
            if attrs is not None and not isinstance(attrs, dict):
                raise bad_params(f"value of business metadata {bm} must be an object")
            if bm not in applicable:
                reason = (
                    "is not applicable to" if bm in self._defs["BUSINESS_METADATA"] else "does not exist for"
                )
                raise atlas_error(
                    400,
                    "ATLAS-400-00-095",
                    f"Invalid business-metadata: {bm} specified for entity, applicable business-metadata: "
                    f"{sorted(applicable)} ({bm} {reason} entity type {entity.type_name})",
                )
            bm_def = self._defs["BUSINESS_METADATA"][bm]
            declared = {a["name"]: a for a in bm_def["attributeDefs"]}
            for attr, value in (attrs or {}).items():
                if attr not in declared:
                    raise atlas_error(400, "ATLAS-400-00-023", f"Attribute {attr} not found for type {bm}")
                if attr not in applicable[bm]:
                    raise atlas_error(
                        400,
                        "ATLAS-400-00-095",
                        f"Invalid business-metadata: {bm}.{attr} specified for entity, it is not applicable "
                        f"to entity type {entity.type_name}",
                    )
                if value is None or value == "":
                    continue
                err = self._value_error(
                    declared[attr]["typeName"], value, declared[attr].get("options") or {}
                )
                if err:
                    messages.append(f"{entity.type_name}.{bm}.{attr}={value!r}: {err.strip()}")
            for attr, attr_def in applicable[bm].items():
                present = (attrs or {}).get(attr) not in (None, "")
                kept = not overwrite and attr in entity.business.get(bm, {})
                if not attr_def["isOptional"] and not present and not kept:
                    messages.append(
                        f"{entity.type_name}.{bm}.{attr}: mandatory business-metadata attribute value missing"
                    )
        if messages:
            raise atlas_error(400, "ATLAS-400-00-028", "invalid value: " + "; ".join(messages))
        return payload

    def _write_bm(
        self, entity: Entity, payload: Any, *, overwrite: bool, who: str, replace_groups: bool = False
    ) -> None:
        """``isOverwrite=true`` replaces ALL groups (others are deleted); otherwise merge per group [C].
        ``replace_groups``: each group in the payload replaces that group (its other attributes go)."""
        payload = self._check_bm(entity, payload, overwrite=overwrite or replace_groups)
        if replace_groups:
            for bm in payload:
                entity.business.pop(bm, None)
        if overwrite:
            new: dict[str, dict[str, Any]] = {}
            for bm, attrs in payload.items():
                kept = {k: v for k, v in (attrs or {}).items() if v not in (None, "")}
                if kept:
                    new[bm] = kept
            entity.business = new
        else:
            for bm, attrs in payload.items():
                if not attrs:  # an empty group clears it (upstream Atlas)
                    entity.business.pop(bm, None)
                    continue
                group = entity.business.setdefault(bm, {})
                for attr, value in attrs.items():
                    if value is None or value == "":
                        group.pop(attr, None)
                    else:
                        group[attr] = value
                if not group:
                    entity.business.pop(bm, None)
        entity.touch(who)

    def _remove_bm(self, entity: Entity, payload: Any, who: str) -> None:
        if not isinstance(payload, dict):
            raise bad_params("business metadata must be an object {group: {attribute: value}}")
        for bm, attrs in payload.items():
            if bm not in self._defs["BUSINESS_METADATA"]:
                raise atlas_error(
                    400, "ATLAS-400-00-095", f"Invalid business-metadata: {bm} specified for entity"
                )
            group = entity.business.get(bm)
            if group is None:
                continue
            if not attrs:
                entity.business.pop(bm)
                continue
            for attr in attrs:
                group.pop(attr, None)
            if not group:
                entity.business.pop(bm)
        entity.touch(who)
