"""What the Purview simulator knows of the service: audiences, roles, API versions, limits, name rules,
typedef categories, SQL flavours and their qualified names, built-in types, search object/asset types.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import quote

PURVIEW_AUDIENCE = "https://purview.azure.net"
PURVIEW_APP_ID = "73c2949e-da2d-457a-9607-fcc665198967"  # first-party app id, same audience [C]
AUDIENCES = frozenset({PURVIEW_AUDIENCE, PURVIEW_APP_ID})

ROLES = ("data_reader", "data_curator", "data_source_admin", "collection_admin", "policy_author")
READ_ROLES = frozenset({"data_reader", "data_curator"})

DATAMAP_API_VERSIONS = frozenset({"2023-09-01", "2023-10-01-preview", "2024-03-01-preview"})
ACCOUNT_API_VERSIONS = frozenset({"2019-11-01-preview", "2023-10-01-preview"})
POLICY_API_VERSIONS = frozenset({"2021-07-01-preview", "2021-07-01"})
# the built-in metadata roles of a collection's metadata policy (attribute rule ids ``<role>:<collection>``)
METADATA_ROLES = {
    "collection_admin": "purviewmetadatarole_builtin_collection-administrator",
    "data_curator": "purviewmetadatarole_builtin_data-curator",
    "data_reader": "purviewmetadatarole_builtin_purview-reader",
    "data_source_admin": "purviewmetadatarole_builtin_data-source-administrator",
    "policy_author": "purviewmetadatarole_builtin_policy-author",
}

SEARCH_DEFAULT_LIMIT = 50
SEARCH_MAX_LIMIT = 1000  # [S] "maximum value is 1000"
# A bulk GET above ~193 GUIDs fails on the real service because the URL is too long [O]
# (azure-sdk-for-python#39935): ~8 KB is where 42-character ``guid=...&`` pairs run out.
MAX_URL_LENGTH = 8192

GUID_NS = uuid.UUID("5f0c8a53-3c9e-4d5b-9a61-0c1d2e3f4a5b")  # for deterministic relationship guids

TYPE_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_ ]*$")  # [C] AtlasAbstractDefStoreV2
CLASSIFICATION_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_ .]*$")  # MICROSOFT.PERSONAL.EMAIL is valid
ATTR_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
PRIMITIVES = frozenset(
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
INT_RANGES = {
    "byte": (-(2**7), 2**7 - 1),
    "short": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
    "date": (-(2**63), 2**63 - 1),
    "biginteger": (-(2**127), 2**127 - 1),
}
TIMERANGES_MS = {
    "LAST_24H": 24 * 3600_000,
    "LAST_7D": 7 * 24 * 3600_000,
    "LAST_30D": 30 * 24 * 3600_000,
    "LAST_365D": 365 * 24 * 3600_000,
}
STRING_OPS = frozenset({"eq", "ne", "contains", "prefix"})
NUMBER_OPS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
BOOL_OPS = frozenset({"eq", "ne"})

# AtlasTypesDef list key -> category shown on defs and headers.
CATEGORIES = {
    "enumDefs": "ENUM",
    "structDefs": "STRUCT",
    "classificationDefs": "CLASSIFICATION",
    "entityDefs": "ENTITY",
    "relationshipDefs": "RELATIONSHIP",
    "businessMetadataDefs": "BUSINESS_METADATA",
    "termTemplateDefs": "TERM_TEMPLATE",
}
RESPONSE_LISTS = (
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

SYSTEM_CLASSIFICATIONS = (
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


def builtin_entity_types() -> dict[str, tuple[str, ...]]:
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


def qn_segment(name: str) -> str:
    """Scanners URL-encode special characters (spaces → %20) inside qualified names [U]."""
    return quote(name, safe="-_.~$!'()*+,;=@")


def object_type_of(type_name: str) -> str:
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


def asset_type_of(type_name: str) -> str:
    for prefix, label in _ASSET_TYPES:
        if type_name.startswith(prefix):
            return label
    return "Custom"
