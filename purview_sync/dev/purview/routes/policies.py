"""PolicyRoutes: the read side of the Metadata Policy data plane — who holds which role on a collection.

``GET /policystore/metadataPolicies?collectionName=<name>&api-version=2021-07-01-preview`` → ``{"values":
[policy]}`` and ``GET /policystore/metadataPolicies/{policyId}`` → the policy, shaped as the Learn REST
reference ("Metadata Policy - List All" / "Get", api-version 2021-07-01-preview) and the tutorial "Use REST
APIs to manage role-based access control on Microsoft Purview collections" show it [D]: one policy per
collection, ``properties.attributeRules`` with one rule per built-in role, id
``purviewmetadatarole_builtin_<role>:<collection>``, whose ``dnfCondition`` lists the principals' object ids
under ``principal.microsoft.id`` / ``attributeValueIncludedIn``; ``decisionRules`` carry the collection and,
below the root, the parent's permission (roles are inherited down the tree). Here the listed ids are the
principal ids given to ``grant()`` (object id or client id), and only direct grants on that collection.

Who may read a policy is [U]: reading role assignments is a Collection Admin task (purview-api.md §1.6), so
by default a caller needs ``collection_admin`` on the collection (or above) — knob
``policy_read_needs_admin = False`` lets any principal with a role read it. Writes (PUT) are not served: the
product never changes role assignments.
"""

from __future__ import annotations

import uuid
from typing import Any

from purview_sync.dev.purview.gate import Gate
from purview_sync.dev.purview.records import Caller, account_error
from purview_sync.dev.purview.vocab import GUID_NS, METADATA_ROLES
from purview_sync.dev.simserver import SimRequest, SimResponse, json_response


class PolicyRoutes(Gate):
    """Routes under ``/policystore``."""

    policy_read_needs_admin = True  # knob: [U] who may read a collection's metadata policy

    def _policy_id(self, collection: str) -> str:
        return str(uuid.uuid5(GUID_NS, f"metadata-policy:{collection}"))

    def _policy_json(self, collection: str) -> dict[str, Any]:
        found = self._collections[collection]
        permission: list[dict[str, Any]] = [
            {"attributeName": "resource.purview.collection", "attributeValueIncludes": collection},
            {
                "fromRule": f"permission:{collection}",
                "attributeName": "derived.purview.permission",
                "attributeValueIncludes": f"permission:{collection}",
            },
        ]
        decision = [{"kind": "decisionrule", "effect": "Permit", "dnfCondition": [permission]}]
        if found.parent:
            inherited = {
                "fromRule": f"permission:{found.parent}",
                "attributeName": "derived.purview.permission",
                "attributeValueIncludes": f"permission:{found.parent}",
            }
            decision[0]["dnfCondition"].append([permission[0], inherited])
        rules = []
        for role, builtin in METADATA_ROLES.items():
            holders = sorted(
                pid for pid, grants in self._grants.items() if role in grants.get(collection, ())
            )
            rule_id = f"{builtin}:{collection}"
            rules.append(
                {
                    "kind": "attributerule",
                    "id": rule_id,
                    "name": rule_id,
                    "dnfCondition": [
                        [
                            {"attributeName": "principal.microsoft.id", "attributeValueIncludedIn": holders},
                            {
                                "fromRule": builtin,
                                "attributeName": "derived.purview.role",
                                "attributeValueIncludes": builtin,
                            },
                        ]
                    ],
                }
            )
        properties: dict[str, Any] = {
            "description": "",
            "decisionRules": decision,
            "attributeRules": rules,
            "collection": {"type": "CollectionReference", "referenceName": collection},
        }
        if found.parent:
            properties["parentCollectionName"] = found.parent
        return {"name": f"policy_{collection}", "id": self._policy_id(collection), "version": 1,
                "properties": properties}  # fmt: skip

    def _require_policy_read(self, caller: Caller, collection: str) -> None:
        if self.policy_read_needs_admin and "collection_admin" not in self._roles_on(caller, collection):
            raise account_error(
                403, "Forbidden", f"The caller is not authorized to read the metadata policy of {collection}."
            )

    def _register_policy_routes(self) -> None:
        route = self._route

        @route("GET", "/metadataPolicies", "policies_list", plane="policystore", api_version_required=True)
        def policies_list(req: SimRequest, caller: Caller) -> SimResponse:
            name = req.arg("collectionName")
            if name is None:
                names = [n for n in self._collections if not self.policy_read_needs_admin
                         or "collection_admin" in self._roles_on(caller, n)]  # fmt: skip
                return json_response({"values": [self._policy_json(n) for n in names]})
            if name not in self._collections:
                raise account_error(404, "NotFound", f"Collection {name} not found.", target=name)
            self._require_policy_read(caller, name)
            return json_response({"values": [self._policy_json(name)]})

        @route(
            "GET", "/metadataPolicies/{id}", "policies_get", plane="policystore", api_version_required=True
        )
        def policies_get(req: SimRequest, caller: Caller) -> SimResponse:
            wanted = req.params["id"]
            name = next((n for n in self._collections if self._policy_id(n) == wanted), None)
            if name is None:
                raise account_error(404, "NotFound", f"Metadata policy {wanted} not found.", target=wanted)
            self._require_policy_read(caller, name)
            return json_response(self._policy_json(name))
