"""Tests of the Purview simulator over real HTTPS.

Two parts: (1) every official spec example under ``shared/specs/purview/**/examples`` is replayed against
the simulator (method/path from the spec's operation, request from the example) and the response must
carry every field of the example's response; (2) behaviours the sync relies on: auth, roles, search
filters and paging, bulk reads, typedefs, business-metadata merge vs overwrite, validation, propagated
classifications, throttling.
"""

from __future__ import annotations

import copy
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from purview_sync.dev.purview_sim import PURVIEW_APP_ID, PurviewSim
from purview_sync.dev.tls import DevTLS, create_dev_tls


def _specs_dir() -> Path:
    """``shared/`` sits beside the checkout (locally and in CI); PURVIEW_SPECS_DIR overrides it."""
    candidates = [
        Path(os.environ["PURVIEW_SPECS_DIR"]) if os.environ.get("PURVIEW_SPECS_DIR") else None,
        Path(__file__).resolve().parents[3] / "shared" / "specs" / "purview",
        Path("/work/shared/specs/purview"),
    ]
    for candidate in candidates:
        if candidate is not None and candidate.is_dir():
            return candidate
    raise RuntimeError("the Purview spec folder shared/specs/purview was not found beside the checkout")


SPECS = _specs_dir()
TENANT = "8a1f6c2e-5b7d-4e39-9c0a-3d2e1f4b6a70"
OTHER_TENANT = "0b9e8d7c-6a5f-4e3d-2c1b-a09f8e7d6c5b"
APP = "5c2f0a9e-1d3b-4e6f-8a7c-9b0d1e2f3a4b"  # the sync's client id, granted everything
KEY = "purview-sim-tests-hs256-key-0123456789abcdefghijklmnop"
SQL_DB = "mssql://srv1.database.windows.net/finance_db"


def make_token(
    appid: str = APP,
    *,
    aud: str = "https://purview.azure.net",
    tid: str = TENANT,
    expires_in: int = 3600,
    oid: str | None = None,
) -> str:
    now = int(time.time())
    claims = {
        "aud": aud,
        "tid": tid,
        "appid": appid,
        "oid": oid or appid,
        "iat": now,
        "exp": now + expires_in,
    }
    return jwt.encode(claims, KEY, algorithm="HS256")


def verify(token: str) -> dict[str, Any] | None:
    """A stand-in for EntraSim.verify: signature + expiry only; audience/tenant are the simulator's job."""
    try:
        return jwt.decode(token, KEY, algorithms=["HS256"], options={"verify_aud": False})
    except jwt.PyJWTError:
        return None


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> DevTLS:
    return create_dev_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def sim(tls: DevTLS) -> Iterator[PurviewSim]:
    with PurviewSim(tls, account="contoso", tenant_id=TENANT, token_verifier=verify) as s:
        s.grant(APP, "data_curator", "collection_admin", "data_source_admin", "policy_author")
        yield s


class Client:
    """requests against the simulator, trusting the dev CA like the product does (REQUESTS_CA_BUNDLE)."""

    def __init__(self, sim: PurviewSim, tls: DevTLS, token: str | None) -> None:
        self.base = sim.url
        self.verify = str(tls.bundle)  # per request: REQUESTS_CA_BUNDLE would override Session.verify
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kw: Any) -> requests.Response:
        return self.get_url(self.base + path, method, **kw)

    def get_url(self, url: str, method: str = "GET", **kw: Any) -> requests.Response:
        return self.session.request(method, url, timeout=30, verify=self.verify, **kw)

    def search(self, body: dict[str, Any]) -> requests.Response:
        return self.call("POST", "/datamap/api/search/query", params={"api-version": "2023-09-01"}, json=body)


@pytest.fixture
def client(sim: PurviewSim, tls: DevTLS) -> Client:
    return Client(sim, tls, make_token())


def as_client(sim: PurviewSim, tls: DevTLS, token: str | None) -> Client:
    return Client(sim, tls, token)


def missing_fields(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Fields of ``expected`` absent from ``actual``: keys recursively; for arrays the example's first item
    must be matched by some item of the actual array."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path} (not an object)"]
        out: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                out.append(f"{path}.{key}")
            else:
                out += missing_fields(value, actual[key], f"{path}.{key}")
        return out
    if isinstance(expected, list) and expected:
        if not isinstance(actual, list) or not actual:
            return [f"{path}[] (empty or not an array)"]
        return min((missing_fields(expected[0], item, f"{path}[0]") for item in actual), key=len)
    return []


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


# ==== part 2: behaviour =================================================================================
@pytest.fixture
def estate(sim: PurviewSim) -> dict[str, str]:
    """finance (fin01) and hr (hr0002) collections with one database each."""
    sim.add_collection("fin01", "Finance")
    sim.add_collection("hr0002", "HR")
    guids = sim.add_sql_database(
        "srv1",
        "finance_db",
        collection="fin01",
        schemas={"dbo": {"transactions": {"id": "int", "amount": "decimal"}, "accounts": ["id", "email"]}},
        views={"dbo": {"v_balances": ["account_id", "balance"]}},
    )
    guids.update(
        sim.add_sql_database("srv2", "hr_db", collection="hr0002", schemas={"dbo": {"people": ["id"]}})
    )
    return guids


