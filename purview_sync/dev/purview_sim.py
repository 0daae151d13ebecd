"""A stateful fake of one Microsoft Purview account's data plane (Data Map + Account APIs) over HTTPS.

Why a simulator and not mocks: the product talks to Purview with real HTTP (tokens, JSON bodies, paging,
429s, odd error shapes). This fake keeps a small Atlas-like store (entities, relationships, typedefs,
business metadata, classifications, labels, collections, role grants) and answers the routes the sync
uses with the shapes of the official 2023-09-01 spec and its examples, and the behaviours described in
``shared/reference/purview-api.md`` (cited there as [S]/[D]/[C]/[O]; the guesses marked [U] there are
guesses here too, noted in the docstrings).

Layout of the URL space (as on ``https://{account}.purview.azure.com``):

* ``/datamap/api/search/query`` and ``/datamap/api/atlas/v2/...`` - Data Map (Atlas errors
  ``{"requestId","errorCode","errorMessage"}``);
* ``/account/collections...`` - Account plane (``{"error":{"code","message","target","details"}}``);
* anything else, e.g. a URL that kept ``/catalog``: 404 ``{"error":{"code":"ResourceNotFound",...}}``.

Seeding is done in-process (``add_collection``, ``add_sql_database``, ``add_entity``, ``grant`` ...) so
tests, the devhost's sample estate and the benchmark can build an estate of tens of thousands of assets
quickly. Searches use per-type / per-collection / per-classification / per-name indexes and a lazily
sorted qualifiedName index, so a filtered search stays fast at ~26,000 entities.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import json
import re
import threading
import time
import uuid
from bisect import bisect_left
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlencode

from purview_sync.dev.simserver import SimRequest, SimResponse, SimServer, Simulator, json_response
from purview_sync.dev.tls import DevTLS

__all__ = [
    "DATAMAP_API_VERSIONS",
    "PURVIEW_APP_ID",
    "PURVIEW_AUDIENCE",
    "ROLES",
    "PurviewSim",
    "SimCall",
]

PURVIEW_AUDIENCE = "https://purview.azure.net"
PURVIEW_APP_ID = "73c2949e-da2d-457a-9607-fcc665198967"  # first-party app id, same audience [C]
_AUDIENCES = frozenset({PURVIEW_AUDIENCE, PURVIEW_APP_ID})

ROLES = ("data_reader", "data_curator", "data_source_admin", "collection_admin", "policy_author")
_READ_ROLES = frozenset({"data_reader", "data_curator"})

DATAMAP_API_VERSIONS = frozenset({"2023-09-01", "2023-10-01-preview", "2024-03-01-preview"})
ACCOUNT_API_VERSIONS = frozenset({"2019-11-01-preview", "2023-10-01-preview"})

SEARCH_DEFAULT_LIMIT = 50
SEARCH_MAX_LIMIT = 1000  # [S] "maximum value is 1000"
# A bulk GET above ~193 GUIDs fails on the real service because the URL is too long [O]
# (azure-sdk-for-python#39935): ~8 KB is where 42-character ``guid=...&`` pairs run out.
MAX_URL_LENGTH = 8192

_NS = uuid.UUID("5f0c8a53-3c9e-4d5b-9a61-0c1d2e3f4a5b")  # for deterministic relationship guids

_TYPE_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_ ]*$")  # [C] AtlasAbstractDefStoreV2
_CLASSIFICATION_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_ .]*$")  # MICROSOFT.PERSONAL.EMAIL is valid
_ATTR_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_PRIMITIVES = frozenset(
    {
        "string",
        "int",
        "long",
        "short",
        "byte",
        "float",
        "double",
        "boolean",
        "date",
        "biginteger",
        "bigdecimal",
    }
)
_INT_RANGES = {
    "byte": (-(2**7), 2**7 - 1),
    "short": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
    "date": (-(2**63), 2**63 - 1),
    "biginteger": (-(2**127), 2**127 - 1),
}
_TIMERANGES_MS = {
    "LAST_24H": 24 * 3600_000,
    "LAST_7D": 7 * 24 * 3600_000,
    "LAST_30D": 30 * 24 * 3600_000,
    "LAST_365D": 365 * 24 * 3600_000,
}
_STRING_OPS = frozenset({"eq", "ne", "contains", "prefix"})
_NUMBER_OPS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
_BOOL_OPS = frozenset({"eq", "ne"})

# AtlasTypesDef list key -> category shown on defs and headers.
_CATEGORIES = {
    "enumDefs": "ENUM",
    "structDefs": "STRUCT",
    "classificationDefs": "CLASSIFICATION",
    "entityDefs": "ENTITY",
    "relationshipDefs": "RELATIONSHIP",
    "businessMetadataDefs": "BUSINESS_METADATA",
    "termTemplateDefs": "TERM_TEMPLATE",
}
_RESPONSE_LISTS = (
    "enumDefs",
    "structDefs",
    "classificationDefs",
    "entityDefs",
    "relationshipDefs",
    "businessMetadataDefs",
)


# --- SQL flavours (reference §7) ------------------------------------------------------------------
@dataclass(frozen=True)
class SqlFlavor:
    """Type names and host rules of one SQL source as Purview scans it."""

    key: str
    prefix: str  # type-name prefix: {prefix}_db, {prefix}_schema, {prefix}_table ...
    server_type: str
    asset_type: str  # search ``assetType``
    host_suffix: str | None  # appended to a server host that lacks it
    default_port: str | None = None


SQL_FLAVORS: dict[str, SqlFlavor] = {
    "azure_sql": SqlFlavor(
        "azure_sql", "azure_sql", "azure_sql_server", "Azure SQL Database", ".database.windows.net"
    ),
    # MI example QN in the spec uses "host:3342" (the public endpoint port) [S]; the rest of the host is [U].
    "azure_sql_mi": SqlFlavor(
        "azure_sql_mi",
        "azure_sql_mi",
        "azure_sql_mi",
        "Azure SQL Managed Instance",
        ".database.windows.net",
        "3342",
    ),
    # SQL Server: mssql://{host}/{instance}/{db}/... with the default instance MSSQLSERVER [U].
    "mssql": SqlFlavor("mssql", "mssql", "mssql_instance", "SQL Server", None),
    # Synapse dedicated pools: *_sql_* types on {ws}.sql.azuresynapse.net [C]; workspace entity is [U].
    "synapse_dedicated": SqlFlavor(
        "synapse_dedicated",
        "azure_synapse_dedicated_sql",
        "azure_synapse_workspace",
        "Azure Synapse Analytics",
        ".sql.azuresynapse.net",
    ),
}
_EXTRA_SQL_PREFIXES = ("azure_sql_dw",)  # seen in the Discovery_Query_Classification example [S]

_ASSET_TYPES = (  # (type-name prefix, assetType); first match wins, so longer prefixes come first
    ("azure_sql_mi", "Azure SQL Managed Instance"),
    ("azure_sql_dw", "Azure SQL Data Warehouse"),
    ("azure_synapse", "Azure Synapse Analytics"),
    ("azure_sql", "Azure SQL Database"),
    ("mssql", "SQL Server"),
    ("azure_blob", "Azure Blob Storage"),
    ("azure_storage", "Azure Blob Storage"),
    ("azure_datalake_gen2", "Azure Data Lake Storage Gen2"),
    ("adls_gen2", "Azure Data Lake Storage Gen2"),
)

_SYSTEM_CLASSIFICATIONS = (
    "MICROSOFT.PERSONAL.EMAIL",
    "MICROSOFT.PERSONAL.NAME",
    "MICROSOFT.PERSONAL.EU.PHONE_NUMBER",
    "MICROSOFT.PERSONAL.US.PHONE_NUMBER",
    "MICROSOFT.PERSONAL.IPADDRESS",
    "MICROSOFT.FINANCIAL.CREDIT_CARD_NUMBER",
    "MICROSOFT.GOVERNMENT.CITY_NAME",
    "MICROSOFT.GOVERNMENT.US.STATE",
    "MICROSOFT.GOVERNMENT.US.SOCIAL_SECURITY_NUMBER",
)


def _builtin_entity_types() -> dict[str, tuple[str, ...]]:
    types: dict[str, tuple[str, ...]] = {
        "Referenceable": (),
        "Asset": ("Referenceable",),
        "DataSet": ("Asset",),
        "Process": ("Asset",),
        "Infrastructure": ("Asset",),
        "Path": ("DataSet",),
        "column": ("DataSet",),
        "tabular_schema": ("DataSet",),
        "azure_storage_account": ("Asset",),
        "azure_blob_container": ("DataSet",),
        "azure_blob_path": ("Path",),
        "azure_blob_resource_set": ("DataSet",),
        "azure_datalake_gen2_path": ("Path",),
        "azure_datalake_gen2_resource_set": ("DataSet",),
    }
    for flavor in SQL_FLAVORS.values():
        types[flavor.server_type] = ("Asset",)
    for prefix in [f.prefix for f in SQL_FLAVORS.values()] + list(_EXTRA_SQL_PREFIXES):
        for level in ("db", "schema", "table", "view", "column", "view_column"):
            types[f"{prefix}_{level}"] = ("DataSet",)
    return types


def _now_ms() -> int:
    return int(time.time() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def _qn_segment(name: str) -> str:
    """Scanners URL-encode special characters (spaces → %20) inside qualified names [U]."""
    return quote(name, safe="-_.~$!'()*+,;=@")


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _unb64(token: str) -> dict[str, Any]:
    padded = token + "=" * (-len(token) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    if not isinstance(value, dict):
        raise ValueError("token is not an object")
    return value


def _object_type(type_name: str) -> str:
    """Search ``objectType`` for a type. Tables/Files are in the spec examples [S]; the others are [U]."""
    if type_name.endswith(("_table", "_view")):
        return "Tables"
    if type_name.endswith("_column") or type_name == "column":
        return "Columns"
    if type_name.endswith(("_path", "_file", "_resource_set")) or type_name == "Path":
        return "Files"
    if type_name.endswith("_container"):
        return "Folders"
    if type_name.endswith("_db"):
        return "Databases"
    if type_name.endswith("_schema"):
        return "Schemas"
    if type_name == "Process" or type_name.endswith("_process"):
        return "Data pipelines"
    return "Other"


def _asset_type(type_name: str) -> str:
    for prefix, label in _ASSET_TYPES:
        if type_name.startswith(prefix):
            return label
    return "Custom"


# --- errors ------------------------------------------------------------------------------------------
class _HttpError(Exception):
    """Raised inside handlers; carries the full response so each plane keeps its own error shape."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body}")
        self.response = SimResponse(status=status, body=body, headers=dict(headers or {}))


def _atlas_error(status: int, code: str, message: str) -> _HttpError:
    return _HttpError(status, {"requestId": str(uuid.uuid4()), "errorCode": code, "errorMessage": message})


def _gateway_error(status: int, code: str, message: str, **headers: str) -> _HttpError:
    return _HttpError(status, {"error": {"code": code, "message": message}}, headers)


def _account_error(status: int, code: str, message: str, target: str | None = None) -> _HttpError:
    return _HttpError(status, {"error": {"code": code, "message": message, "target": target, "details": []}})


def _bad_params(message: str) -> _HttpError:
    return _atlas_error(400, "ATLAS-400-00-01A", f"invalid parameters: {message}")


# --- state --------------------------------------------------------------------------------------------
@dataclass
class _Collection:
    name: str
    friendly_name: str
    parent: str | None
    description: str | None
    created_at: int


@dataclass
class _Rel:
    """One end of a relationship as stored on the entity that shows it in ``relationshipAttributes``."""

    guid: str
    relationship_type: str
    relationship_guid: str


@dataclass
class _Classification:
    type_name: str
    entity_guid: str  # the entity it was attached to; differs from the holder when propagated
    attributes: dict[str, Any] = field(default_factory=dict)
    last_modified: int = 1


