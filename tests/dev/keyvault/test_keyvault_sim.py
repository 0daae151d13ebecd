"""The Key Vault simulator against the real SecretClient, authenticated through the Entra simulator.

Only environment variables are set; azure-keyvault-secrets, azure-identity and msal run unmodified.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.identity import ClientSecretCredential, ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient
from azure.keyvault.secrets._shared.http_challenge import HttpChallenge

from purview_sync.dev.entra import EntraSim
from purview_sync.dev.keyvault import KeyVaultSim
from purview_sync.dev.tls import DevTLS, create_dev_tls

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TENANT = "0d2d1b4c-1111-4a4a-9b9b-000000000002"
CLIENT = "5f0c6a4e-2222-4b4b-8c8c-000000000001"
CLIENT_OID = "0b1ec7a0-aaaa-4bbb-8ccc-000000000001"
FOREIGN_CLIENT = "5f0c6a4e-2222-4b4b-8c8c-000000000003"
SECRET = "s3cr3t~value"
SYSTEM_MI = "a1b2c3d4-3333-4c4c-8d8d-000000000001"


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> DevTLS:
    return create_dev_tls(Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture(scope="module")
def running(tls: DevTLS) -> Iterator[tuple[EntraSim, KeyVaultSim]]:
    with EntraSim(tls) as entra, KeyVaultSim(tls, entra.verify, TENANT, entra.url) as vault:
        yield entra, vault


@pytest.fixture
def entra(running: tuple[EntraSim, KeyVaultSim], monkeypatch: pytest.MonkeyPatch) -> EntraSim:
    sim = running[0]
    sim.reset()
    sim.add_app(TENANT, CLIENT, SECRET, object_id=CLIENT_OID)
    sim.add_app(OTHER_TENANT, FOREIGN_CLIENT, "foreign-secret")
    sim.set_managed_identity(TENANT, system_client_id=SYSTEM_MI)
    for key, value in sim.env().items():
        monkeypatch.setenv(key, value)
    return sim


@pytest.fixture
def vault(running: tuple[EntraSim, KeyVaultSim], entra: EntraSim) -> KeyVaultSim:
    sim = running[1]
    sim.reset()
    return sim


def _client(entra: EntraSim, vault: KeyVaultSim, **kwargs: object) -> SecretClient:
    credential = ClientSecretCredential(
        TENANT, CLIENT, SECRET, authority=entra.url, disable_instance_discovery=True
    )
    return SecretClient(vault.url, credential, verify_challenge_resource=False, **kwargs)


def test_first_request_goes_through_the_challenge(tls: DevTLS, entra: EntraSim) -> None:
    # a vault of its own: the SDK caches challenges per vault URL for the whole process
    with KeyVaultSim(tls, entra.verify, TENANT, entra.url) as fresh:
        client = _client(entra, fresh)
        client.set_secret("integration-1", "v1")
        client.get_secret("integration-1")

        challenge, first, second = fresh.requests
        assert (challenge.method, challenge.status, challenge.caller) == ("PUT", 401, None)
        assert (first.method, first.status, first.caller) == ("PUT", 200, CLIENT_OID)
        assert (second.method, second.status) == ("GET", 200)
        vault_tokens = [c for c in entra.tokens_issued if c["aud"] == "https://vault.azure.net"]
        assert len(vault_tokens) == 1 and vault_tokens[0]["appid"] == CLIENT


def test_set_get_delete_purge(entra: EntraSim, vault: KeyVaultSim) -> None:
    client = _client(entra, vault)

    first = client.set_secret("integration-42", "one", tags={"integration": "42"}, content_type="text/plain")
    second = client.set_secret("integration-42", "two")
    assert first.id == f"{vault.url}/secrets/integration-42/{first.properties.version}"
    assert first.properties.tags == {"integration": "42"} and first.properties.content_type == "text/plain"
    assert client.get_secret("integration-42").value == "two"
    assert client.get_secret("integration-42", first.properties.version).value == "one"
    assert second.properties.version != first.properties.version
    assert vault.secrets == {"integration-42": "two"}
    assert [p.name for p in client.list_properties_of_secrets()] == ["integration-42"]

    poller = client.begin_delete_secret("integration-42")
    poller.wait()
    deleted = poller.result()
    assert deleted.recovery_id == f"{vault.url}/deletedsecrets/integration-42"
    assert deleted.deleted_date is not None and deleted.scheduled_purge_date is not None
    assert vault.secrets == {} and vault.deleted_secrets == {"integration-42"}
    with pytest.raises(ResourceNotFoundError):
        client.get_secret("integration-42")
    assert client.get_deleted_secret("integration-42").name == "integration-42"

    client.purge_deleted_secret("integration-42")
    assert vault.deleted_secrets == set()
    with pytest.raises(ResourceNotFoundError):
        client.get_deleted_secret("integration-42")


def test_a_soft_deleted_name_cannot_be_reused_until_purged(entra: EntraSim, vault: KeyVaultSim) -> None:
    client = _client(entra, vault)
    client.set_secret("integration-7", "v1")
    client.begin_delete_secret("integration-7").wait()

    with pytest.raises(ResourceExistsError) as info:
        client.set_secret("integration-7", "v2")
    assert info.value.status_code == 409
    assert info.value.error is not None and info.value.error.code == "Conflict"
    assert "deleted but recoverable" in info.value.message
    inner = info.value.response.json()["error"]["innererror"]
    assert inner == {"code": "ObjectIsDeletedButRecoverable"}

    client.purge_deleted_secret("integration-7")
    client.set_secret("integration-7", "v2")
    assert vault.secrets == {"integration-7": "v2"}


def test_recover_a_deleted_secret(entra: EntraSim, vault: KeyVaultSim) -> None:
    client = _client(entra, vault)
    client.set_secret("integration-9", "keep")
    client.begin_delete_secret("integration-9").wait()
    client.begin_recover_deleted_secret("integration-9").wait()
    assert client.get_secret("integration-9").value == "keep"


def test_invalid_names_are_bad_parameter(entra: EntraSim, vault: KeyVaultSim) -> None:
    client = _client(entra, vault)
    with pytest.raises(HttpResponseError) as info:
        client.set_secret("integration_1", "x")
    assert info.value.status_code == 400
    assert info.value.error is not None and info.value.error.code == "BadParameter"
    with pytest.raises(HttpResponseError):
        client.set_secret("x" * 128, "x")
    assert vault.secrets == {}


def test_missing_secret_is_secret_not_found(entra: EntraSim, vault: KeyVaultSim) -> None:
    with pytest.raises(ResourceNotFoundError) as info:
        _client(entra, vault).get_secret("nope")
    assert info.value.error is not None and info.value.error.code == "SecretNotFound"


def test_the_sdk_verifies_the_challenge_resource_by_default(entra: EntraSim, vault: KeyVaultSim) -> None:
    credential = ClientSecretCredential(
        TENANT, CLIENT, SECRET, authority=entra.url, disable_instance_discovery=True
    )
    with pytest.raises(ValueError, match="verify_challenge_resource=False"):
        SecretClient(vault.url, credential).get_secret("anything")


def test_managed_identity_reaches_the_vault(entra: EntraSim, vault: KeyVaultSim) -> None:
    client = SecretClient(vault.url, ManagedIdentityCredential(), verify_challenge_resource=False)
    client.set_secret("integration-mi", "v")
    assert vault.requests[-1].caller == entra.managed_identity.system.object_id  # type: ignore[union-attr]


def test_principal_without_a_role_gets_403(entra: EntraSim, vault: KeyVaultSim) -> None:
    vault.grant("11111111-0000-4000-8000-000000000000")  # someone else
    with pytest.raises(HttpResponseError) as info:
        _client(entra, vault).get_secret("anything")
    assert info.value.status_code == 403
    assert info.value.response.json()["error"]["innererror"]["code"] == "ForbiddenByRbac"
    vault.grant(CLIENT_OID)
    vault.set_secret("anything", "now allowed")
    assert _client(entra, vault).get_secret("anything").value == "now allowed"


def test_a_credential_for_another_tenant_is_refused_by_azure_identity(
    entra: EntraSim, vault: KeyVaultSim
) -> None:
    credential = ClientSecretCredential(
        OTHER_TENANT, FOREIGN_CLIENT, "foreign-secret", authority=entra.url, disable_instance_discovery=True
    )
    # the challenge names the vault's tenant; a single-tenant credential will not follow it elsewhere
    with pytest.raises(ClientAuthenticationError, match="additionally_allowed_tenants"):
        SecretClient(vault.url, credential, verify_challenge_resource=False).get_secret("anything")


# --- raw HTTP: challenge header and 401s -------------------------------------------------------------------
def _get(vault: KeyVaultSim, tls: DevTLS, token: str | None, path: str = "/secrets/x") -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(
        f"{vault.url}{path}",
        params={"api-version": "7.5"},
        headers=headers,
        verify=str(tls.bundle),
        timeout=10,
    )


def test_challenge_header_is_what_the_sdk_parses(entra: EntraSim, vault: KeyVaultSim, tls: DevTLS) -> None:
    resp = _get(vault, tls, None)
    header = resp.headers["WWW-Authenticate"]
    assert resp.status_code == 401
    assert header == f'Bearer authorization="{entra.url}/{TENANT}", resource="https://vault.azure.net"'
    assert resp.json()["error"]["code"] == "Unauthorized"
    parsed = HttpChallenge(f"{vault.url}/secrets/x", header)
    assert parsed.tenant_id == TENANT
    assert parsed.get_resource() == "https://vault.azure.net"
    assert parsed.get_authorization_server() == f"{entra.url}/{TENANT}"


def test_wrong_audience_foreign_tenant_and_garbage_tokens_get_401(
    entra: EntraSim, vault: KeyVaultSim, tls: DevTLS
) -> None:
    purview_token, _ = entra.issue_token(TENANT, CLIENT, CLIENT_OID, "https://purview.azure.net")
    foreign_token, _ = entra.issue_token(OTHER_TENANT, FOREIGN_CLIENT, "oid", "https://vault.azure.net")
    for token, fragment in [
        (purview_token, "AKV10022"),
        (foreign_token, "AKV10032"),
        ("garbage", "AKV10013"),
    ]:
        resp = _get(vault, tls, token)
        assert resp.status_code == 401
        assert fragment in resp.json()["error"]["message"]
        assert "WWW-Authenticate" in resp.headers
    good, _ = entra.issue_token(TENANT, CLIENT, CLIENT_OID, "https://vault.azure.net")
    assert _get(vault, tls, good).status_code == 404
    assert _get(vault, tls, good).json()["error"]["code"] == "SecretNotFound"


def test_api_version_is_required(entra: EntraSim, vault: KeyVaultSim, tls: DevTLS) -> None:
    good, _ = entra.issue_token(TENANT, CLIENT, CLIENT_OID, "https://vault.azure.net")
    resp = requests.get(
        f"{vault.url}/secrets/x",
        headers={"Authorization": f"Bearer {good}"},
        verify=str(tls.bundle),
        timeout=10,
    )
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "BadParameter"
