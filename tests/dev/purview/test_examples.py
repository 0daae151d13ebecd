"""Every official spec example under ``shared/specs/purview/**/examples`` replayed against the simulator
(method/path from the spec's operation); the response must carry every field of the example's response.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from purview_sync.dev.purview import PurviewSim
from tests.dev.purview.helpers import SPECS, Client, missing_fields


def test_missing_fields_checker_catches_gaps() -> None:
    """The example comparison must be able to fail (else every example test would pass vacuously)."""
    expected = {"a": 1, "b": {"c": None}, "v": [{"x": 1, "y": 2}], "e": []}
    assert missing_fields(expected, {"a": 0, "b": {"c": 5}, "v": [{"x": 1}, {"x": 0, "y": 0}], "e": []}) == []
    assert missing_fields(expected, {"a": 0, "b": {}, "v": [{"x": 1}], "e": []}) == ["$.b.c", "$.v[0].y"]
    assert missing_fields(expected, {"a": 0, "b": {"c": 1}, "v": []}) == [
        "$.v[] (empty or not an array)",
        "$.e",
    ]


# ==== part 1: spec examples =============================================================================
def _operations() -> dict[str, tuple[str, str, str, dict[str, Any], list[dict[str, Any]]]]:
    """example file name → (plane prefix, method, path, spec document, resolved parameters)."""
    ops: dict[str, tuple[str, str, str, dict[str, Any], list[dict[str, Any]]]] = {}
    for spec_file, prefix in (
        (SPECS / "datamap-2023-09-01" / "purviewdatamap.json", "/datamap/api"),
        (SPECS / "account-2019-11-01-preview" / "account.json", "/account"),
    ):
        doc = json.loads(spec_file.read_text())
        for path, methods in doc["paths"].items():
            for method, op in methods.items():
                if method == "parameters":
                    continue
                params = []
                for p in op.get("parameters", []):
                    if "$ref" in p:
                        p = doc["parameters"][p["$ref"].rsplit("/", 1)[-1]]
                    params.append(p)
                for ref in (op.get("x-ms-examples") or {}).values():
                    ops[Path(ref["$ref"]).name] = (prefix, method.upper(), path, doc, params)
    return ops


OPERATIONS = _operations()
EXAMPLES = sorted(SPECS.glob("**/examples/*.json"))
BODY_ALIASES = ("body", "searchRequest", "queryOptions")


def _seed_entity_from_example(sim: PurviewSim, ent: dict[str, Any], collection: str | None = None) -> None:
    """Seed what a real account would hold for an example entity: type, guid, attributes, relations,
    contacts. Server fields (createdBy, version, timestamps ...) are left to the simulator."""
    rels: dict[str, Any] = {}
    for attr, value in (ent.get("relationshipAttributes") or {}).items():
        if attr == "meanings":
            continue
        items = value if isinstance(value, list) else [value] if value else []
        refs = []
        for item in items:
            if sim.entity(item["guid"]) is None:
                sim.add_entity(
                    item["typeName"],
                    f"stub://{item['guid']}",
                    name=item.get("displayText"),
                    guid=item["guid"],
                )
            rel_type = item.get("relationshipType") or (item.get("relationshipAttributes") or {}).get(
                "typeName"
            )
            refs.append({"guid": item["guid"], "relationshipType": rel_type})
        rels[attr] = refs if isinstance(value, list) else (refs[0] if refs else None)
    attrs = dict(ent["attributes"])
    sim.add_entity(
        ent["typeName"],
        attrs.pop("qualifiedName"),
        name=attrs.pop("name", None),
        attributes=attrs,
        guid=ent["guid"],
        relationships=rels,
        contacts=ent.get("contacts"),
        collection=collection,
    )


def _seed_search_hits(sim: PurviewSim, ex: dict[str, Any], collection: str | None = None) -> None:
    """Seed the entities a Discovery example's response shows, padded up to its ``@search.count``."""
    body = ex["responses"]["200"]["body"]
    hits = [v for v in body["value"] if "entityType" in v]
    total = max(body.get("@search.count", len(hits)), len(hits))
    for i in range(total):
        hit = hits[i % len(hits)]
        name, qn, guid = hit["name"], hit["qualifiedName"], hit["id"]
        if i >= len(hits):  # padding: same shape, another name
            stem, dot, ext = name.rpartition(".")
            new_name = f"{stem}_{i}.{ext}" if dot else f"{name}_{i}"
            name, qn, guid = new_name, qn.replace(hit["name"], new_name), None
        attrs = {"description": hit.get("description"), "owner": hit.get("owner")}
        g = sim.add_entity(
            hit["entityType"], qn, name=name, attributes=attrs, guid=guid, collection=collection
        )
        for cls in hit.get("classification") or []:
            sim.add_classification(g, cls)
        if hit.get("label"):
            sim.set_labels(g, hit["label"])


