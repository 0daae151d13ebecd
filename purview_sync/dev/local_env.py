"""The embedded defaults of the local run and the test suite: Azurite plus the Entra, Purview and Qualytics
simulators, wired together, with the settings the app reads (``env()``)."""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet

from purview_sync.dev.azurite import Azurite
from purview_sync.dev.entra import EntraSim
from purview_sync.dev.estate import SampleEstate, load_sample_estate
from purview_sync.dev.identities import (
    APP_CLIENT_ID,
    APP_CLIENT_SECRET,
    MI_SYSTEM_CLIENT_ID,
    MI_USER_CLIENT_ID,
    PURVIEW_ACCOUNT,
    QUALYTICS_TOKEN,
    TENANT_ID,
)
from purview_sync.dev.purview import PurviewSim
from purview_sync.dev.qualytics import QualyticsSim
from purview_sync.dev.tls import DevTLS, create_dev_tls
from purview_sync.settings import DEFAULT_EVENT_POLL_TICK, DEFAULT_SCHEDULE_TICK


@dataclass
class LocalEnvironment:
    workdir: Path | None = None
    with_azurite: bool = True
    azurite: Azurite | None = None
    tls: DevTLS | None = None
    entra: EntraSim | None = None
    purview: PurviewSim | None = None
    qualytics: QualyticsSim | None = None
    encryption_key: str = field(default_factory=lambda: Fernet.generate_key().decode())
    estate: SampleEstate | None = None  # the sample estate's ids, once loaded
    event_poll_tick: str = DEFAULT_EVENT_POLL_TICK  # the test suite's hosts poll only where a test asks
    _owns_azurite: bool = False

    def start(self, *, estate: bool = True) -> LocalEnvironment:
        workdir = self.workdir or Path(tempfile.mkdtemp(prefix="purview-sync-"))
        workdir.mkdir(parents=True, exist_ok=True)
        self.tls = create_dev_tls(workdir / "tls")
        if self.with_azurite and self.azurite is None:
            self.azurite = Azurite().start()
            self._owns_azurite = True
        self.entra = EntraSim(self.tls).start()
        self.entra.add_app(TENANT_ID, APP_CLIENT_ID, APP_CLIENT_SECRET)
        self.entra.set_managed_identity(
            TENANT_ID, system_client_id=MI_SYSTEM_CLIENT_ID, user_assigned=[MI_USER_CLIENT_ID]
        )
        self.purview = PurviewSim(
            self.tls, account=PURVIEW_ACCOUNT, tenant_id=TENANT_ID, token_verifier=self.entra.verify
        ).start()
        self.qualytics = QualyticsSim(token=QUALYTICS_TOKEN).start()
        if estate:
            self.estate = load_sample_estate(self.purview, self.qualytics)
        return self

    def stop(self) -> None:
        for component in (self.qualytics, self.purview, self.entra):
            if component is not None:
                component.stop()
        if self.azurite is not None and self._owns_azurite:
            self.azurite.stop()

    @property
    def purview_url(self) -> str:
        assert self.purview is not None
        return self.purview.url

    def env(self) -> dict[str, str]:
        assert self.entra and self.purview and self.qualytics
        values = {
            **self.entra.env(),
            "QUALYTICS_API_URL": self.qualytics.api_url,
            "QUALYTICS_API_TOKEN": QUALYTICS_TOKEN,
            "QUALYTICS_UI_URL": self.qualytics.ui_url,
            "SECRET_ENCRYPTION_KEY": self.encryption_key,
            "PURVIEW_ALLOWED_HOSTS": f"127.0.0.1:{self.purview.server.port}",
            "SYNC_LOCK_TTL_SECONDS": "300",
            "EVENT_COALESCE_SECONDS": "30",
            "SCHEDULE_TICK": DEFAULT_SCHEDULE_TICK,
            "EVENT_POLL_TICK": self.event_poll_tick,
        }
        if self.azurite is not None:
            values["AzureWebJobsStorage"] = self.azurite.connection_string
        return values

    def connect_body(self, **overrides: object) -> dict[str, object]:
        """A POST /api/integrations body that connects to the simulated account with the app registration."""
        body: dict[str, object] = {
            "purview_url": self.purview_url,
            "tenant_id": TENANT_ID,
            "client_id": APP_CLIENT_ID,
            "client_secret": APP_CLIENT_SECRET,
            "domains": [],
        }
        body.update(overrides)
        return body


def function_key() -> str:
    return secrets.token_urlsafe(24)
