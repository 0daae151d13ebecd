"""Offline checks of the Bicep in infra/ (no Azure, no Bicep CLI).

1. pycep-parser parses every ``.bicep`` file under infra/, and no file pulls registry modules;
2. structural invariants of infra/main.bicep (secure storage / Key Vault / Flex / identity / RBAC);
   ``test_structural_checks_catch_regressions`` proves each invariant fails on a broken copy;
3. checkov passes with exactly the skips listed in ``EXPECTED_SKIPS`` (each with its reason);
4. the app settings in the Bicep are exactly the settings the code reads (``SETTING_NAMES``).

pycep-parser and checkov are heavy and pin their own dependencies, so they live in ``.venv-infra``
(``scripts/bootstrap-infra``, idempotent); the ``infra_venv`` fixture runs that script, so a missing or
stale venv is rebuilt here, and a failure to build it fails the tests instead of skipping them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from purview_sync.dev.host import Schedule
from purview_sync.dev.host.functions import index_app
from purview_sync.settings import (
    DEFAULT_EVENT_POLL_TICK,
    DEFAULT_LINK_TEMPLATES,
    DEFAULT_SCHEDULE_TICK,
    SETTING_NAMES,
    load_settings,
    parse_link_templates,
)
from purview_sync.storage.clients import QUEUES, TABLES
from tests.helpers import fresh_app

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MAIN = INFRA / "main.bicep"
PARAMETERS = INFRA / "main.parameters.json"
VENV_INFRA = ROOT / ".venv-infra"
BIN = "Scripts" if sys.platform == "win32" else "bin"

# checkov findings that do not apply to this deployment. Each is also an inline
# `// checkov:skip=ID: reason` comment inside that resource in infra/main.bicep; the test fails if the
# two lists differ, so a new skip cannot slip in without a reviewed reason here.
EXPECTED_SKIPS: dict[tuple[str, str], str] = {
    ("CKV_AZURE_35", "Microsoft.Storage/storageAccounts.storage"): (
        "network default-deny needs VNet integration + private endpoints, not part of this template; "
        "access is Entra-only (shared keys off)"
    ),
    ("CKV_AZURE_59", "Microsoft.Storage/storageAccounts.storage"): (
        "same as CKV_AZURE_35: the VNet-less Flex app reaches its storage over the public endpoint"
    ),
    ("CKV_AZURE_43", "Microsoft.Storage/storageAccounts.storage"): (
        "name computed at deploy time (uniqueString); the expression is checked in test_structure"
    ),
    ("CKV_AZURE_109", "Microsoft.KeyVault/vaults.vault"): (
        "vault firewall default-deny needs VNet integration + private endpoint; access is RBAC-only"
    ),
    ("CKV_AZURE_189", "Microsoft.KeyVault/vaults.vault"): (
        "same as CKV_AZURE_109: the app and its Key Vault references reach the vault publicly"
    ),
    ("CKV_AZURE_41", "Microsoft.KeyVault/vaults/secrets.qualyticsTokenSecret"): (
        "the Qualytics token's lifetime is set in Qualytics; a Key Vault expiry would only break the "
        "app setting's Key Vault reference"
    ),
    ("CKV_AZURE_225", "Microsoft.Web/serverfarms.plan"): (
        "Flex zone redundancy exists only in availability-zone regions; left to the deployer"
    ),
    ("CKV_AZURE_222", "Microsoft.Web/sites.functionApp"): (
        "Qualytics (SaaS) must reach the HTTP API; routes need function keys, HTTPS only"
    ),
    ("CKV_AZURE_17", "Microsoft.Web/sites.functionApp"): (
        "Qualytics sends function keys, no client certificate"
    ),
    ("CKV_AZURE_212", "Microsoft.Web/sites.functionApp"): (
        "numberOfWorkers is an App Service plan setting; Flex scales per instance"
    ),
    ("CKV_AZURE_213", "Microsoft.Web/sites.functionApp"): (
        "platform health check is not supported on Flex Consumption"
    ),
    ("CKV_AZURE_78", "Microsoft.Web/sites.functionApp"): (
        "Flex has no FTP and rejects siteConfig.ftpsState; basic-auth publishing is off"
    ),
}

# checkov checks that must keep *passing*: if one of them turns into a failure or a skip, or checkov
# stops recognising the resource it applies to, the test says so.
MUST_PASS = {
    "CKV_AZURE_3",  # storage: HTTPS only
    "CKV_AZURE_44",  # storage: TLS 1.2
    "CKV_AZURE_206",  # storage: geo-replicated
    "CKV_AZURE_34",  # deployment container not public
    "CKV_AZURE_42",  # vault recoverable
    "CKV_AZURE_110",  # vault purge protection
    "CKV_AZURE_111",  # vault soft delete
    "CKV_AZURE_114",  # secret content type
    "CKV_AZURE_131",  # secure parameter without a default
    "CKV_AZURE_70",  # function app HTTPS only
    "CKV_AZURE_145",  # function app TLS 1.2
    "CKV_AZURE_71",  # managed identity
}

# Built-in roles the user-assigned identity needs, and the resource type each is scoped to.
REQUIRED_ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": ("Storage Blob Data Owner", "Microsoft.Storage/storageAccounts"),
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": (
        "Storage Queue Data Contributor",
        "Microsoft.Storage/storageAccounts",
    ),
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": (
        "Storage Table Data Contributor",
        "Microsoft.Storage/storageAccounts",
    ),
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": ("Key Vault Secrets Officer", "Microsoft.KeyVault/vaults"),
    "3913510d-42f4-4e42-8a64-420c390055eb": ("Monitoring Metrics Publisher", "Microsoft.Insights/components"),
}

# App settings in the Bicep that the code does not read: the Functions host reads them.
PLATFORM_ONLY_SETTINGS = {
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "where the host sends telemetry",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Entra auth to App Insights (local auth is off)",
}
# Settings the code reads that the Azure deployment deliberately leaves unset.
NOT_DEPLOYED_SETTINGS = {
    "SECRET_ENCRYPTION_KEY": (
        "read only when KEY_VAULT_URL is unset (purview_sync.clients.secrets.make_secret_store); in Azure the "
        "integration secrets go to Key Vault"
    ),
}
# Flex Consumption deprecations: these must not be set (Flex takes them from functionAppConfig).
FLEX_DEPRECATED_SETTINGS = {
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTSHARE",
}
FLEX_REJECTED_SITE_CONFIG = {
    "linuxFxVersion",
    "windowsFxVersion",
    "ftpsState",
    "alwaysOn",
    "netFrameworkVersion",
}
STORAGE_IDENTITY_SUFFIXES = {
    "accountName",
    "blobServiceUri",
    "queueServiceUri",
    "tableServiceUri",
    "credential",
    "clientId",
}
REQUIRED_PARAMETERS = {
    "location",
    "namePrefix",
    "qualyticsApiUrl",
    "qualyticsUiUrl",
    "qualyticsApiToken",
    "purviewAllowedHosts",
    "maximumInstanceCount",
    "instanceMemoryMB",
}
REQUIRED_OUTPUTS = {"functionAppName", "functionAppUrl", "identityPrincipalId", "identityClientId"}

# Runs inside .venv-infra: {"label": bicep text} on stdin → {"label": {"doc": ...} | {"error": ...}}.
_PARSER = """
import json, sys
from pycep import BicepParser
parser = BicepParser()
out = {}
for label, text in json.load(sys.stdin).items():
    try:
        out[label] = {"doc": parser.parse(text=text)}
    except Exception as exc:
        out[label] = {"error": f"{type(exc).__name__}: {exc}"}
