"""The Qualytics simulator's tag semantics over real HTTP — since the product's pull logic is only as right
as the simulator it is tested against: full replacement, atomic bulk PATCH, inheritance, CRUD, rename."""

from __future__ import annotations

from urllib.parse import quote

from purview_sync.dev.qualytics import QualyticsSim
from tests.dev.qualytics.support import Api


def test_put_tags_is_full_replacement(sim: QualyticsSim, api: Api, estate: dict[str, int]) -> None:
    ds = estate["ds"]
    resp = api.put(f"/datastores/{ds}", {"tags": ["production", "critical"]})
    assert resp.status_code == 200
    assert [t["name"] for t in resp.json()["global_tags"]] == ["production", "critical"]
    assert sim.tags["critical"].type == "global"  # auto-created as a global tag
    assert api.get("/global-tags/critical").json()["type"] == "global"

    api.put(f"/datastores/{ds}", {"tags": ["critical"]})
    assert sim.tags_of("datastore", ds) == ["critical"]
    assert "production" in sim.tags  # unassigned, not deleted

    api.put(f"/datastores/{ds}", {"description": "no tags key"})
    api.put(f"/datastores/{ds}", {"tags": None})
    assert sim.tags_of("datastore", ds) == ["critical"]  # omitted / null leave tags alone
    assert sim.datastores[ds].description == "no tags key"

    api.put(f"/datastores/{ds}", {"tags": []})
    assert sim.tags_of("datastore", ds) == []

    field_put = api.put(f"/fields/{estate['amount']}", {"tags": ["pii", "pii"]})
    assert [t["name"] for t in field_put.json()["global_tags"]] == ["pii"]
    assert api.put(f"/datastores/{ds}", {"tags": "pii"}).status_code == 422
    assert api.put(f"/datastores/{ds}", {"tags": [""]}).status_code == 422


def test_bulk_patch_replaces_tags_atomically(sim: QualyticsSim, api: Api, estate: dict[str, int]) -> None:
    tx, view = estate["tx"], estate["view"]
    sim.set_tags("container", view, ["keep-me"])
    resp = api.patch("/containers", [{"id": tx, "tags": ["Confidential"]}, {"id": view}])
    assert resp.status_code == 200 and [c["id"] for c in resp.json()] == [tx, view]
    assert sim.tags_of("container", tx) == ["Confidential"]
    assert sim.tags_of("container", view) == ["keep-me"]  # no "tags" key: unchanged

    failed = api.patch("/containers", [{"id": tx, "tags": []}, {"id": 999, "tags": []}])
    assert failed.status_code == 404
    assert sim.tags_of("container", tx) == ["Confidential"]  # nothing applied
    assert api.patch("/containers", {"id": tx}).status_code == 422

    fields = api.patch("/fields", [{"id": estate["amount"], "tags": ["Email"]},
                                   {"id": estate["currency"], "tags": [], "status": "excluded"}])
    assert fields.status_code == 200
    assert sim.tags_of("field", estate["amount"]) == ["Email"]
    assert sim.fields[estate["currency"]].status == "excluded"
    assert api.patch("/fields", [{"id": estate["amount"], "status": "bogus"}]).status_code == 422


def test_inherited_tags_are_shown_unmarked_and_not_in_the_own_list(sim: QualyticsSim, api: Api,
                                                                    estate: dict[str, int]) -> None:
    ds, tx, amount = estate["ds"], estate["tx"], estate["amount"]
    api.put(f"/datastores/{ds}", {"tags": ["production"]})
    api.patch("/containers", [{"id": tx, "tags": ["finance"]}])
    api.put(f"/fields/{amount}", {"tags": ["pii", "production"]})  # also inherited: listed once

    tags = api.get(f"/fields/{amount}").json()["global_tags"]
    assert [t["name"] for t in tags] == ["pii", "production", "finance"]
    assert not any("inherited" in t or "inherited_from" in t for t in tags)  # no marker: not in the schemas
    currency = api.get(f"/fields/{estate['currency']}").json()["global_tags"]
    assert [t["name"] for t in currency] == ["finance", "production"]
    assert sim.tags_of("field", estate["currency"]) == []
    assert sim.effective_tags_of("field", estate["currency"]) == ["finance", "production"]

    # replacing a container's own tags leaves what it inherits
    api.patch("/containers", [{"id": tx, "tags": []}])
    assert [t["name"] for t in api.get(f"/containers/{tx}").json()["global_tags"]] == ["production"]
    # and removing a datastore tag removes it from every child
    api.put(f"/datastores/{ds}", {"tags": []})
    assert api.get(f"/containers/{tx}").json()["global_tags"] == []
    assert len(api.all_items("/fields", container_id=tx, tag="production")) == 1  # only the field's own

    # external tags (seeded as a catalog pull would) do not cascade from tables to columns
    sim.create_tag("Sensitive", type="external", category="Microsoft Purview")
    sim.set_tags("container", tx, ["Sensitive"])
    assert [t["type"] for t in api.get(f"/containers/{tx}").json()["global_tags"]] == ["external"]
    assert "Sensitive" not in sim.effective_tags_of("field", estate["currency"])