def test_sql_qualified_names_and_relationships(
    sim: PurviewSim, client: Client, estate: dict[str, str]
) -> None:
    table = f"{SQL_DB}/dbo/transactions"
    assert {
        "mssql://srv1.database.windows.net",
        SQL_DB,
        f"{SQL_DB}/dbo",
        table,
        f"{table}#amount",
        f"{SQL_DB}/dbo/v_balances#balance",
    } <= set(estate)
    resp = client.call("GET", f"/datamap/api/atlas/v2/entity/guid/{estate[table]}")
    assert resp.status_code == 200
    entity = resp.json()["entity"]
    assert entity["typeName"] == "azure_sql_table" and entity["collectionId"] == "fin01"
    rels = entity["relationshipAttributes"]
    assert rels["dbSchema"]["guid"] == estate[f"{SQL_DB}/dbo"]
    assert rels["dbSchema"]["relationshipType"] == "azure_sql_schema_tables"
    assert {c["displayText"] for c in rels["columns"]} == {"id", "amount"}
    assert all(c["typeName"] == "azure_sql_column" and c["entityStatus"] == "ACTIVE" for c in rels["columns"])
    referred = resp.json()["referredEntities"]
    assert referred[estate[f"{table}#amount"]]["attributes"]["data_type"] == "decimal"
    column = client.call("GET", f"/datamap/api/atlas/v2/entity/guid/{estate[f'{table}#amount']}").json()[
        "entity"
    ]
    assert column["relationshipAttributes"]["table"]["guid"] == estate[table]
    schema = sim.entity(estate[f"{SQL_DB}/dbo"])
    assert schema is not None and schema["relationshipAttributes"]["db"]["guid"] == estate[SQL_DB]
    assert {t["displayText"] for t in schema["relationshipAttributes"]["tables"]} == {
        "transactions",
        "accounts",
    }
    view_col = sim.entity_by_qn(f"{SQL_DB}/dbo/v_balances#balance")
    assert view_col is not None and view_col["typeName"] == "azure_sql_view_column"
    slim = client.call(
        "GET", f"/datamap/api/atlas/v2/entity/guid/{estate[table]}", params={"ignoreRelationships": "true"}
    ).json()
    assert "relationshipAttributes" not in slim["entity"] and slim["referredEntities"] == {}


def test_other_sql_flavours(sim: PurviewSim) -> None:
    mi = sim.add_sql_database(
        "mi1.abc123", "sales", flavor="azure_sql_mi", schemas={"dbo": {"orders": ["id"]}}
    )
    assert "mssql://mi1.abc123.database.windows.net:3342/sales/dbo/orders#id" in mi
    onprem = sim.add_sql_database(
        "sql01.corp.local", "erp", flavor="mssql", schemas={"dbo": {"items": ["sku"]}}
    )
    assert "mssql://sql01.corp.local/MSSQLSERVER/erp/dbo/items#sku" in onprem
    syn = sim.add_sql_database("ws1", "pool1", flavor="synapse_dedicated", schemas={"dbo": {"facts": ["k"]}})
    qn = "mssql://ws1.sql.azuresynapse.net/pool1/dbo/facts"
    assert qn in syn
    facts = sim.entity_by_qn(qn)
    assert facts is not None and facts["typeName"] == "azure_synapse_dedicated_sql_table"
    spaced = sim.add_sql_database("srv9", "db", schemas={"dbo": {"my table": ["a b"]}})
    assert "mssql://srv9.database.windows.net/db/dbo/my%20table#a%20b" in spaced


# ---- auth ----
def test_auth_failures_are_gateway_401s(sim: PurviewSim, tls: DevTLS) -> None:
    path = "/datamap/api/atlas/v2/types/typedefs/headers"
    cases = {
        "no token": None,
        "garbage": "not-a-jwt",
        "expired": make_token(expires_in=-60),
        "wrong tenant": make_token(tid=OTHER_TENANT),
        "wrong audience": make_token(aud="https://management.azure.com"),
    }
    for label, token in cases.items():
        resp = as_client(sim, tls, token).call("GET", path)
        assert resp.status_code == 401, label
        assert resp.headers["WWW-Authenticate"].startswith("Bearer"), label
        assert resp.json()["error"]["code"] == "Unauthorized", label
    assert as_client(sim, tls, make_token(aud=PURVIEW_APP_ID)).call("GET", path).status_code == 200


