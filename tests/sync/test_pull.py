"""Pull end to end through the devhost: Purview classifications and labels → tags in Qualytics.

Every test builds its own database in both simulators (unique names), connects its own integration and
uses tag names no other test uses, so the session-wide simulators do not couple the tests.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field

import pytest

from purview_sync.app.services import Services
from purview_sync.dev.local_env import LocalEnvironment
from purview_sync.storage.mappings import TAG_KIND, TagMapping
from purview_sync.sync.tag_state import own_tag_names
from purview_sync.sync.tagnames import CATEGORY
from tests.conftest import Api
from tests.helpers import datastore_entry, run_sync, wait_for_release

HOST = "pull-srv.database.windows.net"
TABLES = {"accounts": ["id", "email", "card"], "events": ["id", "payload"]}
VIEWS = {"v_accounts": ["id", "email"]}
TAG_WRITES = (
    "tags.create",
    "tags.put",
    "tags.delete",
    "datastores.put",
    "containers.put",
    "containers.patch",
    "fields.put",
    "fields.patch",
)


@dataclass
class Estate:
    """One database in Purview and the same datastore in Qualytics."""

    db: str
    uid: str
    guids: dict[str, str]
    ds: int
    containers: dict[str, int] = field(default_factory=dict)
    fields: dict[str, int] = field(default_factory=dict)  # "table.column" → id

    @property
    def schema_qn(self) -> str:
        return f"mssql://{HOST}/{self.db}/dbo"

    def guid(self, path: str = "") -> str:
        """``""`` = the schema, ``"accounts"`` = a table, ``"accounts#email"`` = a column."""
        return self.guids[self.schema_qn + (f"/{path}" if path else "")]

    def name(self, base: str) -> str:
        """A tag / classification name of this test only (classification names allow letters, digits, _)."""
        return f"{base}_{self.uid}"


def make_estate(local: LocalEnvironment) -> Estate:
    assert local.purview and local.qualytics
    uid = uuid.uuid4().hex[:8]
    db = f"pull_{uid}"
    guids = local.purview.add_sql_database(
        HOST, db, flavor="azure_sql", collection="fin01", schemas={"dbo": TABLES}, views={"dbo": VIEWS}
    )
    ds = local.qualytics.add_datastore(
        f"{db}.dbo", type="sqlserver", store_type="jdbc", database=db, schema="dbo", host=HOST
    )
    estate = Estate(db=db, uid=uid, guids=guids, ds=ds)
    for kind, group in (("table", TABLES), ("view", VIEWS)):
        for table, columns in group.items():
            cid = local.qualytics.add_container(ds, table, table_type=kind)
            estate.containers[table] = cid
            for column in columns:
                estate.fields[f"{table}.{column}"] = local.qualytics.add_field(cid, column)
    return estate


def connect(api: Api, local: LocalEnvironment, *, overwrite_tags: bool = False) -> str:
    resp = api.post(
        "/integrations", json=local.connect_body(overwrite_tags=overwrite_tags, domains=["fin01"])
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def pull(api: Api, integration: str, estate: Estate) -> dict:
    run = run_sync(api, integration, pull=True, push=False, datastore_ids=[estate.ds])
    entry = datastore_entry(run, estate.ds)
    assert entry["status"] == "completed", entry
    assert not entry["errors"], entry["errors"]
    return entry


def own(local: LocalEnvironment, kind: str, ident: int) -> list[str]:
    assert local.qualytics
    return local.qualytics.tags_of(kind, ident)


def tag_writes(local: LocalEnvironment) -> Counter[str]:
    assert local.qualytics
    return Counter({k: local.qualytics.stats[k] for k in TAG_WRITES})


@pytest.fixture
def estate(local: LocalEnvironment) -> Estate:
    return make_estate(local)


# --- own tags (unit) ------------------------------------------------------------------------------


def test_own_tags_use_the_inherited_marker_only_when_present() -> None:
    entity = {
        "global_tags": [
            {"name": "mine", "inherited": False},
            {"name": "from_table", "inherited": True},
            {"name": "both", "inherited": False},
        ]
    }
    assert own_tag_names(entity) == ["mine", "both"]


def test_own_tags_without_the_marker_are_every_name_shown_never_minus_the_parents() -> None:
    """Issue 13 point 3: a name the parent also shows is the child's too (the user may have put it on
    both); the old rule subtracted it and the next PATCH dropped the user's tag."""
    entity = {"global_tags": [{"name": "mine"}, {"name": "Team-A"}, {"name": "mine"}, "plain"]}
    assert own_tag_names(entity) == ["mine", "Team-A", "plain"]
    assert own_tag_names({"global_tags": None}) == []


