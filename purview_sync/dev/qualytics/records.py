"""What the Qualytics simulator stores: the enumerations and defaults it accepts, and one record type per
entity (tag, datastore, connection, container, field, check, anomaly, daily score snapshot)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TOKEN = "dev-qualytics-token"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100

TAG_TYPES = ("global", "external", "entity", "lineage")
CREATABLE_TAG_TYPES = ("global", "entity", "lineage")
STORE_TYPES = ("jdbc", "dfs", "native")
CONTAINER_TYPES = ("table", "file", "computed_table", "computed_file", "computed_join")
TABLE_TYPES = ("table", "view")
FIELD_TYPES = ("Unknown", "Integral", "Fractional", "Boolean", "String", "Date", "Timestamp")
FIELD_STATUSES = ("active", "masked", "missing", "excluded")
DEFAULT_FIELD_STATUSES = ("active", "missing")
ANOMALY_OPEN = ("Active", "Acknowledged")
ANOMALY_ARCHIVED = ("Resolved", "Invalid", "Duplicate", "Discarded")
ANOMALY_STATUSES = ANOMALY_OPEN + ANOMALY_ARCHIVED
CHECK_OPEN = ("Active", "Draft")
CHECK_ARCHIVED = ("Invalid", "Discarded")
CHECK_STATUSES = CHECK_OPEN + CHECK_ARCHIVED
RULE_TYPES = ("afterDateTime", "anyNotNull", "beforeDateTime", "between", "betweenTimes",
              "containsCreditCard", "containsEmail", "containsSocialSecurityNumber", "containsUrl",
              "dataType", "distinct", "distinctCount", "equalToField", "expectedValues", "existsIn",
              "fieldCount", "greaterThan", "greaterThanField", "isCreditCard", "lessThan", "lessThanField",
              "matchesPattern", "maxLength", "maxValue", "minLength", "minPartitionSize", "minValue",
              "notFuture", "notNegative", "notNull", "positive", "predictedBy", "requiredFields",
              "requiredValues", "satisfiesEquation", "sum", "timeDistributionSize", "unique",
              "userDefinedFunction",)  # schemas.json RuleType (2023; may have grown)
DIMENSIONS = ("completeness", "coverage", "conformity", "consistency", "precision", "timeliness",
              "volumetrics", "accuracy")
_DIMENSION_OFFSETS = (2.5, -7.0, 1.0, -3.0, 4.0, -1.5, 0.5, -4.0)
PALETTE = ("#2196F3", "#4CAF50", "#F44336", "#FF9800", "#9C27B0", "#009688", "#795548", "#607D8B")
STUB_CHECK_IDS_START = 900_000  # ids of deleted checks referenced by seeded anomalies


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dimension_scores(total: float) -> dict[str, float]:
    """Eight dimension scores near ``total`` but (unless clamped at 0/100) not equal to it, so that a client
    reading the wrong key fails a test instead of passing by luck."""
    pairs = zip(DIMENSIONS, _DIMENSION_OFFSETS, strict=True)
    return {d: round(min(100.0, max(0.0, total + off)), 1) for d, off in pairs}


def checked_dimensions(dimensions: dict[str, float | None] | None) -> dict[str, float | None]:
    """Seeded dimension overrides (a value, or None for a dimension Qualytics did not assess)."""
    unknown = set(dimensions or {}) - set(DIMENSIONS)
    if unknown:
        raise ValueError(f"unknown dimensions {sorted(unknown)}")
    return dict(dimensions or {})


@dataclass(frozen=True)
class CallRecord:
    """One request the simulator answered (``QualyticsSim.calls``): what a test inspects for writes."""

    method: str
    path: str
    query: dict[str, list[str]]
    status: int


def dedupe(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))



@dataclass
class TagRecord:
    id: int
    name: str
    type: str = "global"
    color: str = "#2196F3"
    description: str | None = None
    category: str | None = None
    weight_modifier: int | None = 0
    created: str = field(default_factory=utc_now)
    integration: dict[str, Any] | None = None  # only for seeded type "external"


@dataclass
class ScoreSnapshot:
    date: str  # YYYY-MM-DD
    total: float
    dimensions: dict[str, float]


@dataclass
class DatastoreRecord:
    id: int
    name: str
    type: str
    store_type: str
    database: str | None
    schema: str | None
    root_path: str | None
    connection_id: int
    enrichment_only: bool = False
    description: str | None = None
    created: str = field(default_factory=utc_now)
    updated: str = field(default_factory=utc_now)
    tags: list[str] = field(default_factory=list)  # own tag names
    scores: dict[str, ScoreSnapshot] = field(default_factory=dict)  # date → snapshot


@dataclass
class ConnectionRecord:
    id: int
    name: str
    type: str
    host: str | None
    created: str = field(default_factory=utc_now)


@dataclass
class ContainerRecord:
    id: int
    datastore_id: int
    name: str
    container_type: str = "table"
    table_type: str | None = "table"
    quality_score: float | None = None
    score_created: str | None = None
    dimensions: dict[str, float | None] = field(default_factory=dict)  # overrides of the derived ones
    records: int = 0
    archived: bool = False
    created: str = field(default_factory=utc_now)
    tags: list[str] = field(default_factory=list)
    definition: dict[str, Any] = field(default_factory=dict)  # computed containers: query, sources, ...


@dataclass
class FieldRecord:
    id: int
    container_id: int
    name: str
    type: str = "String"
    status: str = "active"
    quality_score: float | None = None
    dimensions: dict[str, float | None] = field(default_factory=dict)  # overrides of the derived ones
    created: str = field(default_factory=utc_now)
    tags: list[str] = field(default_factory=list)


@dataclass
class CheckRecord:
    id: int
    datastore_id: int
    container_id: int
    fields: list[str]
    status: str = "Active"
    rule_type: str = "notNull"
    description: str = ""
    created: str = field(default_factory=utc_now)
    tags: list[str] = field(default_factory=list)


@dataclass
class AnomalyRecord:
    id: int
    datastore_id: int
    container_id: int
    fields: list[str]
    status: str = "Active"
    type: str = "record"
    check_id: int | None = None  # a listed check, or None → a deleted-check stub
    stub_check_id: int = 0
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    created: str = field(default_factory=utc_now)
    tags: list[str] = field(default_factory=list)