def test_principal_without_role_gets_403(sim: PurviewSim, tls: DevTLS) -> None:
    stranger = as_client(sim, tls, make_token("0f0f0f0f-0000-4000-8000-000000000001"))
    resp = stranger.search({"keywords": None})
    assert resp.status_code == 403
    assert resp.json() == {"error": {"code": "Unauthorized", "message": "Not authorized to access account"}}
    # roles can be granted to the object id as well as the client id
    sim.grant("11111111-aaaa-4bbb-8ccc-222222222222", "data_reader")
    by_oid = as_client(
        sim,
        tls,
        make_token("0f0f0f0f-0000-4000-8000-000000000001", oid="11111111-aaaa-4bbb-8ccc-222222222222"),
    )
    assert by_oid.search({"keywords": None}).status_code == 200


def test_collections_need_collection_admin_and_page(sim: PurviewSim, tls: DevTLS, client: Client) -> None:
    curator = "c0c0c0c0-0000-4000-8000-00000000000c"
    sim.grant(curator, "data_curator")
    resp = as_client(sim, tls, make_token(curator)).call(
        "GET", "/account/collections", params={"api-version": "2019-11-01-preview"}
    )
    assert resp.status_code == 403
    assert client.call("GET", "/account/collections").status_code == 400  # api-version is required
    for i in range(4):
        sim.add_collection(f"c{i:05d}", f"Team {i}", parent="c00000" if i else None)
    sim.collections_page_size = 2
    seen: list[dict[str, Any]] = []
    url: str | None = f"{sim.url}/account/collections?api-version=2019-11-01-preview"
    while url:
        page = client.get_url(url).json()
        seen += page["value"]
        url = page.get("nextLink")
    assert [c["name"] for c in seen] == ["contoso", "c00000", "c00001", "c00002", "c00003"]
    assert "parentCollection" not in seen[0]
    assert seen[2]["parentCollection"] == {"type": "CollectionReference", "referenceName": "c00000"}
    one = client.call("GET", "/account/collections/c00001", params={"api-version": "2019-11-01-preview"})
    assert one.status_code == 200 and one.json()["friendlyName"] == "Team 1"
    path = client.call(
        "GET", "/account/collections/c00001/getCollectionPath", params={"api-version": "2019-11-01-preview"}
    ).json()
    assert path["parentNameChain"] == ["contoso", "c00000"]
    missing = client.call("GET", "/account/collections/nope", params={"api-version": "2019-11-01-preview"})
    assert missing.status_code == 404 and "error" in missing.json()


# ---- search ----
def test_search_filter_collection_and_continuation(sim: PurviewSim, client: Client) -> None:
    sim.add_collection("fin01", "Finance")
    sim.add_collection("other1", "Other")
    tables = {f"t{i:02d}": ["id"] for i in range(23)}
    sim.add_sql_database("srv1", "finance_db", collection="fin01", schemas={"dbo": tables})
    sim.add_sql_database("srv1", "finance_db2", collection="fin01", schemas={"dbo": {"x": ["id"]}})
    sim.add_sql_database("srv3", "finance_db", collection="other1", schemas={"dbo": tables})
    query = {
        "keywords": None,
        "limit": 7,
        "filter": {
            "and": [
                {"or": [{"entityType": "azure_sql_table"}, {"entityType": "azure_sql_view"}]},
                {"or": [{"collectionId": "fin01"}, {"collectionId": "nope"}]},
                {"attributeName": "qualifiedName", "operator": "prefix", "attributeValue": f"{SQL_DB}/"},
            ]
        },
    }
    names: list[str] = []
    pages = 0
    body = dict(query)
    while True:
        resp = client.search(body)
        assert resp.status_code == 200, resp.text
        result = resp.json()
        assert result["@search.count"] == 23
        names += [v["name"] for v in result["value"]]
        assert all(v["qualifiedName"].startswith(f"{SQL_DB}/") for v in result["value"])
        assert all(
            v["entityType"] == "azure_sql_table" and v["objectType"] == "Tables" for v in result["value"]
        )
        pages += 1
        if "continuationToken" not in result:
            break
        body = dict(query, continuationToken=result["continuationToken"])
    assert pages == 4 and sorted(names) == sorted(tables)
    # a token only continues the query it came from
    other = dict(
        query,
        filter={"entityType": "azure_sql_column"},
        continuationToken=client.search(query).json()["continuationToken"],
    )
    assert client.search(other).status_code == 400
    by_name = client.search(
        {
            "filter": {
                "and": [
                    {"entityType": "azure_sql_db"},
                    {"attributeName": "name", "operator": "eq", "attributeValue": "FINANCE_DB"},
                ]
            }
        }
    )
    assert sorted(v["qualifiedName"] for v in by_name.json()["value"]) == [
        SQL_DB,
        "mssql://srv3.database.windows.net/finance_db",
    ]
    negated = client.search(
        {"filter": {"and": [{"entityType": "azure_sql_db"}, {"not": {"collectionId": "other1"}}]}}
    )
    assert {v["name"] for v in negated.json()["value"]} == {"finance_db", "finance_db2"}