# --- end to end -----------------------------------------------------------------------------------


def test_classifications_and_labels_land_as_tags_on_the_matching_resources(
    api: Api, local: LocalEnvironment, estate: Estate, services: Services
) -> None:
    assert local.purview and local.qualytics
    p = local.purview
    schema_cls, table_cls, label = estate.name("Schema"), estate.name("Confidential"), estate.name("gold")
    card = f"MICROSOFT.FINANCIAL.CARD_{estate.uid.upper()}_NUMBER"
    card_tag = f"Card {estate.uid.capitalize()} Number"
    view_cls = estate.name("ViewCls")
    p.add_classification(estate.guid(), schema_cls)
    p.add_classification(estate.guid("accounts"), table_cls)
    p.set_labels(estate.guid("accounts"), [label])
    p.add_classification(estate.guid("accounts#card"), card)
    p.add_classification(estate.guid("accounts#email"), card)
    p.add_classification(estate.guid("v_accounts#email"), view_cls)
    integration = connect(api, local)
    writes = tag_writes(local)

    entry = pull(api, integration, estate)

    delta = tag_writes(local) - writes
    assert delta == Counter({"tags.create": 5, "datastores.put": 1, "containers.patch": 1, "fields.patch": 1})
    assert own(local, "datastore", estate.ds) == [schema_cls]
    assert own(local, "container", estate.containers["accounts"]) == sorted([table_cls, label])
    assert own(local, "container", estate.containers["events"]) == []
    assert own(local, "field", estate.fields["accounts.card"]) == [card_tag]
    assert own(local, "field", estate.fields["accounts.email"]) == [card_tag]
    assert own(local, "field", estate.fields["accounts.id"]) == []
    assert own(local, "field", estate.fields["v_accounts.email"]) == [view_cls]
    assert entry["tags_added"] == 6 and entry["tags_removed"] == 0 and entry["tags_skipped"] == 0
    tags = local.qualytics.tags
    assert tags[card_tag].type == "global" and tags[card_tag].category == CATEGORY
    assert tags[card_tag].description == f"Microsoft Purview classification {card}"
    assert tags[label].description == f"Microsoft Purview label {label}"
    assert tags[schema_cls].category == CATEGORY
    rows = services.mappings.list_for_datastore(integration, estate.ds)
    assert {(m.resource_kind, m.resource_id, m.tag_name) for m in rows} == {
        ("datastore", estate.ds, schema_cls),
        ("container", estate.containers["accounts"], table_cls),
        ("container", estate.containers["accounts"], label),
        ("field", estate.fields["accounts.card"], card_tag),
        ("field", estate.fields["accounts.email"], card_tag),
        ("field", estate.fields["v_accounts.email"], view_cls),
    }
    owned = services.mappings.owned_tags(integration)
    assert {n: r.taken_over for n, r in owned.items()} == dict.fromkeys(
        [schema_cls, table_cls, label, card_tag, view_cls], False
    )
    assert all(r.resource_kind == TAG_KIND for r in owned.values())


