"""Session fixtures: a real Azurite (started and stopped by the suite) and the simulators."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from purview_sync.dev.azurite import Azurite


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with Azurite() as instance:
        yield instance