def test_search_limits_and_api_version(sim: PurviewSim, client: Client) -> None:
    resp = client.search({"keywords": None, "limit": 1001})
    assert resp.status_code == 400
    assert set(resp.json()) == {"requestId", "errorCode", "errorMessage"}
    assert client.search({"keywords": None, "limit": 1000}).status_code == 200
    assert (
        client.call("POST", "/datamap/api/search/query", json={}).status_code == 400
    )  # api-version required
    assert client.search({"filter": {"bogus": 1}}).status_code == 400
    assert (
        client.search(
            {"filter": {"attributeName": "name", "operator": "gt", "attributeValue": "x"}}
        ).status_code
        == 400
    )


def test_search_only_shows_readable_collections(sim: PurviewSim, tls: DevTLS, estate: dict[str, str]) -> None:
    reader = "d0d0d0d0-0000-4000-8000-00000000000d"
    sim.grant(reader, "data_reader", collection="hr0002")
    hr_only = as_client(sim, tls, make_token(reader))
    result = hr_only.search({"filter": {"entityType": "azure_sql_table"}}).json()
    assert [v["name"] for v in result["value"]] == ["people"]
    table = estate[f"{SQL_DB}/dbo/transactions"]
    denied = hr_only.call("GET", f"/datamap/api/atlas/v2/entity/guid/{table}")
    assert denied.status_code == 403 and denied.json()["errorCode"] == "ATLAS-403-00-001"
    admin_only = "e0e0e0e0-0000-4000-8000-00000000000e"
    sim.grant(admin_only, "collection_admin")
    assert as_client(sim, tls, make_token(admin_only)).search({}).status_code == 403


def test_search_classification_and_labels(sim: PurviewSim, client: Client, estate: dict[str, str]) -> None:
    sim.add_classification_def("CONTOSO.PII")
    sim.add_classification_def("CONTOSO.PII.EMAIL", super_types=["CONTOSO.PII"])
    email_col = estate[f"{SQL_DB}/dbo/accounts#email"]
    sim.add_classification(email_col, "CONTOSO.PII.EMAIL")
    sim.set_labels(email_col, ["gold"])
    exact = client.search({"filter": {"classification": "CONTOSO.PII"}}).json()
    assert exact["@search.count"] == 0
    family = client.search(
        {
            "filter": {"classification": "CONTOSO.PII", "includeSubClassifications": True},
            "facets": [{"facet": "classification", "count": 5}],
        }
    ).json()
    assert [v["id"] for v in family["value"]] == [email_col]
    assert family["value"][0]["classification"] == ["CONTOSO.PII.EMAIL"]
    assert family["value"][0]["label"] == ["gold"]
    assert family["@search.facets"]["classification"] == [{"count": 1, "value": "CONTOSO.PII.EMAIL"}]
    keyword = client.search({"keywords": "transactions", "filter": {"entityType": "azure_sql_table"}}).json()
    assert [v["name"] for v in keyword["value"]] == ["transactions"]
    assert "<em>" in keyword["value"][0]["@search.highlights"]["name"][0]


# ---- entities ----
def test_bulk_get_and_url_limit(sim: PurviewSim, client: Client) -> None:
    sim.add_sql_database("srvb", "bulk", schemas={"dbo": {f"t{i}": ["a", "b"] for i in range(150)}})
    guids = [
        v["id"]
        for v in client.search({"filter": {"entityType": "azure_sql_table"}, "limit": 150}).json()["value"]
    ]
    assert len(guids) == 150
    started = time.perf_counter()
    resp = client.call("GET", "/datamap/api/atlas/v2/entity/bulk", params={"guid": guids[:100]})
    assert resp.status_code == 200 and len(resp.json()["entities"]) == 100
    assert time.perf_counter() - started < 2.0
    assert len(resp.json()["referredEntities"]) == 200  # their columns
    too_many = client.call("GET", "/datamap/api/atlas/v2/entity/bulk", params={"guid": guids + guids[:100]})
    assert too_many.status_code == 414  # the URL is too long, like the real front end
    unknown = client.call(
        "GET",
        "/datamap/api/atlas/v2/entity/bulk",
        params={"guid": [guids[0], "00000000-0000-4000-8000-000000000000"]},
    )
    assert unknown.status_code == 404 and unknown.json()["errorCode"] == "ATLAS-404-00-005"


