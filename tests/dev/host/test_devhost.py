"""The devhost mirrors the Functions host: routing, auth keys, Base64 queues, retries and poison."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import azure.functions as func
import pytest
import requests
from azure.storage.queue import QueueClient

from purview_sync.dev.azurite import Azurite
from purview_sync.dev.host import DevHost, HostConfig, parse_timespan, route_regex

KEY = "test-function-key"
IN_QUEUE, OUT_QUEUE = "devhost-test-in", "devhost-test-out"


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.lock = threading.Lock()

    def add(self, body: str, dequeue_count: int) -> None:
        with self.lock:
            self.calls.append((body, dequeue_count))


def make_app(recorder: Recorder) -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

    @app.route(route="items/{item_id}", methods=["GET", "DELETE"])
    def get_item(req: func.HttpRequest) -> func.HttpResponse:
        body = {"id": req.route_params["item_id"], "q": req.params.get("q"), "method": req.method}
        return func.HttpResponse(json.dumps(body), mimetype="application/json", status_code=200)

    @app.route(route="items/{item_id}/children/{child}", methods=["POST"])
    def post_child(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(json.dumps({**req.route_params, "body": req.get_json()}), status_code=201)

    @app.route(route="open", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def open_route(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("open", status_code=200)

    @app.route(route="boom", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def boom(req: func.HttpRequest) -> func.HttpResponse:
        raise RuntimeError("handler bug")

    @app.queue_trigger(arg_name="msg", queue_name=IN_QUEUE, connection="AzureWebJobsStorage")
    @app.queue_output(arg_name="out", queue_name=OUT_QUEUE, connection="AzureWebJobsStorage")
    def worker(msg: func.QueueMessage, out: func.Out[str]) -> None:
        body = msg.get_body().decode()
        recorder.add(body, msg.dequeue_count)
        if body.startswith("fail"):
            raise RuntimeError("told to fail")
        out.set(f"done:{body}")

    return app


@pytest.fixture(scope="module")
def host(azurite: Azurite) -> Iterator[tuple[DevHost, Recorder]]:
    recorder = Recorder()
    config = HostConfig(batch_size=4, max_dequeue_count=3, visibility_timeout=0.0, max_polling_interval=0.5)
    settings = {"AzureWebJobsStorage": azurite.connection_string}
    devhost = DevHost(make_app(recorder), config, KEY, settings.get, port=0, lease_seconds=30).start()
    yield devhost, recorder
    devhost.stop()


def raw(azurite: Azurite, name: str) -> QueueClient:
    client = QueueClient.from_connection_string(azurite.connection_string, name)
    with contextlib.suppress(Exception):
        client.create_queue()
    return client


def drain(client: QueueClient, want: int, timeout: float = 20.0) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        for m in client.receive_messages(max_messages=32, visibility_timeout=30):
            got.append(m.content)
            client.delete_message(m)
        time.sleep(0.1)
    return got


def test_host_json_is_read() -> None:
    config = HostConfig.from_file(Path(__file__).resolve().parents[3] / "host.json")
    assert config.route_prefix == "api"
    assert config.max_dequeue_count == 5
    assert config.batch_size == 4
    assert parse_timespan("00:01:30", 0) == 90
    assert parse_timespan("1.00:00:01", 0) == 86401


def test_route_templates() -> None:
    assert route_regex("a/{id}/b/{x?}").match("/a/1/b").groupdict() == {"id": "1", "x": None}
    assert route_regex("a/{id:int}").match("/a/7").group("id") == "7"
    assert route_regex("files/{*rest}").match("/files/x/y").group("rest") == "x/y"
    assert route_regex("a/{id}").match("/a/1/2") is None


def test_http_routing_params_and_auth(host: tuple[DevHost, Recorder]) -> None:
    devhost, _ = host
    url = devhost.url + "/api/items/42?q=hello"
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, headers={"x-functions-key": "wrong"}, timeout=5).status_code == 401
    resp = requests.get(url, headers={"x-functions-key": KEY}, timeout=5)
    assert resp.status_code == 200
    assert resp.json() == {"id": "42", "q": "hello", "method": "GET"}
    assert resp.headers["Content-Type"].startswith("application/json")
    assert requests.get(devhost.url + f"/api/items/42?code={KEY}", timeout=5).status_code == 200
    resp = requests.post(
        devhost.url + "/api/items/1/children/c2", json={"a": 1}, headers={"x-functions-key": KEY}, timeout=5
    )
    assert resp.status_code == 201 and resp.json() == {"item_id": "1", "child": "c2", "body": {"a": 1}}
    assert requests.put(url, headers={"x-functions-key": KEY}, timeout=5).status_code == 405
    assert requests.get(devhost.url + "/api/nothing", timeout=5).status_code == 404
    assert requests.get(devhost.url + "/items/42", timeout=5).status_code == 404  # route prefix required
    assert requests.get(devhost.url + "/api/open", timeout=5).text == "open"
    failed = requests.get(devhost.url + "/api/boom", timeout=5)
    assert failed.status_code == 500 and b"handler bug" not in failed.content


def test_queue_base64_and_output_binding(host: tuple[DevHost, Recorder], azurite: Azurite) -> None:
    _, recorder = host
    raw(azurite, IN_QUEUE).send_message(base64.b64encode(b"hello-queue").decode())
    out = drain(raw(azurite, OUT_QUEUE), 1)
    assert [base64.b64decode(m).decode() for m in out] == ["done:hello-queue"]
    assert ("hello-queue", 1) in recorder.calls


def test_undecodable_message_goes_straight_to_poison(
    host: tuple[DevHost, Recorder], azurite: Azurite
) -> None:
    _, recorder = host
    raw(azurite, IN_QUEUE).send_message("not base64 at all!")
    assert drain(raw(azurite, IN_QUEUE + "-poison"), 1) == ["not base64 at all!"]
    assert all(body != "not base64 at all!" for body, _ in recorder.calls)


def test_failures_retry_then_poison_after_max_dequeue(
    host: tuple[DevHost, Recorder], azurite: Azurite
) -> None:
    _, recorder = host
    payload = base64.b64encode(b"fail-always").decode()
    raw(azurite, IN_QUEUE).send_message(payload)
    assert drain(raw(azurite, IN_QUEUE + "-poison"), 1) == [payload]
    attempts = [count for body, count in recorder.calls if body == "fail-always"]
    assert attempts == [1, 2, 3]
