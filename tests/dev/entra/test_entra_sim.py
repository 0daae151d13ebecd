"""The Entra simulator against the real azure-identity: tokens, AADSTS failures and the managed-identity endpoint.

Only environment variables are set (``monkeypatch.setenv``); azure-identity and msal run unmodified over HTTP(S).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential, CredentialUnavailableError, ManagedIdentityCredential

from purview_sync.dev.entra import EntraSim
from purview_sync.dev.simserver import SimServer
from purview_sync.dev.tls import DevTLS, create_dev_tls

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TENANT = "0d2d1b4c-1111-4a4a-9b9b-000000000002"
UNKNOWN_TENANT = "deadbeef-0000-4000-8000-000000000000"
CLIENT = "5f0c6a4e-2222-4b4b-8c8c-000000000001"
SECRET = "s3cr3t~value"
EXPIRED_CLIENT = "5f0c6a4e-2222-4b4b-8c8c-000000000002"
FOREIGN_CLIENT = "5f0c6a4e-2222-4b4b-8c8c-000000000003"  # registered in OTHER_TENANT only
SYSTEM_MI = "a1b2c3d4-3333-4c4c-8d8d-000000000001"
USER_MI = "a1b2c3d4-3333-4c4c-8d8d-000000000002"
PURVIEW_SCOPE = "https://purview.azure.net/.default"
PURVIEW = "https://purview.azure.net"


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> DevTLS:
    return create_dev_tls(Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture(scope="module")
def running_entra(tls: DevTLS) -> Iterator[EntraSim]:
    with EntraSim(tls) as sim:
        yield sim


@pytest.fixture
def entra(running_entra: EntraSim, monkeypatch: pytest.MonkeyPatch) -> EntraSim:
    """The module's simulator, reset and seeded, with its environment set for azure-identity."""
    sim = running_entra
    sim.reset()
    sim.add_app(TENANT, CLIENT, SECRET, object_id="0b1ec7a0-aaaa-4bbb-8ccc-000000000001")
    sim.add_app(TENANT, EXPIRED_CLIENT, "old-secret", expired=True)
    sim.add_app(OTHER_TENANT, FOREIGN_CLIENT, "foreign-secret")
    sim.set_managed_identity(TENANT, system_client_id=SYSTEM_MI, user_assigned=[USER_MI])
    for key, value in sim.env().items():
        monkeypatch.setenv(key, value)
    return sim


def _credential(sim: EntraSim, tenant: str, client: str, secret: str) -> ClientSecretCredential:
    return ClientSecretCredential(tenant, client, secret, authority=sim.url, disable_instance_discovery=True)


def _chain_text(exc: BaseException) -> str:
    """Messages of an exception and everything it was raised from or during."""
    parts: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(parts) < 10:
        parts.append(str(current))
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


# --- app registration (client credentials) -----------------------------------------------------------
def test_client_secret_credential_gets_a_token_with_the_expected_claims(entra: EntraSim) -> None:
    token = _credential(entra, TENANT, CLIENT, SECRET).get_token(PURVIEW_SCOPE)

    claims = entra.verify(token.token, audience=PURVIEW)
    assert claims is not None
    assert claims["aud"] == PURVIEW
    assert claims["iss"] == f"{entra.url}/{TENANT}/v2.0"
    assert claims["tid"] == TENANT
    assert claims["appid"] == claims["azp"] == CLIENT
    assert claims["oid"] == claims["sub"] == "0b1ec7a0-aaaa-4bbb-8ccc-000000000001"
    assert claims["idtyp"] == "app"
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"]
    assert abs(token.expires_on - claims["exp"]) <= 2
    assert entra.tokens_issued == [claims]
    assert entra.verify(token.token, audience="https://vault.azure.net") is None


def test_authority_comes_from_azure_authority_host(entra: EntraSim) -> None:
    # the product may leave ``authority`` out: azure-identity reads AZURE_AUTHORITY_HOST
    credential = ClientSecretCredential(TENANT, CLIENT, SECRET, disable_instance_discovery=True)
    assert entra.verify(credential.get_token(PURVIEW_SCOPE).token, audience=PURVIEW) is not None