def test_unique_attribute_and_upsert(sim: PurviewSim, client: Client, estate: dict[str, str]) -> None:
    qn = f"{SQL_DB}/dbo/transactions"
    resp = client.call(
        "GET",
        "/datamap/api/atlas/v2/entity/uniqueAttribute/type/azure_sql_table",
        params={"attr:qualifiedName": qn},
    )
    assert resp.status_code == 200 and resp.json()["entity"]["guid"] == estate[qn]
    missing = client.call(
        "GET",
        "/datamap/api/atlas/v2/entity/uniqueAttribute/type/azure_sql_table",
        params={"attr:qualifiedName": qn + "_nope"},
    )
    assert missing.status_code == 404 and missing.json()["errorCode"] == "ATLAS-404-00-009"
    body = {
        "entities": [
            {
                "typeName": "Process",
                "guid": "-1",
                "attributes": {"qualifiedName": "qualytics://pipeline/x", "name": "x"},
                "relationshipAttributes": {
                    "inputs": [{"typeName": "azure_sql_table", "uniqueAttributes": {"qualifiedName": qn}}]
                },
            }
        ]
    }
    created = client.call("POST", "/datamap/api/atlas/v2/entity/bulk", json=body)
    assert created.status_code == 200, created.text
    new_guid = created.json()["guidAssignments"]["-1"]
    assert created.json()["mutatedEntities"]["CREATE"][0]["guid"] == new_guid
    process = sim.entity(new_guid)
    assert process is not None and process["relationshipAttributes"]["inputs"][0]["guid"] == estate[qn]
    again = client.call("POST", "/datamap/api/atlas/v2/entity/bulk", json=body)
    assert again.json()["mutatedEntities"]["UPDATE"][0]["guid"] == new_guid
    bad_ref = copy.deepcopy(body)
    bad_ref["entities"][0]["relationshipAttributes"]["inputs"][0]["uniqueAttributes"]["qualifiedName"] = (
        "nope"
    )
    assert client.call("POST", "/datamap/api/atlas/v2/entity/bulk", json=bad_ref).status_code == 404


# ---- typedefs ----
QUALYTICS_DEF = {
    "category": "BUSINESS_METADATA",
    "name": "Qualytics",
    "description": "Data quality results synced from Qualytics",
    "attributeDefs": [
        {
            "name": "QualityScore",
            "typeName": "float",
            "isOptional": True,
            "cardinality": "SINGLE",
            "options": {
                "applicableEntityTypes": json.dumps(
                    ["azure_sql_schema", "azure_sql_table", "azure_sql_column"]
                )
            },
        },
        {
            "name": "AnomalyCount",
            "typeName": "int",
            "isOptional": True,
            "options": {"applicableEntityTypes": json.dumps(["azure_sql_table", "azure_sql_column"])},
        },
        {
            "name": "QualyticsURL",
            "typeName": "string",
            "isOptional": True,
            "options": {"maxStrLength": "30", "applicableEntityTypes": json.dumps(["azure_sql_table"])},
        },
    ],
}


def create_qualytics_def(client: Client) -> requests.Response:
    return client.call(
        "POST",
        "/datamap/api/atlas/v2/types/typedefs",
        params={"api-version": "2023-09-01"},
        json={"businessMetadataDefs": [QUALYTICS_DEF]},
    )


def test_typedef_create_conflict_get_and_put(sim: PurviewSim, client: Client) -> None:
    path = "/datamap/api/atlas/v2/types/businessmetadatadef/name/Qualytics"
    absent = client.call("GET", path)
    assert absent.status_code == 404 and absent.json()["errorCode"] == "ATLAS-404-00-001"
    created = create_qualytics_def(client)
    assert created.status_code == 200
    bm = created.json()["businessMetadataDefs"][0]
    assert bm["category"] == "BUSINESS_METADATA" and bm["version"] == 1 and bm["guid"]
    conflict = create_qualytics_def(client)
    assert conflict.status_code == 409 and conflict.json()["errorCode"] == "ATLAS-409-00-001"
    fetched = client.call("GET", path).json()
    assert [a["name"] for a in fetched["attributeDefs"]] == ["QualityScore", "AnomalyCount", "QualyticsURL"]
    updated = copy.deepcopy(QUALYTICS_DEF)
    updated["attributeDefs"].append(
        {
            "name": "CheckCount",
            "typeName": "int",
            "isOptional": True,
            "options": {"applicableEntityTypes": json.dumps(["azure_sql_table"])},
        }
    )
    put = client.call("PUT", "/datamap/api/atlas/v2/types/typedefs", json={"businessMetadataDefs": [updated]})
    assert put.status_code == 200 and put.json()["businessMetadataDefs"][0]["version"] == 2
    dropped = copy.deepcopy(updated)
    dropped["attributeDefs"].pop(0)
    assert (
        client.call(
            "PUT", "/datamap/api/atlas/v2/types/typedefs", json={"businessMetadataDefs": [dropped]}
        ).status_code
        == 400
    )
    listing = client.call(
        "GET", "/datamap/api/atlas/v2/types/typedefs", params={"type": "business_metadata"}
    ).json()
    assert [d["name"] for d in listing["businessMetadataDefs"]] == ["Qualytics"] and listing[
        "entityDefs"
    ] == []
    headers = client.call("GET", "/datamap/api/atlas/v2/types/typedefs/headers").json()
    assert {"category": "BUSINESS_METADATA", "guid": bm["guid"], "name": "Qualytics"} in headers
    typedef = sim.typedef("Qualytics")
    assert typedef is not None and len(typedef["attributeDefs"]) == 4
    never = copy.deepcopy(QUALYTICS_DEF)
    never["name"] = "NeverCreated"
    assert (
        client.call(
            "PUT", "/datamap/api/atlas/v2/types/typedefs", json={"businessMetadataDefs": [never]}
        ).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        (lambda d: d.update(name="Qualytics-DQ"), 400, "ATLAS-400-00-019"),
        (
            lambda d: d["attributeDefs"][0]["options"].update(applicableEntityTypes=["azure_sql_table"]),
            400,
            None,
        ),
        (
            lambda d: d["attributeDefs"][0]["options"].update(applicableEntityTypes="azure_sql_table"),
            400,
            None,
        ),
        (lambda d: d["attributeDefs"][0]["options"].pop("applicableEntityTypes"), 400, "ATLAS-400-00-02B"),
        (lambda d: d["attributeDefs"][2]["options"].pop("maxStrLength"), 400, "ATLAS-400-00-02B"),
        (
            lambda d: d["attributeDefs"][0]["options"].update(applicableEntityTypes='["no_such_type"]'),
            404,
            "ATLAS-404-00-001",
        ),
        (lambda d: d["attributeDefs"][0].update(name="Quality Score"), 400, "ATLAS-400-00-09A"),
        (lambda d: d["attributeDefs"][0].update(typeName="azure_sql_table"), 400, "ATLAS-400-00-094"),
    ],
    ids=[
        "bad-name",
        "types-as-list",
        "types-not-json",
        "no-types",
        "no-maxStrLength",
        "unknown-type",
        "attr-space",
        "entity-typed-attr",
    ],
)
def test_typedef_validation(
    client: Client, change: Callable[[dict[str, Any]], Any], status: int, code: str | None
) -> None:
    bad = copy.deepcopy(QUALYTICS_DEF)
    change(bad)
    resp = client.call("POST", "/datamap/api/atlas/v2/types/typedefs", json={"businessMetadataDefs": [bad]})
    assert resp.status_code == status, resp.text
    assert set(resp.json()) == {"requestId", "errorCode", "errorMessage"}
    if code:
        assert resp.json()["errorCode"] == code
    assert (
        client.call("GET", "/datamap/api/atlas/v2/types/businessmetadatadef/name/Qualytics").status_code
        == 404
    )


