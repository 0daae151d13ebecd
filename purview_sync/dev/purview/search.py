"""Search: the Purview simulator's POST /search/query engine: the filter tree compiled to predicates over
the indexes, keyword scoring, ordering, continuation tokens, facets and highlights.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from purview_sync.dev.purview.gate import Gate
from purview_sync.dev.purview.records import Caller, Entity, atlas_error, b64, bad_params, now_ms, unb64
from purview_sync.dev.purview.vocab import (
    BOOL_OPS,
    NUMBER_OPS,
    SEARCH_DEFAULT_LIMIT,
    SEARCH_MAX_LIMIT,
    STRING_OPS,
    TIMERANGES_MS,
    asset_type_of,
    object_type_of,
)


@dataclass
class _Filter:
    pred: Callable[[Entity], bool]
    cands: set[str] | None = None  # a superset of the matches, when an index can narrow the scan


class Search(Gate):
    """Discovery_Query over the entities the caller may read."""

    def _search(self, body: Any, caller: Caller) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_params("body must be a QueryOptions object")
        limit = body.get("limit", SEARCH_DEFAULT_LIMIT)
        if limit is None:
            limit = SEARCH_DEFAULT_LIMIT
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= SEARCH_MAX_LIMIT:
            raise bad_params(f"limit must be an integer between 1 and {SEARCH_MAX_LIMIT}, got {limit!r}")
        keywords = body.get("keywords")
        if keywords is not None and not isinstance(keywords, str):
            raise bad_params("keywords must be a string or null")
        orderby = body.get("orderby") or []
        if not isinstance(orderby, list):
            raise bad_params("orderby must be an array")
        readable = self._readable_collections(caller)
        if readable is not None and not readable:
            raise atlas_error(
                403, "ATLAS-403-00-001", f"{caller.principal} is not authorized to perform search"
            )
        fingerprint = hashlib.sha256(
            json.dumps([keywords, body.get("filter"), orderby], sort_keys=True, default=str).encode()
        ).hexdigest()[:16]
        offset = 0
        token = body.get("continuationToken")
        if token:
            try:
                decoded = unb64(str(token))
                offset = int(decoded["o"])
            except (ValueError, KeyError, TypeError):
                raise bad_params("continuationToken is invalid") from None
            if decoded.get("q") != fingerprint:
                raise bad_params(
                    "continuationToken does not belong to this query (send the same keywords, "
                    "filter and orderby as the first page)"
                )

        highlights: list[tuple[str, str]] = []
        flt = (
            self._compile(body["filter"], highlights)
            if body.get("filter") is not None
            else _Filter(lambda e: True)
        )
        terms = [
            t for t in re.findall(r"\w+", (keywords or "").lower()) if keywords and keywords.strip() != "*"
        ]
        for term in terms:
            highlights += [("name", term), ("qualifiedName", term)]

        cands = flt.cands
        if readable is not None:
            allowed: set[str] = set().union(*(self._by_collection.get(c, set()) for c in readable))
            cands = allowed if cands is None else cands & allowed
        # purged entities search has not caught up with (``rescan``) are still found, as they were
        pool: Iterable[Entity] = (
            itertools.chain(self._entities.values(), self._stale.values())
            if cands is None
            else (found for g in cands if (found := self._entities.get(g) or self._stale.get(g)))
        )
        scored: list[tuple[float, Entity]] = []
        for e in pool:
            if e.status != "ACTIVE" or not flt.pred(e):
                continue
            if terms:
                score = self._keyword_score(e, terms)
                if score <= 0:
                    continue
            else:
                score = 1.0
            scored.append((score, e))
        scored.sort(key=lambda se: se[1].seq)
        if terms:
            scored.sort(key=lambda se: -se[0])
        for spec in reversed(orderby):
            if not isinstance(spec, dict) or len(spec) != 1:
                raise bad_params("every orderby entry is {field: 'ASC'|'DESC'}")
            ((key, direction),) = spec.items()
            getter = self._sort_getter(key)
            if str(direction).upper() not in ("ASC", "DESC"):
                raise bad_params(f"orderby direction must be ASC or DESC, got {direction!r}")
            scored.sort(key=lambda se, g=getter: g(se), reverse=str(direction).upper() == "DESC")

        page = scored[offset : offset + limit]
        result: dict[str, Any] = {
            "@search.count": len(scored),
            "@search.count.approximate": False,
        }
        if offset + limit < len(scored):
            result["continuationToken"] = b64({"o": offset + limit, "q": fingerprint})
        facets = body.get("facets") or []
        if facets:
            result["@search.facets"] = self._facets(facets, [e for _, e in scored])
        result["value"] = [self._search_value(e, score, highlights) for score, e in page]
        return result

    def _sort_getter(self, key: str) -> Callable[[tuple[float, Entity]], Any]:
        getters: dict[str, Callable[[tuple[float, Entity]], Any]] = {
            "name": lambda se: se[1].name.lower(),
            "qualifiedName": lambda se: se[1].qualified_name.lower(),
            "entityType": lambda se: se[1].type_name,
            "createTime": lambda se: se[1].create_time,
            "updateTime": lambda se: se[1].update_time,
            "@search.score": lambda se: se[0],
        }
        if key not in getters:
            raise bad_params(f"cannot order by {key!r}; use one of {sorted(getters)}")
        return getters[key]

    def _keyword_score(self, e: Entity, terms: list[str]) -> float:
        """All terms must appear (substring, case-insensitive) in name, qualifiedName or description."""
        name, qn = e.name.lower(), e.qualified_name.lower()
        desc = str(e.attributes.get("description") or e.attributes.get("userDescription") or "").lower()
        score = 0.0
        for term in terms:
            if name == term:
                score += 3
            elif term in name:
                score += 2
            elif term in qn or term in desc:
                score += 1
            else:
                return 0.0
        return score

    def _facets(self, specs: list[Any], entities: list[Entity]) -> dict[str, Any]:
        extract: dict[str, Callable[[Entity], Iterable[str]]] = {
            "assetType": lambda e: [asset_type_of(e.type_name)],
            "classification": lambda e: {c.type_name for c in e.classifications},
            "label": lambda e: e.labels,
            "entityType": lambda e: [e.type_name],
            "objectType": lambda e: [object_type_of(e.type_name)],
            "contactId": lambda e: {c.get("id") for cs in e.contacts.values() for c in cs if c.get("id")},
            "term": lambda e: [],
            "glossaryType": lambda e: [],
            "termStatus": lambda e: [],
            "termTemplate": lambda e: [],
        }
        out: dict[str, Any] = {}
        for spec in specs:
            if not isinstance(spec, dict) or spec.get("facet") not in extract:
                raise bad_params(f"unsupported facet {spec!r}; supported: {sorted(extract)}")
            counts: Counter[str] = Counter()
            for e in entities:
                counts.update(extract[spec["facet"]](e))
            size = spec.get("count") or 10
            out[spec["facet"]] = [{"count": n, "value": v} for v, n in counts.most_common(size)]
        return out

    def _search_value(self, e: Entity, score: float, highlights: list[tuple[str, str]]) -> dict[str, Any]:
        value: dict[str, Any] = {"@search.score": score}
        marks: dict[str, list[str]] = {}
        for fld, term in highlights:
            text = e.name if fld == "name" else e.qualified_name
            pos = text.lower().find(term)
            if term and pos >= 0 and fld not in marks:
                marks[fld] = [f"{text[:pos]}<em>{text[pos : pos + len(term)]}</em>{text[pos + len(term) :]}"]
        if marks:
            value["@search.highlights"] = marks
        contact = [
            {"id": c.get("id"), "info": c.get("info"), "contactType": kind}
            for kind, cs in e.contacts.items()
            for c in cs
        ]
        value.update(
            {
                "objectType": object_type_of(e.type_name),
                "createTime": e.create_time,
                "updateTime": e.update_time,
                "id": e.guid,
                "name": e.name,
                "qualifiedName": e.qualified_name,
                "entityType": e.type_name,
                "description": e.attributes.get("userDescription") or e.attributes.get("description"),
                "owner": e.attributes.get("owner"),
                "classification": list(dict.fromkeys(c.type_name for c in e.classifications)),
                "label": list(e.labels),
                "term": [],
                "contact": contact,
                "assetType": [asset_type_of(e.type_name)],
            }
        )
        return value

    def _qn_prefix_cands(self, prefix: str) -> set[str]:
        if self._qn_sorted is None:
            self._qn_sorted = sorted(
                (e.qualified_name.lower(), g) for g, e in itertools.chain(self._entities.items(), self._stale.items())
            )
        lo = prefix.lower()
        start = bisect_left(self._qn_sorted, (lo, ""))
        out: set[str] = set()
        for qn, guid in itertools.islice(self._qn_sorted, start, None):
            if not qn.startswith(lo):
                break
            out.add(guid)
        return out

    def _compile(self, node: Any, highlights: list[tuple[str, str]]) -> _Filter:
        """Turn the search filter tree into a predicate plus, where an index helps, a candidate set."""
        if not isinstance(node, dict) or not node:
            raise bad_params(f"invalid filter node {node!r}")
        if "and" in node or "or" in node:
            op = "and" if "and" in node else "or"
            children = node[op]
            if not isinstance(children, list) or not children:
                raise bad_params(f"'{op}' needs a non-empty array")
            parts = [self._compile(c, highlights) for c in children]
            preds = [p.pred for p in parts]
            if op == "and":
                sets = [p.cands for p in parts if p.cands is not None]
                cands = set.intersection(*sets) if sets else None
                return _Filter(lambda e: all(p(e) for p in preds), cands)
            union = (
                None
                if any(p.cands is None for p in parts)
                else set().union(*(p.cands or set() for p in parts))
            )
            return _Filter(lambda e: any(p(e) for p in preds), union)
        if "not" in node:
            inner = self._compile(node["not"], [])
            return _Filter(lambda e: not inner.pred(e))
        if "entityType" in node:
            t = node["entityType"]
            return _Filter(lambda e: e.type_name == t, set(self._by_type.get(t, set())))
        if "objectType" in node:
            ot = str(node["objectType"]).lower()
            return _Filter(lambda e: object_type_of(e.type_name).lower() == ot)
        if "assetType" in node:
            at = str(node["assetType"]).lower()
            return _Filter(lambda e: asset_type_of(e.type_name).lower() == at)
        if "collectionId" in node:
            cid = node["collectionId"]
            return _Filter(lambda e: e.collection == cid, set(self._by_collection.get(cid, set())))
        if "classification" in node:
            wanted = {node["classification"]}
            if node.get("includeSubClassifications"):
                wanted = self._classification_family(node["classification"])
            cands: set[str] = set().union(*(self._by_classification.get(w, set()) for w in wanted))
            return _Filter(lambda e: any(c.type_name in wanted for c in e.classifications), cands)
        if "label" in node:
            label = node["label"]
            return _Filter(lambda e: label in e.labels)
        if "id" in node:
            gid = node["id"]
            return _Filter(lambda e: e.guid == gid, {gid})
        if "term" in node or "glossary" in node or "termStatus" in node:
            return _Filter(lambda e: False, set())  # no glossary in this simulator
        if "attributeName" in node:
            return self._compile_attribute(node, highlights)
        raise bad_params(f"unsupported filter {json.dumps(node)}")

    def _compile_attribute(self, node: dict[str, Any], highlights: list[tuple[str, str]]) -> _Filter:
        name = node["attributeName"]
        op = node.get("operator", "eq")
        value = node.get("attributeValue")
        if not isinstance(name, str) or not isinstance(op, str):
            raise bad_params("attributeName and operator must be strings")
        getter: Callable[[Entity], Any]
        group, _, attr = name.partition(".")
        if attr and group in self._defs["BUSINESS_METADATA"]:
            declared = {a["name"] for a in self._defs["BUSINESS_METADATA"][group]["attributeDefs"]}
            if attr not in declared:
                raise bad_params(f"attribute {attr} not found in business metadata {group}")
            getter = lambda e: e.business.get(group, {}).get(attr)  # noqa: E731
        elif name in ("createTime", "updateTime", "modifiedTime"):
            getter = (lambda e: e.create_time) if name == "createTime" else (lambda e: e.update_time)
        elif name == "name":
            getter = lambda e: e.name  # noqa: E731
        elif name == "qualifiedName":
            getter = lambda e: e.qualified_name  # noqa: E731
        elif name == "entityType":
            getter = lambda e: e.type_name  # noqa: E731
        else:
            getter = lambda e: e.attributes.get(name)  # noqa: E731

        if op == "timerange":
            if value == "MORE_THAN_365D":
                cutoff = now_ms() - TIMERANGES_MS["LAST_365D"]
                return _Filter(lambda e: isinstance(getter(e), int) and getter(e) < cutoff)
            if value not in TIMERANGES_MS:
                raise bad_params(f"timerange value must be one of {[*TIMERANGES_MS, 'MORE_THAN_365D']}")
            since = now_ms() - TIMERANGES_MS[str(value)]
            return _Filter(lambda e: isinstance(getter(e), (int, float)) and getter(e) >= since)
        if isinstance(value, bool):
            if op not in BOOL_OPS:
                raise bad_params(f"operator {op!r} is not valid for a boolean; use {sorted(BOOL_OPS)}")
            return _Filter(lambda e: (getter(e) == value) == (op == "eq"))
        if isinstance(value, (int, float)):
            if op not in NUMBER_OPS:
                raise bad_params(f"operator {op!r} is not valid for a number; use {sorted(NUMBER_OPS)}")
            compare: dict[str, Callable[[Any], bool]] = {
                "eq": lambda v: v == value,
                "ne": lambda v: v != value,
                "gt": lambda v: v > value,
                "ge": lambda v: v >= value,
                "lt": lambda v: v < value,
                "le": lambda v: v <= value,
            }
            fn = compare[op]

            def numeric(e: Entity) -> bool:
                v = getter(e)
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    return op == "ne"
                return fn(v)

            return _Filter(numeric)
        if isinstance(value, str):
            if op not in STRING_OPS:
                raise bad_params(f"operator {op!r} is not valid for a string; use {sorted(STRING_OPS)}")
            if op == "prefix" and not self.knobs.search_prefix_supported:
                raise bad_params(f"operator prefix is not supported for attribute {name}")
            exact = self.knobs.search_case_sensitive  # knob: compare with case
            needle = value if exact else value.lower()
            if name in ("name", "qualifiedName"):
                term = needle.strip(".,/:#-_ ") if op == "contains" else needle
                highlights.append((name, term.lower()))

            def text(e: Entity) -> str | None:
                v = getter(e)
                return (v if exact else v.lower()) if isinstance(v, str) else None

            if op == "eq":
                cands = set(self._by_name.get(needle.lower(), set())) if name == "name" else None
                if name == "qualifiedName":
                    cands = {g for g in self._by_qn.get(value, [])} | self._qn_prefix_cands(value)
                return _Filter(lambda e: text(e) == needle, cands)
            if op == "ne":
                return _Filter(lambda e: text(e) != needle)
            if op == "prefix":
                cands = self._qn_prefix_cands(value) if name == "qualifiedName" else None
                return _Filter(lambda e: (text(e) or "\0").startswith(needle), cands)
            return _Filter(lambda e: needle in (text(e) or ""))
        raise bad_params(f"unsupported attributeValue {value!r}")
