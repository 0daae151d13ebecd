"""Diagnostics: what an integration can and cannot do on the real services, check by check (DESIGN.md §3c).

Every check is a read — nothing is written to Purview or Qualytics — and each answers ``{name, status: ok |
warning | failed, detail, action}``; ``action`` says what a person should do (null when all is well). The
calls use short timeouts and few retries and the whole answer has a time budget, so it comes back within
seconds even when a service hangs. Nothing secret is shown: principals are named by their ids, never by a
credential, and service errors by their status.

Purview: token · Data Map read · collections listing · Data Curator on each selected collection (read from
the collections' metadata policies, inherited down the tree) · the ``Qualytics`` managed-attribute group and
the types it applies to. Qualytics: token · tag rights (Editor) · quality-score reads (Reporter) · lineage
(Manager role, add-on). And whether names match: how many database datastores match a schema in scope.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import requests

from purview_sync.app.integrations import load
from purview_sync.app.services import Services
from purview_sync.clients import probes
from purview_sync.clients.connection import acquire_token
from purview_sync.clients.http import HttpError, RetryPolicy, ThrottledError
from purview_sync.clients.purview import PurviewClient
from purview_sync.clients.qualytics import DATABASE_STORE_TYPES, QualyticsClient
from purview_sync.errors import ApiError
from purview_sync.models import Integration
from purview_sync.sync.matcher import Matcher
from purview_sync.sync.typedef import ATTRIBUTES, GROUP

log = logging.getLogger(__name__)

TIME_BUDGET_SECONDS = 20.0  # the whole answer; each request also times out after REQUEST_TIMEOUT_SECONDS
REQUEST_TIMEOUT_SECONDS = 8.0
MATCH_SAMPLE = 25  # datastores whose names are checked (the count says how many there are in all)
PORTAL_ROLES = "Purview portal → Data Map → Collections → <collection> → Role assignments"


@dataclass
class Check:
    name: str
    status: str  # ok | warning | failed
    detail: str
    action: str | None = None


class Checks(list[Check]):
    def add(self, name: str, status: str, detail: str, action: str | None = None) -> None:
        self.append(Check(name, status, detail, action))


def _retry() -> RetryPolicy:
    return RetryPolicy(max_attempts=2, base_delay=0.2, max_delay=1.0, max_retry_after=2.0)


def _failure(exc: BaseException) -> str:
    if isinstance(exc, HttpError):
        return f"HTTP {exc.status}"
    if isinstance(exc, ThrottledError):
        return "throttled"
    if isinstance(exc, requests.Timeout):
        return "a timeout"
    if isinstance(exc, requests.ConnectionError):
        return "a connection failure"
    return type(exc).__name__


def _status_of(exc: BaseException) -> int | None:
    return exc.status if isinstance(exc, HttpError) else None


class Diagnosis:
    def __init__(self, services: Services, integration: Integration) -> None:
        self.services = services
        self.integration = integration
        self.purview_checks = Checks()
        self.qualytics_checks = Checks()
        self.datastores: list[dict[str, Any]] = []
        self.deadline = time.monotonic() + TIME_BUDGET_SECONDS
        self.principal = (
            f"the app registration {integration.client_id}"
            if integration.auth == "client_secret"
            else "the Function App's managed identity"
            + (f" {integration.client_id}" if integration.client_id else "")
        )

    # --- Purview ---------------------------------------------------------------------------------
    def purview_client(self) -> PurviewClient | None:
        try:
            client = self.services.purview_for(
                self.integration, timeout=REQUEST_TIMEOUT_SECONDS, retry=_retry()
            )
        except Exception as exc:  # a secret that cannot be read, a host no longer allowed
            log.warning("diagnostics of %s: no Purview client: %s", self.integration.id, type(exc).__name__)
            self.purview_checks.add(
                "purview_token", "failed", f"No Purview client could be made ({type(exc).__name__}).",
                "Check KEY_VAULT_URL / SECRET_ENCRYPTION_KEY and PURVIEW_ALLOWED_HOSTS; reconnect the "
                "integration if its secret is gone.")  # fmt: skip
            return None
        client.deadline = self.deadline
        return client

    def purview(self, client: PurviewClient) -> bool:
        """The Purview checks; True when the Data Map can be searched (names can then be compared)."""
        try:
            acquire_token(client.credential, managed_identity=self.integration.auth == "managed_identity")
            claims = probes.token_claims(client.credential)
        except ApiError as exc:
            self.purview_checks.add(
                "purview_token", "failed", f"No token for Purview ({exc.code}).", exc.message
            )
            return False
        ids = {str(claims[k]).lower() for k in ("oid", "appid", "azp") if claims.get(k)}
        if claims.get("oid"):
            self.principal += f" (object id {claims['oid']})"
        self.purview_checks.add(
            "purview_token", "ok", f"Entra ID issued a Purview token for {self.principal}."
        )

        readable = True
        try:
            client.probe()
            self.purview_checks.add("purview_data_map_read", "ok", "The Data Map answers a search.")
        except Exception as exc:
            readable = False
            denied = _status_of(exc) in (401, 403)
            self.purview_checks.add("purview_data_map_read", "failed", f"The Data Map refused a search ({_failure(exc)}).",
                     f"Assign {self.principal} the Data Reader (or Data Curator) role on the collections to "
                     f"sync ({PORTAL_ROLES})." if denied else "Try again later; check the account URL.")  # fmt: skip

        collections: list[dict[str, Any]] | None
        try:
            collections = list(client.list_collections())
            self.purview_checks.add(
                "purview_collections", "ok", f"The collections API lists {len(collections)} collections."
            )
        except Exception as exc:
            collections = None
            self.purview_checks.add("purview_collections", "failed", f"The collections API refused ({_failure(exc)}).",
                     f"Assign {self.principal} the Collection Admin role on the root collection "
                     f"({PORTAL_ROLES}).")  # fmt: skip
        self._curator(client, collections, ids)
        self._group(client)
        return readable

    def _curator(
        self, client: PurviewClient, collections: list[dict[str, Any]] | None, ids: set[str]
    ) -> None:
        if collections is None:
            self.purview_checks.add("purview_curator", "warning", "Data Curator rights cannot be checked without the "
                     "collections list.", "Fix the collections check first.")  # fmt: skip
            return
        parents = {c.get("name"): (c.get("parentCollection") or {}).get("referenceName") for c in collections}
        root = next((n for n, p in parents.items() if not p), None)
        targets = self.integration.domains or ([root] if root else [])
        for name in targets:
            check = f"purview_curator:{name}"
            if name not in parents:
                self.purview_checks.add(check, "failed", f"Collection {name} no longer exists in the account.",
                         "Edit the integration's domains (PATCH) to existing collection names.")  # fmt: skip
                continue
            chain: list[str] = []
            current: str | None = name
            while current and current not in chain:
                chain.append(current)
                current = parents.get(current)
            self._curator_on(client, check, name, chain, ids)

    def _curator_on(
        self, client: PurviewClient, check: str, name: str, chain: list[str], ids: set[str]
    ) -> None:
        groups = False
        for collection in chain:
            try:
                holders = probes.role_holders(client, collection)
            except Exception as exc:
                self.purview_checks.add(check, "warning",
                         f"The role assignments of {collection} cannot be read ({_failure(exc)}), so Data "
                         f"Curator on {name} cannot be confirmed.",
                         f"Check in the portal that {self.principal} has Data Curator on {name} "
                         f"({PORTAL_ROLES}); with Collection Admin there, diagnostics can tell.")  # fmt: skip
                return
            if holders.principals & ids:
                where = "" if collection == name else f" (inherited from {collection})"
                self.purview_checks.add(
                    check, "ok", f"Data Curator on {name}{where}: held by {self.principal}."
                )
                return
            groups = groups or bool(holders.groups)
        if groups:
            self.purview_checks.add(check, "warning",
                     f"{self.principal} is not Data Curator on {name} directly; groups hold the role there, "
                     "and their members cannot be read here.",
                     f"Make sure a group with Data Curator on {name} includes {self.principal}, or assign "
                     f"the role directly ({PORTAL_ROLES}).")  # fmt: skip
            return
        self.purview_checks.add(check, "failed",
                 f"{self.principal} has no Data Curator role on {name} (nor above it): the Qualytics values "
                 f"cannot be written to its assets.",
                 f"Assign {self.principal} the Data Curator role on collection {name} ({PORTAL_ROLES}).")  # fmt: skip

    def _group(self, client: PurviewClient) -> None:
        try:
            existing = client.get_business_metadata_def(GROUP)
        except Exception as exc:
            self.purview_checks.add("purview_qualytics_group", "failed", f"The {GROUP} group cannot be read ({_failure(exc)}).",
                     f"Assign {self.principal} Data Reader on the root collection.")  # fmt: skip
            return
        if existing is None:
            self.purview_checks.add("purview_qualytics_group", "warning",
                     f"The {GROUP} managed-attribute group does not exist yet; the first push creates it.",
                     f"Make sure {self.principal} has Data Curator on the root collection (managed "
                     "attributes are account-wide), then run a sync.")  # fmt: skip
            return
        types: set[str] = set()
        names = set()
        for attr in existing.get("attributeDefs") or []:
            names.add(attr.get("name"))
            try:
                types.update(json.loads((attr.get("options") or {}).get("applicableEntityTypes") or "[]"))
            except ValueError:
                pass
        missing = [spec.name for spec in ATTRIBUTES if spec.name not in names]
        detail = (f"The {GROUP} group exists with {len(names)} attributes, applicable to "
                  f"{', '.join(sorted(types)) or 'no type'}.")  # fmt: skip
        if missing:
            self.purview_checks.add("purview_qualytics_group", "warning", f"{detail} Missing: {', '.join(missing)}.",
                     "The next push adds them (Data Curator on the root collection).")  # fmt: skip
        else:
            self.purview_checks.add("purview_qualytics_group", "ok", detail)

    # --- Qualytics -------------------------------------------------------------------------------
    def qualytics(self, q: QualyticsClient) -> None:
        try:
            me = probes.qualytics_me(q)
        except Exception as exc:
            refused = _status_of(exc) in (401, 403)
            self.qualytics_checks.add("qualytics_token", "failed", f"Qualytics refused the token ({_failure(exc)}).",
                     "Create a new Qualytics API token (Settings → Security → API Keys, or a service token) "
                     "and set it as QUALYTICS_API_TOKEN." if refused else
                     "Check QUALYTICS_API_URL (https://<instance>.qualytics.io/api) and try again.")  # fmt: skip
            return
        role = str(me.get("role") or "unknown")
        self.qualytics_checks.add(
            "qualytics_token", "ok", f"Qualytics accepts the token (user {me.get('name')!s}, role {role})."
        )
        self._tag_rights(role)
        self.datastores = self._datastores(q)
        self._scores(q)
        self._lineage(q, role)

    def _tag_rights(self, role: str) -> None:
        if role in ("Admin", "Editor"):
            self.qualytics_checks.add(
                "qualytics_tag_rights", "ok", f"The {role} role can create and edit tags."
            )
            return
        self.qualytics_checks.add("qualytics_tag_rights", "warning",
                 f"With role {role}, creating tags needs the Editor team permission, which the API does not "
                 "show, so pull may be refused.",
                 "Give the token's user the Editor permission in a team (Settings → Teams), or the Admin "
                 "role.")  # fmt: skip

    def _datastores(self, q: QualyticsClient) -> list[dict[str, Any]]:
        try:
            return [d for d in q.list_datastores()
                    if str(d.get("store_type") or "").lower() in DATABASE_STORE_TYPES]  # fmt: skip
        except Exception as exc:
            log.info("diagnostics: datastores not listed: %s", _failure(exc))
            return []

    def _scores(self, q: QualyticsClient) -> None:
        if not self.datastores:
            self.qualytics_checks.add("qualytics_quality_scores", "warning", "No database datastore to read a score from.",
                     "Add a database datastore in Qualytics.")  # fmt: skip
            return
        first = self.datastores[0]
        try:
            probes.quality_scores_read(q, int(first["id"]))
            self.qualytics_checks.add(
                "qualytics_quality_scores", "ok", "The quality-score history can be read (Reporter)."
            )
        except Exception as exc:
            denied = _status_of(exc) == 403
            self.qualytics_checks.add("qualytics_quality_scores", "failed",
                     f"Qualytics refused the quality scores of datastore {first['id']} ({_failure(exc)})"
                     + (": the Reporter permission is missing, so no QualityScore can be pushed." if denied
                        else "."),
                     "Give the token's user the Reporter permission in a team that has the datastores "
                     "(Settings → Teams)." if denied else "Try again later.")  # fmt: skip

    def _lineage(self, q: QualyticsClient, role: str) -> None:
        # a gap only fails the integration that has lineage on; for the others it is worth knowing
        severity = "failed" if self.integration.lineage else "warning"
        unused = "" if self.integration.lineage else " — lineage is off for this integration"
        if role in ("Manager", "Admin"):
            self.qualytics_checks.add(
                "qualytics_lineage_role", "ok", f"The {role} role can create lineage edges."
            )
        else:
            self.qualytics_checks.add("qualytics_lineage_role", severity,
                     f"With role {role}, lineage edges cannot be created (Manager needed){unused}.",
                     "Make the token's user a Manager (or Admin) in Qualytics to pull Purview lineage.")  # fmt: skip
        try:
            probes.lineage_read(q)
            self.qualytics_checks.add("qualytics_lineage_addon", "ok", "The Qualytics lineage add-on is on.")
        except Exception as exc:
            status = _status_of(exc)
            if status == 403:
                self.qualytics_checks.add("qualytics_lineage_addon", severity,
                         f"Qualytics refuses lineage (HTTP 403): the lineage add-on is off{unused}.",
                         "Ask Qualytics to enable the lineage add-on (a trial exists) to push and pull "
                         "lineage; everything else works without it.")  # fmt: skip
            else:
                self.qualytics_checks.add("qualytics_lineage_addon", "warning",
                         f"Whether the lineage add-on is on cannot be told ({_failure(exc)}).",
                         "Check in Qualytics that containers show a Lineage tab.")  # fmt: skip

    # --- names ------------------------------------------------------------------------------------
    def names(self, client: PurviewClient | None) -> Checks:
        out = Checks()
        datastores = self.datastores
        if client is None or not datastores:
            out.add("name_matching", "warning", "Names cannot be compared (no Purview search or no database "
                     "datastore).", "Fix the checks above first.")  # fmt: skip
            return out
        sample = datastores[:MATCH_SAMPLE]
        matcher = Matcher(client, self.integration.domains)

        def outcome(ds: dict[str, Any]) -> str:
            try:
                return matcher.find_root(ds).status
            except Exception as exc:
                return f"error ({_failure(exc)})"

        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="diagnose") as pool:
            results = list(pool.map(outcome, sample))
        label = lambda ds: ".".join(str(p) for p in (ds.get("database"), ds.get("schema")) if p)  # noqa: E731
        matched = sum(r == "matched" for r in results)
        misses = [f"{label(ds)}: {r.replace('_', ' ')}" for ds, r in zip(sample, results, strict=True)
                  if r != "matched"]  # fmt: skip
        scope = f"of the first {len(sample)} of {len(datastores)}" if len(datastores) > len(sample) else "of"
        detail = f"{matched} {scope} {len(sample)} database datastores match a schema in scope"
        if not misses:
            out.add("name_matching", "ok", detail + ".")
            return out
        out.add("name_matching", "failed" if matched == 0 else "warning",
                 f"{detail}; not matched: {'; '.join(misses[:10])}.",
                 "Check that these databases and schemas are scanned in Purview under the same names, and that "
                 "the integration's domains include their collections; a preview (dry_run) suggests close "
                 "names.")  # fmt: skip
        return out


def diagnose(services: Services, integration_id: str) -> dict[str, Any]:
    """Run every check (Purview and Qualytics side by side, then the names) and answer them in order."""
    integration = load(services, integration_id)
    diagnosis = Diagnosis(services, integration)
    purview = diagnosis.purview_client()
    qualytics = services.qualytics(timeout=REQUEST_TIMEOUT_SECONDS, retry=_retry())
    qualytics.deadline = diagnosis.deadline
    try:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="diagnose") as pool:
            searchable = pool.submit(diagnosis.purview, purview) if purview is not None else None
            pool.submit(diagnosis.qualytics, qualytics).result()
            can_search = searchable.result() if searchable is not None else False
        names = diagnosis.names(purview if can_search else None)
    finally:
        qualytics.close()
        if purview is not None:
            purview.close()
    checks = [*diagnosis.purview_checks, *diagnosis.qualytics_checks, *names]
    log.info("diagnostics of %s: %s", integration.id,
             ", ".join(f"{c.name}={c.status}" for c in checks))  # fmt: skip
    return {"checks": [asdict(c) for c in checks]}
