"""A client in read-only mode (a preview) refuses every write before it is sent; reads and searches pass."""

from __future__ import annotations

import pytest

from purview_sync.app.services import Services
from purview_sync.clients.auth import make_credential
from purview_sync.clients.http import ReadOnlyError
from purview_sync.clients.purview import PurviewClient
from purview_sync.dev.local_env import APP_CLIENT_ID, APP_CLIENT_SECRET, TENANT_ID, LocalEnvironment


def test_the_purview_client_refuses_writes_but_searches_and_reads(
    local: LocalEnvironment, services: Services
) -> None:
    assert local.purview
    credential = make_credential(TENANT_ID, APP_CLIENT_ID, APP_CLIENT_SECRET, services.settings)
    client = PurviewClient(local.purview.url, credential, [f"127.0.0.1:{local.purview.server.port}"])
    client.read_only = True
    before = len(local.purview.calls)
    try:
        assert list(client.search({"entityType": "azure_sql_schema"}, limit=5))  # a search POST is a read
        client.get_business_metadata_def("Qualytics")  # a GET
        refused = (
            lambda: client.write_business_metadata("0" * 36, "Qualytics", {"QualityScore": 1.0}),
            lambda: client.create_typedefs({"businessMetadataDefs": []}),
            lambda: client.update_typedefs({"businessMetadataDefs": []}),
        )
        for write in refused:
            with pytest.raises(ReadOnlyError, match="dry run"):
                write()
    finally:
        client.close()
    sent = [(c.method, c.path) for c in list(local.purview.calls)[before:]]
    assert ("POST", "/datamap/api/search/query") in sent
    assert [s for s in sent if s[0] != "GET" and not s[1].endswith("/search/query")] == []


def test_the_qualytics_client_refuses_every_tag_write(local: LocalEnvironment, services: Services) -> None:
    assert local.qualytics
    client = services.qualytics()
    client.read_only = True
    before = len(local.qualytics.calls)
    try:
        assert list(client.list_datastores())
        refused = (
            lambda: client.create_tag("x", description="d", category="c"),
            lambda: client.update_tag("x", category="c"),
            lambda: client.delete_tag("x"),
            lambda: client.set_datastore_tags(1, []),
            lambda: client.set_container_tags([{"id": 1, "tags": []}]),
            lambda: client.set_field_tags([{"id": 1, "tags": []}]),
        )
        for write in refused:
            with pytest.raises(ReadOnlyError):
                write()
    finally:
        client.close()
    sent = [c.method for c in list(local.qualytics.calls)[before:]]
    assert sent and set(sent) == {"GET"}