def _bm_def_from_body(sim: PurviewSim, groups: dict[str, dict[str, Any]], applicable: str) -> None:
    for group, attrs in groups.items():
        sim.add_business_metadata_def(
            group, {a: "string" for a in attrs}, applicable=[applicable], max_str_length=50
        )


Seeder = Callable[[PurviewSim, dict[str, Any], Client], dict[str, Any]]


def seed_discovery(sim: PurviewSim, ex: dict[str, Any], client: Client) -> dict[str, Any]:
    _seed_search_hits(sim, ex)
    return {}


def seed_collection_query(sim: PurviewSim, ex: dict[str, Any], client: Client) -> dict[str, Any]:
    name = next(v for k, v in ex["parameters"].items() if k in BODY_ALIASES)["filter"]["collectionId"]
    sim.add_collection(name, "Example collection")
    _seed_search_hits(sim, ex, collection=name)
    return {}


def seed_bm_query(sim: PurviewSim, ex: dict[str, Any], client: Client) -> dict[str, Any]:
    """The example is a template (``<BusinessMetadataName>.<StringAttributeName>``, ``eq|ne|...``):
    instantiate it with a real group and the first operator/value of each alternative."""
    sim.add_business_metadata_def(
        "DataQuality",
        {"Steward": "string", "Score": "int", "Certified": "boolean", "Reviewed": "date"},
        applicable=["DataSet"],
    )
    _seed_search_hits(sim, ex)
    hit = ex["responses"]["200"]["body"]["value"][0]
    sim.set_business_metadata(hit["id"], "DataQuality", {"Steward": "string value", "Score": 123})
    names = {
        "<BusinessMetadataName>": "DataQuality",
        "<StringAttributeName>": "Steward",
        "<NumberAttributeName>": "Score",
        "<BooleanAttributeName>": "Certified",
        "<DateAttributeName>": "Reviewed",
    }
    body_key = next(k for k in ex["parameters"] if k in BODY_ALIASES)
    body = copy.deepcopy(ex["parameters"][body_key])
    for leaf in body["filter"]["or"]:
        for placeholder, real in names.items():
            leaf["attributeName"] = leaf["attributeName"].replace(placeholder, real)
        leaf["operator"] = leaf["operator"].split("|")[0]
        if isinstance(leaf["attributeValue"], str):
            leaf["attributeValue"] = leaf["attributeValue"].split("|")[0]
    assert "<" not in json.dumps(body)
    return {body_key: body}


def seed_continuation(sim: PurviewSim, ex: dict[str, Any], client: Client) -> dict[str, Any]:
    """``"<token>"`` is a placeholder: fetch the first page of the same query and use its real token."""
    _seed_search_hits(sim, ex)
    body = copy.deepcopy(ex["parameters"]["body"])
    first = dict(body, continuationToken=None)
    token = client.search(first).json()["continuationToken"]
    return {"body": dict(body, continuationToken=token)}


def seed_entities(sim: PurviewSim, ex: dict[str, Any], client: Client) -> dict[str, Any]:
    body = ex["responses"]["200"]["body"]
    for ent in body.get("entities") or [body["entity"]]:
        _seed_entity_from_example(sim, ent)
    return {}


def seed_bulk_upsert(sim: PurviewSim, ex: dict[str, Any], client: Client) -> dict[str, Any]:
    """The example answers with one CREATE and one UPDATE: the UPDATEd account must already exist."""
    for header in ex["responses"]["200"]["body"]["mutatedEntities"].get("UPDATE", []):
        sim.add_entity(header["typeName"], header["attributes"]["qualifiedName"], guid=header["guid"])
    return {}


