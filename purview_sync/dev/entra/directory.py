"""The Entra simulator's directory: tenants (with verified domains), app registrations with their client
secret, and the Function App's managed identities; plus the token lifetime and tenant-identifier shapes.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Literal

TOKEN_LIFETIME_S = 3600
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DNS_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")


@dataclass
class Tenant:
    tenant_id: str
    domains: set[str] = field(default_factory=set)  # e.g. contoso.onmicrosoft.com, resolves to tenant_id


@dataclass
class AppRegistration:
    """An app registration (service principal) in one tenant, with one client secret."""

    tenant_id: str
    client_id: str
    secret: str
    expired: bool = False
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class ManagedIdentity:
    client_id: str
    object_id: str
    kind: Literal["system", "user"]


@dataclass
class ManagedIdentityHost:
    """The Function App's identities, as its App Service managed-identity endpoint knows them."""

    tenant_id: str
    system: ManagedIdentity | None
    user_assigned: dict[str, ManagedIdentity] = field(default_factory=dict)  # client id → identity

    def find(self, client_id: str | None, object_id: str | None) -> ManagedIdentity | None:
        if client_id is None and object_id is None:
            return self.system
        candidates = [*self.user_assigned.values(), *([self.system] if self.system else [])]
        for identity in candidates:
            if client_id is not None and identity.client_id.lower() == client_id.lower():
                return identity
            if object_id is not None and identity.object_id.lower() == object_id.lower():
                return identity
        return None


def object_id_for(client_id: str) -> str:
    """A stable principal id for a managed identity, so tests can predict it."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"managed-identity:{client_id.lower()}"))
