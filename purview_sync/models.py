"""Shapes that cross the app's boundaries: HTTP bodies and queue messages (pydantic, validated) and the
domain records kept in Table Storage (dataclasses)."""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from croniter import croniter
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from purview_sync.errors import ApiError

GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
ID_RE = re.compile(r"^[0-9a-f]{32}$")  # server-generated integration / run ids


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_to_epoch(value: str | None) -> float | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


def to_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def next_run_after(cron: str, moment: datetime) -> str:
    """The first occurrence of a 5-field cron expression (UTC) strictly after ``moment``."""
    return to_iso(croniter(cron, moment.astimezone(UTC)).get_next(datetime))


def new_id() -> str:
    return uuid.uuid4().hex


def is_id(value: str | None) -> bool:
    return bool(value) and bool(ID_RE.match(value or ""))


class _Body(BaseModel):
    """An HTTP request body: unknown keys refused, and strict JSON types (``true``/``false`` only for a
    boolean — never ``"yes"`` or ``1`` — and integers only where integers are meant, never ``"5"``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


def _https_url(value: str) -> str:
    if not value.lower().startswith("https://"):
        raise ValueError("must be an https:// URL, e.g. https://<account>.purview.azure.com")
    return value.rstrip("/")


def _guid(value: str) -> str:
    if not GUID_RE.match(value):
        raise ValueError("must be the Entra tenant ID, a GUID like 00000000-0000-0000-0000-000000000000")
    return value.lower()


def _domains(value: list[str]) -> list[str]:
    for name in value:
        if not name or len(name) > 100 or not re.match(r"^[A-Za-z0-9_-]+$", name):
            raise ValueError(
                f"'{name}' is not a collection name; use the short collection names listed by "
                "GET /api/integrations/{id}/collections (e.g. 'fin01'), not friendly names"
            )
    return list(dict.fromkeys(value))


class ScheduleBody(_Body):
    """A sync that starts by itself: ``cron`` is 5 fields (minute hour day month weekday), in UTC."""

    cron: StrictStr = Field(max_length=200, description="5-field cron expression, UTC, e.g. '0 2 * * *'")
    pull: StrictBool = True
    push: StrictBool = True

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5 or not croniter.is_valid(" ".join(fields)):
            raise ValueError(
                f"'{value}' is not a 5-field cron expression (minute hour day month weekday, UTC), "
                "e.g. '0 2 * * *' for 02:00 every day"
            )
        return " ".join(fields)

    @model_validator(mode="after")
    def _something_to_do(self) -> ScheduleBody:
        if not self.pull and not self.push:
            raise ValueError("pull and push are both false: a scheduled sync needs one of them")
        return self


class ConnectRequest(_Body):
    purview_url: str = Field(max_length=500)
    tenant_id: str
    client_id: str | None = Field(default=None, min_length=1, max_length=100)
    client_secret: SecretStr | None = Field(default=None, max_length=1000)
    domains: list[str] = Field(default_factory=list, max_length=200)
    event_driven: bool = True
    overwrite_tags: bool = False
    lineage: StrictBool = False  # DESIGN.md §5b; a JSON boolean only ("true" or 1 is a 400)
    schedule: ScheduleBody | None = Field(default=None, description="null, or a sync that starts by itself")
    dimension_scores: StrictBool = Field(
        default=False, description="also push the eight Qualytics dimension scores (Completeness … Accuracy)"
    )

    _url = field_validator("purview_url")(_https_url)
    _tenant = field_validator("tenant_id")(_guid)
    _domains = field_validator("domains")(_domains)

    @field_validator("client_secret")
    @classmethod
    def _secret_needs_client(cls, value: SecretStr | None, info: Any) -> SecretStr | None:
        if value is not None and not info.data.get("client_id"):
            raise ValueError("client_secret needs client_id (the app registration's Application (client) ID)")
        return value


class PatchRequest(_Body):
    purview_url: str | None = Field(default=None, max_length=500)
    tenant_id: str | None = None
    client_id: str | None = Field(default=None, min_length=1, max_length=100)
    client_secret: SecretStr | None = Field(default=None, max_length=1000)
    domains: list[str] | None = Field(default=None, max_length=200)
    event_driven: bool | None = None
    overwrite_tags: bool | None = None
    lineage: StrictBool | None = None
    schedule: ScheduleBody | None = Field(default=None, description="null removes the schedule")
    dimension_scores: StrictBool | None = None

    @field_validator("purview_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _https_url(value)

    @field_validator("tenant_id")
    @classmethod
    def _tenant(cls, value: str | None) -> str | None:
        return None if value is None else _guid(value)

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _domains(value)


class SyncRequest(_Body):
    pull: bool = True
    push: bool = True
    datastore_ids: list[int] | None = Field(default=None, max_length=10000)
    dry_run: StrictBool = Field(
        default=False,
        description="a preview: the run reads and counts as a real one but writes nothing to Purview or "
        "Qualytics, and each entry lists name suggestions for what did not match",
    )


class DatastoreMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    integration_id: str
    run_id: str
    datastore_id: int
    pull: bool = True
    push: bool = True
    container_id: int | None = None  # event-driven push of one table
    # a continuation of a datastore too big for one execution (DESIGN.md §3c); absent on the first message
    part: int = Field(default=0, ge=0)


EVENT_TYPES = ("scan_completed", "anomaly_updated", "check_archived")


class EventMessage(BaseModel):
    """An event after intake (app/event_intake.py), as queued: the datastore by id, or by name until the
    queue resolves it. The original body ``{type, datastore_id, container_id, integration_id}`` is one."""

    model_config = ConfigDict(extra="ignore", strict=True)
    type: Literal["scan_completed", "anomaly_updated", "check_archived"] = "scan_completed"
    datastore_id: int | None = None
    datastore_name: str | None = None
    container_id: int | None = None
    integration_id: str | None = None


def parse_body(model: type[BaseModel], raw: bytes, *, max_bytes: int = 64 * 1024) -> Any:
    """Validate a JSON body; malformed input → 400 ``validation_error`` naming the field."""
    if len(raw) > max_bytes:
        raise ApiError(413, "payload_too_large", f"The request body is larger than {max_bytes} bytes.")
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        first = exc.errors()[0]
        field_name = ".".join(str(p) for p in first.get("loc", ())) or "body"
        message = first.get("msg", "invalid value").removeprefix("Value error, ")
        if first.get("type") == "json_invalid":
            raise ApiError(400, "validation_error", "The body is not valid JSON.", field="body") from None
        if first.get("type") == "extra_forbidden":
            message = f"unknown field '{field_name}'"
        raise ApiError(400, "validation_error", f"{field_name}: {message}", field=field_name) from None


# --- domain records -----------------------------------------------------------------------------


@dataclass
class Integration:
    id: str
    purview_url: str
    tenant_id: str
    client_id: str | None
    auth: Literal["client_secret", "managed_identity"]
    domains: list[str]
    event_driven: bool
    overwrite_tags: bool
    created_at: str
    updated_at: str
    secret_ref: str | None = None
    last_sync: dict[str, Any] | None = None
    lineage: bool = False
    schedule: dict[str, Any] | None = None  # {"cron", "pull", "push"}
    next_run_at: str | None = None  # when the schedule is next due (ISO-8601 UTC)
    dimension_scores: bool = False

    def to_api(self) -> dict[str, Any]:
        body = asdict(self)
        body.pop("secret_ref")
        next_run_at = body.pop("next_run_at")
        if self.schedule:
            body["schedule"] = {**self.schedule, "next_run_at": next_run_at}
        return body


@dataclass
class ErrorEntry:
    message: str
    action: str  # what a person should do about it
    asset: str | None = None


# the per-datastore counts (DatastoreReport fields), summed into a run's totals
COUNT_KEYS = (
    "tables_matched",
    "tables_unmatched",
    "columns_matched",
    "columns_unmatched",
    "attributes_written",
    "attributes_unchanged",
    "tags_added",
    "tags_removed",
    "tags_skipped",
    "lineage_entities_written",
    "lineage_entities_deleted",
    "lineage_edges_added",
    "lineage_edges_removed",
)


@dataclass
class DatastoreReport:
    """What happened to one datastore; accumulated as the work goes (DataHub's report object)."""

    status: str = "completed"  # completed | skipped | failed | cancelled
    reason: str | None = None
    tables_matched: int = 0
    tables_unmatched: int = 0
    columns_matched: int = 0
    columns_unmatched: int = 0
    attributes_written: int = 0
    attributes_unchanged: int = 0
    tags_added: int = 0
    tags_removed: int = 0
    tags_skipped: int = 0
    lineage_entities_written: int = 0
    lineage_entities_deleted: int = 0
    lineage_edges_added: int = 0
    lineage_edges_removed: int = 0
    errors: list[ErrorEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unmatched_sample: list[str] = field(default_factory=list)
    lineage_unmatched_sources: list[str] = field(default_factory=list)  # sample, "<computed>: <source>"
    matched_schema: str | None = None
    suggestions: list[dict[str, Any]] = field(
        default_factory=list
    )  # a preview's near misses (sync.suggestions)

    UNMATCHED_SAMPLE_SIZE = 20

    def unmatched(self, name: str, *, column: bool = False) -> None:
        if column:
            self.columns_unmatched += 1
        else:
            self.tables_unmatched += 1
        if len(self.unmatched_sample) < self.UNMATCHED_SAMPLE_SIZE:
            self.unmatched_sample.append(name)

    def unmatched_source(self, computed: str, source: str) -> None:
        if len(self.lineage_unmatched_sources) < self.UNMATCHED_SAMPLE_SIZE:
            self.lineage_unmatched_sources.append(f"{computed}: {source}")

    def error(self, message: str, action: str, asset: str | None = None) -> None:
        self.errors.append(ErrorEntry(message, action, asset))

    def counts(self) -> dict[str, int]:
        return {key: getattr(self, key) for key in COUNT_KEYS}
