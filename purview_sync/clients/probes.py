"""Read-only probes the diagnostics use: who the Purview token is, who holds a role on a collection (the
Metadata Policy read API), who the Qualytics token is, and whether Qualytics' lineage answers.

* Purview roles are collection role assignments kept in one metadata policy per collection (purview-api.md
  §1.6). ``GET /policystore/metadataPolicies?collectionName=<name>&api-version=2021-07-01-preview`` returns
  ``{"values": [policy]}``; a role's attribute rule has the id ``purviewmetadatarole_builtin_<role>:<name>``
  and lists principal object ids under ``principal.microsoft.id`` (groups under
  ``principal.microsoft.groups``) [D] Learn "Metadata Policy - List All" and the tutorial "Use REST APIs to
  manage role-based access control on Microsoft Purview collections". Reading it takes Collection Admin [U].
* The principal is read from the access token's own claims (``oid``, ``appid``) — the token is decoded,
  never shown or logged.
* Qualytics: ``GET /api/users/me`` (token check, ``role``) [C]; lineage: every lineage endpoint answers 403
  while the add-on is off [C]; ``GET /api/lineage/edges`` as the read is [I] (qualytics-lineage.md §1.2).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from purview_sync.clients.auth import PURVIEW_SCOPE
from purview_sync.clients.purview import PurviewClient
from purview_sync.clients.qualytics import QualyticsClient

POLICY_API_VERSION = "2021-07-01-preview"
CURATOR_ROLE = "purviewmetadatarole_builtin_data-curator"


def token_claims(credential: Any) -> dict[str, Any]:
    """The claims of a Purview access token (payload only; the signature is Entra's business)."""
    token = credential.get_token(PURVIEW_SCOPE).token
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}


@dataclass
class RoleHolders:
    """The holders of one role in one collection's policy (its own assignments, not inherited ones)."""

    principals: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)


def role_holders(purview: PurviewClient, collection: str, role: str = CURATOR_ROLE) -> RoleHolders:
    body = purview.get_json(
        "/policystore/metadataPolicies",
        kind="metadata_policy",
        params={"collectionName": collection, "api-version": POLICY_API_VERSION},
    )
    holders = RoleHolders()
    for policy in body.get("values") or []:
        for rule in (policy.get("properties") or {}).get("attributeRules") or []:
            if str(rule.get("id") or "").split(":", 1)[0] != role:
                continue
            for clause in rule.get("dnfCondition") or []:
                for condition in clause:
                    values = condition.get("attributeValueIncludedIn") or []
                    if condition.get("attributeName") == "principal.microsoft.id":
                        holders.principals.update(str(v).lower() for v in values)
                    elif condition.get("attributeName") == "principal.microsoft.groups":
                        holders.groups.update(str(v).lower() for v in values)
    return holders


def qualytics_me(qualytics: QualyticsClient) -> dict[str, Any]:
    return qualytics.get_json("/users/me", kind="users_me")


def lineage_read(qualytics: QualyticsClient) -> None:
    """Raises ``HttpError`` (403: add-on off; 404: no such read route) unless lineage answers."""
    qualytics.get_json("/lineage/edges", kind="lineage_edges", params={"page": 1, "size": 1})


def quality_scores_read(qualytics: QualyticsClient, datastore_id: int) -> None:
    """Raises ``HttpError`` (403: no Reporter permission) unless the score history can be read."""
    qualytics.get_json(f"/datastores/{int(datastore_id)}/quality-scores", kind="quality_scores")