json.dump(out, sys.stdout, default=str)
"""


# ---------------------------------------------------------------------------------------------------
# The infra venv and the two tools
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def infra_venv() -> Path:
    """.venv-infra, created or refreshed by scripts/bootstrap-infra (a no-op when up to date)."""
    try:
        proc = subprocess.run(
            [str(ROOT / "scripts" / "bootstrap-infra")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("scripts/bootstrap-infra did not finish within 15 minutes (installing checkov)")
    if proc.returncode != 0:
        pytest.fail(
            "scripts/bootstrap-infra failed, so the infra checks cannot run (it installs "
            f"requirements-infra.txt into .venv-infra):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
        )
    for tool in ("python", "checkov"):
        assert (VENV_INFRA / BIN / tool).exists(), f".venv-infra/{BIN}/{tool} missing after bootstrap-infra"
    return VENV_INFRA


def parse_bicep(venv: Path, texts: dict[str, str]) -> dict[str, dict[str, Any]]:
    proc = subprocess.run(
        [str(venv / BIN / "python"), "-c", _PARSER],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"pycep runner crashed:\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout)


@pytest.fixture(scope="session")
def bicep_files() -> list[Path]:
    files = sorted(INFRA.rglob("*.bicep"))
    assert MAIN in files, "infra/main.bicep is missing"
    return files


@pytest.fixture(scope="session")
def parsed(infra_venv: Path, bicep_files: list[Path]) -> dict[str, dict[str, Any]]:
    return parse_bicep(infra_venv, {str(p.relative_to(ROOT)): p.read_text() for p in bicep_files})


@pytest.fixture(scope="session")
def main_doc(parsed: dict[str, dict[str, Any]]) -> dict[str, Any]:
    result = parsed[str(MAIN.relative_to(ROOT))]
    assert "doc" in result, f"infra/main.bicep does not parse: {result.get('error')}"
    return result["doc"]


# ---------------------------------------------------------------------------------------------------
# Reading pycep's tree
# ---------------------------------------------------------------------------------------------------


def expr(value: Any) -> str:
    """A pycep expression as Bicep-like text: ``identity.properties.clientId``, ``take(x, 24)``.

    pycep gives identifiers and string literals both as plain strings; comparisons below are made
    against the expected text, which is unambiguous in practice (``'managedidentity'`` is no symbol).
    """
    if isinstance(value, dict):
        if "operator" in value and value["operator"].get("type") == "property_accessor":
            ops = value["operator"]["operands"]
            return f"{expr(ops['operand_1'])}.{expr(ops['operand_2'])}"
        if "function" in value:
            fn = value["function"]
            args = ", ".join(expr(v) for v in (fn.get("parameters") or {}).values() if v is not None)
            text = f"{fn['type']}({args})"
            return f"{text}.{fn['property_name']}" if fn.get("property_name") else text
        return json.dumps(value, sort_keys=True)
    return str(value)


def resources(doc: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    """Symbol → resource body for one resource type (loops unwrapped: body + ``_loop``)."""
    found = {}
    for symbol, res in doc.get("resources", {}).items():
        if res.get("type", "").lower() != rtype.lower() or res.get("existing"):
            continue
        config = res["config"]
        if "loop_type" in config:
            config = {**config["config"], "_loop": config["loop_type"]}
        found[symbol] = config
    return found


def one(doc: dict[str, Any], rtype: str, problems: list[str]) -> tuple[str, dict[str, Any]]:
    found = resources(doc, rtype)
    if len(found) != 1:
        problems.append(f"expected exactly one {rtype}, found {sorted(found) or 'none'}")
        return ("<missing>", {})
    return next(iter(found.items()))


def variable(doc: dict[str, Any], name: str) -> Any:
    return doc.get("variables", {}).get(name, {}).get("value")


def resolve(doc: dict[str, Any], value: Any) -> Any:
    """Follow a variable (``roleIds.storageBlobDataOwner`` or ``queueNames``) to its literal value."""
    text = expr(value)
    head, _, rest = text.partition(".")
    if head in doc.get("variables", {}):
        current = variable(doc, head)
        for part in rest.split(".") if rest else []:
            current = current.get(part) if isinstance(current, dict) else None
        return current
    return value


def child_names(doc: dict[str, Any], rtype: str) -> set[str]:
    """Names declared for a (possibly looped) child resource type."""
    names: set[str] = set()
    for body in resources(doc, rtype).values():
        loop = body.get("_loop")
        if loop:
            items = variable(doc, loop["detail"]["array_name"]) or []
            names.update(str(i) for i in items)
        else:
            names.add(expr(body.get("name")))
    return names


def app_settings(doc: dict[str, Any]) -> dict[str, str]:
    """Name → value text, from siteConfig.appSettings and any sites/config 'appsettings' resource."""
    settings: dict[str, str] = {}
    for body in resources(doc, "Microsoft.Web/sites").values():
        for item in body.get("properties", {}).get("siteConfig", {}).get("appSettings", []) or []:
            settings[expr(item["name"])] = expr(item.get("value"))
    for body in resources(doc, "Microsoft.Web/sites/config").values():
        if expr(body.get("name")) == "appsettings":
            settings.update({k: expr(v) for k, v in (body.get("properties") or {}).items()})
    return settings


def has_decorator(param: dict[str, Any], name: str) -> bool:
    return any(d.get("type") == name for d in param.get("decorators", []))


def structural_problems(doc: dict[str, Any]) -> list[str]:
    """Every invariant of the deployment, as a list of what is wrong (empty = fine)."""
    p: list[str] = []

    def want(condition: bool, message: str) -> None:
        if not condition:
            p.append(message)

    want(not doc.get("modules"), "modules found: keep plain resources so the template is checkable offline")

    # Identity
    uami, _ = one(doc, "Microsoft.ManagedIdentity/userAssignedIdentities", p)

    # Storage account
    st_name, st = one(doc, "Microsoft.Storage/storageAccounts", p)
    props = st.get("properties", {})
    want(props.get("allowSharedKeyAccess") is False, "storage: allowSharedKeyAccess must be false")
    want(props.get("minimumTlsVersion") == "TLS1_2", "storage: minimumTlsVersion must be 'TLS1_2'")
    want(props.get("supportsHttpsTrafficOnly") is True, "storage: supportsHttpsTrafficOnly must be true")
    want(props.get("allowBlobPublicAccess") is False, "storage: allowBlobPublicAccess must be false")
    want(
        props.get("defaultToOAuthAuthentication") is True,
        "storage: defaultToOAuthAuthentication must be true",
    )
    account_name = resolve(doc, st.get("name"))
    want(
        expr(account_name).startswith("take(") and expr(account_name).endswith(", 24)"),
        f"storage: name must be cut to 24 characters with take(…, 24), got {expr(account_name)}",
    )

    containers = resources(doc, "Microsoft.Storage/storageAccounts/blobServices/containers")
    want(len(containers) == 1, f"expected one blob container (Flex deployment), found {sorted(containers)}")
    for symbol, body in containers.items():
        want(
            body.get("properties", {}).get("publicAccess") == "None", f"{symbol}: publicAccess must be 'None'"
        )

    queues = child_names(doc, "Microsoft.Storage/storageAccounts/queueServices/queues")
    want(queues == set(QUEUES), f"queues {sorted(queues)} != storage.clients.QUEUES {sorted(QUEUES)}")
    tables = child_names(doc, "Microsoft.Storage/storageAccounts/tableServices/tables")
    want(tables == set(TABLES), f"tables {sorted(tables)} != storage.clients.TABLES {sorted(TABLES)}")

    # Key Vault and the Qualytics token secret
    kv_name, kv = one(doc, "Microsoft.KeyVault/vaults", p)
    kvp = kv.get("properties", {})
    want(kvp.get("enableRbacAuthorization") is True, "vault: enableRbacAuthorization must be true")
    want(kvp.get("enableSoftDelete") is True, "vault: enableSoftDelete must be true")
    want(kvp.get("enablePurgeProtection") is True, "vault: enablePurgeProtection must be true")
    secret_name, secret = one(doc, "Microsoft.KeyVault/vaults/secrets", p)
    want(expr(secret.get("parent")) == kv_name, f"secret {secret_name} must be a child of the vault")
    want(
        expr(secret.get("properties", {}).get("value")) == "qualyticsApiToken",
        "the vault secret must hold the qualyticsApiToken parameter",
    )
    token_param = doc.get("parameters", {}).get("qualyticsApiToken", {})
    want(has_decorator(token_param, "secure"), "param qualyticsApiToken must be @secure()")
    want(token_param.get("default") is None, "param qualyticsApiToken must have no default")

    # Monitoring
    appi_name, appi = one(doc, "Microsoft.Insights/components", p)
    law_name, _ = one(doc, "Microsoft.OperationalInsights/workspaces", p)
    want(
        appi.get("properties", {}).get("DisableLocalAuth") is True,
        "App Insights: DisableLocalAuth must be true",
    )
    want(
        expr(appi.get("properties", {}).get("WorkspaceResourceId")) == f"{law_name}.id",
        "App Insights must be workspace-based",
    )

    # Role assignments for the UAMI
    scope_types = {
        symbol: res["type"].lower() for symbol, res in doc.get("resources", {}).items() if "type" in res
    }
    granted: dict[str, str] = {}
    for symbol, ra in resources(doc, "Microsoft.Authorization/roleAssignments").items():
        rp = ra.get("properties", {})
        role_def = rp.get("roleDefinitionId", {})
        params = role_def.get("function", {}).get("parameters", {}) if isinstance(role_def, dict) else {}
        guid = str(resolve(doc, params.get("resource_name_1", role_def)))
        scope = scope_types.get(expr(ra.get("scope")), "<no scope>")
        want(
            expr(rp.get("principalId")) == f"{uami}.properties.principalId",
            f"{symbol}: principalId must be the user-assigned identity",
        )
        want(
            rp.get("principalType") == "ServicePrincipal", f"{symbol}: principalType must be ServicePrincipal"
        )
        granted[guid] = scope
    for guid, (role, scope_type) in REQUIRED_ROLES.items():
        want(guid in granted, f"missing role assignment: {role} ({guid})")
        want(
            granted.get(guid, scope_type.lower()) == scope_type.lower(),
            f"{role} must be scoped to the {scope_type}, not {granted.get(guid)}",
        )

    # Flex Consumption plan and the app
    plan_name, plan = one(doc, "Microsoft.Web/serverfarms", p)
    want(plan.get("sku", {}).get("name") == "FC1", "plan: sku.name must be FC1")
    want(plan.get("sku", {}).get("tier") == "FlexConsumption", "plan: sku.tier must be FlexConsumption")
    want(plan.get("properties", {}).get("reserved") is True, "plan: reserved must be true (Linux)")

    _, app = one(doc, "Microsoft.Web/sites", p)
    ap = app.get("properties", {})
    want(app.get("kind") == "functionapp,linux", "site: kind must be 'functionapp,linux'")
    want(app.get("identity", {}).get("type") == "UserAssigned", "site: identity must be UserAssigned")
    want(expr(ap.get("serverFarmId")) == f"{plan_name}.id", "site must run on the Flex plan")
    want(ap.get("httpsOnly") is True, "site: httpsOnly must be true")
    want(
        expr(ap.get("keyVaultReferenceIdentity")) == f"{uami}.id",
        "site: keyVaultReferenceIdentity must be the user-assigned identity",
    )
    site_config = ap.get("siteConfig", {})
    want(site_config.get("minTlsVersion") == "1.2", "site: siteConfig.minTlsVersion must be '1.2'")
    rejected = FLEX_REJECTED_SITE_CONFIG & set(site_config)
    want(not rejected, f"site: siteConfig {sorted(rejected)} are rejected/deprecated on Flex Consumption")
    fac = ap.get("functionAppConfig", {})
    want(
        fac.get("runtime") == {"name": "python", "version": "3.11"},
        "functionAppConfig.runtime must be python 3.11",
    )
    deployment = fac.get("deployment", {}).get("storage", {})
    want(deployment.get("type") == "blobContainer", "functionAppConfig.deployment must use a blob container")
    auth = deployment.get("authentication", {})
    want(
        auth.get("type") == "UserAssignedIdentity"
        and expr(auth.get("userAssignedIdentityResourceId")) == f"{uami}.id",
        "deployment storage must authenticate with the user-assigned identity",
    )
    container_names = {expr(body.get("name")) for body in containers.values()}
    want(
        any(name in expr(deployment.get("value")) for name in container_names),
        "deployment storage must point at the blob container declared in the template",
    )
    scale = fac.get("scaleAndConcurrency", {})
    want(
        expr(scale.get("maximumInstanceCount")) == "maximumInstanceCount"
        and expr(scale.get("instanceMemoryMB")) == "instanceMemoryMB",
        "scaleAndConcurrency must come from the maximumInstanceCount / instanceMemoryMB parameters",
    )

    # App settings: identity-based storage, Key Vault reference, no Flex deprecations
    s = app_settings(doc)
    want("AzureWebJobsStorage" not in s, "AzureWebJobsStorage (connection string) must not be set")
    want(s.get("AzureWebJobsStorage__accountName") == f"{st_name}.name", "AzureWebJobsStorage__accountName")
    want(s.get("AzureWebJobsStorage__credential") == "managedidentity", "AzureWebJobsStorage__credential")
    want(
        s.get("AzureWebJobsStorage__clientId") == f"{uami}.properties.clientId",
        "AzureWebJobsStorage__clientId must be the UAMI client id",
    )
    want(
        s.get("AZURE_CLIENT_ID") == f"{uami}.properties.clientId",
        "AZURE_CLIENT_ID must be the UAMI client id",
    )
    want(s.get("KEY_VAULT_URL") == f"{kv_name}.properties.vaultUri", "KEY_VAULT_URL must be the vault URI")
    want(
        s.get("QUALYTICS_API_TOKEN", "").startswith(
            f"@Microsoft.KeyVault(SecretUri=${{{secret_name}.properties.secretUri"
        ),
        "QUALYTICS_API_TOKEN must be a Key Vault reference to the token secret",
    )
    want(
        s.get("APPLICATIONINSIGHTS_CONNECTION_STRING") == f"{appi_name}.properties.ConnectionString",
        "APPLICATIONINSIGHTS_CONNECTION_STRING must be the component's connection string",
    )
    want(
        s.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING")
        == f"ClientId=${{{uami}.properties.clientId}};Authorization=AAD",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING must use the UAMI with Authorization=AAD",
    )
    deprecated = FLEX_DEPRECATED_SETTINGS & set(s)
    want(not deprecated, f"Flex Consumption deprecated settings present: {sorted(deprecated)}")

    # Parameters and outputs
    missing_params = REQUIRED_PARAMETERS - set(doc.get("parameters", {}))
    want(not missing_params, f"missing parameters: {sorted(missing_params)}")
    missing_outputs = REQUIRED_OUTPUTS - set(doc.get("outputs", {}))
    want(not missing_outputs, f"missing outputs: {sorted(missing_outputs)}")
    return p


# ---------------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------------


def test_every_bicep_file_parses(parsed: dict[str, dict[str, Any]], bicep_files: list[Path]) -> None:
    errors = {label: r["error"] for label, r in parsed.items() if "error" in r}
    assert not errors, f"Bicep syntax errors: {errors}"
    assert len(parsed) == len(bicep_files)


def test_no_registry_or_remote_modules(bicep_files: list[Path]) -> None:
    for path in bicep_files:
        text = path.read_text()
        assert not re.search(r"['\"](br|ts)[:/]", text), f"{path.name}: registry/template-spec module"
        for target in re.findall(r"^\s*module\s+\w+\s+'([^']+)'", text, flags=re.M):
            assert (path.parent / target).is_file(), f"{path.name}: module {target} is not a local file"


def test_structure(main_doc: dict[str, Any]) -> None:
    problems = structural_problems(main_doc)
    assert not problems, "infra/main.bicep:\n- " + "\n- ".join(problems)


MUTATIONS = {
    "shared key on": ("allowSharedKeyAccess: false", "allowSharedKeyAccess: true"),
    "TLS 1.0": ("minimumTlsVersion: 'TLS1_2'", "minimumTlsVersion: 'TLS1_0'"),
    "public blobs": ("allowBlobPublicAccess: false", "allowBlobPublicAccess: true"),
    "no purge protection": ("enablePurgeProtection: true", "enablePurgeProtection: false"),
    "vault access policies": ("enableRbacAuthorization: true", "enableRbacAuthorization: false"),
    "queue dropped": ("  'qualytics-events-poison'\n", ""),
    "table dropped": ("  'EventState'\n", ""),
    "Secrets User instead of Officer": (
        "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
        "4633458b-17de-408a-b874-0445c86b69e6",
    ),
    "storage by connection string": (
        "name: 'AzureWebJobsStorage__credential'",
        "name: 'AzureWebJobsStorage'",
    ),
    "token inline": (
        "value: '@Microsoft.KeyVault(SecretUri=${qualyticsTokenSecret.properties.secretUri})'",
        "value: qualyticsApiToken",
    ),
    "http allowed": ("httpsOnly: true", "httpsOnly: false"),
    "python 3.12": ("version: '3.11'", "version: '3.12'"),
    "Flex-deprecated setting": (
        "      appSettings: [\n",
        "      appSettings: [\n        {\n          name: 'FUNCTIONS_WORKER_RUNTIME'\n          value: 'python'\n        }\n",
    ),
    "ftpsState on Flex": (
        "      minTlsVersion: '1.2'\n",
        "      minTlsVersion: '1.2'\n      ftpsState: 'Disabled'\n",
    ),
}


def test_structural_checks_catch_regressions(infra_venv: Path, main_doc: dict[str, Any]) -> None:
    """Each mutation of main.bicep must parse and must be reported by ``structural_problems``."""
    original = MAIN.read_text()
    mutants = {}
    for label, (old, new) in MUTATIONS.items():
        if original.count(old) != 1:
            pytest.fail(f"mutation {label!r}: {old!r} no longer occurs exactly once in main.bicep")
        mutants[label] = original.replace(old, new)
    results = parse_bicep(infra_venv, mutants)
    missed = []
    for label, result in results.items():
        assert "doc" in result, f"mutation {label!r} broke the syntax: {result.get('error')}"
        if not structural_problems(result["doc"]):
            missed.append(label)
    assert not missed, f"structural checks did not notice: {missed}"


def test_app_settings_equal_the_settings_the_code_reads(main_doc: dict[str, Any]) -> None:
    names = set(app_settings(main_doc))
    storage_suffixes = {n.split("__", 1)[1] for n in names if n.startswith("AzureWebJobsStorage__")}
    assert {"accountName", "credential", "clientId"} <= storage_suffixes <= STORAGE_IDENTITY_SUFFIXES
    assert set(PLATFORM_ONLY_SETTINGS) <= names, "a documented platform setting is no longer deployed"
    assert not set(NOT_DEPLOYED_SETTINGS) & names, "a setting documented as not deployed is set"
    assert "KEY_VAULT_URL" in names, "SECRET_ENCRYPTION_KEY may only be left out while KEY_VAULT_URL is set"
    read_by_code = {"AzureWebJobsStorage" if n.startswith("AzureWebJobsStorage__") else n for n in names}
    read_by_code -= set(PLATFORM_ONLY_SETTINGS)
    expected = set(SETTING_NAMES) - set(NOT_DEPLOYED_SETTINGS)
    assert read_by_code == expected, (
        f"in Bicep but not read by the code: {sorted(read_by_code - expected)}; "
        f"read by the code but not in Bicep: {sorted(expected - read_by_code)}"
    )


# app setting → (its Bicep parameter, the Settings field it fills): the deployed default is the code's default
NUMERIC_SETTINGS = {
    "SYNC_LOCK_TTL_SECONDS": ("syncLockTtlSeconds", "sync_lock_ttl_seconds"),
    "EVENT_COALESCE_SECONDS": ("eventCoalesceSeconds", "event_coalesce_seconds"),
    "DATASTORE_TIME_BUDGET_SECONDS": ("datastoreTimeBudgetSeconds", "datastore_time_budget_seconds"),
    "PURVIEW_MAX_OPS_PER_SECOND": ("purviewMaxOpsPerSecond", "purview_max_ops_per_second"),
}


def test_numeric_settings_deploy_the_code_defaults(
    main_doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in NUMERIC_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    defaults = load_settings()
    deployed = app_settings(main_doc)
    for name, (param, field_name) in NUMERIC_SETTINGS.items():
        assert deployed[name] == f"string({param})", (name, deployed[name])
        default = main_doc["parameters"][param].get("default")
        assert default is not None and float(default) == float(getattr(defaults, field_name)), (name, default)


def test_the_operations_poll_tick_is_deployed_with_its_default(main_doc: dict[str, Any]) -> None:
    """EVENT_POLL_TICK comes from param eventPollTick, whose default is the code's (a schedule the
    timer extension accepts: six NCRONTAB fields)."""
    assert app_settings(main_doc).get("EVENT_POLL_TICK") == "eventPollTick"
    param = main_doc["parameters"]["eventPollTick"]
    default = param.get("default")
    assert expr(default).strip("'") == DEFAULT_EVENT_POLL_TICK, default
    assert Schedule.parse(DEFAULT_EVENT_POLL_TICK).has_seconds
    timers = [f for f in index_app(fresh_app()) if f.schedule is not None]
    assert [(f.name, f.schedule) for f in timers if f.name == "poll_operations"] == [
        ("poll_operations", "%EVENT_POLL_TICK%")
    ]


def test_parameters_file(main_doc: dict[str, Any]) -> None:
    data = json.loads(PARAMETERS.read_text())
    assert data["$schema"].endswith("/deploymentParameters.json#")
    assert data["contentVersion"]
    declared = main_doc["parameters"]
    given = data["parameters"]
    assert set(given) <= set(declared), f"unknown parameters: {sorted(set(given) - set(declared))}"
    secure = {name for name, param in declared.items() if has_decorator(param, "secure")}
    assert secure == {"qualyticsApiToken"}
    assert not secure & set(given), "secure parameters are passed on the command line, never in the file"
    required = {name for name, param in declared.items() if param.get("default") is None}
    assert required - secure <= set(given), (
        f"required and not given: {sorted(required - secure - set(given))}"
    )
    for name, entry in given.items():
        assert set(entry) == {"value"}, f"{name}: expected a plain value"
        for deco in declared[name].get("decorators", []):
            value = entry["value"]
            if deco["type"] == "allowed":
                assert value in deco["argument"], f"{name}={value!r} not in @allowed {deco['argument']}"
            elif deco["type"] == "min_value":
                assert value >= int(deco["argument"]), f"{name}={value} below @minValue"
            elif deco["type"] == "max_value":
                assert value <= int(deco["argument"]), f"{name}={value} above @maxValue"


def _skip_comments(path: Path) -> list[tuple[str, str]]:
    return re.findall(r"//\s*checkov:skip=([A-Z0-9_]+):?([^\n]*)", path.read_text())


def test_checkov_passes_with_the_reviewed_skips(infra_venv: Path, bicep_files: list[Path]) -> None:
    proc = subprocess.run(
        [
            str(infra_venv / BIN / "checkov"),
            "-d",
            "infra",
            "--framework",
            "bicep",
            "-o",
            "json",
            "--skip-download",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"checkov gave no JSON (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
        )
    reports = report if isinstance(report, list) else [report]
    assert [r.get("check_type") for r in reports] == ["bicep"]
    summary = reports[0]["summary"]
    results = reports[0]["results"]
    failed = [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in results["failed_checks"]]
    assert not failed, "checkov findings:\n" + "\n".join(failed)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] >= 10, f"checkov saw only {summary['resource_count']} resources"

    skipped = {
        (c["check_id"], c["resource"]): c["check_result"].get("suppress_comment", "")
        for c in results["skipped_checks"]
    }
    assert set(skipped) == set(EXPECTED_SKIPS), (
        f"skips not reviewed in EXPECTED_SKIPS: {sorted(set(skipped) - set(EXPECTED_SKIPS))}; "
        f"reviewed skips checkov no longer applies: {sorted(set(EXPECTED_SKIPS) - set(skipped))}"
    )
    no_reason = [key for key, reason in skipped.items() if len(reason.strip()) < 20]
    assert not no_reason, f"inline skips need a reason: {no_reason}"
    comments = [c for path in bicep_files for c in _skip_comments(path)]
    assert len(comments) == len(skipped), (
        "a checkov:skip comment is stale (checkov no longer skips anything there)"
    )

    passed = {c["check_id"] for c in results["passed_checks"]}
    assert passed >= MUST_PASS, f"security checks no longer passing: {sorted(MUST_PASS - passed)}"


def test_link_templates_setting_defaults_to_the_built_in_patterns(main_doc: dict[str, Any]) -> None:
    """QUALYTICS_LINK_TEMPLATES (issue 13 point 16) is deployed from an optional parameter whose default is
    empty, which the code reads as the built-in patterns."""
    param = main_doc["parameters"]["qualyticsLinkTemplates"]
    assert expr(param.get("default")) in ("''", ""), param.get("default")
    assert app_settings(main_doc)["QUALYTICS_LINK_TEMPLATES"] == "qualyticsLinkTemplates"
    assert parse_link_templates("") == DEFAULT_LINK_TEMPLATES


def test_schedule_tick_is_deployed_with_its_default(main_doc: dict[str, Any]) -> None:
    """The schedule timer's NCRONTAB: an app setting (the host resolves ``%SCHEDULE_TICK%`` from it) whose
    default is the code's, every five minutes, and a schedule the host accepts."""
    assert app_settings(main_doc)["SCHEDULE_TICK"] == "scheduleTick"
    default = main_doc["parameters"]["scheduleTick"]["default"]
    assert default == DEFAULT_SCHEDULE_TICK == "0 */5 * * * *"
    every = Schedule.parse(default)
    start = datetime(2026, 12, 1, 10, 2, 30, tzinfo=UTC)
    assert every.next_after(start) == datetime(2026, 12, 1, 10, 5, tzinfo=UTC)
    timers = [f for f in index_app(fresh_app()) if f.schedule is not None]
    assert [(f.name, f.schedule) for f in timers if f.name == "schedule_tick"] == [
        ("schedule_tick", "%SCHEDULE_TICK%")
    ]
