"""PushState rows are read per slice: a slice's read returns its containers' rows, not the datastore's."""

from __future__ import annotations

import uuid

from purview_sync.app.services import Services


def test_a_slice_reads_only_the_rows_of_its_containers(services: Services) -> None:
    repo, integration = services.push_state, f"it-{uuid.uuid4().hex[:8]}"
    rows = {(0, "root"): "h-root", (5, "t5"): "h5", (5, "c5"): "h5c", (6, "t6"): "h6", (50, "t50"): "h50"}
    repo.put_hashes(integration, 7, rows)
    repo.put_hashes(integration, 8, {(5, "other-datastore"): "x"})
    try:
        assert repo.hashes(integration, 7, {5, 6}) == {"t5": "h5", "c5": "h5c", "t6": "h6"}
        assert repo.hashes(integration, 7, {50}) == {"t50": "h50"}
        # the datastore's own row with the last slice: not the tables of the earlier slices
        assert repo.hashes(integration, 7, {0, 50}) == {"root": "h-root", "t50": "h50"}
        assert repo.hashes(integration, 7, set()) == {}
        assert repo.hashes(integration, 8, {5}) == {"other-datastore": "x"}
    finally:
        repo.delete_all(integration)
    assert repo.hashes(integration, 7, {0, 5, 6, 50}) == {}
