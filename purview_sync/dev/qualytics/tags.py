"""The Qualytics simulator's tag routes (``/global-tags``: list, listing with usage counts, create, get,
update with rename, delete that detaches everywhere). The tag semantics the whole simulator follows:

* Tag object ``{id, created, type, name, color, description, category, weight_modifier}`` (+ ``integration``
  for seeded ``type: "external"`` tags). Names are unique and case-sensitive.
* Every entity (datastore, container, field, check, anomaly) keeps its **own** tag names. ``PUT {"tags":
  [...]}`` / bulk ``PATCH [{"id", "tags"}]`` replace that own list (all tag types, external included: a
  client that omits an attached tag detaches it); ``[]`` clears; omitted/``null`` leaves it; unknown
  names are auto-created as ``global`` tags. Bulk PATCH is atomic: an unknown id → 404, nothing changed.
* Inheritance: datastore tags show on its containers, fields, checks and anomalies; container tags on its
  fields, checks and anomalies — except ``external`` tags, which do not cascade (Qualytics docs). Whether
  they are only shown or copied into the children's own lists is the knob ``tag_cascade`` (``state``).
  Entity ``global_tags`` lists own tags first, then inherited ones not already own, with **no** marker
  telling which is which (the schemas have none).
* ``POST /global-tags``: ``type`` ∈ global|entity|lineage (``external`` → 422: no create schema), a duplicate
  name → the knob ``duplicate_tag_status`` (409, 400 or 422), answers 200 with the tag.
  ``PUT /global-tags/{name}`` needs ``type`` (the update bodies are discriminated by it, e.g.
  ``UpdateExternalTag``; 422 without it, or when it differs from the tag's) and updates name/color/
  description/category/weight_modifier (external: only category/weight_modifier, else 422). ``DELETE`` → 204 and
  detaches the tag everywhere (external → 403, they are read-only). ``GET /global-tags/listing`` is a plain
  list whose ``count`` is the number of entities carrying the tag as their own.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from purview_sync.dev.qualytics.payloads import Payloads
from purview_sync.dev.qualytics.records import CREATABLE_TAG_TYPES, TagRecord
from purview_sync.dev.qualytics.wire import ApiError, Query, body_object, error_item, invalid, page_of
from purview_sync.dev.simserver import SimRequest, SimResponse, json_response


class TagRoutes(Payloads):
    """Handlers of ``/global-tags``."""

    def _tag_usage(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(self.tags, 0)
        for table in (self.datastores, self.containers, self.fields, self.checks, self.anomalies):
            for entity in table.values():
                for name in entity.tags:
                    if name in counts:
                        counts[name] += 1
        return counts

    def _tag(self, req: SimRequest) -> TagRecord:
        name = unquote(req.params["name"])
        tag = self.tags.get(name)
        if tag is None:
            raise ApiError(404, f"Tag with name {name} not found")
        return tag

    def _list_tags(self, req: SimRequest) -> SimResponse:
        q = Query(req)
        page, size = q.page()
        search = q.text("search")
        q.done()
        items = sorted((t for t in self.tags.values() if not search or search.lower() in t.name.lower()),
                       key=lambda t: t.name.lower())
        return json_response(page_of(items, page, size, self._tag_object))

    def _tags_listing(self, req: SimRequest) -> SimResponse:
        usage = self._tag_usage()
        items = sorted(self.tags.values(), key=lambda t: t.name.lower())
        return json_response([{**self._tag_object(t), "count": usage[t.name]} for t in items])

    def _get_tag(self, req: SimRequest) -> SimResponse:
        return json_response(self._tag_object(self._tag(req)))

    @staticmethod
    def _tag_attr_errors(body: dict[str, Any]) -> list[dict[str, Any]]:
        errors = []
        for key in ("color", "description", "category"):
            if body.get(key) is not None and not isinstance(body[key], str):
                errors.append(error_item(["body", key], "str type expected", "type_error.str"))
        wm = body.get("weight_modifier")
        if wm is not None:
            if not isinstance(wm, int) or isinstance(wm, bool):
                errors.append(error_item(["body", "weight_modifier"], "value is not a valid integer", "type_error.integer"))
            elif not -10 <= wm <= 10:
                errors.append(error_item(["body", "weight_modifier"], "ensure this value is within -10..10",
                                     "value_error.number.not_in_range", limit_value=[-10, 10]))
        return errors

    def _create_tag(self, req: SimRequest) -> SimResponse:
        body = body_object(req)
        kind = body.get("type")
        if kind is None:
            raise invalid([error_item(["body"], "Unable to extract tag using discriminator 'type'",
                                   "value_error.discriminated_union.missing_discriminator")])
        if kind not in CREATABLE_TAG_TYPES:
            allowed = ", ".join(repr(t) for t in CREATABLE_TAG_TYPES)
            raise invalid([error_item(["body", "type"],
                                   f"No match for discriminator 'type' and value {kind!r} (allowed values: {allowed})",
                                   "value_error.discriminated_union.invalid_discriminator")])
        name = body.get("name")
        errors = self._tag_attr_errors(body)
        if not isinstance(name, str) or not name.strip():
            errors.insert(0, error_item(["body", kind, "name"], "field required", "value_error.missing"))
        if errors:
            raise invalid(errors)
        if name in self.tags:  # the status of a duplicate is not documented: knob duplicate_tag_status
            raise ApiError(self.knobs.duplicate_tag_status, f"A tag with the name {name!r} already exists")
        attrs = {k: body[k] for k in ("color", "description", "category", "weight_modifier") if body.get(k) is not None}
        return json_response(self._tag_object(self.create_tag(name, type=kind, **attrs)))

    def _put_tag(self, req: SimRequest) -> SimResponse:
        tag = self._tag(req)
        body = body_object(req)
        if body.get("type") is None:  # the update bodies are a union discriminated by ``type`` (UpdateExternalTag)
            raise invalid([error_item(["body"], "Unable to extract tag using discriminator 'type'",
                                      "value_error.discriminated_union.missing_discriminator")])
        if body["type"] != tag.type:
            raise invalid([error_item(["body", "type"], f"tag {tag.name!r} is of type {tag.type!r}", "value_error")])
        errors = self._tag_attr_errors(body)
        new_name = body.get("name")
        if new_name is not None and (not isinstance(new_name, str) or not new_name.strip()):
            errors.append(error_item(["body", "name"], "str type expected", "type_error.str"))
        if tag.type == "external":
            locked = [k for k in ("name", "color", "description") if body.get(k) is not None]
            errors += [error_item(["body", k], "external tags only allow category and weight_modifier updates",
                              "value_error") for k in locked]
        if errors:
            raise invalid(errors)
        if new_name is not None and new_name != tag.name:
            if new_name in self.tags:
                raise ApiError(409, f"A tag with the name {new_name!r} already exists")
            old = tag.name
            del self.tags[old]
            tag.name = new_name
            self.tags[new_name] = tag
            for table in (self.datastores, self.containers, self.fields, self.checks, self.anomalies):
                for entity in table.values():
                    if old in entity.tags:
                        entity.tags = [new_name if n == old else n for n in entity.tags]
        for key in ("color", "description", "category", "weight_modifier"):
            if key in body:
                setattr(tag, key, body[key])
        return json_response(self._tag_object(tag))

    def _delete_tag(self, req: SimRequest) -> SimResponse:
        tag = self._tag(req)
        if tag.type == "external":
            raise ApiError(403, "External tags are managed by their integration and cannot be deleted")
        del self.tags[tag.name]
        for table in (self.datastores, self.containers, self.fields, self.checks, self.anomalies):
            for entity in table.values():
                if tag.name in entity.tags:
                    entity.tags = [n for n in entity.tags if n != tag.name]
        return json_response(None, 204)