def test_a_removed_classification_or_label_is_removed_and_its_unused_tag_deleted(
    api: Api, local: LocalEnvironment, estate: Estate
) -> None:
    assert local.purview and local.qualytics
    p = local.purview
    secret, shared, label = estate.name("Secret"), estate.name("Shared"), estate.name("silver")
    p.add_classification(estate.guid("accounts#email"), secret)
    p.add_classification(estate.guid("accounts#email"), shared)
    p.add_classification(estate.guid("events#payload"), shared)
    p.set_labels(estate.guid("events"), [label])
    integration = connect(api, local)
    assert pull(api, integration, estate)["tags_added"] == 4

    p.remove_classification(estate.guid("accounts#email"), secret)
    p.remove_classification(estate.guid("accounts#email"), shared)
    p.set_labels(estate.guid("events"), [])
    entry = pull(api, integration, estate)

    assert entry["tags_removed"] == 3 and entry["tags_added"] == 0
    assert own(local, "field", estate.fields["accounts.email"]) == []
    assert own(local, "container", estate.containers["events"]) == []
    assert own(local, "field", estate.fields["events.payload"]) == [shared]
    assert secret not in local.qualytics.tags and label not in local.qualytics.tags  # nothing uses them
    assert shared in local.qualytics.tags  # still on events.payload


def test_the_users_own_tags_survive_every_pull(
    api: Api, local: LocalEnvironment, estate: Estate, services: Services
) -> None:
    assert local.purview and local.qualytics
    q, p = local.qualytics, local.purview
    mine, keep, cls = estate.name("mine"), estate.name("Keep"), estate.name("Pii")
    q.set_tags("datastore", estate.ds, [mine])
    q.set_tags("container", estate.containers["accounts"], [mine])
    q.set_tags("field", estate.fields["accounts.email"], [mine, keep])  # keep: also a Purview class.
    p.add_classification(estate.guid(), cls)
    p.add_classification(estate.guid("accounts"), cls)
    p.add_classification(estate.guid("accounts#email"), cls)
    p.add_classification(estate.guid("accounts#email"), keep)
    integration = connect(api, local)

    first = pull(api, integration, estate)
    assert first["tags_added"] == 3 and first["tags_skipped"] == 0  # keep is already there: nothing to do
    assert own(local, "datastore", estate.ds) == [mine, cls]
    assert own(local, "container", estate.containers["accounts"]) == [mine, cls]
    assert own(local, "field", estate.fields["accounts.email"]) == [mine, keep, cls]

    for guid in (estate.guid(), estate.guid("accounts"), estate.guid("accounts#email")):
        p.remove_classification(guid, cls)
    p.remove_classification(estate.guid("accounts#email"), keep)
    second = pull(api, integration, estate)

    assert second["tags_removed"] == 3
    assert own(local, "datastore", estate.ds) == [mine]
    assert own(local, "container", estate.containers["accounts"]) == [mine]
    assert own(local, "field", estate.fields["accounts.email"]) == [mine, keep]
    assert mine in q.tags and keep in q.tags and cls not in q.tags
    assert services.mappings.list_for_datastore(integration, estate.ds) == []


