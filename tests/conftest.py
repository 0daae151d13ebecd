"""Session fixtures: a real Azurite (started and stopped by the suite), the Entra/Purview/Qualytics
simulators with the sample estate, and the devhost serving the real ``function_app``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from purview_sync.app.services import Services, get_services, reset_services
from purview_sync.clients.budget import stop_all
from purview_sync.dev.azurite import Azurite
from purview_sync.dev.host import DevHost
from purview_sync.dev.local_env import LocalEnvironment

NO_POLL = "0 0 0 1 1 *"  # the operations poll of the suite's hosts: once a year (1 January, 00:00 UTC)


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with Azurite() as instance:
        yield instance
        stop_all()  # the fleet budget's heartbeats leave their board before its storage goes away


@pytest.fixture
def own_azurite() -> Iterator[Azurite]:
    """An Azurite of the test's own, for hosts whose storage the test stops, restarts or shares between them."""
    with Azurite() as instance:
        yield instance
        stop_all()


@pytest.fixture(scope="session")
def local(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEnvironment]:
    # The suite's hosts share one Qualytics simulator: only the poll tests' own hosts poll its operations
    # (a poll of every session integration would push their datastores in the middle of other tests).
    env = LocalEnvironment(
        workdir=tmp_path_factory.mktemp("local"), azurite=azurite, event_poll_tick=NO_POLL
    ).start(estate=True)
    patch = pytest.MonkeyPatch()
    for key, value in env.env().items():
        patch.setenv(key, value)
    patch.setenv("DEVHOST_FUNCTION_KEY", "test-function-key")
    patch.setenv("EVENT_COALESCE_SECONDS", "2")  # the local run keeps the default 30 s
    reset_services()
    yield env
    patch.undo()
    reset_services()
    env.stop()


@pytest.fixture(scope="session")
def devhost(local: LocalEnvironment) -> Iterator[DevHost]:
    from purview_sync.dev.main import build_host

    host = build_host(0).start()
    yield host
    host.stop()


@dataclass
class Api:
    """The HTTP API as Qualytics calls it: the function key on every request."""

    base: str
    key: str
    session: requests.Session

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"x-functions-key": self.key, **kwargs.pop("headers", {})}
        return self.session.request(method, f"{self.base}/api{path}", headers=headers, timeout=60, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("DELETE", path, **kwargs)


@pytest.fixture(scope="session")
def api(devhost: DevHost) -> Api:
    return Api(devhost.url, devhost.function_key, requests.Session())


@pytest.fixture
def services(local: LocalEnvironment) -> Services:
    return get_services()
