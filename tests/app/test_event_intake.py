"""Tolerant event intake, the parsing alone: our own body, Flow-shaped JSON, text messages, malformed ones."""

from __future__ import annotations

import json

import pytest

from purview_sync.app.event_intake import parse_event
from purview_sync.errors import ApiError

UI = "https://acme.qualytics.io"


def parsed(body: object) -> dict[str, object]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_event(raw).model_dump()


def test_the_original_body_is_unchanged() -> None:
    body = {"type": "anomaly_updated", "datastore_id": 7, "container_id": 9, "integration_id": "abc"}
    assert parsed(body) == {**body, "datastore_name": None}


def test_a_flow_body_with_name_and_link() -> None:
    body = {"flow": "Purview push", "datastore_name": "Finance DB", "datastore_link": f"{UI}/datastores/42",
            "operation_type": "scan", "operation_result": "success", "target_link": f"{UI}/datastores/42"}  # fmt: skip
    event = parsed(body)
    assert event["datastore_id"] == 42 and event["type"] == "scan_completed"
    assert event["datastore_name"] is None and event["container_id"] is None


def test_the_link_wins_over_the_name_and_datastore_link_over_other_strings() -> None:
    body = {
        "message": f"see {UI}/datastores/5",
        "datastore_link": f"{UI}/datastores/6",
        "datastore_name": "x",
    }
    assert parsed(body)["datastore_id"] == 6
    assert parsed({"nested": {"deep": [f"{UI}/datastores/77/overview"]}})["datastore_id"] == 77


def test_a_name_alone_is_resolved_later() -> None:
    event = parsed({"datastore_name": "  Finance DB "})
    assert event["datastore_id"] is None and event["datastore_name"] == "Finance DB"


def test_a_table_link_gives_the_container() -> None:
    event = parsed({"target_link": f"{UI}/datastores/42/tables/314"})
    assert (event["datastore_id"], event["container_id"]) == (42, 314)
    # a table link of another datastore is not this event's container
    other = parsed({"datastore_id": 1, "target_link": f"{UI}/datastores/42/tables/314"})
    assert (other["datastore_id"], other["container_id"]) == (1, None)
    explicit = parsed(
        {"datastore_id": 42, "container_id": 5, "target_link": f"{UI}/datastores/42/tables/314"}
    )
    assert explicit["container_id"] == 5


def test_the_datastore_link_decides_which_table_link_counts() -> None:
    body = {"datastore_link": f"{UI}/datastores/6", "target_link": f"{UI}/datastores/42/tables/3"}
    assert (parsed(body)["datastore_id"], parsed(body)["container_id"]) == (6, None)
    body["container_link"] = f"{UI}/datastores/6/tables/8"
    assert (parsed(body)["datastore_id"], parsed(body)["container_id"]) == (6, 8)


def test_a_text_message_with_the_link() -> None:
    text = f"Operation scan on Finance DB finished: success. {UI}/datastores/42".encode()
    assert parsed(text)["datastore_id"] == 42
    table = parsed(f"scan done {UI}/datastores/42/tables/3 ok".encode())
    assert (table["datastore_id"], table["container_id"]) == (42, 3)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"[]", "body"),
        (b'"a string"', "body"),
        (b"42", "body"),
        (b"null", "body"),
        (b"", "body"),
        (b"scan finished on Finance DB", "body"),  # text without a link
        (b"\xff\xfe\x00garbage", "body"),
        (b"[" * 20000 + b"]" * 20000, "body"),
        (b"{}", "datastore_id"),
        (b'{"type": "scan_completed"}', "datastore_id"),
        (b'{"datastore_name": "   "}', "datastore_id"),
        (b'{"datastore_id": "12"}', "datastore_id"),
        (b'{"datastore_id": 1.5}', "datastore_id"),
        (b'{"datastore_id": true}', "datastore_id"),
        (b'{"datastore_id": -1}', "datastore_id"),
        (b'{"datastore_id": 1, "type": "scan"}', "type"),
        (b'{"datastore_id": 1, "type": 3}', "type"),
        (b'{"datastore_id": 1, "container_id": "t"}', "container_id"),
        (b'{"datastore_id": 1, "integration_id": 5}', "integration_id"),
        (b'{"datastore_link": "https://x/datastores/abc"}', "datastore_id"),
    ],
)
def test_malformed_events_are_400(raw: bytes, field: str) -> None:
    with pytest.raises(ApiError) as info:
        parse_event(raw)
    assert (info.value.status, info.value.code, info.value.extra.get("field")) == (
        400,
        "validation_error",
        field,
    )


def test_too_large_is_413() -> None:
    with pytest.raises(ApiError) as info:
        parse_event(b'{"datastore_id": 1, "pad": "' + b"a" * 70000 + b'"}')
    assert info.value.status == 413
