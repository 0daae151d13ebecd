"""The benchmark's naive baseline: what a pyapacheatlas-style script does, one sequential ``requests`` call
at a time — per table a Qualytics read, a Purview search and entity GET, then one POST per entity."""

from __future__ import annotations

import time
from typing import Any

import requests

from bench.estate import GROUP, Estate
from purview_sync.dev.identities import APP_CLIENT_ID, APP_CLIENT_SECRET, QUALYTICS_TOKEN, TENANT_ID

PURVIEW_SCOPE = "https://purview.azure.net/.default"
SEARCH_API = "api-version=2023-09-01"


class NaiveClient:
    """What a pyapacheatlas-style script does with ``requests``: one call at a time, a 429 waited out."""

    def __init__(self, local: Any) -> None:
        self.session = requests.Session()
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE of the shell would replace the dev CA bundle
        self.session.verify = str(local.tls.bundle)
        self.purview = local.purview_url
        self.qualytics = local.qualytics.api_url
        token = self.session.post(
            f"{local.entra.url}/{TENANT_ID}/oauth2/v2.0/token",
            data={"grant_type": "client_credentials", "client_id": APP_CLIENT_ID,
                  "client_secret": APP_CLIENT_SECRET, "scope": PURVIEW_SCOPE},
            timeout=30,
        )  # fmt: skip
        token.raise_for_status()
        self.purview_headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        self.qualytics_headers = {"Authorization": f"Bearer {QUALYTICS_TOKEN}"}

    def _send(self, method: str, url: str, headers: dict[str, str], **kwargs: Any) -> Any:
        for _ in range(20):
            resp = self.session.request(method, url, headers=headers, timeout=60, **kwargs)
            if resp.status_code == 429:
                time.sleep(float(resp.headers.get("Retry-After") or 1))
                continue
            resp.raise_for_status()
            return resp.json() if resp.content else None
        raise RuntimeError(f"{method} {url}: still throttled")

    def qualytics_all(self, path: str, **params: Any) -> list[dict[str, Any]]:
        items, page = [], 1
        while True:
            body = self._send("GET", self.qualytics + path, self.qualytics_headers,
                              params={**params, "page": page, "size": 100})  # fmt: skip
            items += body["items"]
            if page >= body["pages"]:
                return items
            page += 1

    def find(self, qualified_name: str, entity_type: str) -> str:
        body = {"keywords": None, "limit": 10, "filter": {"and": [
            {"entityType": entity_type},
            {"attributeName": "qualifiedName", "operator": "eq", "attributeValue": qualified_name}]}}  # fmt: skip
        hits = self._send("POST", f"{self.purview}/datamap/api/search/query?{SEARCH_API}", self.purview_headers,
                          json=body)["value"]  # fmt: skip
        return str(hits[0]["id"])

    def entity(self, guid: str) -> dict[str, Any]:
        return self._send(
            "GET", f"{self.purview}/datamap/api/atlas/v2/entity/guid/{guid}", self.purview_headers
        )["entity"]

    def write(self, guid: str, values: dict[str, Any]) -> None:
        self._send("POST", f"{self.purview}/datamap/api/atlas/v2/entity/guid/{guid}/businessmetadata",
                   self.purview_headers, params={"isOverwrite": "false"}, json={GROUP: values})  # fmt: skip


def naive_push(local: Any, estate: Estate) -> None:
    """Read Qualytics table by table, find each table in Purview, write every entity one POST at a time."""
    client = NaiveClient(local)
    ui = local.qualytics.ui_url.rstrip("/")
    ds = estate.ds
    score = client._send(
        "GET", f"{client.qualytics}/datastores/{ds}/quality-scores", client.qualytics_headers
    )
    snapshots = score if isinstance(score, list) else score.get("items", [])
    total_anomalies = total_checks = 0
    for table in client.qualytics_all("/containers", datastore=ds, container_type="table"):
        cid = int(table["id"])
        fields = client.qualytics_all("/fields", container=cid)
        checks = client.qualytics_all("/quality-checks", datastore=ds, container=cid, status="Active")
        anomalies = client.qualytics_all("/anomalies", datastore=ds, container=cid, status="Active")
        total_checks += len(checks)
        total_anomalies += len(anomalies)
        table_guid = client.find(f"{estate.root_qn}/{table['name']}", "azure_sql_table")
        entity = client.entity(table_guid)
        columns = {ref["displayText"]: ref["guid"] for ref in entity["relationshipAttributes"]["columns"]}
        values = {"AnomalyCount": len(anomalies), "CheckCount": len(checks),
                  "QualyticsURL": f"{ui}/datastores/{ds}/tables/{cid}"}  # fmt: skip
        if (table.get("metrics") or {}).get("quality_score"):
            values["QualityScore"] = round(table["metrics"]["quality_score"]["total"], 1)
        client.write(table_guid, values)
        for fld in fields:
            name = fld["name"]

            def on(item: dict[str, Any], name: str = name) -> bool:
                names = [f["name"] for f in item.get("fields") or []]
                for failed in item.get("failed_checks") or []:
                    names += [f["name"] for f in (failed.get("quality_check") or {}).get("fields") or []]
                return name in names

            values = {"AnomalyCount": sum(map(on, anomalies)), "CheckCount": sum(map(on, checks)),
                      "QualyticsURL": f"{ui}/datastores/{ds}/tables/{cid}/fields/{fld['id']}"}  # fmt: skip
            if fld.get("quality_score"):
                values["QualityScore"] = round(fld["quality_score"]["total"], 1)
            client.write(columns[name], values)
    schema_guid = client.find(estate.root_qn, "azure_sql_schema")
    values = {
        "AnomalyCount": total_anomalies,
        "CheckCount": total_checks,
        "QualyticsURL": f"{ui}/datastores/{ds}",
    }
    if snapshots:
        values["QualityScore"] = round(max(snapshots, key=lambda s: s["date"])["total"], 1)
    client.write(schema_guid, values)