def test_typedef_writes_need_root_curator(sim: PurviewSim, tls: DevTLS) -> None:
    sim.add_collection("fin01", "Finance")
    sub_curator = "f0f0f0f0-0000-4000-8000-00000000000f"
    sim.grant(sub_curator, "data_curator", collection="fin01")
    resp = create_qualytics_def(as_client(sim, tls, make_token(sub_curator)))
    assert resp.status_code == 403 and resp.json()["errorCode"] == "ATLAS-403-00-001"


# ---- business metadata ----
@pytest.fixture
def bm_estate(sim: PurviewSim, client: Client, estate: dict[str, str]) -> str:
    assert create_qualytics_def(client).status_code == 200
    table = estate[f"{SQL_DB}/dbo/transactions"]
    sim.set_business_metadata(table, "Governance", {"Owner": "finance-team", "Tier": 1})
    return table


def test_bm_group_write_keeps_other_groups(sim: PurviewSim, client: Client, bm_estate: str) -> None:
    url = f"/datamap/api/atlas/v2/entity/guid/{bm_estate}/businessmetadata"
    resp = client.call("POST", f"{url}/Qualytics", json={"QualityScore": 87.5, "AnomalyCount": 3})
    assert resp.status_code == 204 and resp.content == b""
    assert sim.business_metadata(bm_estate) == {
        "Governance": {"Owner": "finance-team", "Tier": 1},
        "Qualytics": {"QualityScore": 87.5, "AnomalyCount": 3},
    }
    assert (
        client.call(
            "POST", url, params={"isOverwrite": "false"}, json={"Qualytics": {"AnomalyCount": 4}}
        ).status_code
        == 204
    )
    assert sim.business_metadata(bm_estate)["Qualytics"] == {"QualityScore": 87.5, "AnomalyCount": 4}
    assert "Governance" in sim.business_metadata(bm_estate)
    entity = client.call("GET", f"/datamap/api/atlas/v2/entity/guid/{bm_estate}").json()["entity"]
    assert entity["businessAttributes"]["Qualytics"]["AnomalyCount"] == 4
    found = client.search(
        {"filter": {"attributeName": "Qualytics.AnomalyCount", "operator": "ge", "attributeValue": 4}}
    ).json()
    assert [v["id"] for v in found["value"]] == [bm_estate]
    assert client.call("DELETE", f"{url}/Qualytics", json={"AnomalyCount": None}).status_code == 204
    assert sim.business_metadata(bm_estate)["Qualytics"] == {"QualityScore": 87.5}


def test_bm_overwrite_true_replaces_every_group(sim: PurviewSim, client: Client, bm_estate: str) -> None:
    """The danger the sync must avoid: isOverwrite=true deletes other teams' managed attributes."""
    url = f"/datamap/api/atlas/v2/entity/guid/{bm_estate}/businessmetadata"
    resp = client.call("POST", url, params={"isOverwrite": "true"}, json={"Qualytics": {"QualityScore": 90}})
    assert resp.status_code == 204
    assert sim.business_metadata(bm_estate) == {"Qualytics": {"QualityScore": 90}}
    assert any(c.query.get("isOverwrite") == ["true"] for c in sim.calls)  # visible to product tests