def test_overwrite_off_skips_an_existing_tag_and_on_takes_it_over(
    api: Api, local: LocalEnvironment, estate: Estate, services: Services
) -> None:
    assert local.purview and local.qualytics
    q, p = local.qualytics, local.purview
    restricted = estate.name("Restricted")
    q.create_tag(restricted, category="Governance", description="hand made")
    p.add_classification(estate.guid("accounts"), restricted)
    p.add_classification(estate.guid("events"), restricted)

    keeper = connect(api, local, overwrite_tags=False)
    entry = pull(api, keeper, estate)
    assert entry["tags_skipped"] == 2 and entry["tags_added"] == 0
    assert any(restricted in w and "overwrite_tags" in w for w in entry["warnings"]), entry["warnings"]
    assert own(local, "container", estate.containers["accounts"]) == []
    assert (q.tags[restricted].category, q.tags[restricted].description) == ("Governance", "hand made")
    assert services.mappings.list_for_datastore(keeper, estate.ds) == []

    taker = connect(api, local, overwrite_tags=True)
    entry = pull(api, taker, estate)
    assert entry["tags_added"] == 2 and entry["tags_skipped"] == 0
    assert own(local, "container", estate.containers["accounts"]) == [restricted]
    assert own(local, "container", estate.containers["events"]) == [restricted]
    tag = q.tags[restricted]
    assert tag.category == CATEGORY and tag.description == f"Microsoft Purview classification {restricted}"
    assert services.mappings.owned_tags(taker)[restricted].taken_over is True
    rows = services.mappings.list_for_datastore(taker, estate.ds)
    assert len(rows) == 2 and all(m.taken_over for m in rows)

    p.remove_classification(estate.guid("accounts"), restricted)
    p.remove_classification(estate.guid("events"), restricted)
    entry = pull(api, taker, estate)
    assert entry["tags_removed"] == 2
    assert own(local, "container", estate.containers["accounts"]) == []
    assert restricted in q.tags  # taken over: never deleted, even unused


def test_table_tags_are_not_copied_to_columns_and_propagated_ones_are_not_pulled(
    api: Api, local: LocalEnvironment, estate: Estate
) -> None:
    assert local.purview and local.qualytics
    p, q = local.purview, local.qualytics
    table_cls, column_cls, spread = estate.name("Tbl"), estate.name("Col"), estate.name("Spread")
    p.add_classification(estate.guid("accounts"), table_cls)
    p.add_classification(estate.guid("accounts#email"), table_cls, propagated_from=estate.guid("accounts"))
    p.add_classification(estate.guid("accounts#card"), column_cls)
    p.add_classification(estate.guid("accounts#id"), spread, propagated_from=estate.guid("events"))
    p.add_classification(estate.guid("events"), spread, propagated_from=estate.guid())
    integration = connect(api, local)

    entry = pull(api, integration, estate)

    assert entry["tags_added"] == 2
    assert own(local, "container", estate.containers["accounts"]) == [table_cls]
    for column in TABLES["accounts"]:
        expected = [column_cls] if column == "card" else []
        assert own(local, "field", estate.fields[f"accounts.{column}"]) == expected, column
    assert own(local, "container", estate.containers["events"]) == []
    assert spread not in q.tags  # only ever propagated: never pulled
    # Qualytics itself shows the table's (global) tag on its fields as inherited; that is not a copy
    assert table_cls in q.effective_tags_of("field", estate.fields["accounts.email"])

    second = pull(api, integration, estate)  # and the inherited one is not mistaken for the field's own
    assert (second["tags_added"], second["tags_removed"]) == (0, 0)
    assert own(local, "field", estate.fields["accounts.email"]) == []


def test_pulling_twice_changes_nothing(api: Api, local: LocalEnvironment, estate: Estate) -> None:
    assert local.purview and local.qualytics
    p, q = local.purview, local.qualytics
    user = estate.name("UserTag")
    q.create_tag(user, category="Governance")
    p.add_classification(estate.guid(), estate.name("Ds"))
    p.add_classification(estate.guid("accounts"), estate.name("T"))
    p.add_classification(estate.guid("accounts"), user)  # skipped (overwrite off) every time
    p.set_labels(estate.guid("events"), [estate.name("lbl")])
    p.add_classification(estate.guid("accounts#email"), "MICROSOFT.PERSONAL.EMAIL")
    p.add_classification(estate.guid("v_accounts#id"), estate.name("V"))
    q.set_tags("field", estate.fields["accounts.card"], [estate.name("own")])
    integration = connect(api, local)
    first = pull(api, integration, estate)
    assert first["tags_added"] == 5 and first["tags_skipped"] == 1
    tags_before = {n: (t.category, t.description) for n, t in q.tags.items()}
    own_before = {
        **{("container", c): own(local, "container", c) for c in estate.containers.values()},
        **{("field", f): own(local, "field", f) for f in estate.fields.values()},
        ("datastore", estate.ds): own(local, "datastore", estate.ds),
    }
    writes = tag_writes(local)

    second = pull(api, integration, estate)

    assert tag_writes(local) == writes  # not one tag write request
    assert (second["tags_added"], second["tags_removed"], second["tags_skipped"]) == (0, 0, 1)
    assert {n: (t.category, t.description) for n, t in q.tags.items()} == tags_before
    for (kind, ident), names in own_before.items():
        assert own(local, kind, ident) == names


