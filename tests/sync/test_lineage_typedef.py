"""The lineage types: created once (one POST for both, then no request at all), race-safe like the group."""

from __future__ import annotations

from typing import Any

from purview_sync.app.services import Services
from purview_sync.clients.connection import TOKEN_HINT
from purview_sync.clients.http import HttpError
from purview_sync.clients.purview import PurviewClient
from purview_sync.dev.local_env import LocalEnvironment
from purview_sync.sync import lineage_typedef
from purview_sync.sync.lineage_typedef import COMPUTED_PROCESS, COMPUTED_TABLE, ensure_lineage_typedefs
from tests.conftest import Api
from tests.sync.lineage_estate import connect, make_estate, sync


def entity_def_creates(local: LocalEnvironment, since: int = 0) -> list[Any]:
    assert local.purview
    return [
        c for c in list(local.purview.calls)[since:]
        if c.method == "POST" and c.path.endswith("/types/typedefs") and b"entityDefs" in c.body
    ]  # fmt: skip


class LateClient(PurviewClient):
    """A real client whose first look at each entity def happens before a concurrent creator's POST lands."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.looked: set[str] = set()

    def get_entity_def(self, name: str) -> dict[str, Any] | None:
        if name not in self.looked:
            self.looked.add(name)
            return None
        return super().get_entity_def(name)


def test_the_two_types_are_created_once_and_a_race_counts_as_success(
    api: Api, local: LocalEnvironment, services: Services
) -> None:
    assert local.purview
    integration_id = connect(api, local, lineage=True)
    for _ in range(2):
        estate = make_estate(local)
        entry = sync(api, integration_id, estate.ds, push=True, pull=False)
        assert entry["errors"] == [], entry
    creates = [c for c in entity_def_creates(local) if c.status == 200]
    assert len(creates) == 1  # both types in one POST, once for the account (this process remembers it)
    assert {d["name"] for d in creates[0].json()["entityDefs"]} == {COMPUTED_TABLE, COMPUTED_PROCESS}

    integration = services.integrations.get(integration_id)
    assert integration
    base = services.purview_for(integration)
    since = len(local.purview.calls)
    lineage_typedef.forget_ensured()
    ensure_lineage_typedefs(base)  # a new process: GETs only, no write
    assert entity_def_creates(local, since) == []

    lineage_typedef.forget_ensured()
    late = LateClient(integration.purview_url, base.credential, base.allowed_hosts)
    try:
        ensure_lineage_typedefs(late)  # POST → 409 (exists) → GET finds it: success
    finally:
        late.close()
        base.close()
    assert [c.status for c in entity_def_creates(local, since)] == [409]


def refused(status: int) -> HttpError:
    return HttpError("Purview", "POST", "https://acct.purview.azure.com/datamap/api/types/typedefs", status,
                     {"errorMessage": "no"}, {})  # fmt: skip


def test_a_refused_lineage_type_names_a_token_problem_or_a_role_as_the_group_does() -> None:
    token = lineage_typedef._refusal(refused(401))
    assert token is not None and token.action == TOKEN_HINT and "token" in str(token)  # not a role (§1.6)
    role = lineage_typedef._refusal(refused(403))
    assert role is not None and "Data Curator role on the root collection" in role.action
    assert COMPUTED_TABLE in str(role)
    rejected = lineage_typedef._refusal(refused(400))
    assert rejected is not None and "DataSet / Process subtypes" in rejected.action
    assert lineage_typedef._refusal(refused(503)) is None and lineage_typedef._refusal(refused(429)) is None