@pytest.mark.parametrize(
    ("group", "body", "code"),
    [
        ("Qualytics", {"NoSuchAttr": 1}, "ATLAS-400-00-023"),
        ("NoSuchGroup", {"x": 1}, "ATLAS-400-00-095"),
        ("Qualytics", {"AnomalyCount": "3"}, "ATLAS-400-00-028"),
        ("Qualytics", {"QualityScore": "87.5"}, "ATLAS-400-00-028"),
        ("Qualytics", {"AnomalyCount": 2.5}, "ATLAS-400-00-028"),
        ("Qualytics", {"QualyticsURL": "https://x.qualytics.io/very/long/path"}, "ATLAS-400-00-028"),
    ],
    ids=[
        "unknown-attr",
        "unknown-group",
        "string-into-int",
        "string-into-float",
        "fraction-into-int",
        "too-long",
    ],
)
def test_bm_validation(
    sim: PurviewSim, client: Client, bm_estate: str, group: str, body: dict[str, Any], code: str
) -> None:
    resp = client.call(
        "POST", f"/datamap/api/atlas/v2/entity/guid/{bm_estate}/businessmetadata/{group}", json=body
    )
    assert resp.status_code == 400, resp.text
    assert resp.json()["errorCode"] == code and resp.json()["requestId"]
    assert "Qualytics" not in sim.business_metadata(bm_estate)


def test_bm_not_applicable_and_permissions(
    sim: PurviewSim, tls: DevTLS, client: Client, bm_estate: str, estate: dict[str, str]
) -> None:
    view = estate[f"{SQL_DB}/dbo/v_balances"]
    resp = client.call(
        "POST",
        f"/datamap/api/atlas/v2/entity/guid/{view}/businessmetadata/Qualytics",
        json={"QualityScore": 1.0},
    )
    assert resp.status_code == 400 and resp.json()["errorCode"] == "ATLAS-400-00-095"
    schema = estate[f"{SQL_DB}/dbo"]  # QualityScore applies to schemas, AnomalyCount does not
    not_here = client.call(
        "POST",
        f"/datamap/api/atlas/v2/entity/guid/{schema}/businessmetadata/Qualytics",
        json={"AnomalyCount": 1},
    )
    assert not_here.status_code == 400
    reader = "a1a1a1a1-0000-4000-8000-0000000000a1"
    sim.grant(reader, "data_reader")
    denied = as_client(sim, tls, make_token(reader)).call(
        "POST",
        f"/datamap/api/atlas/v2/entity/guid/{bm_estate}/businessmetadata/Qualytics",
        json={"QualityScore": 1},
    )
    assert denied.status_code == 403 and denied.json()["errorCode"] == "ATLAS-403-00-001"
    gone = client.call(
        "POST",
        "/datamap/api/atlas/v2/entity/guid/00000000-0000-4000-8000-000000000000/businessmetadata/Qualytics",
        json={"QualityScore": 1},
    )
    assert gone.status_code == 404


# ---- classifications ----
def test_propagated_classification_keeps_source_guid(
    sim: PurviewSim, client: Client, estate: dict[str, str]
) -> None:
    table = estate[f"{SQL_DB}/dbo/accounts"]
    column = estate[f"{SQL_DB}/dbo/accounts#email"]
    sim.add_classification(column, "MICROSOFT.PERSONAL.EMAIL")
    sim.add_classification(table, "Confidential")
    sim.add_classification(column, "Confidential", propagated_from=table)
    listed = client.call("GET", f"/datamap/api/atlas/v2/entity/guid/{column}/classifications").json()
    by_type = {c["typeName"]: c for c in listed["list"]}
    assert listed["totalCount"] == 2
    assert by_type["MICROSOFT.PERSONAL.EMAIL"]["entityGuid"] == column
    assert by_type["Confidential"]["entityGuid"] == table
    assert by_type["Confidential"]["entityStatus"] == "ACTIVE"
    entity = client.call("GET", f"/datamap/api/atlas/v2/entity/guid/{column}").json()["entity"]
    assert {(c["typeName"], c["entityGuid"]) for c in entity["classifications"]} == {
        ("MICROSOFT.PERSONAL.EMAIL", column),
        ("Confidential", table),
    }
    hit = client.search({"filter": {"id": column}}).json()["value"][0]
    assert set(hit["classification"]) == {
        "MICROSOFT.PERSONAL.EMAIL",
        "Confidential",
    }  # search can't tell them apart
    cannot = client.call("DELETE", f"/datamap/api/atlas/v2/entity/guid/{column}/classification/Confidential")
    assert cannot.status_code == 400
    wrapped = client.call(
        "POST",
        f"/datamap/api/atlas/v2/entity/guid/{table}/classifications",
        json={"typeName": "MICROSOFT.PERSONAL.NAME"},
    )
    assert wrapped.status_code == 400  # the body must be a bare array
    added = client.call(
        "POST",
        f"/datamap/api/atlas/v2/entity/guid/{table}/classifications",
        json=[{"typeName": "MICROSOFT.PERSONAL.NAME"}],
    )
    assert added.status_code == 204
    assert (
        client.call(
            "DELETE", f"/datamap/api/atlas/v2/entity/guid/{table}/classification/MICROSOFT.PERSONAL.NAME"
        ).status_code
        == 204
    )
    sim.remove_classification(column, "MICROSOFT.PERSONAL.EMAIL")
    assert (
        client.search({"filter": {"classification": "MICROSOFT.PERSONAL.EMAIL"}}).json()["@search.count"] == 0
    )