def test_msal_fetches_only_discovery_and_token(entra: EntraSim) -> None:
    _credential(entra, TENANT, CLIENT, SECRET).get_token(PURVIEW_SCOPE)
    assert dict(entra.server.stats) == {"openid_configuration": 1, "token": 1}


def test_tenant_may_be_given_as_a_verified_domain(entra: EntraSim) -> None:
    entra.add_tenant(TENANT, domains=("contoso.onmicrosoft.com",))
    token = _credential(entra, "contoso.onmicrosoft.com", CLIENT, SECRET).get_token(PURVIEW_SCOPE)
    claims = entra.verify(token.token)
    assert claims is not None and claims["tid"] == TENANT


@pytest.mark.parametrize(
    ("tenant", "client", "secret", "code"),
    [
        (TENANT, CLIENT, "wrong", 7000215),
        (TENANT, EXPIRED_CLIENT, "old-secret", 7000222),
        (TENANT, FOREIGN_CLIENT, "foreign-secret", 700016),
    ],
    ids=["wrong-secret", "expired-secret", "app-not-in-tenant"],
)
def test_token_endpoint_failures_carry_the_aadsts_number(
    entra: EntraSim, tenant: str, client: str, secret: str, code: int
) -> None:
    with pytest.raises(ClientAuthenticationError) as info:
        _credential(entra, tenant, client, secret).get_token(PURVIEW_SCOPE)
    assert f"AADSTS{code}:" in info.value.message
    assert entra.tokens_issued == []


def test_unknown_tenant_fails_at_discovery_with_aadsts90002_on_the_chain(entra: EntraSim) -> None:
    with pytest.raises(ClientAuthenticationError) as info:
        _credential(entra, UNKNOWN_TENANT, CLIENT, SECRET).get_token(PURVIEW_SCOPE)
    # msal replaces the discovery error with its own ValueError; the AADSTS body is on the exception chain
    assert "Unable to get authority configuration" in info.value.message
    assert "AADSTS90002" not in info.value.message
    chain = _chain_text(info.value)
    assert "AADSTS90002" in chain and "invalid_tenant" in chain
    assert entra.server.stats["token"] == 0


def test_without_disable_instance_discovery_msal_calls_the_public_cloud(entra: EntraSim) -> None:
    credential = ClientSecretCredential(TENANT, CLIENT, SECRET, authority=entra.url, retry_total=0)
    with pytest.raises(ClientAuthenticationError) as info:
        credential.get_token(PURVIEW_SCOPE)
    assert "login.microsoftonline.com" in info.value.message
    assert entra.server.stats["token"] == 0


# --- raw HTTP: exact error bodies -------------------------------------------------------------------------
def _post_token(sim: EntraSim, tls: DevTLS, tenant: str, **form: str) -> requests.Response:
    data = {"grant_type": "client_credentials", "scope": PURVIEW_SCOPE, **form}
    return requests.post(
        f"{sim.url}/{tenant}/oauth2/v2.0/token",
        data=data,
        headers={"client-request-id": "c0ffee00-0000-4000-8000-000000000001"},
        verify=str(tls.bundle),
        timeout=10,
    )