def seed_bm_write(sim: PurviewSim, ex: dict[str, Any], client: Client) -> dict[str, Any]:
    params = ex["parameters"]
    sim.add_entity(
        "azure_blob_path", "https://exampleaccount.blob.core.windows.net/c/file.csv", guid=params["guid"]
    )
    if "businessMetadataName" in params:
        _bm_def_from_body(sim, {params["businessMetadataName"]: params["body"]}, "Path")
    else:
        _bm_def_from_body(sim, params["body"], "Path")
    return {}


def seed_bm_def(sim: PurviewSim, ex: dict[str, Any], client: Client) -> dict[str, Any]:
    """Seed the def with the fields a user supplies; server fields come from the simulator."""
    d = ex["responses"]["200"]["body"]
    user_fields = ("name", "typeName", "isOptional", "cardinality", "isUnique", "isIndexable", "options")
    sim.add_typedefs(
        {
            "businessMetadataDefs": [
                {
                    "name": d["name"],
                    "description": d["description"],
                    "attributeDefs": [{k: a[k] for k in user_fields if k in a} for a in d["attributeDefs"]],
                }
            ]
        }
    )
    return {}


def seed_collections(sim: PurviewSim, ex: dict[str, Any], client: Client) -> dict[str, Any]:
    for item in ex["responses"]["200"]["body"]["value"]:
        sim.add_collection(item["name"], item["friendlyName"])
    return {}


def seed_nothing(sim: PurviewSim, ex: dict[str, Any], client: Client) -> dict[str, Any]:
    return {}


SEEDERS: dict[str, Seeder] = {
    "Discovery_Query": seed_discovery,
    "Discovery_Query_And": seed_discovery,
    "Discovery_Query_AndOrNested": seed_discovery,
    "Discovery_Query_Classification": seed_discovery,
    "Discovery_Query_ObjectType": seed_discovery,
    "Discovery_Query_PaginationFirstPage": seed_discovery,
    "Discovery_Query_PaginationContinuationPage": seed_continuation,
    "Discovery_Query_Collection": seed_collection_query,
    "Discovery_Query_BusinessMetadataAttribute": seed_bm_query,
    "Entity_Get": seed_entities,
    "Entity_ListByGuids": seed_entities,
    "Entity_GetByUniqueAttributes": seed_entities,
    "Entity_BulkCreateOrUpdate": seed_bulk_upsert,
    "Entity_AddOrUpdate_BusinessMetadata": seed_bm_write,
    "Entity_AddOrUpdate_BusinessAttribute": seed_bm_write,
    "Type_BulkCreateBusinessMetadataDefs": seed_nothing,
    "Type_GetBusinessMetadataDefByName": seed_bm_def,
    "Collections_ListByAccount": seed_collections,
}


def test_every_example_file_has_an_operation_and_a_seeder() -> None:
    """No example may be skipped silently: each maps to a spec operation and to a seeder here."""
    assert len(EXAMPLES) >= 18
    assert {p.name for p in EXAMPLES} <= set(OPERATIONS)
    assert {p.stem for p in EXAMPLES} == set(SEEDERS)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_spec_example(example: Path, sim: PurviewSim, client: Client) -> None:
    ex = json.loads(example.read_text())
    prefix, method, path, _doc, params = OPERATIONS[example.name]
    values = dict(ex["parameters"])
    values.update(SEEDERS[example.stem](sim, ex, client))

    query: dict[str, Any] = {}
    body: Any = None
    for p in params:
        name = p["name"]
        if p["in"] == "path":
            path = path.replace("{" + name + "}", requests.utils.quote(str(values[name]), safe=""))
        elif p["in"] == "query" and name in values:
            query[name] = values[name]
        elif p["in"] == "body":
            key = name if name in values else next(k for k in BODY_ALIASES if k in values)
            body = values[key]
    assert "{" not in path, f"unfilled path parameter in {path}"
    resp = client.call(method, prefix + path, params=query, json=body)

    codes = {int(code) for code in ex["responses"]}
    assert resp.status_code in codes, f"{resp.status_code} {resp.text[:500]}"
    expected = ex["responses"][str(resp.status_code)].get("body")
    if expected is not None:
        assert missing_fields(expected, resp.json()) == []