def test_pull_repairs_what_users_and_crashes_leave_behind(
    api: Api, local: LocalEnvironment, estate: Estate, services: Services
) -> None:
    assert local.purview and local.qualytics
    p, q = local.purview, local.qualytics
    kept, gone, fresh = estate.name("Kept"), estate.name("Gone"), estate.name("Fresh")
    p.add_classification(estate.guid("accounts#email"), kept)
    p.add_classification(estate.guid("events#payload"), gone)
    integration = connect(api, local)
    pull(api, integration, estate)
    email, payload = estate.fields["accounts.email"], estate.fields["events.payload"]

    # a user takes pull's tag off a field, and deletes another of pull's tags in Qualytics altogether
    q.set_tags("field", email, [])
    q.tags.pop(gone)
    q.set_tags("field", payload, [])
    # a crash left an intent row (the tag was never written) and a claim whose tag was never created
    ghost = TagMapping(
        "field", estate.fields["accounts.id"], fresh, "classification:x", datastore_id=estate.ds
    )
    services.mappings.put(integration, ghost)
    p.add_classification(estate.guid("accounts#card"), fresh)
    services.mappings.claim_tag(integration, TagMapping(TAG_KIND, 0, fresh, f"classification:{fresh}"))

    entry = pull(api, integration, estate)

    assert own(local, "field", email) == [kept]  # the mapping says pull put it there: back it goes
    assert own(local, "field", payload) == [gone] and q.tags[gone].category == CATEGORY  # re-created
    assert own(local, "field", estate.fields["accounts.card"]) == [fresh] and fresh in q.tags
    assert own(local, "field", estate.fields["accounts.id"]) == []
    assert entry["tags_added"] == 3 and entry["tags_removed"] == 0
    rows = {(m.resource_id, m.tag_name) for m in services.mappings.list_for_datastore(integration, estate.ds)}
    assert rows == {(email, kept), (payload, gone), (estate.fields["accounts.card"], fresh)}
    assert not services.mappings.owned_tags(integration)[fresh].taken_over


def test_a_tag_an_earlier_integration_pulled_is_adopted_not_skipped_and_never_deleted(
    api: Api, local: LocalEnvironment, estate: Estate, services: Services
) -> None:
    assert local.purview and local.qualytics
    p, q = local.purview, local.qualytics
    old = estate.name("Legacy")
    p.add_classification(estate.guid("accounts"), old)
    first = connect(api, local)
    pull(api, first, estate)
    wait_for_release(services, first)  # the finisher frees the lock a moment after the run's last write
    assert api.delete(f"/integrations/{first}").status_code == 204  # its mappings go, its tags stay
    q.set_tags("container", estate.containers["accounts"], [])

    second = connect(api, local, overwrite_tags=False)
    entry = pull(api, second, estate)
    assert entry["tags_added"] == 1 and entry["tags_skipped"] == 0
    assert own(local, "container", estate.containers["accounts"]) == [old]
    assert services.mappings.owned_tags(second)[old].taken_over is True

    p.remove_classification(estate.guid("accounts"), old)
    assert pull(api, second, estate)["tags_removed"] == 1
    assert old in q.tags  # not created by this integration: kept