@pytest.mark.parametrize(
    ("tenant", "client", "secret", "status", "error", "code", "starts"),
    [
        (TENANT, CLIENT, "wrong", 401, "invalid_client", 7000215, "Invalid client secret provided."),
        (
            TENANT,
            EXPIRED_CLIENT,
            "old-secret",
            401,
            "invalid_client",
            7000222,
            "The provided client secret keys",
        ),
        (TENANT, FOREIGN_CLIENT, "x", 400, "unauthorized_client", 700016, "Application with identifier"),
        (
            UNKNOWN_TENANT,
            CLIENT,
            SECRET,
            400,
            "invalid_request",
            90002,
            f"Tenant '{UNKNOWN_TENANT}' not found.",
        ),
        ("not_a_tenant!", CLIENT, SECRET, 400, "invalid_request", 900023, "Specified tenant identifier"),
        (
            TENANT,
            CLIENT,
            "",
            401,
            "invalid_client",
            7000216,
            "'client_assertion', 'client_secret' or 'request'",
        ),
    ],
    ids=["7000215", "7000222", "700016", "90002", "900023", "7000216"],
)
def test_error_bodies_have_the_real_aadsts_shape(
    entra: EntraSim,
    tls: DevTLS,
    tenant: str,
    client: str,
    secret: str,
    status: int,
    error: str,
    code: int,
    starts: str,
) -> None:
    resp = _post_token(entra, tls, tenant, client_id=client, client_secret=secret)
    body = resp.json()
    assert resp.status_code == status
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: {starts}")
    assert body["correlation_id"] == "c0ffee00-0000-4000-8000-000000000001"  # echoes client-request-id
    assert body["error_description"].endswith(
        f"\r\nTrace ID: {body['trace_id']}\r\nCorrelation ID: {body['correlation_id']}\r\n"
        f"Timestamp: {body['timestamp']}"
    )
    assert body["timestamp"].endswith("Z") and len(body["timestamp"]) == len("2024-01-01 00:00:00Z")
    assert body["error_uri"] == f"https://login.microsoftonline.com/error?code={code}"


def test_discovery_for_an_unknown_tenant_answers_invalid_tenant(entra: EntraSim, tls: DevTLS) -> None:
    resp = requests.get(
        f"{entra.url}/{UNKNOWN_TENANT}/v2.0/.well-known/openid-configuration",
        verify=str(tls.bundle),
        timeout=10,
    )
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_tenant"
    assert resp.json()["error_codes"] == [90002]


def test_openid_configuration_v1_and_v2(entra: EntraSim, tls: DevTLS) -> None:
    v2 = requests.get(
        f"{entra.url}/{TENANT}/v2.0/.well-known/openid-configuration", verify=str(tls.bundle)
    ).json()
    v1 = requests.get(f"{entra.url}/{TENANT}/.well-known/openid-configuration", verify=str(tls.bundle)).json()
    assert v2["token_endpoint"] == f"{entra.url}/{TENANT}/oauth2/v2.0/token"
    assert v2["issuer"] == f"{entra.url}/{TENANT}/v2.0"
    assert v1["token_endpoint"] == f"{entra.url}/{TENANT}/oauth2/token"


def test_scope_must_end_with_default(entra: EntraSim, tls: DevTLS) -> None:
    resp = _post_token(entra, tls, TENANT, client_id=CLIENT, client_secret=SECRET, scope=PURVIEW)
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_scope"
    assert resp.json()["error_codes"] == [1002012]


def test_v1_endpoint_takes_resource_and_answers_strings(entra: EntraSim, tls: DevTLS) -> None:
    resp = requests.post(
        f"{entra.url}/{TENANT}/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT,
            "client_secret": SECRET,
            "resource": PURVIEW,
        },
        verify=str(tls.bundle),
        timeout=10,
    )
    body = resp.json()
    assert resp.status_code == 200
    assert body["resource"] == PURVIEW and body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], str) and isinstance(body["expires_on"], str)
    assert entra.verify(body["access_token"], audience=PURVIEW) is not None


def test_verify_rejects_foreign_and_expired_tokens(entra: EntraSim, tls: DevTLS) -> None:
    with EntraSim(tls) as other:
        other.add_app(TENANT, CLIENT, SECRET)
        foreign, _ = other.issue_token(TENANT, CLIENT, "oid", PURVIEW)
    assert entra.verify(foreign) is None
    assert entra.verify("not-a-jwt") is None
    entra.token_lifetime_s = -60
    expired, _ = entra.issue_token(TENANT, CLIENT, "oid", PURVIEW)
    assert entra.verify(expired) is None


def test_server_exposes_fault_knobs(entra: EntraSim, tls: DevTLS) -> None:
    assert isinstance(entra.server, SimServer)
    entra.server.set_faults(rate_limit_per_s=0.001, rate_burst=1)
    first = _post_token(entra, tls, TENANT, client_id=CLIENT, client_secret=SECRET)
    second = _post_token(entra, tls, TENANT, client_id=CLIENT, client_secret=SECRET)
    assert first.status_code == 200
    assert second.status_code == 429 and int(second.headers["Retry-After"]) >= 1