@dataclass
class _Entity:
    guid: str
    type_name: str
    attributes: dict[str, Any]
    collection: str
    seq: int
    relationships: dict[str, _Rel | list[_Rel] | None] = field(default_factory=dict)
    classifications: list[_Classification] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    business: dict[str, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    status: str = "ACTIVE"
    created_by: str = "ServiceAdmin"
    updated_by: str = "ServiceAdmin"
    create_time: int = 0
    update_time: int = 0
    version: int = 0
    last_modified: int = 1

    @property
    def qualified_name(self) -> str:
        return str(self.attributes.get("qualifiedName") or "")

    @property
    def name(self) -> str:
        return str(self.attributes.get("name") or "")

    def touch(self, who: str) -> None:
        self.update_time = _now_ms()
        self.updated_by = who
        self.last_modified += 1
        self.version += 1


@dataclass(frozen=True)
class SimCall:
    """One request the simulator answered; tests inspect these (e.g. "never isOverwrite=true")."""

    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    principal: str | None
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None


@dataclass
class _Caller:
    principal: str  # appid (client id) when present, else oid
    ids: tuple[str, ...]
    claims: dict[str, Any]


@dataclass
class _Filter:
    pred: Callable[[_Entity], bool]
    cands: set[str] | None = None  # a superset of the matches, when an index can narrow the scan


# --- the simulator ------------------------------------------------------------------------------------
class PurviewSim(Simulator):
    """One Purview account: ``PurviewSim(tls, tenant_id=..., token_verifier=...)``; ``.url`` once started.

    ``token_verifier(token)`` returns the JWT claims (``aud``, ``tid``, ``appid``, ``oid``, ``exp``) or
    None for a token it does not accept (bad signature, expired, unknown issuer). The simulator then checks
    audience and tenant itself and maps the principal (``appid`` or ``oid``) to collection roles.
    """

    def __init__(
        self,
        tls: DevTLS | None,
        *,
        account: str = "contoso",
        tenant_id: str,
        token_verifier: Callable[[str], dict[str, Any] | None],
        port: int = 0,
    ) -> None:
        self.account = account
        self.tenant_id = tenant_id
        self.token_verifier = token_verifier
        self.server = SimServer(
            f"purview-{account}", ssl_context=tls.server_context() if tls else None, port=port
        )
        self.collections_page_size = 50  # account plane page size [U]; tests lower it to exercise nextLink
        self.calls: deque[SimCall] = deque(maxlen=100_000)
        self._lock = threading.RLock()
        self._seq = itertools.count()
        self._internal_ids = itertools.count(9514774903018192)
        self._entities: dict[str, _Entity] = {}
        self._by_type_qn: dict[tuple[str, str], str] = {}
        self._by_qn: dict[str, list[str]] = {}
        self._by_type: dict[str, set[str]] = {}
        self._by_collection: dict[str, set[str]] = {}
        self._by_classification: dict[str, set[str]] = {}
        self._by_name: dict[str, set[str]] = {}
        self._qn_sorted: list[tuple[str, str]] | None = None  # (lower qn, guid), rebuilt lazily
        self._collections: dict[str, _Collection] = {}
        self._grants: dict[str, dict[str, set[str]]] = {}
        # typedefs, by category
        self._defs: dict[str, dict[str, dict[str, Any]]] = {cat: {} for cat in _CATEGORIES.values()}
        self._def_guids: dict[str, tuple[str, str]] = {}
        self._bm_applicable: dict[tuple[str, str], frozenset[str]] = {}
        self._ancestor_cache: dict[str, frozenset[str]] = {}
        self._applicable_cache: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        self._collections[account] = _Collection(account, account, None, None, _now_ms())
        for name, supers in _builtin_entity_types().items():
            self._store_def("ENTITY", self._builtin_def("ENTITY", name, {"superTypes": list(supers)}))
        for name in _SYSTEM_CLASSIFICATIONS:
            self._store_def("CLASSIFICATION", self._builtin_def("CLASSIFICATION", name, {"superTypes": []}))
        self._register_routes()

    # --- lifecycle ---------------------------------------------------------------------------------
    # --- seeding: roles and collections ----------------------------------------------------------------
    def grant(self, principal_id: str, *roles: str, collection: str | None = None) -> None:
        """Give ``principal_id`` (token ``appid`` or ``oid``) roles on a collection (None = root, inherited
        by every collection)."""
        with self._lock:
            target = collection or self.account
            if target not in self._collections:
                raise KeyError(f"unknown collection {target!r}")
            for role in roles:
                if role not in ROLES:
                    raise ValueError(f"unknown role {role!r}; expected one of {ROLES}")
            self._grants.setdefault(principal_id, {}).setdefault(target, set()).update(roles)

    def revoke(self, principal_id: str, *roles: str, collection: str | None = None) -> None:
        """Remove roles (all of them when none are named) from one collection assignment."""
        with self._lock:
            held = self._grants.get(principal_id, {}).get(collection or self.account)
            if held is not None:
                held.difference_update(roles or set(held))

    def add_collection(
        self,
        name: str,
        friendly_name: str | None = None,
        parent: str | None = None,
        *,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Create a collection (``name`` is the short id used by search and ``collectionId``)."""
        with self._lock:
            if name in self._collections:
                raise ValueError(f"collection {name!r} already exists")
            parent_name = parent or self.account
            if parent_name not in self._collections:
                raise KeyError(f"unknown parent collection {parent_name!r}")
            self._collections[name] = _Collection(
                name, friendly_name or name, parent_name, description, _now_ms()
            )
            return self._collection_json(self._collections[name])

    # --- seeding: entities -------------------------------------------------------------------------
    def add_entity(
        self,
        type_name: str,
        qualified_name: str,
        *,
        name: str | None = None,
        attributes: dict[str, Any] | None = None,
        collection: str | None = None,
        guid: str | None = None,
        relationships: dict[str, Any] | None = None,
        contacts: dict[str, list[dict[str, Any]]] | None = None,
        labels: Iterable[str] = (),
    ) -> str:
        """Add one entity and return its guid. An unknown ``type_name`` is registered as a DataSet subtype.

        ``relationships`` maps a relationship attribute to None, a guid, ``{"guid", "relationshipType"}``
        or a list of those; the other end is not updated (use ``link`` for both ends).
        """
        with self._lock:
            if type_name not in self._defs["ENTITY"]:
                self._store_def("ENTITY", self._builtin_def("ENTITY", type_name, {"superTypes": ["DataSet"]}))
            attrs = dict(attributes or {})
            attrs["qualifiedName"] = qualified_name
            attrs["name"] = name if name is not None else attrs.get("name", qualified_name.rsplit("/", 1)[-1])
            entity = self._create(type_name, attrs, collection or self.account, guid=guid, who="ServiceAdmin")
            for attr, value in (relationships or {}).items():
                entity.relationships[attr] = self._parse_seed_rel(entity, attr, value)
            entity.contacts = copy.deepcopy(contacts or {})
            entity.labels = list(labels)
            return entity.guid

    def link(
        self, parent_guid: str, attr: str, child_guid: str, inverse: str, relationship_type: str
    ) -> None:
        """Link both ends: ``parent.attr`` (a list) gains child; ``child.inverse`` = parent."""
        with self._lock:
            parent, child = self._entities[parent_guid], self._entities[child_guid]
            rel_guid = self._rel_guid(relationship_type, parent_guid, child_guid)
            ends = parent.relationships.setdefault(attr, [])
            assert isinstance(ends, list), f"{attr} is not a list relationship"
            ends.append(_Rel(child_guid, relationship_type, rel_guid))
            child.relationships[inverse] = _Rel(parent_guid, relationship_type, rel_guid)

    def add_sql_database(
        self,
        server_host: str,
        database: str,
        *,
        flavor: str = "azure_sql",
        collection: str | None = None,
        schemas: dict[str, dict[str, Any]] | None = None,
        views: dict[str, dict[str, Any]] | None = None,
        instance: str = "MSSQLSERVER",
    ) -> dict[str, str]:
        """Add a scanned SQL database; return ``{qualifiedName: guid}`` for every entity created.

        ``schemas={"dbo": {"transactions": ["id", "amount"]}}`` (columns as a list of names or a
        ``{name: data_type}`` dict); ``views`` has the same shape. Qualified names follow reference §7:
        Azure SQL ``mssql://{server}.database.windows.net/{db}/{schema}/{table}#{column}``, MI with a
        ``:3342`` host, SQL Server ``mssql://{host}/{instance}/{db}/...``, Synapse on
        ``*.sql.azuresynapse.net``.
        A server shared by several databases is created once.
        """
        fl = SQL_FLAVORS[flavor]
        host = server_host
        if fl.host_suffix and not host.split(":", 1)[0].endswith(fl.host_suffix):
            host = (
                host.split(":", 1)[0] + fl.host_suffix + (":" + host.split(":", 1)[1] if ":" in host else "")
            )
        if fl.default_port and ":" not in host:
            host = f"{host}:{fl.default_port}"
        coll = collection or self.account
        p = fl.prefix
        created: dict[str, str] = {}
        with self._lock:
            if coll not in self._collections:
                raise KeyError(f"unknown collection {coll!r}")
            if fl.key == "mssql":
                server_qn = f"mssql://{host}/{_qn_segment(instance)}"
                server_name = instance
            elif fl.key == "synapse_dedicated":
                workspace = host.split(".", 1)[0]
                server_qn = f"https://{workspace}.dev.azuresynapse.net"  # [U]
                server_name = workspace
            else:
                server_qn = f"mssql://{host}"
                server_name = host.split(".", 1)[0]
            sql_root = server_qn if fl.key != "synapse_dedicated" else f"mssql://{host}"
            server_guid = self._by_type_qn.get((fl.server_type, server_qn))
            if server_guid is None:
                server_guid = self.add_entity(fl.server_type, server_qn, name=server_name, collection=coll)
                created[server_qn] = server_guid
            db_qn = f"{sql_root}/{_qn_segment(database)}"
            db_guid = self.add_entity(f"{p}_db", db_qn, name=database, collection=coll)
            created[db_qn] = db_guid
            self.link(server_guid, "databases", db_guid, "server", f"{fl.server_type}_databases")
            schema_guids: dict[str, str] = {}

            def schema_guid(schema: str) -> str:
                if schema not in schema_guids:
                    qn = f"{db_qn}/{_qn_segment(schema)}"
                    schema_guids[schema] = created[qn] = self.add_entity(
                        f"{p}_schema", qn, name=schema, collection=coll
                    )
                    self.link(db_guid, "schemas", schema_guids[schema], "db", f"{p}_db_schemas")
                return schema_guids[schema]

            for kind, spec in (("table", schemas or {}), ("view", views or {})):
                for schema, objects in spec.items():
                    s_guid = schema_guid(schema)
                    for obj, columns in objects.items():
                        qn = f"{db_qn}/{_qn_segment(schema)}/{_qn_segment(obj)}"
                        o_guid = created[qn] = self.add_entity(
                            f"{p}_{kind}", qn, name=obj, collection=coll, attributes={"description": None}
                        )
                        self.link(s_guid, f"{kind}s", o_guid, "dbSchema", f"{p}_schema_{kind}s")
                        col_items = (
                            columns.items() if isinstance(columns, dict) else ((c, None) for c in columns)
                        )
                        col_type = f"{p}_column" if kind == "table" else f"{p}_view_column"
                        for col, data_type in col_items:
                            col_qn = f"{qn}#{_qn_segment(col)}"
                            c_guid = created[col_qn] = self.add_entity(
                                col_type,
                                col_qn,
                                name=col,
                                collection=coll,
                                attributes={"data_type": data_type or "nvarchar", "description": None},
                            )
                            self.link(o_guid, "columns", c_guid, kind, f"{p}_{kind}_columns")
            for schema in list(schemas or {}) + list(views or {}):
                schema_guid(schema)
        return created

    def delete_entity(self, guid: str) -> None:
        """Soft-delete (status DELETED): GET still answers, search drops it, relations show DELETED."""
        with self._lock:
            entity = self._entities[guid]
            entity.status = "DELETED"
            entity.touch("ServiceAdmin")

    def entity(self, guid: str) -> dict[str, Any] | None:
        """The entity as ``GET /entity/guid/{guid}`` renders it (``entity`` part), or None."""
        with self._lock:
            found = self._entities.get(guid)
            return self._render_entity(found) if found else None

    def entity_by_qn(self, qn: str, type_name: str | None = None) -> dict[str, Any] | None:
        with self._lock:
            if type_name is not None:
                guid = self._by_type_qn.get((type_name, qn))
            else:
                guids = self._by_qn.get(qn) or []
                guid = guids[0] if guids else None
            return self._render_entity(self._entities[guid]) if guid else None

    def guid_of(self, qn: str, type_name: str | None = None) -> str:
        found = self.entity_by_qn(qn, type_name)
        if found is None:
            raise KeyError(qn)
        return str(found["guid"])

    def add_classification(
        self,
        guid: str,
        type_name: str,
        *,
        propagated_from: str | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> None:
        """Attach a classification; ``propagated_from`` = the source entity's guid (its ``entityGuid``)."""
        with self._lock:
            entity = self._entities[guid]
            if type_name not in self._defs["CLASSIFICATION"]:
                self.add_classification_def(type_name)
            source = propagated_from or guid
            if source not in self._entities:
                raise KeyError(f"unknown source entity {source}")
            if any(c.type_name == type_name and c.entity_guid == source for c in entity.classifications):
                return
            entity.classifications.append(_Classification(type_name, source, dict(attributes or {})))
            self._by_classification.setdefault(type_name, set()).add(guid)
            entity.touch("ServiceAdmin")

    def remove_classification(self, guid: str, type_name: str) -> None:
        """Remove every association (direct and propagated) of ``type_name`` from the entity."""
        with self._lock:
            entity = self._entities[guid]
            entity.classifications = [c for c in entity.classifications if c.type_name != type_name]
            self._by_classification.get(type_name, set()).discard(guid)
            entity.touch("ServiceAdmin")

    def set_labels(self, guid: str, labels: Iterable[str]) -> None:
        with self._lock:
            entity = self._entities[guid]
            entity.labels = list(dict.fromkeys(labels))
            entity.touch("ServiceAdmin")

    def business_metadata(self, guid: str) -> dict[str, dict[str, Any]]:
        """A copy of the entity's business metadata ``{group: {attr: value}}``."""
        with self._lock:
            return copy.deepcopy(self._entities[guid].business)

    def set_business_metadata(self, guid: str, group: str, attrs: dict[str, Any]) -> None:
        """Merge values into one group (e.g. another team's). An unknown group is created on the fly with
        attribute types inferred from the values and applicable to every asset type."""
        with self._lock:
            entity = self._entities[guid]
            if group not in self._defs["BUSINESS_METADATA"]:
                inferred = {
                    name: "boolean"
                    if isinstance(v, bool)
                    else "int"
                    if isinstance(v, int)
                    else "float"
                    if isinstance(v, float)
                    else "string"
                    for name, v in attrs.items()
                }
                self.add_business_metadata_def(group, inferred)
            try:
                self._write_bm(entity, {group: dict(attrs)}, overwrite=False, who="ServiceAdmin")
            except _HttpError as exc:
                raise ValueError(exc.response.body) from None

    def add_business_metadata_def(
        self,
        name: str,
        attributes: dict[str, str],
        *,
        applicable: Iterable[str] = ("Referenceable",),
        max_str_length: int = 1024,
        description: str = "",
    ) -> dict[str, Any]:
        """Create a BM typedef from ``{attr: typeName}`` (string attributes get ``maxStrLength``)."""
        applicable_json = json.dumps(list(applicable))
        attr_defs = []
        for attr, type_name in attributes.items():
            options = {"applicableEntityTypes": applicable_json}
            if type_name in ("string", "array<string>"):
                options["maxStrLength"] = str(max_str_length)
            attr_defs.append({"name": attr, "typeName": type_name, "isOptional": True, "options": options})
        body = {
            "businessMetadataDefs": [{"name": name, "description": description, "attributeDefs": attr_defs}]
        }
        return self.add_typedefs(body)["businessMetadataDefs"][0]

    def add_classification_def(self, name: str, super_types: Iterable[str] = ()) -> dict[str, Any]:
        return self.add_typedefs({"classificationDefs": [{"name": name, "superTypes": list(super_types)}]})[
            "classificationDefs"
        ][0]

    def add_typedefs(self, typedefs: dict[str, Any], *, update: bool = False) -> dict[str, Any]:
        """``POST /types/typedefs`` semantics (``PUT`` with ``update=True``); ValueError when invalid."""
        with self._lock:
            try:
                return self._apply_typedefs(typedefs, update=update, who="ServiceAdmin")
            except _HttpError as exc:
                raise ValueError(exc.response.body) from None

    def typedef(self, name: str) -> dict[str, Any] | None:
        """Any typedef by name (business metadata, classification, entity, ...), as the API returns it."""
        with self._lock:
            for defs in self._defs.values():
                if name in defs:
                    return copy.deepcopy(defs[name])
            return None

    def entity_count(self) -> int:
        with self._lock:
            return len(self._entities)

    # --- internal: entity store -----------------------------------------------------------------------
    def _create(
        self, type_name: str, attrs: dict[str, Any], collection: str, *, guid: str | None, who: str
    ) -> _Entity:
        qn = str(attrs["qualifiedName"])
        if (type_name, qn) in self._by_type_qn:
            raise ValueError(f"{type_name} {qn!r} already exists")
        if guid is not None and guid in self._entities:
            raise ValueError(f"guid {guid} already exists")
        now = _now_ms()
        entity = _Entity(
            guid=guid or str(uuid.uuid4()),
            type_name=type_name,
            attributes=attrs,
            collection=collection,
            seq=next(self._seq),
            created_by=who,
            updated_by=who,
            create_time=now,
            update_time=now,
        )
        self._entities[entity.guid] = entity
        self._index(entity)
        return entity

    def _index(self, e: _Entity) -> None:
        self._by_type_qn[(e.type_name, e.qualified_name)] = e.guid
        self._by_qn.setdefault(e.qualified_name, []).append(e.guid)
        self._by_type.setdefault(e.type_name, set()).add(e.guid)
        self._by_collection.setdefault(e.collection, set()).add(e.guid)
        self._by_name.setdefault(e.name.lower(), set()).add(e.guid)
        for c in e.classifications:
            self._by_classification.setdefault(c.type_name, set()).add(e.guid)
        self._qn_sorted = None

    def _unindex(self, e: _Entity) -> None:
        self._by_type_qn.pop((e.type_name, e.qualified_name), None)
        guids = self._by_qn.get(e.qualified_name, [])
        if e.guid in guids:
            guids.remove(e.guid)
        self._by_type.get(e.type_name, set()).discard(e.guid)
        self._by_collection.get(e.collection, set()).discard(e.guid)
        self._by_name.get(e.name.lower(), set()).discard(e.guid)
        self._qn_sorted = None

    def _rel_guid(self, relationship_type: str, a: str, b: str) -> str:
        lo, hi = sorted((a, b))
        return str(uuid.uuid5(_NS, f"{relationship_type}|{lo}|{hi}"))

    def _parse_seed_rel(self, entity: _Entity, attr: str, value: Any) -> _Rel | list[_Rel] | None:
        if value is None:
            return None
        if isinstance(value, list):
            return [r for r in (self._parse_seed_rel(entity, attr, v) for v in value) if isinstance(r, _Rel)]
        guid, rel_type = (
            (value, None) if isinstance(value, str) else (value["guid"], value.get("relationshipType"))
        )
        rel_type = rel_type or f"{entity.type_name}_{attr}"
        return _Rel(guid, rel_type, self._rel_guid(rel_type, entity.guid, guid))

    def _collection_chain(self, name: str) -> list[str]:
        chain: list[str] = []
        current: str | None = name
        while current is not None and current not in chain:
            chain.append(current)
            found = self._collections.get(current)
            current = found.parent if found else None
        return chain

    # --- internal: typedefs ----------------------------------------------------------------------------
    def _builtin_def(self, category: str, name: str, extra: dict[str, Any]) -> dict[str, Any]:
        return {
            "category": category,
            "guid": str(uuid.uuid5(_NS, f"typedef|{name}")),
            "name": name,
            "description": name,
            "createdBy": "admin",
            "updatedBy": "admin",
            "createTime": 1600000000000,
            "updateTime": 1600000000000,
            "version": 1,
            "typeVersion": "1.0",
            "lastModifiedTS": "1",
            "attributeDefs": [],
            **extra,
        }

    def _store_def(self, category: str, d: dict[str, Any]) -> None:
        self._defs[category][d["name"]] = d
        self._def_guids[d["guid"]] = (category, d["name"])
        if category == "BUSINESS_METADATA":
            for attr in d["attributeDefs"]:
                types = json.loads(attr["options"]["applicableEntityTypes"])
                self._bm_applicable[(d["name"], attr["name"])] = frozenset(types)
        self._ancestor_cache.clear()
        self._applicable_cache.clear()

    def _find_def(self, name: str) -> tuple[str, dict[str, Any]] | None:
        for category, defs in self._defs.items():
            if name in defs:
                return category, defs[name]
        return None

    def _ancestors(self, type_name: str) -> frozenset[str]:
        """The type and all its supertypes (entity or classification)."""
        cached = self._ancestor_cache.get(type_name)
        if cached is not None:
            return cached
        seen: set[str] = set()
        todo = [type_name]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            d = self._defs["ENTITY"].get(current) or self._defs["CLASSIFICATION"].get(current)
            todo.extend((d or {}).get("superTypes") or [])
        result = frozenset(seen)
        self._ancestor_cache[type_name] = result
        return result

    def _classification_family(self, name: str) -> set[str]:
        """``name`` and every classification that has it among its supertypes."""
        return {n for n in self._defs["CLASSIFICATION"] if name in self._ancestors(n)} | {name}

    def _applicable_bm(self, type_name: str) -> dict[str, dict[str, dict[str, Any]]]:
        """``{group: {attr: attrDef}}`` of BM attributes applicable to an entity type (via supertypes too)."""
        cached = self._applicable_cache.get(type_name)
        if cached is not None:
            return cached
        lineage = self._ancestors(type_name)
        result: dict[str, dict[str, dict[str, Any]]] = {}
        for bm_name, d in self._defs["BUSINESS_METADATA"].items():
            for attr in d["attributeDefs"]:
                if self._bm_applicable.get((bm_name, attr["name"]), frozenset()) & lineage:
                    result.setdefault(bm_name, {})[attr["name"]] = attr
        self._applicable_cache[type_name] = result
        return result

    def _apply_typedefs(self, body: Any, *, update: bool, who: str) -> dict[str, Any]:
        """Validate every def in an AtlasTypesDef, then store all of them (all-or-nothing)."""
        if not isinstance(body, dict):
            raise _bad_params("body must be an AtlasTypesDef object")
        staged: list[tuple[str, dict[str, Any]]] = []
        new_entity_types = {d.get("name") for d in body.get("entityDefs") or [] if isinstance(d, dict)}
        new_enums = {d.get("name"): d for d in body.get("enumDefs") or [] if isinstance(d, dict)}
        for list_key, category in _CATEGORIES.items():
            items = body.get(list_key) or []
            if not isinstance(items, list):
                raise _bad_params(f"{list_key} must be an array")
            for raw in items:
                if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
                    raise _bad_params(f"every entry of {list_key} needs a name")
                staged.append(
                    (category, self._validate_def(category, raw, update, new_entity_types, new_enums, who))
                )
        names = [d["name"] for _, d in staged]
        dupes = [n for n, count in Counter(names).items() if count > 1]
        if dupes:
            raise _bad_params(f"type {dupes[0]} is defined more than once")
        result: dict[str, Any] = {key: [] for key in _RESPONSE_LISTS}
        for category, d in staged:
            self._store_def(category, d)
            list_key = next(k for k, v in _CATEGORIES.items() if v == category)
            result.setdefault(list_key, []).append(copy.deepcopy(d))
        return result

    def _validate_def(
        self,
        category: str,
        raw: dict[str, Any],
        update: bool,
        new_entity_types: set[Any],
        new_enums: dict[Any, dict[str, Any]],
        who: str,
    ) -> dict[str, Any]:
        name = raw["name"]
        existing = self._find_def(name)
        if update:
            if existing is None or existing[0] != category:
                raise _atlas_error(404, "ATLAS-404-00-001", f"Given typename {name} was invalid")
        elif existing is not None:
            raise _atlas_error(409, "ATLAS-409-00-001", f"Given type {name} already exists")
        regex = _CLASSIFICATION_NAME_RE if category == "CLASSIFICATION" else _TYPE_NAME_RE
        if not regex.match(name):
            kind = category.lower().replace("_", "-")
            raise _atlas_error(
                400,
                "ATLAS-400-00-019",
                f"{name}: invalid name for {kind}.  Names must consist of a letter followed by a sequence of "
                "letter, number, space, or '_' characters",
            )
        old = existing[1] if existing else None
        now = _now_ms()
        d: dict[str, Any] = {
            "category": category,
            "guid": old["guid"] if old else str(uuid.uuid4()),
            "createdBy": old["createdBy"] if old else who,
            "updatedBy": who,
            "createTime": old["createTime"] if old else now,
            "updateTime": now,
            "version": (old["version"] + 1) if old else 1,
            "name": name,
            "description": raw.get("description", old["description"] if old else "") or "",
            "typeVersion": raw.get("typeVersion") or "1.0",
            "lastModifiedTS": str(int(old["lastModifiedTS"]) + 1) if old else "1",
        }
        if raw.get("options"):
            d["options"] = dict(raw["options"])
        if category in ("ENTITY", "CLASSIFICATION"):
            supers = raw.get("superTypes") or []
            for s in supers:
                pool = self._defs[category]
                if s not in pool and not (category == "ENTITY" and s in new_entity_types):
                    raise _atlas_error(400, "ATLAS-400-00-001", f"Unknown type {s} for {name}.superTypes")
            d["superTypes"] = list(supers)
            if category == "CLASSIFICATION":
                d["entityTypes"] = list(raw.get("entityTypes") or [])
        if category == "ENUM":
            d["elementDefs"] = list(raw.get("elementDefs") or [])
        if category == "RELATIONSHIP":
            for key in ("endDef1", "endDef2", "relationshipCategory", "propagateTags"):
                if key in raw:
                    d[key] = raw[key]
        d["attributeDefs"] = self._validate_attr_defs(category, name, raw, old, new_entity_types, new_enums)
        return d

    def _validate_attr_defs(
        self,
        category: str,
        def_name: str,
        raw: dict[str, Any],
        old: dict[str, Any] | None,
        new_entity_types: set[Any],
        new_enums: dict[Any, dict[str, Any]],
    ) -> list[dict[str, Any]]:
        attrs = raw.get("attributeDefs") or []
        if not isinstance(attrs, list):
            raise _bad_params(f"{def_name}.attributeDefs must be an array")
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        for a in attrs:
            if (
                not isinstance(a, dict)
                or not isinstance(a.get("name"), str)
                or not isinstance(a.get("typeName"), str)
            ):
                raise _bad_params(f"{def_name}: every attributeDef needs a name and a typeName")
            aname, tname = a["name"], a["typeName"]
            if aname in seen:
                raise _atlas_error(
                    400,
                    "ATLAS-400-00-092",
                    f"Duplicate business-metadata attributes: {aname} not allowed within the same "
                    f"business-metadata: {def_name}",
                )
            seen.add(aname)
            norm = {
                "name": aname,
                "typeName": tname,
                "isOptional": bool(a.get("isOptional", True)),
                "cardinality": a.get("cardinality") or "SINGLE",
                "valuesMinCount": a.get("valuesMinCount", 0),
                "valuesMaxCount": a.get("valuesMaxCount", 1),
                "isUnique": bool(a.get("isUnique", False)),
                "isIndexable": bool(a.get("isIndexable", False)),
                "includeInNotification": bool(a.get("includeInNotification", False)),
                "options": {},
            }
            if a.get("description") is not None:
                norm["description"] = a["description"]
            if category == "BUSINESS_METADATA":
                norm["options"] = self._validate_bm_attr(def_name, a, new_entity_types, new_enums)
            elif isinstance(a.get("options"), dict):
                norm["options"] = dict(a["options"])
            out.append(norm)
        if old is not None and category == "BUSINESS_METADATA":
            new_by_name = {x["name"]: x for x in out}
            for prev in old["attributeDefs"]:
                now_def = new_by_name.get(prev["name"])
                if now_def is None:
                    raise _atlas_error(
                        400, "ATLAS-400-00-00D", f"{def_name}.{prev['name']} : attribute delete not supported"
                    )
                if now_def["typeName"] != prev["typeName"]:
                    raise _atlas_error(
                        400, "ATLAS-400-00-027", f"{def_name}.{prev['name']} : attribute update not supported"
                    )
                before = self._bm_applicable.get((def_name, prev["name"]), frozenset())
                after = frozenset(json.loads(now_def["options"]["applicableEntityTypes"]))
                if not before <= after:
                    raise _atlas_error(
                        400,
                        "ATLAS-400-00-093",
                        f"Cannot remove applicableEntityTypes in Attribute Def: {prev['name']}, defined in "
                        f"business-metadata: {def_name}",
                    )
            old_names = {x["name"] for x in old["attributeDefs"]}
            for x in out:
                if x["name"] not in old_names and not x["isOptional"]:
                    raise _atlas_error(
                        400, "ATLAS-400-00-00C", f"{def_name}.{x['name']} : can not add mandatory attribute"
                    )
        return out

    def _validate_bm_attr(
        self, bm: str, a: dict[str, Any], new_entity_types: set[Any], new_enums: dict[Any, dict[str, Any]]
    ) -> dict[str, str]:
        """Atlas' business-metadata attribute rules (reference §5.2, [C] AtlasBusinessMetadataType)."""
        aname, tname = a["name"], a["typeName"]
        if not _ATTR_NAME_RE.match(aname):
            raise _atlas_error(
                400,
                "ATLAS-400-00-09A",
                f"{aname}: invalid name. Attribute names must begin with a letter followed by a sequence of "
                "letters, numbers, or '_' characters",
            )
        base = tname[6:-1] if tname.startswith("array<") and tname.endswith(">") else tname
        if base not in _PRIMITIVES and base not in self._defs["ENUM"] and base not in new_enums:
            if self._find_def(base) is not None:
                raise _atlas_error(
                    400,
                    "ATLAS-400-00-094",
                    f"{bm}.{aname}: invalid attribute type. Business-metadata attribute cannot be of type "
                    "entity/classification/struct/business-metadata",
                )
            raise _atlas_error(400, "ATLAS-400-00-001", f"Unknown type {tname} for {bm}.{aname}")
        options = a.get("options")
        if options is None:
            options = {}
        if not isinstance(options, dict) or not all(isinstance(v, str) for v in options.values()):
            raise _bad_params(
                f"{bm}.{aname}.options must be a map of strings (e.g. applicableEntityTypes is a JSON array "
                "encoded as a string)"
            )
        applicable = options.get("applicableEntityTypes")
        if not applicable:
            raise _atlas_error(
                400,
                "ATLAS-400-00-02B",
                f"Mandatory field {aname}.options.applicableEntityTypes has empty/null value",
            )
        try:
            types = json.loads(applicable)
        except ValueError:
            types = None
        if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
            raise _bad_params(
                f"{bm}.{aname}.options.applicableEntityTypes must be a JSON array of type names"
            )
        for t in types:
            if t not in self._defs["ENTITY"] and t not in new_entity_types:
                raise _atlas_error(404, "ATLAS-404-00-001", f"Given typename {t} was invalid")
        if base == "string":
            max_len = options.get("maxStrLength")
            if not max_len:
                raise _atlas_error(
                    400,
                    "ATLAS-400-00-02B",
                    f"Mandatory field {aname}.options.maxStrLength has empty/null value",
                )
            if not max_len.isdigit() or int(max_len) <= 0:
                raise _bad_params(f"{bm}.{aname}.options.maxStrLength must be a positive integer string")
        return dict(options)

    # --- internal: business metadata values ---------------------------------------------------------------
    def _value_error(self, type_name: str, value: Any, options: dict[str, str]) -> str | None:
        if type_name.startswith("array<") and type_name.endswith(">"):
            if not isinstance(value, list):
                return f"invalid value for type {type_name}"
            for item in value:
                err = self._value_error(type_name[6:-1], item, options)
                if err:
                    return err
            return None
        if type_name == "string":
            if not isinstance(value, str):
                return "invalid value for type string"
            max_len = int(options.get("maxStrLength") or 0)
            if max_len and len(value) > max_len:
                return " Business attribute-value exceeds maximum length limit"
            return None
        if type_name in _INT_RANGES:
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or (isinstance(value, float) and not value.is_integer())
            ):
                return f"invalid value for type {type_name}"
            lo, hi = _INT_RANGES[type_name]
            return None if lo <= value <= hi else f"value out of range for type {type_name}"
        if type_name in ("float", "double", "bigdecimal"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"invalid value for type {type_name}"
            return None
        if type_name == "boolean":
            return None if isinstance(value, bool) else "invalid value for type boolean"
        enum = self._defs["ENUM"].get(type_name)
        if enum is not None:
            allowed = {e.get("value") for e in enum.get("elementDefs") or []}
            return None if value in allowed else f"invalid value for enum {type_name}"
        return f"unsupported type {type_name}"

    def _check_bm(self, entity: _Entity, payload: Any, *, overwrite: bool) -> dict[str, dict[str, Any]]:
        """Validate ``{group: {attr: value}}`` for an entity; raise the Atlas 400 the service would give."""
        if not isinstance(payload, dict):
            raise _bad_params("business metadata must be an object {group: {attribute: value}}")
        applicable = self._applicable_bm(entity.type_name)
        messages: list[str] = []
        for bm, attrs in payload.items():
            if attrs is not None and not isinstance(attrs, dict):
                raise _bad_params(f"value of business metadata {bm} must be an object")
            if bm not in applicable:
                reason = (
                    "is not applicable to" if bm in self._defs["BUSINESS_METADATA"] else "does not exist for"
                )
                raise _atlas_error(
                    400,
                    "ATLAS-400-00-095",
                    f"Invalid business-metadata: {bm} specified for entity, applicable business-metadata: "
                    f"{sorted(applicable)} ({bm} {reason} entity type {entity.type_name})",
                )
            bm_def = self._defs["BUSINESS_METADATA"][bm]
            declared = {a["name"]: a for a in bm_def["attributeDefs"]}
            for attr, value in (attrs or {}).items():
                if attr not in declared:
                    raise _atlas_error(400, "ATLAS-400-00-023", f"Attribute {attr} not found for type {bm}")
                if attr not in applicable[bm]:
                    raise _atlas_error(
                        400,
                        "ATLAS-400-00-095",
                        f"Invalid business-metadata: {bm}.{attr} specified for entity, it is not applicable "
                        f"to entity type {entity.type_name}",
                    )
                if value is None or value == "":
                    continue
                err = self._value_error(
                    declared[attr]["typeName"], value, declared[attr].get("options") or {}
                )
                if err:
                    messages.append(f"{entity.type_name}.{bm}.{attr}={value!r}: {err.strip()}")
            for attr, attr_def in applicable[bm].items():
                present = (attrs or {}).get(attr) not in (None, "")
                kept = not overwrite and attr in entity.business.get(bm, {})
                if not attr_def["isOptional"] and not present and not kept:
                    messages.append(
                        f"{entity.type_name}.{bm}.{attr}: mandatory business-metadata attribute value missing"
                    )
        if messages:
            raise _atlas_error(400, "ATLAS-400-00-028", "invalid value: " + "; ".join(messages))
        return payload

    def _write_bm(self, entity: _Entity, payload: Any, *, overwrite: bool, who: str) -> None:
        """``isOverwrite=true`` replaces ALL groups (others are deleted); otherwise merge per group [C]."""
        payload = self._check_bm(entity, payload, overwrite=overwrite)
        if overwrite:
            new: dict[str, dict[str, Any]] = {}
            for bm, attrs in payload.items():
                kept = {k: v for k, v in (attrs or {}).items() if v not in (None, "")}
                if kept:
                    new[bm] = kept
            entity.business = new
        else:
            for bm, attrs in payload.items():
                if not attrs:  # an empty group clears it (upstream Atlas)
                    entity.business.pop(bm, None)
                    continue
                group = entity.business.setdefault(bm, {})
                for attr, value in attrs.items():
                    if value is None or value == "":
                        group.pop(attr, None)
                    else:
                        group[attr] = value
                if not group:
                    entity.business.pop(bm, None)
        entity.touch(who)

    def _remove_bm(self, entity: _Entity, payload: Any, who: str) -> None:
        if not isinstance(payload, dict):
            raise _bad_params("business metadata must be an object {group: {attribute: value}}")
        for bm, attrs in payload.items():
            if bm not in self._defs["BUSINESS_METADATA"]:
                raise _atlas_error(
                    400, "ATLAS-400-00-095", f"Invalid business-metadata: {bm} specified for entity"
                )
            group = entity.business.get(bm)
            if group is None:
                continue
            if not attrs:
                entity.business.pop(bm)
                continue
            for attr in attrs:
                group.pop(attr, None)
            if not group:
                entity.business.pop(bm)
        entity.touch(who)

    # --- internal: auth -----------------------------------------------------------------------------
    def _authenticate(self, req: SimRequest) -> _Caller:
        authority = f"https://login.microsoftonline.com/{self.tenant_id}"
        challenge = f'Bearer authorization_uri="{authority}", error="invalid_token"'
        token = req.bearer()
        if not token:
            raise _gateway_error(
                401,
                "Unauthorized",
                "Authentication failed: no bearer token",
                **{"WWW-Authenticate": "Bearer"},
            )
        claims = self.token_verifier(token)
        if not claims:
            raise _gateway_error(
                401,
                "Unauthorized",
                "Authentication failed: the token is invalid or expired",
                **{"WWW-Authenticate": challenge},
            )
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and exp < time.time():
            raise _gateway_error(
                401,
                "Unauthorized",
                "Authentication failed: the token is expired",
                **{"WWW-Authenticate": challenge},
            )
        if claims.get("aud") not in _AUDIENCES:
            raise _gateway_error(
                401,
                "Unauthorized",
                f"Authentication failed: invalid audience {claims.get('aud')!r}; expected {PURVIEW_AUDIENCE}",
                **{"WWW-Authenticate": challenge},
            )
        if str(claims.get("tid", "")).lower() != self.tenant_id.lower():
            raise _gateway_error(
                401,
                "Unauthorized",
                "Authentication failed: the token was issued for another tenant",
                **{"WWW-Authenticate": challenge},
            )
        ids = tuple(str(claims[k]) for k in ("appid", "azp", "oid") if claims.get(k))
        caller = _Caller(principal=ids[0] if ids else "unknown", ids=ids, claims=claims)
        with self._lock:
            if not any(roles for pid in ids for roles in self._grants.get(pid, {}).values()):
                raise _gateway_error(403, "Unauthorized", "Not authorized to access account")
        return caller

    def _roles_on(self, caller: _Caller, collection: str) -> set[str]:
        roles: set[str] = set()
        chain = self._collection_chain(collection)
        for pid in caller.ids:
            grants = self._grants.get(pid, {})
            for name in chain:
                roles |= grants.get(name, set())
        return roles

    def _any_role(self, caller: _Caller, wanted: Iterable[str]) -> bool:
        wanted = set(wanted)
        return any(wanted & roles for pid in caller.ids for roles in self._grants.get(pid, {}).values())

    def _readable_collections(self, caller: _Caller) -> set[str] | None:
        """None = everything (read role on the root); else the collections a read role reaches."""
        if self._roles_on(caller, self.account) & _READ_ROLES:
            return None
        return {name for name in self._collections if self._roles_on(caller, name) & _READ_ROLES}

    def _require_read(self, caller: _Caller, entity: _Entity) -> None:
        if not self._roles_on(caller, entity.collection) & _READ_ROLES:
            raise _atlas_error(
                403,
                "ATLAS-403-00-001",
                f"{caller.principal} is not authorized to perform read entity: guid={entity.guid}",
            )

    def _require_curator(self, caller: _Caller, collection: str, action: str) -> None:
        if "data_curator" not in self._roles_on(caller, collection):
            raise _atlas_error(
                403, "ATLAS-403-00-001", f"{caller.principal} is not authorized to perform {action}"
            )

    # --- routing ----------------------------------------------------------------------------------------
    def _route(
        self,
        method: str,
        pattern: str,
        kind: str,
        *,
        plane: str = "datamap",
        api_version_required: bool = False,
    ) -> Callable[
        [Callable[[SimRequest, _Caller], SimResponse]], Callable[[SimRequest, _Caller], SimResponse]
    ]:
        prefix = "/datamap/api" if plane == "datamap" else "/account"
        versions = DATAMAP_API_VERSIONS if plane == "datamap" else ACCOUNT_API_VERSIONS

        def register(
            fn: Callable[[SimRequest, _Caller], SimResponse],
        ) -> Callable[[SimRequest, _Caller], SimResponse]:
            def handler(req: SimRequest) -> SimResponse:
                caller: _Caller | None = None
                try:
                    url_length = len(req.path) + 1 + len(urlencode(req.query, doseq=True))
                    if url_length > MAX_URL_LENGTH:
                        # The real front end answers with an HTML page, not JSON (hence the SDK's
                        # "JSON decode error" in azure-sdk-for-python#39935).
                        html = (
                            "<html><head><title>414 Request-URI Too Large</title></head><body>"
                            "<center><h1>414 Request-URI Too Large</h1></center></body></html>"
                        )
                        resp = SimResponse(414, html, {"Content-Type": "text/html"})
                    else:
                        caller = self._authenticate(req)
                        self._check_api_version(req, plane, versions, api_version_required)
                        with self._lock:
                            resp = fn(req, caller)
                except _HttpError as exc:
                    resp = exc.response
                self.calls.append(
                    SimCall(
                        req.method,
                        req.path,
                        req.query,
                        resp.status,
                        caller.principal if caller else None,
                        req.body,
                    )
                )
                return resp

            self.server.route(method, prefix + pattern, kind)(handler)
            return fn

        return register

    def _check_api_version(
        self, req: SimRequest, plane: str, versions: frozenset[str], required: bool
    ) -> None:
        version = req.arg("api-version")
        if version is None:
            if required:
                raise _HttpError(
                    400,
                    {
                        "error": {
                            "code": "MissingApiVersionParameter",
                            "message": "The api-version query parameter (?api-version=) is required for all "
                            "requests.",
                        }
                    },
                )
            return
        if version not in versions:
            raise _HttpError(
                400,
                {
                    "error": {
                        "code": "UnsupportedApiVersion",
                        "message": f"The requested api-version '{version}' is not supported by the {plane} "
                        "API. "
                        f"Supported versions: {', '.join(sorted(versions))}.",
                    }
                },
            )

    def _json_body(self, req: SimRequest) -> Any:
        try:
            return req.json()
        except ValueError as exc:
            raise _bad_params(f"request body is not valid JSON ({exc})") from None

    def _entity_or_404(self, guid: str) -> _Entity:
        entity = self._entities.get(guid)
        if entity is None:
            raise _atlas_error(404, "ATLAS-404-00-005", f"Given instance guid {guid} is invalid/not found")
        return entity

    def _ext_response(self, req: SimRequest, entities: list[_Entity], *, single: bool) -> SimResponse:
        """``AtlasEntityWithExtInfo`` (one) or ``AtlasEntitiesWithExtInfo`` (many), honouring the query flags."""
        rendered, referred = self._ext_info(
            entities,
            min_ext=self._bool_arg(req, "minExtInfo"),
            ignore_rel=self._bool_arg(req, "ignoreRelationships"),
        )
        key, value = ("entity", rendered[0]) if single else ("entities", rendered)
        return json_response({"referredEntities": referred, key: value})

    def _bool_arg(self, req: SimRequest, name: str, default: bool = False) -> bool:
        value = req.arg(name)
        if value is None or value == "":
            return default
        if value.lower() not in ("true", "false"):
            raise _bad_params(f"{name} must be true or false")
        return value.lower() == "true"

    def _register_routes(self) -> None:
        route = self._route

        # ---- discovery ----
        @route("POST", "/search/query", "search", api_version_required=True)
        def search(req: SimRequest, caller: _Caller) -> SimResponse:
            return json_response(self._search(self._json_body(req) or {}, caller))

        # ---- entities: read ----
        @route("GET", "/atlas/v2/entity/guid/{guid}", "entity_get")
        def entity_get(req: SimRequest, caller: _Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            self._require_read(caller, entity)
            return self._ext_response(req, [entity], single=True)

        @route("GET", "/atlas/v2/entity/guid/{guid}/header", "entity_header")
        def entity_header(req: SimRequest, caller: _Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            self._require_read(caller, entity)
            return json_response(self._header(entity))

        @route("GET", "/atlas/v2/entity/bulk", "entity_bulk_get")
        def entity_bulk_get(req: SimRequest, caller: _Caller) -> SimResponse:
            guids = req.query.get("guid") or []
            if not guids:
                raise _bad_params("at least one guid is required")
            entities = [self._entity_or_404(g) for g in dict.fromkeys(guids)]
            for entity in entities:
                self._require_read(caller, entity)
            return self._ext_response(req, entities, single=False)

        @route("GET", "/atlas/v2/entity/uniqueAttribute/type/{typeName}", "entity_get_by_qn")
        def entity_get_by_qn(req: SimRequest, caller: _Caller) -> SimResponse:
            type_name = unquote(req.params["typeName"])
            self._require_entity_type(type_name)
            qn = req.arg("attr:qualifiedName")
            if not qn:
                raise _bad_params("attr:qualifiedName is required")
            guid = self._by_type_qn.get((type_name, qn))
            if guid is None:
                raise _atlas_error(
                    404,
                    "ATLAS-404-00-009",
                    f"Instance {type_name} with unique attribute {{qualifiedName={qn}}} does not exist",
                )
            entity = self._entities[guid]
            self._require_read(caller, entity)
            return self._ext_response(req, [entity], single=True)

        @route("GET", "/atlas/v2/entity/bulk/uniqueAttribute/type/{typeName}", "entity_bulk_get_by_qn")
        def entity_bulk_get_by_qn(req: SimRequest, caller: _Caller) -> SimResponse:
            type_name = unquote(req.params["typeName"])
            self._require_entity_type(type_name)
            qns = [
                v[0] for k, v in sorted(req.query.items()) if re.fullmatch(r"attr_\d+:qualifiedName", k) and v
            ]
            entities = []
            for qn in qns:
                guid = self._by_type_qn.get((type_name, qn))
                if guid is not None:
                    self._require_read(caller, self._entities[guid])
                    entities.append(self._entities[guid])
            return self._ext_response(req, entities, single=False)

        # ---- entities: write ----
        @route("POST", "/atlas/v2/entity/bulk", "entity_bulk_upsert")
        def entity_bulk_upsert(req: SimRequest, caller: _Caller) -> SimResponse:
            body = self._json_body(req)
            if not isinstance(body, dict) or not isinstance(body.get("entities"), list):
                raise _bad_params("body must be AtlasEntitiesWithExtInfo with an 'entities' array")
            return json_response(self._upsert(req, caller, body["entities"]))

        @route("POST", "/atlas/v2/entity", "entity_upsert")
        def entity_upsert(req: SimRequest, caller: _Caller) -> SimResponse:
            body = self._json_body(req)
            if not isinstance(body, dict) or not isinstance(body.get("entity"), dict):
                raise _bad_params("body must be AtlasEntityWithExtInfo with an 'entity' object")
            return json_response(self._upsert(req, caller, [body["entity"]]))

        # ---- business metadata ----
        @route("POST", "/atlas/v2/entity/guid/{guid}/businessmetadata", "bm_write")
        def bm_write(req: SimRequest, caller: _Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            self._require_curator(caller, entity.collection, f"update business-metadata: guid={entity.guid}")
            overwrite = self._bool_arg(req, "isOverwrite", False)
            self._write_bm(entity, self._json_body(req), overwrite=overwrite, who=caller.principal)
            return SimResponse(204)

        @route("DELETE", "/atlas/v2/entity/guid/{guid}/businessmetadata", "bm_delete")
        def bm_delete(req: SimRequest, caller: _Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            self._require_curator(caller, entity.collection, f"remove business-metadata: guid={entity.guid}")
            self._remove_bm(entity, self._json_body(req), caller.principal)
            return SimResponse(204)

        @route("POST", "/atlas/v2/entity/guid/{guid}/businessmetadata/{bmName}", "bm_group_write")
        def bm_group_write(req: SimRequest, caller: _Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            bm = unquote(req.params["bmName"])
            self._require_curator(
                caller, entity.collection, f"update business-metadata: guid={entity.guid}, {bm}"
            )
            attrs = self._json_body(req)
            if not isinstance(attrs, dict):
                raise _bad_params("body must be an object {attribute: value}")
            self._write_bm(entity, {bm: attrs}, overwrite=False, who=caller.principal)
            return SimResponse(204)

        @route("DELETE", "/atlas/v2/entity/guid/{guid}/businessmetadata/{bmName}", "bm_group_delete")
        def bm_group_delete(req: SimRequest, caller: _Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            bm = unquote(req.params["bmName"])
            self._require_curator(
                caller, entity.collection, f"remove business-metadata: guid={entity.guid}, {bm}"
            )
            attrs = self._json_body(req)
            if attrs is not None and not isinstance(attrs, dict):
                raise _bad_params("body must be an object {attribute: value}")
            self._remove_bm(entity, {bm: attrs or {}}, caller.principal)
            return SimResponse(204)

        # ---- classifications ----
        @route("GET", "/atlas/v2/entity/guid/{guid}/classifications", "classifications_get")
        def classifications_get(req: SimRequest, caller: _Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            self._require_read(caller, entity)
            items = [self._render_classification(c) for c in entity.classifications]
            return json_response(
                {
                    "list": items,
                    "pageSize": len(items),
                    "sortType": "NONE",
                    "startIndex": 0,
                    "totalCount": len(items),
                }
            )

        @route("GET", "/atlas/v2/entity/guid/{guid}/classification/{name}", "classification_get")
        def classification_get(req: SimRequest, caller: _Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            self._require_read(caller, entity)
            name = unquote(req.params["name"])
            for c in entity.classifications:
                if c.type_name == name:
                    return json_response(self._render_classification(c))
            raise _atlas_error(404, "ATLAS-404-00-008", f"Given classification {name} was invalid")

        @route("POST", "/atlas/v2/entity/guid/{guid}/classifications", "classifications_add")
        def classifications_add(req: SimRequest, caller: _Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            self._require_curator(caller, entity.collection, f"add classification: guid={entity.guid}")
            body = self._json_body(req)
            if not isinstance(body, list):
                raise _bad_params(
                    "Cannot deserialize value of type `java.util.ArrayList<org.apache.atlas.model.instance."
                    "AtlasClassification>` from Object value (the body must be a JSON array)"
                )
            names = []
            for item in body:
                name = item.get("typeName") if isinstance(item, dict) else None
                if name not in self._defs["CLASSIFICATION"]:
                    raise _atlas_error(404, "ATLAS-404-00-008", f"Given classification {name} was invalid")
                if any(c.type_name == name and c.entity_guid == entity.guid for c in entity.classifications):
                    raise _atlas_error(
                        400,
                        "ATLAS-400-00-01B",
                        f"instance {entity.guid} already is associated with classification {name}",
                    )
                names.append((name, dict(item.get("attributes") or {})))
            for name, attrs in names:
                entity.classifications.append(_Classification(name, entity.guid, attrs))
                self._by_classification.setdefault(name, set()).add(entity.guid)
            entity.touch(caller.principal)
            return SimResponse(204)

        @route("DELETE", "/atlas/v2/entity/guid/{guid}/classification/{name}", "classification_delete")
        def classification_delete(req: SimRequest, caller: _Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            self._require_curator(caller, entity.collection, f"remove classification: guid={entity.guid}")
            name = unquote(req.params["name"])
            direct = [
                c for c in entity.classifications if c.type_name == name and c.entity_guid == entity.guid
            ]
            if not direct:
                propagated = [c for c in entity.classifications if c.type_name == name]
                if propagated:
                    raise _atlas_error(
                        400,
                        "ATLAS-400-00-089",
                        f"Removal of classification {name}, which is propagated from entity "
                        f"{propagated[0].entity_guid}, is not supported",
                    )
                raise _atlas_error(
                    400, "ATLAS-400-00-06D", f"Classification {name} is not associated with entity"
                )
            entity.classifications = [c for c in entity.classifications if c not in direct]
            if not any(c.type_name == name for c in entity.classifications):
                self._by_classification.get(name, set()).discard(entity.guid)
            entity.touch(caller.principal)
            return SimResponse(204)

        # ---- labels ----
        def labels_body(req: SimRequest) -> list[str]:
            body = self._json_body(req)
            if body is None:
                return []
            if not isinstance(body, list) or not all(isinstance(x, str) for x in body):
                raise _bad_params("labels must be a JSON array of strings")
            return body

        @route("PUT", "/atlas/v2/entity/guid/{guid}/labels", "labels_add")
        def labels_add(req: SimRequest, caller: _Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            self._require_curator(caller, entity.collection, f"add label: guid={entity.guid}")
            entity.labels = list(dict.fromkeys(entity.labels + labels_body(req)))
            entity.touch(caller.principal)
            return SimResponse(204)

        @route("POST", "/atlas/v2/entity/guid/{guid}/labels", "labels_set")
        def labels_set(req: SimRequest, caller: _Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            self._require_curator(caller, entity.collection, f"set labels: guid={entity.guid}")
            entity.labels = list(dict.fromkeys(labels_body(req)))
            entity.touch(caller.principal)
            return SimResponse(204)

        @route("DELETE", "/atlas/v2/entity/guid/{guid}/labels", "labels_remove")
        def labels_remove(req: SimRequest, caller: _Caller) -> SimResponse:
            entity = self._entity_or_404(req.params["guid"])
            self._require_curator(caller, entity.collection, f"remove labels: guid={entity.guid}")
            gone = set(labels_body(req))
            entity.labels = [x for x in entity.labels if x not in gone]
            entity.touch(caller.principal)
            return SimResponse(204)

        # ---- typedefs ----
        def require_type_reader(caller: _Caller) -> None:
            if not self._any_role(caller, _READ_ROLES):
                raise _atlas_error(
                    403, "ATLAS-403-00-001", f"{caller.principal} is not authorized to perform read type"
                )

        def type_filter(req: SimRequest) -> str | None:
            wanted = req.arg("type")
            if not wanted:
                return None
            category = wanted.upper()
            if category not in _CATEGORIES.values() and category not in (
                "PRIMITIVE",
                "OBJECT_ID_TYPE",
                "ARRAY",
                "MAP",
            ):
                raise _atlas_error(400, "ATLAS-400-00-015", f"Type Category {wanted} is invalid")
            return category

        @route("GET", "/atlas/v2/types/typedefs", "typedefs_get")
        def typedefs_get(req: SimRequest, caller: _Caller) -> SimResponse:
            require_type_reader(caller)
            category = type_filter(req)
            out: dict[str, Any] = {key: [] for key in _CATEGORIES}
            for key, cat in _CATEGORIES.items():
                if category is None or category == cat:
                    out[key] = [copy.deepcopy(d) for d in self._defs[cat].values()]
            return json_response(out)

        @route("GET", "/atlas/v2/types/typedefs/headers", "typedef_headers")
        def typedef_headers(req: SimRequest, caller: _Caller) -> SimResponse:
            require_type_reader(caller)
            category = type_filter(req)
            return json_response(
                [
                    {"category": cat, "guid": d["guid"], "name": d["name"]}
                    for cat, defs in self._defs.items()
                    if category is None or category == cat
                    for d in defs.values()
                ]
            )

        @route("POST", "/atlas/v2/types/typedefs", "typedefs_create")
        def typedefs_create(req: SimRequest, caller: _Caller) -> SimResponse:
            self._require_curator(
                caller, self.account, "create typedefs (needs Data Curator on the root collection)"
            )
            return json_response(
                self._apply_typedefs(self._json_body(req), update=False, who=caller.principal)
            )

        @route("PUT", "/atlas/v2/types/typedefs", "typedefs_update")
        def typedefs_update(req: SimRequest, caller: _Caller) -> SimResponse:
            self._require_curator(
                caller, self.account, "update typedefs (needs Data Curator on the root collection)"
            )
            return json_response(
                self._apply_typedefs(self._json_body(req), update=True, who=caller.principal)
            )

        def def_by_name(category: str | None) -> Callable[[SimRequest, _Caller], SimResponse]:
            def handler(req: SimRequest, caller: _Caller) -> SimResponse:
                require_type_reader(caller)
                name = unquote(req.params["name"])
                found = self._find_def(name)
                if found is None or (category is not None and found[0] != category):
                    raise _atlas_error(404, "ATLAS-404-00-001", f"Given typename {name} was invalid")
                return json_response(copy.deepcopy(found[1]))

            return handler

        def def_by_guid(category: str | None) -> Callable[[SimRequest, _Caller], SimResponse]:
            def handler(req: SimRequest, caller: _Caller) -> SimResponse:
                require_type_reader(caller)
                guid = req.params["guid"]
                found = self._def_guids.get(guid)
                if found is None or (category is not None and found[0] != category):
                    raise _atlas_error(404, "ATLAS-404-00-002", f"Given type guid {guid} was invalid")
                return json_response(copy.deepcopy(self._defs[found[0]][found[1]]))

            return handler

        for segment, category in (
            ("businessmetadatadef", "BUSINESS_METADATA"),
            ("classificationdef", "CLASSIFICATION"),
            ("entitydef", "ENTITY"),
            ("enumdef", "ENUM"),
            ("structdef", "STRUCT"),
            ("relationshipdef", "RELATIONSHIP"),
            ("typedef", None),
        ):
            route("GET", f"/atlas/v2/types/{segment}/name/{{name}}", f"{segment}_by_name")(
                def_by_name(category)
            )
            route("GET", f"/atlas/v2/types/{segment}/guid/{{guid}}", f"{segment}_by_guid")(
                def_by_guid(category)
            )

        # ---- account plane: collections ----
        def require_collection_admin(caller: _Caller) -> None:
            if not self._any_role(caller, {"collection_admin"}):
                raise _gateway_error(403, "Unauthorized", "Not authorized to access account")

        def collection_or_404(req: SimRequest) -> _Collection:
            name = unquote(req.params["name"])
            found = self._collections.get(name)
            if found is None:
                raise _account_error(404, "NotFound", f"Collection {name} not found.", target=name)
            return found

        def page(req: SimRequest, items: list[Any], path: str) -> dict[str, Any]:
            skip = 0
            token = req.arg("$skipToken")
            if token:
                try:
                    skip = int(_unb64(token)["skip"])
                except (ValueError, KeyError, TypeError):
                    raise _account_error(400, "InvalidSkipToken", "The $skipToken is not valid.") from None
            size = max(1, self.collections_page_size)
            out: dict[str, Any] = {"count": len(items), "value": items[skip : skip + size]}
            if skip + size < len(items):
                query = urlencode(
                    {"api-version": req.arg("api-version"), "$skipToken": _b64({"skip": skip + size})}
                )
                out["nextLink"] = f"{self.url}/account{path}?{query}"
            return out

        @route("GET", "/collections", "collections_list", plane="account", api_version_required=True)
        def collections_list(req: SimRequest, caller: _Caller) -> SimResponse:
            require_collection_admin(caller)
            items = [self._collection_json(c) for c in self._collections.values()]
            return json_response(page(req, items, "/collections"))

        @route("GET", "/collections/{name}", "collections_get", plane="account", api_version_required=True)
        def collections_get(req: SimRequest, caller: _Caller) -> SimResponse:
            require_collection_admin(caller)
            return json_response(self._collection_json(collection_or_404(req)))

        @route(
            "GET",
            "/collections/{name}/getCollectionPath",
            "collections_path",
            plane="account",
            api_version_required=True,
        )
        def collections_path(req: SimRequest, caller: _Caller) -> SimResponse:
            require_collection_admin(caller)
            chain = list(reversed(self._collection_chain(collection_or_404(req).name)))[:-1]
            return json_response(
                {
                    "parentNameChain": chain,
                    "parentFriendlyNameChain": [self._collections[n].friendly_name for n in chain],
                }
            )

        @route(
            "GET",
            "/collections/{name}/getChildCollectionNames",
            "collections_children",
            plane="account",
            api_version_required=True,
        )
        def collections_children(req: SimRequest, caller: _Caller) -> SimResponse:
            require_collection_admin(caller)
            parent = collection_or_404(req).name
            items = [
                {"name": c.name, "friendlyName": c.friendly_name}
                for c in self._collections.values()
                if c.parent == parent
            ]
            return json_response(page(req, items, f"/collections/{parent}/getChildCollectionNames"))

    def _require_entity_type(self, type_name: str) -> None:
        if type_name not in self._defs["ENTITY"]:
            raise _atlas_error(400, "ATLAS-400-00-014", f"Type ENTITY with name {type_name} does not exist")

    # --- rendering ----------------------------------------------------------------------------------
    def _collection_json(self, c: _Collection) -> dict[str, Any]:
        out: dict[str, Any] = {"name": c.name, "friendlyName": c.friendly_name}
        if c.description:
            out["description"] = c.description
        if c.parent is not None:
            out["parentCollection"] = {"type": "CollectionReference", "referenceName": c.parent}
        out["collectionProvisioningState"] = "Succeeded"
        out["systemData"] = {
            "createdAt": _iso(c.created_at),
            "createdBy": "ServiceAdmin",
            "createdByType": "Application",
            "lastModifiedAt": _iso(c.created_at),
            "lastModifiedBy": "ServiceAdmin",
            "lastModifiedByType": "Application",
        }
        return out

    def _render_classification(self, c: _Classification) -> dict[str, Any]:
        source = self._entities.get(c.entity_guid)
        return {
            "typeName": c.type_name,
            "attributes": dict(c.attributes),
            "lastModifiedTS": str(c.last_modified),
            "entityGuid": c.entity_guid,
            "entityStatus": source.status if source else "DELETED",
            "removePropagationsOnEntityDelete": False,
            "validityPeriods": [],
        }

    def _related(self, rel: _Rel) -> dict[str, Any]:
        target = self._entities.get(rel.guid)
        status = target.status if target else "DELETED"
        return {
            "guid": rel.guid,
            "typeName": target.type_name if target else None,
            "displayText": target.name if target else None,
            "entityStatus": status,
            "relationshipType": rel.relationship_type,
            "relationshipGuid": rel.relationship_guid,
            "relationshipStatus": "ACTIVE" if status == "ACTIVE" else "DELETED",
            "relationshipAttributes": {"typeName": rel.relationship_type},
        }

    def _render_entity(self, e: _Entity, *, relationships: bool = True) -> dict[str, Any]:
        """AtlasEntity; empty classifications/labels/businessAttributes/contacts are left out (as Atlas)."""
        out: dict[str, Any] = {
            "typeName": e.type_name,
            "attributes": copy.deepcopy(e.attributes),
            "guid": e.guid,
            "status": e.status,
            "createdBy": e.created_by,
            "updatedBy": e.updated_by,
            "createTime": e.create_time,
            "updateTime": e.update_time,
            "version": e.version,
            "lastModifiedTS": str(e.last_modified),
            "collectionId": e.collection,
            "isIncomplete": False,
        }
        if e.classifications:
            out["classifications"] = [self._render_classification(c) for c in e.classifications]
        if e.labels:
            out["labels"] = list(e.labels)
        if e.business:
            out["businessAttributes"] = copy.deepcopy(e.business)
        if e.contacts:
            out["contacts"] = copy.deepcopy(e.contacts)
        if relationships:
            rels: dict[str, Any] = {}
            for attr, value in e.relationships.items():
                if value is None:
                    rels[attr] = None
                elif isinstance(value, list):
                    rels[attr] = [self._related(r) for r in value]
                else:
                    rels[attr] = self._related(value)
            rels.setdefault("meanings", [])
            out["relationshipAttributes"] = rels
        return out

    def _min_entity(self, e: _Entity) -> dict[str, Any]:
        return {
            "typeName": e.type_name,
            "guid": e.guid,
            "status": e.status,
            "attributes": {"qualifiedName": e.qualified_name, "name": e.name},
            "collectionId": e.collection,
        }

    def _ext_info(
        self, entities: list[_Entity], *, min_ext: bool, ignore_rel: bool
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Entities plus ``referredEntities``: the owned columns of tables/views (full, or minimal with
        ``minExtInfo=true``). ``ignoreRelationships=true`` drops relationshipAttributes and the referred."""
        rendered = [self._render_entity(e, relationships=not ignore_rel) for e in entities]
        referred: dict[str, Any] = {}
        if not ignore_rel:
            own = {e.guid for e in entities}
            for e in entities:
                cols = e.relationships.get("columns")
                for rel in cols if isinstance(cols, list) else []:
                    target = self._entities.get(rel.guid)
                    if target is not None and target.guid not in own and target.guid not in referred:
                        referred[target.guid] = (
                            self._min_entity(target)
                            if min_ext
                            else self._render_entity(target, relationships=False)
                        )
        return rendered, referred

    def _header(self, e: _Entity) -> dict[str, Any]:
        return {
            "typeName": e.type_name,
            "attributes": {"qualifiedName": e.qualified_name, "name": e.name},
            "guid": e.guid,
            "status": e.status,
            "displayText": e.name,
            "classificationNames": sorted({c.type_name for c in e.classifications}),
            "labels": list(e.labels),
            "meaningNames": [],
            "meanings": [],
            "lastModifiedTS": str(e.last_modified),
        }

    # --- upsert -------------------------------------------------------------------------------------
    def _upsert(self, req: SimRequest, caller: _Caller, items: list[Any]) -> dict[str, Any]:
        """Entity_BulkCreateOrUpdate: match by guid, else by (typeName, qualifiedName); all-or-nothing."""
        behavior = (req.arg("businessAttributeUpdateBehavior") or "ignore").lower()
        if behavior not in ("ignore", "replace", "merge"):
            raise _bad_params("businessAttributeUpdateBehavior must be ignore, replace or merge")
        move_to = req.arg("collectionId")
        if move_to is not None and move_to not in self._collections:
            raise _bad_params(f"collection {move_to} does not exist")
        assignments: dict[str, str] = {}
        plan: list[
            tuple[dict[str, Any], _Entity | None, str, str]
        ] = []  # (item, existing, guid, placeholder)
        batch_qns: dict[tuple[str, str], str] = {}
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("typeName"), str):
                raise _bad_params("every entity needs a typeName")
            type_name = item["typeName"]
            if type_name not in self._defs["ENTITY"]:
                raise _atlas_error(404, "ATLAS-404-00-001", f"Given typename {type_name} was invalid")
            attrs = item.get("attributes") or {}
            qn = attrs.get("qualifiedName") if isinstance(attrs, dict) else None
            given = str(item.get("guid") or "")
            existing = self._entities.get(given) if given and not given.startswith("-") else None
            if given and not given.startswith("-") and existing is None:
                raise _atlas_error(
                    404, "ATLAS-404-00-005", f"Given instance guid {given} is invalid/not found"
                )
            if existing is None and qn:
                found = self._by_type_qn.get((type_name, str(qn)))
                existing = self._entities.get(found) if found else None
            if existing is None and not qn:
                raise _atlas_error(400, "ATLAS-400-00-073", "Mandatory qualifiedName attribute is missing")
            placeholder = (
                given if given.startswith("-") else ("" if given else f"-{next(self._internal_ids)}")
            )
            guid = existing.guid if existing else str(uuid.uuid4())
            if existing is None and (type_name, str(qn)) in batch_qns:
                guid = batch_qns[(type_name, str(qn))]
            batch_qns[(type_name, str(qn or ""))] = guid
            if placeholder:
                assignments[placeholder] = guid
            target_collection = move_to or (existing.collection if existing else self.account)
            self._require_curator(
                caller, target_collection, f"create/update entity: {type_name} {qn or given}"
            )
            if existing is not None:
                self._require_curator(caller, existing.collection, f"update entity: guid={existing.guid}")
            for cls in item.get("classifications") or []:
                if not isinstance(cls, dict) or cls.get("typeName") not in self._defs["CLASSIFICATION"]:
                    name = cls.get("typeName") if isinstance(cls, dict) else cls
                    raise _atlas_error(404, "ATLAS-404-00-008", f"Given classification {name} was invalid")
            plan.append((item, existing, guid, placeholder))
        batch_guids = {guid for _, _, guid, _ in plan}

        def resolve(ref: Any, where: str) -> str:
            if isinstance(ref, dict):
                g = str(ref.get("guid") or "")
                if g.startswith("-") and g in assignments:
                    return assignments[g]
                if g and (g in self._entities or g in batch_guids):
                    return g
                unique = ref.get("uniqueAttributes") or {}
                found = self._by_type_qn.get((str(ref.get("typeName")), str(unique.get("qualifiedName"))))
                found = found or batch_qns.get((str(ref.get("typeName")), str(unique.get("qualifiedName"))))
                if found:
                    return found
            raise _atlas_error(
                404, "ATLAS-404-00-00A", f"Referenced entity {json.dumps(ref)} is not found ({where})"
            )

        rel_plan: list[dict[str, Any]] = []
        for item, _existing, _guid, _ in plan:
            rels: dict[str, Any] = {}
            for attr, value in (item.get("relationshipAttributes") or {}).items():
                if value is None:
                    rels[attr] = None
                elif isinstance(value, list):
                    rels[attr] = [
                        (resolve(v, attr), v.get("relationshipType") if isinstance(v, dict) else None)
                        for v in value
                    ]
                else:
                    rels[attr] = (
                        resolve(value, attr),
                        value.get("relationshipType") if isinstance(value, dict) else None,
                    )
            rel_plan.append(rels)
        for item, existing, _guid, _ in plan:
            if behavior != "ignore" and item.get("businessAttributes") and existing is not None:
                self._check_bm(existing, item["businessAttributes"], overwrite=behavior == "replace")
        created: list[dict[str, Any]] = []
        updated: list[dict[str, Any]] = []
        for (item, existing, guid, _), rels in zip(plan, rel_plan, strict=True):
            attrs = {k: v for k, v in (item.get("attributes") or {}).items()}
            if existing is None and guid in self._entities:
                existing = self._entities[guid]  # same entity twice in one batch
            if existing is None:
                entity = self._create(
                    item["typeName"], attrs, move_to or self.account, guid=guid, who=caller.principal
                )
                for cls in item.get("classifications") or []:
                    entity.classifications.append(
                        _Classification(cls["typeName"], entity.guid, dict(cls.get("attributes") or {}))
                    )
                    self._by_classification.setdefault(cls["typeName"], set()).add(entity.guid)
                bucket = created
            else:
                entity = existing
                self._unindex(entity)
                entity.attributes.update(attrs)
                if move_to:
                    entity.collection = move_to
                self._index(entity)
                entity.touch(caller.principal)
                bucket = updated
            if "labels" in item:
                entity.labels = list(dict.fromkeys(item.get("labels") or []))
            if "contacts" in item:
                entity.contacts = copy.deepcopy(item.get("contacts") or {})
            for attr, value in rels.items():
                if value is None:
                    entity.relationships[attr] = None
                elif isinstance(value, list):
                    entity.relationships[attr] = [
                        self._parse_seed_rel(entity, attr, {"guid": g, "relationshipType": t})
                        for g, t in value
                    ]
                else:
                    entity.relationships[attr] = self._parse_seed_rel(
                        entity, attr, {"guid": value[0], "relationshipType": value[1]}
                    )
            if behavior != "ignore" and item.get("businessAttributes"):
                self._write_bm(
                    entity, item["businessAttributes"], overwrite=behavior == "replace", who=caller.principal
                )
            header = {
                "typeName": entity.type_name,
                "attributes": {"qualifiedName": entity.qualified_name},
                "lastModifiedTS": str(entity.last_modified),
                "guid": entity.guid,
                "status": entity.status,
            }
            if not any(h["guid"] == entity.guid for h in bucket):
                bucket.append(header)
        mutated: dict[str, Any] = {}
        if created:
            mutated["CREATE"] = created
        if updated:
            mutated["UPDATE"] = updated
        return {"mutatedEntities": mutated, "guidAssignments": assignments, "partialUpdatedEntities": []}

    # --- search -------------------------------------------------------------------------------------
    def _search(self, body: Any, caller: _Caller) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _bad_params("body must be a QueryOptions object")
        limit = body.get("limit", SEARCH_DEFAULT_LIMIT)
        if limit is None:
            limit = SEARCH_DEFAULT_LIMIT
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= SEARCH_MAX_LIMIT:
            raise _bad_params(f"limit must be an integer between 1 and {SEARCH_MAX_LIMIT}, got {limit!r}")
        keywords = body.get("keywords")
        if keywords is not None and not isinstance(keywords, str):
            raise _bad_params("keywords must be a string or null")
        orderby = body.get("orderby") or []
        if not isinstance(orderby, list):
            raise _bad_params("orderby must be an array")
        readable = self._readable_collections(caller)
        if readable is not None and not readable:
            raise _atlas_error(
                403, "ATLAS-403-00-001", f"{caller.principal} is not authorized to perform search"
            )
        fingerprint = hashlib.sha256(
            json.dumps([keywords, body.get("filter"), orderby], sort_keys=True, default=str).encode()
        ).hexdigest()[:16]
        offset = 0
        token = body.get("continuationToken")
        if token:
            try:
                decoded = _unb64(str(token))
                offset = int(decoded["o"])
            except (ValueError, KeyError, TypeError):
                raise _bad_params("continuationToken is invalid") from None
            if decoded.get("q") != fingerprint:
                raise _bad_params(
                    "continuationToken does not belong to this query (send the same keywords, "
                    "filter and orderby as the first page)"
                )

        highlights: list[tuple[str, str]] = []
        flt = (
            self._compile(body["filter"], highlights)
            if body.get("filter") is not None
            else _Filter(lambda e: True)
        )
        terms = [
            t for t in re.findall(r"\w+", (keywords or "").lower()) if keywords and keywords.strip() != "*"
        ]
        for term in terms:
            highlights += [("name", term), ("qualifiedName", term)]

        cands = flt.cands
        if readable is not None:
            allowed: set[str] = set().union(*(self._by_collection.get(c, set()) for c in readable))
            cands = allowed if cands is None else cands & allowed
        pool: Iterable[_Entity] = (
            self._entities.values()
            if cands is None
            else (self._entities[g] for g in cands if g in self._entities)
        )
        scored: list[tuple[float, _Entity]] = []
        for e in pool:
            if e.status != "ACTIVE" or not flt.pred(e):
                continue
            if terms:
                score = self._keyword_score(e, terms)
                if score <= 0:
                    continue
            else:
                score = 1.0
            scored.append((score, e))
        scored.sort(key=lambda se: se[1].seq)
        if terms:
            scored.sort(key=lambda se: -se[0])
        for spec in reversed(orderby):
            if not isinstance(spec, dict) or len(spec) != 1:
                raise _bad_params("every orderby entry is {field: 'ASC'|'DESC'}")
            ((key, direction),) = spec.items()
            getter = self._sort_getter(key)
            if str(direction).upper() not in ("ASC", "DESC"):
                raise _bad_params(f"orderby direction must be ASC or DESC, got {direction!r}")
            scored.sort(key=lambda se, g=getter: g(se), reverse=str(direction).upper() == "DESC")

        page = scored[offset : offset + limit]
        result: dict[str, Any] = {
            "@search.count": len(scored),
            "@search.count.approximate": False,
        }
        if offset + limit < len(scored):
            result["continuationToken"] = _b64({"o": offset + limit, "q": fingerprint})
        facets = body.get("facets") or []
        if facets:
            result["@search.facets"] = self._facets(facets, [e for _, e in scored])
        result["value"] = [self._search_value(e, score, highlights) for score, e in page]
        return result

    def _sort_getter(self, key: str) -> Callable[[tuple[float, _Entity]], Any]:
        getters: dict[str, Callable[[tuple[float, _Entity]], Any]] = {
            "name": lambda se: se[1].name.lower(),
            "qualifiedName": lambda se: se[1].qualified_name.lower(),
            "entityType": lambda se: se[1].type_name,
            "createTime": lambda se: se[1].create_time,
            "updateTime": lambda se: se[1].update_time,
            "@search.score": lambda se: se[0],
        }
        if key not in getters:
            raise _bad_params(f"cannot order by {key!r}; use one of {sorted(getters)}")
        return getters[key]

    def _keyword_score(self, e: _Entity, terms: list[str]) -> float:
        """All terms must appear (substring, case-insensitive) in name, qualifiedName or description."""
        name, qn = e.name.lower(), e.qualified_name.lower()
        desc = str(e.attributes.get("description") or e.attributes.get("userDescription") or "").lower()
        score = 0.0
        for term in terms:
            if name == term:
                score += 3
            elif term in name:
                score += 2
            elif term in qn or term in desc:
                score += 1
            else:
                return 0.0
        return score

    def _facets(self, specs: list[Any], entities: list[_Entity]) -> dict[str, Any]:
        extract: dict[str, Callable[[_Entity], Iterable[str]]] = {
            "assetType": lambda e: [_asset_type(e.type_name)],
            "classification": lambda e: {c.type_name for c in e.classifications},
            "label": lambda e: e.labels,
            "entityType": lambda e: [e.type_name],
            "objectType": lambda e: [_object_type(e.type_name)],
            "contactId": lambda e: {c.get("id") for cs in e.contacts.values() for c in cs if c.get("id")},
            "term": lambda e: [],
            "glossaryType": lambda e: [],
            "termStatus": lambda e: [],
            "termTemplate": lambda e: [],
        }
        out: dict[str, Any] = {}
        for spec in specs:
            if not isinstance(spec, dict) or spec.get("facet") not in extract:
                raise _bad_params(f"unsupported facet {spec!r}; supported: {sorted(extract)}")
            counts: Counter[str] = Counter()
            for e in entities:
                counts.update(extract[spec["facet"]](e))
            size = spec.get("count") or 10
            out[spec["facet"]] = [{"count": n, "value": v} for v, n in counts.most_common(size)]
        return out

    def _search_value(self, e: _Entity, score: float, highlights: list[tuple[str, str]]) -> dict[str, Any]:
        value: dict[str, Any] = {"@search.score": score}
        marks: dict[str, list[str]] = {}
        for fld, term in highlights:
            text = e.name if fld == "name" else e.qualified_name
            pos = text.lower().find(term)
            if term and pos >= 0 and fld not in marks:
                marks[fld] = [f"{text[:pos]}<em>{text[pos : pos + len(term)]}</em>{text[pos + len(term) :]}"]
        if marks:
            value["@search.highlights"] = marks
        contact = [
            {"id": c.get("id"), "info": c.get("info"), "contactType": kind}
            for kind, cs in e.contacts.items()
            for c in cs
        ]
        value.update(
            {
                "objectType": _object_type(e.type_name),
                "createTime": e.create_time,
                "updateTime": e.update_time,
                "id": e.guid,
                "name": e.name,
                "qualifiedName": e.qualified_name,
                "entityType": e.type_name,
                "description": e.attributes.get("userDescription") or e.attributes.get("description"),
                "owner": e.attributes.get("owner"),
                "classification": list(dict.fromkeys(c.type_name for c in e.classifications)),
                "label": list(e.labels),
                "term": [],
                "contact": contact,
                "assetType": [_asset_type(e.type_name)],
            }
        )
        return value

    def _qn_prefix_cands(self, prefix: str) -> set[str]:
        if self._qn_sorted is None:
            self._qn_sorted = sorted((e.qualified_name.lower(), g) for g, e in self._entities.items())
        lo = prefix.lower()
        start = bisect_left(self._qn_sorted, (lo, ""))
        out: set[str] = set()
        for qn, guid in itertools.islice(self._qn_sorted, start, None):
            if not qn.startswith(lo):
                break
            out.add(guid)
        return out

    def _compile(self, node: Any, highlights: list[tuple[str, str]]) -> _Filter:
        """Turn the search filter tree into a predicate plus, where an index helps, a candidate set."""
        if not isinstance(node, dict) or not node:
            raise _bad_params(f"invalid filter node {node!r}")
        if "and" in node or "or" in node:
            op = "and" if "and" in node else "or"
            children = node[op]
            if not isinstance(children, list) or not children:
                raise _bad_params(f"'{op}' needs a non-empty array")
            parts = [self._compile(c, highlights) for c in children]
            preds = [p.pred for p in parts]
            if op == "and":
                sets = [p.cands for p in parts if p.cands is not None]
                cands = set.intersection(*sets) if sets else None
                return _Filter(lambda e: all(p(e) for p in preds), cands)
            union = (
                None
                if any(p.cands is None for p in parts)
                else set().union(*(p.cands or set() for p in parts))
            )
            return _Filter(lambda e: any(p(e) for p in preds), union)
        if "not" in node:
            inner = self._compile(node["not"], [])
            return _Filter(lambda e: not inner.pred(e))
        if "entityType" in node:
            t = node["entityType"]
            return _Filter(lambda e: e.type_name == t, set(self._by_type.get(t, set())))
        if "objectType" in node:
            ot = str(node["objectType"]).lower()
            return _Filter(lambda e: _object_type(e.type_name).lower() == ot)
        if "assetType" in node:
            at = str(node["assetType"]).lower()
            return _Filter(lambda e: _asset_type(e.type_name).lower() == at)
        if "collectionId" in node:
            cid = node["collectionId"]
            return _Filter(lambda e: e.collection == cid, set(self._by_collection.get(cid, set())))
        if "classification" in node:
            wanted = {node["classification"]}
            if node.get("includeSubClassifications"):
                wanted = self._classification_family(node["classification"])
            cands: set[str] = set().union(*(self._by_classification.get(w, set()) for w in wanted))
            return _Filter(lambda e: any(c.type_name in wanted for c in e.classifications), cands)
        if "label" in node:
            label = node["label"]
            return _Filter(lambda e: label in e.labels)
        if "id" in node:
            gid = node["id"]
            return _Filter(lambda e: e.guid == gid, {gid})
        if "term" in node or "glossary" in node or "termStatus" in node:
            return _Filter(lambda e: False, set())  # no glossary in this simulator
        if "attributeName" in node:
            return self._compile_attribute(node, highlights)
        raise _bad_params(f"unsupported filter {json.dumps(node)}")

    def _compile_attribute(self, node: dict[str, Any], highlights: list[tuple[str, str]]) -> _Filter:
        name = node["attributeName"]
        op = node.get("operator", "eq")
        value = node.get("attributeValue")
        if not isinstance(name, str) or not isinstance(op, str):
            raise _bad_params("attributeName and operator must be strings")
        getter: Callable[[_Entity], Any]
        group, _, attr = name.partition(".")
        if attr and group in self._defs["BUSINESS_METADATA"]:
            declared = {a["name"] for a in self._defs["BUSINESS_METADATA"][group]["attributeDefs"]}
            if attr not in declared:
                raise _bad_params(f"attribute {attr} not found in business metadata {group}")
            getter = lambda e: e.business.get(group, {}).get(attr)  # noqa: E731
        elif name in ("createTime", "updateTime", "modifiedTime"):
            getter = (lambda e: e.create_time) if name == "createTime" else (lambda e: e.update_time)
        elif name == "name":
            getter = lambda e: e.name  # noqa: E731
        elif name == "qualifiedName":
            getter = lambda e: e.qualified_name  # noqa: E731
        elif name == "entityType":
            getter = lambda e: e.type_name  # noqa: E731
        else:
            getter = lambda e: e.attributes.get(name)  # noqa: E731

        if op == "timerange":
            if value == "MORE_THAN_365D":
                cutoff = _now_ms() - _TIMERANGES_MS["LAST_365D"]
                return _Filter(lambda e: isinstance(getter(e), int) and getter(e) < cutoff)
            if value not in _TIMERANGES_MS:
                raise _bad_params(f"timerange value must be one of {[*_TIMERANGES_MS, 'MORE_THAN_365D']}")
            since = _now_ms() - _TIMERANGES_MS[str(value)]
            return _Filter(lambda e: isinstance(getter(e), (int, float)) and getter(e) >= since)
        if isinstance(value, bool):
            if op not in _BOOL_OPS:
                raise _bad_params(f"operator {op!r} is not valid for a boolean; use {sorted(_BOOL_OPS)}")
            return _Filter(lambda e: (getter(e) == value) == (op == "eq"))
        if isinstance(value, (int, float)):
            if op not in _NUMBER_OPS:
                raise _bad_params(f"operator {op!r} is not valid for a number; use {sorted(_NUMBER_OPS)}")
            compare: dict[str, Callable[[Any], bool]] = {
                "eq": lambda v: v == value,
                "ne": lambda v: v != value,
                "gt": lambda v: v > value,
                "ge": lambda v: v >= value,
                "lt": lambda v: v < value,
                "le": lambda v: v <= value,
            }
            fn = compare[op]

            def numeric(e: _Entity) -> bool:
                v = getter(e)
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    return op == "ne"
                return fn(v)

            return _Filter(numeric)
        if isinstance(value, str):
            if op not in _STRING_OPS:
                raise _bad_params(f"operator {op!r} is not valid for a string; use {sorted(_STRING_OPS)}")
            needle = value.lower()
            if name in ("name", "qualifiedName"):
                term = needle.strip(".,/:#-_ ") if op == "contains" else needle
                highlights.append((name, term))

            def text(e: _Entity) -> str | None:
                v = getter(e)
                return v.lower() if isinstance(v, str) else None

            if op == "eq":
                cands = set(self._by_name.get(needle, set())) if name == "name" else None
                if name == "qualifiedName":
                    cands = {g for g in self._by_qn.get(value, [])} | self._qn_prefix_cands(value)
                return _Filter(lambda e: text(e) == needle, cands)
            if op == "ne":
                return _Filter(lambda e: text(e) != needle)
            if op == "prefix":
                cands = self._qn_prefix_cands(value) if name == "qualifiedName" else None
                return _Filter(lambda e: (text(e) or "\0").startswith(needle), cands)
            return _Filter(lambda e: needle in (text(e) or ""))
        raise _bad_params(f"unsupported attributeValue {value!r}")