def test_a_materialised_cascade_copies_and_removes_the_parents_tags(sim: QualyticsSim, api: Api,
                                                                   estate: dict[str, int]) -> None:
    sim.configure(tag_cascade="materialised")
    ds, tx, amount = estate["ds"], estate["tx"], estate["amount"]
    api.put(f"/datastores/{ds}", {"tags": ["production"]})
    assert sim.tags_of("container", tx) == ["production"] and sim.tags_of("field", amount) == ["production"]
    api.put(f"/fields/{amount}", {"tags": ["pii", "production"]})
    api.patch("/containers", [{"id": tx, "tags": ["production", "finance"]}])
    assert sim.tags_of("field", amount) == ["pii", "production", "finance"]
    assert [t["name"] for t in api.get(f"/fields/{amount}").json()["global_tags"]] == sim.tags_of("field", amount)
    api.put(f"/datastores/{ds}", {"tags": []})  # removal cascades
    assert sim.tags_of("container", tx) == ["finance"] and sim.tags_of("field", amount) == ["pii", "finance"]
    new = sim.add_field(tx, "added_later")  # at creation, the parents' tags are copied
    assert sim.tags_of("field", new) == ["finance"]


def test_global_tag_crud_and_detach_on_delete(sim: QualyticsSim, api: Api, estate: dict[str, int]) -> None:
    created = api.post("/global-tags", {"type": "global", "name": "Credit Card Number", "color": "#F44336",
                                        "description": "From Purview classification MICROSOFT.FINANCIAL.CREDIT_CARD_NUMBER",
                                        "category": "Microsoft Purview", "weight_modifier": 2})
    assert created.status_code == 200
    tag = created.json()
    assert {k: tag[k] for k in ("type", "name", "category", "weight_modifier")} == {
        "type": "global", "name": "Credit Card Number", "category": "Microsoft Purview", "weight_modifier": 2}
    assert set(tag) >= {"id", "created", "color", "description"}

    assert api.post("/global-tags", {"type": "global", "name": "Credit Card Number"}).status_code == 409
    sim.configure(duplicate_tag_status=400)  # the status of a duplicate is not documented
    assert api.post("/global-tags", {"type": "global", "name": "Credit Card Number"}).status_code == 400
    external = api.post("/global-tags", {"type": "external", "name": "Finance"})
    assert external.status_code == 422 and "Finance" not in sim.tags
    assert api.post("/global-tags", {"name": "no-type"}).status_code == 422
    assert api.post("/global-tags", {"type": "global", "name": "w", "weight_modifier": 11}).status_code == 422

    path = "/global-tags/" + quote("Credit Card Number")
    assert api.get(path).json()["id"] == tag["id"]
    assert api.put(path, {"description": "x"}).status_code == 422  # no type: the union cannot be told
    updated = api.put(path, {"type": "global", "description": "now from label X", "category": "Microsoft Purview",
                             "color": "#000000"})
    assert updated.json()["description"] == "now from label X" and sim.tags["Credit Card Number"].color == "#000000"

    api.put(f"/datastores/{estate['ds']}", {"tags": ["Credit Card Number"]})
    api.patch("/fields", [{"id": estate["amount"], "tags": ["Credit Card Number", "pii"]}])
    listing = {t["name"]: t["count"] for t in api.get("/global-tags/listing").json()}
    assert listing == {"Credit Card Number": 2, "pii": 1}
    assert [t["name"] for t in api.all_items("/global-tags")] == ["Credit Card Number", "pii"]

    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404
    assert sim.tags_of("datastore", estate["ds"]) == []
    assert sim.tags_of("field", estate["amount"]) == ["pii"]
    assert [t["name"] for t in api.get(f"/fields/{estate['amount']}").json()["global_tags"]] == ["pii"]

    sim.create_tag("Catalog", type="external")
    assert api.delete("/global-tags/Catalog").status_code == 403
    assert api.put("/global-tags/Catalog", {"type": "external", "color": "#111111"}).status_code == 422
    assert api.put("/global-tags/Catalog", {"type": "global", "category": "Governance"}).status_code == 422
    assert api.put("/global-tags/Catalog", {"type": "external", "category": "Governance"}).json()[
        "category"] == "Governance"


def test_renaming_a_tag_keeps_its_assignments(sim: QualyticsSim, api: Api, estate: dict[str, int]) -> None:
    sim.set_tags("container", estate["tx"], ["old-name"])
    assert api.put("/global-tags/old-name", {"type": "global", "name": "new-name"}).status_code == 200
    assert sim.tags_of("container", estate["tx"]) == ["new-name"] and "old-name" not in sim.tags
    sim.create_tag("taken")
    assert api.put("/global-tags/new-name", {"type": "global", "name": "taken"}).status_code == 409