# --- managed identity (App Service protocol) ---------------------------------------------------------------
def test_env_points_azure_identity_at_the_simulator(entra: EntraSim, tls: DevTLS) -> None:
    env = entra.env()
    assert env["AZURE_AUTHORITY_HOST"] == entra.url
    assert env["IDENTITY_ENDPOINT"] == f"{entra.mi_server.url}/msi/token"
    assert env["IDENTITY_ENDPOINT"].startswith("http://127.0.0.1:")  # App Service's endpoint is plain http
    assert env["IDENTITY_HEADER"] == entra.identity_header
    assert env["REQUESTS_CA_BUNDLE"] == str(tls.bundle)


def test_system_assigned_managed_identity(entra: EntraSim) -> None:
    token = ManagedIdentityCredential().get_token(PURVIEW_SCOPE)
    claims = entra.verify(token.token, audience=PURVIEW)
    host = entra.managed_identity
    assert claims is not None and host is not None and host.system is not None
    assert claims["appid"] == SYSTEM_MI
    assert claims["oid"] == host.system.object_id
    assert claims["tid"] == TENANT and claims["idtyp"] == "app"


def test_user_assigned_managed_identity(entra: EntraSim) -> None:
    token = ManagedIdentityCredential(client_id=USER_MI).get_token("https://vault.azure.net/.default")
    claims = entra.verify(token.token, audience="https://vault.azure.net")
    assert claims is not None
    assert claims["appid"] == USER_MI
    assert claims["oid"] == entra.managed_identity.user_assigned[USER_MI].object_id  # type: ignore[union-attr]


def test_unknown_user_assigned_identity_is_refused_like_app_service(entra: EntraSim) -> None:
    with pytest.raises(CredentialUnavailableError) as info:
        ManagedIdentityCredential(client_id="99999999-3333-4c4c-8d8d-000000000009").get_token(PURVIEW_SCOPE)
    assert "Unable to load the proper Managed Identity" in info.value.message
    assert isinstance(info.value, ClientAuthenticationError)
    assert entra.tokens_issued == []


def test_wrong_identity_header_is_rejected(entra: EntraSim, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_HEADER", "forged")
    with pytest.raises(ClientAuthenticationError) as info:
        ManagedIdentityCredential().get_token(PURVIEW_SCOPE)
    assert "401" in info.value.message
    assert entra.tokens_issued == []


def test_managed_identity_endpoint_raw(entra: EntraSim) -> None:
    url = entra.identity_endpoint
    params = {"api-version": "2019-08-01", "resource": PURVIEW}
    ok = requests.get(url, params=params, headers={"X-IDENTITY-HEADER": entra.identity_header}, timeout=10)
    body = ok.json()
    assert ok.status_code == 200
    assert set(body) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert isinstance(body["expires_on"], str) and body["expires_on"].isdigit()
    assert body["resource"] == PURVIEW and body["token_type"] == "Bearer" and body["client_id"] == SYSTEM_MI

    assert requests.get(url, params=params, timeout=10).status_code == 401
    forged = requests.get(url, params=params, headers={"X-IDENTITY-HEADER": "x"}, timeout=10)
    assert forged.status_code == 401 and forged.json()["statusCode"] == 401
    unknown = requests.get(
        url,
        params={**params, "client_id": "99999999-3333-4c4c-8d8d-000000000009"},
        headers={"X-IDENTITY-HEADER": entra.identity_header},
        timeout=10,
    )
    assert unknown.status_code == 400
    assert unknown.json()["message"] == "Unable to load the proper Managed Identity."


def test_no_identity_configured(entra: EntraSim) -> None:
    entra.managed_identity = None
    with pytest.raises(ClientAuthenticationError):
        ManagedIdentityCredential().get_token(PURVIEW_SCOPE)
    only_user = entra.set_managed_identity(TENANT, system_client_id=None, user_assigned=[USER_MI])
    assert only_user.system is None
    with pytest.raises(ClientAuthenticationError):
        ManagedIdentityCredential().get_token(PURVIEW_SCOPE)
    token = ManagedIdentityCredential(client_id=USER_MI).get_token(PURVIEW_SCOPE)
    assert entra.verify(token.token) is not None