def test_labels_routes(sim: PurviewSim, client: Client, estate: dict[str, str]) -> None:
    table = estate[f"{SQL_DB}/dbo/accounts"]
    url = f"/datamap/api/atlas/v2/entity/guid/{table}/labels"
    assert client.call("PUT", url, json=["pii", "gold"]).status_code == 204
    assert client.call("DELETE", url, json=["pii"]).status_code == 204
    entity = sim.entity(table)
    assert entity is not None and entity["labels"] == ["gold"]


def test_deleted_entities_leave_search_but_show_in_relations(
    sim: PurviewSim, client: Client, estate: dict[str, str]
) -> None:
    column = estate[f"{SQL_DB}/dbo/transactions#amount"]
    sim.delete_entity(column)
    table = sim.entity(estate[f"{SQL_DB}/dbo/transactions"])
    assert table is not None
    status = {c["displayText"]: c["entityStatus"] for c in table["relationshipAttributes"]["columns"]}
    assert status == {"id": "ACTIVE", "amount": "DELETED"}
    assert client.search({"filter": {"id": column}}).json()["@search.count"] == 0


# ---- gateway and faults ----
def test_catalog_and_unknown_paths_are_gateway_404(client: Client) -> None:
    for path in (
        "/catalog/api/atlas/v2/types/typedefs/headers",
        "/catalog/datamap/api/atlas/v2/types/typedefs/headers",
        "/nothing/here",
    ):
        resp = client.call("GET", path)
        assert resp.status_code == 404
        assert resp.json() == {"error": {"code": "ResourceNotFound", "message": "Resource not found"}}


def test_rate_limit_gives_429_with_retry_after(sim: PurviewSim, client: Client) -> None:
    sim.server.set_faults(rate_limit_per_s=1, rate_burst=2)
    statuses = [client.search({"limit": 1}).status_code for _ in range(4)]
    assert statuses[:2] == [200, 200] and 429 in statuses
    throttled = client.call("GET", "/account/collections", params={"api-version": "2019-11-01-preview"})
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    sim.server.set_faults(rate_limit_per_s=None)
    assert client.search({"limit": 1}).status_code == 200


# ---- scale ----
def test_scale_26k_entities_stays_fast(sim: PurviewSim, client: Client) -> None:
    started = time.perf_counter()
    for d in range(20):
        coll = f"col{d:03d}"
        sim.add_collection(coll, f"Domain {d}")
        sim.add_sql_database(
            f"srv{d % 5}",
            f"db{d}",
            collection=coll,
            schemas={f"s{s}": {f"t{t}": [f"c{c}" for c in range(10)] for t in range(12)} for s in range(10)},
        )
    assert sim.entity_count() >= 26_000
    seeded = time.perf_counter() - started
    query = {
        "limit": 1000,
        "filter": {
            "and": [
                {"entityType": "azure_sql_table"},
                {"collectionId": "col007"},
                {
                    "attributeName": "qualifiedName",
                    "operator": "prefix",
                    "attributeValue": "mssql://srv2.database.windows.net/db7/",
                },
            ]
        },
    }
    started = time.perf_counter()
    result = client.search(query).json()
    search_s = time.perf_counter() - started
    assert result["@search.count"] == 120
    guids = [v["id"] for v in result["value"][:100]]
    started = time.perf_counter()
    assert client.call("GET", "/datamap/api/atlas/v2/entity/bulk", params={"guid": guids}).status_code == 200
    bulk_s = time.perf_counter() - started
    started = time.perf_counter()
    assert client.search({"keywords": "t11", "limit": 10}).status_code == 200  # unindexed: full scan
    scan_s = time.perf_counter() - started
    assert seeded < 15 and search_s < 0.5 and bulk_s < 1.0 and scan_s < 1.0, (
        seeded,
        search_s,
        bulk_s,
        scan_s,
    )


def test_calls_are_recorded(sim: PurviewSim, client: Client) -> None:
    client.search({"limit": 1})
    last = sim.calls[-1]
    assert (last.method, last.path, last.status, last.principal) == (
        "POST",
        "/datamap/api/search/query",
        200,
        APP,
    )
    assert last.json() == {"limit": 1}
    assert re.fullmatch(r"https://127\.0\.0\.1:\d+", sim.url)
