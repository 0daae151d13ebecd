"""The ``Qualytics`` business-metadata group (Purview "managed attributes", DESIGN.md §5a).

What lands in Purview is data, not code spread around: ``ATTRIBUTES`` lists each attribute's name, Atlas
type, user-facing description, which fact of an asset it carries (``source``, read by ``push``) and, for an
optional attribute, the integration flag that turns it on (``flag``: the eight dimension scores belong to
``dimension_scores``). ``attributes_for(integration)`` is the set one integration writes. Adding an attribute
later is one more ``AttributeSpec`` plus its fact; the next push adds it to the existing group with a PUT.
Names and types can never be changed once created in an account, and attributes are never removed (an
integration that turns a flag off stops writing them; the definitions stay).

``ensure_qualytics_typedef`` makes the group exist with the attributes it is given, applicable to every SQL database /
schema / table / view / column type of ``matcher.ALL_APPLICABLE_TYPES``:
one ``GET /types/typedefs/headers?type=ENTITY`` says which of those types the account has (a 404 "Given
typename X was invalid" on the create still prunes X, when the headers cannot be read); then GET by name →
POST when absent (a 409 from a concurrent creator counts as success, then GET; if that GET still answers 404
— another node's type cache lags — the writes go ahead and the group is checked again next time) → PUT when
an attribute or an applicable type is missing. It runs once per process per Purview endpoint and attribute set
(later calls cost no request); concurrent datastores of one process wait for the first. ``typedef_changes``
is its read-only twin for a preview: it reads the group and says what ``ensure`` would write.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from purview_sync.clients.connection import TOKEN_HINT
from purview_sync.clients.http import HttpError
from purview_sync.clients.purview import PurviewClient
from purview_sync.sync.matcher import ALL_APPLICABLE_TYPES

log = logging.getLogger(__name__)

GROUP = "Qualytics"
GROUP_DESCRIPTION = "Data quality results synced from Qualytics"


@dataclass(frozen=True)
class AttributeSpec:
    name: str
    type_name: str  # an Atlas primitive: float | int | string ...
    description: str  # shown to Purview users
    source: str  # the field of push.AssetFacts it carries (None there → the attribute is not written)
    max_length: int | None = None  # maxStrLength, mandatory for string attributes
    flag: str | None = None  # the Integration flag that turns this attribute on; None = always written


# the quality-score dimensions (keys of a Qualytics score object, reference/qualytics-lineage.md §3)
DIMENSIONS = (
    "completeness", "coverage", "conformity", "consistency", "precision", "timeliness", "volumetrics", "accuracy",
)  # fmt: skip


ATTRIBUTES: tuple[AttributeSpec, ...] = (
    AttributeSpec("QualityScore", "float", "Qualytics Quality Score", "quality_score"),
    AttributeSpec("AnomalyCount", "int", "Qualytics Anomaly Count (active anomalies)", "anomaly_count"),
    AttributeSpec("CheckCount", "int", "Qualytics Check Count (active checks)", "check_count"),
    AttributeSpec(
        "QualyticsURL", "string", "Qualytics URL — link to the asset in Qualytics", "url", max_length=2048
    ),
    *(
        AttributeSpec(dim.title(), "float", f"Qualytics {dim.title()} score", dim, flag="dimension_scores")
        for dim in DIMENSIONS
    ),
)
CORE_ATTRIBUTES = tuple(a for a in ATTRIBUTES if a.flag is None)  # what every integration writes


def attributes_for(integration: Any) -> tuple[AttributeSpec, ...]:
    """The attributes one integration writes: every unflagged one, plus those whose flag it has on."""
    return tuple(a for a in ATTRIBUTES if a.flag is None or bool(getattr(integration, a.flag, False)))


_INVALID_TYPE = re.compile(r"Given typename (.+?) was invalid")


def attribute_def(spec: AttributeSpec, applicable: tuple[str, ...]) -> dict[str, Any]:
    # every option value is a string; applicableEntityTypes is a JSON array *encoded as a string* (§5.2)
    options = {"applicableEntityTypes": json.dumps(list(applicable))}
    if spec.max_length is not None:
        options["maxStrLength"] = str(spec.max_length)
    return {
        "name": spec.name,
        "typeName": spec.type_name,
        "description": spec.description,
        "isOptional": True,
        "cardinality": "SINGLE",
        "valuesMinCount": 0,
        "valuesMaxCount": 1,
        "isUnique": False,
        "isIndexable": True,
        "includeInNotification": False,
        "options": options,
    }


def group_def(
    applicable: tuple[str, ...], attributes: Iterable[AttributeSpec] = CORE_ATTRIBUTES
) -> dict[str, Any]:
    return {
        "category": "BUSINESS_METADATA",
        "name": GROUP,
        "description": GROUP_DESCRIPTION,
        "attributeDefs": [attribute_def(spec, applicable) for spec in attributes],
    }


def missing_parts(
    existing: dict[str, Any],
    applicable: tuple[str, ...],
    attributes: Iterable[AttributeSpec] = CORE_ATTRIBUTES,
) -> dict[str, Any] | None:
    """The existing def with the missing attributes and applicable types added, or None when complete.

    Attributes someone else added to the group, and types already applicable, are kept (Atlas refuses to
    delete an attribute or to remove an applicable type).
    """
    updated = copy.deepcopy(existing)
    attr_defs = updated.setdefault("attributeDefs", [])
    by_name = {a.get("name"): a for a in attr_defs}
    changed = False
    for spec in attributes:
        current = by_name.get(spec.name)
        if current is None:
            attr_defs.append(attribute_def(spec, applicable))
            changed = True
            continue
        options = current.setdefault("options", {}) or {}
        current["options"] = options
        try:
            types = list(json.loads(options.get("applicableEntityTypes") or "[]"))
        except ValueError:
            types = []
        absent = [t for t in applicable if t not in types]
        if absent:
            options["applicableEntityTypes"] = json.dumps(types + absent)
            changed = True
    return updated if changed else None


class TypedefError(Exception):
    """The group could not be created or completed; ``action`` says what a person should do."""

    def __init__(self, message: str, action: str) -> None:
        super().__init__(message)
        self.action = action


_ensured: set[str] = set()
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def forget_ensured() -> None:
    """Drop the per-process cache (tests that point at a fresh account under a reused URL)."""
    with _locks_guard:
        _ensured.clear()


def ensure_qualytics_typedef(
    purview: PurviewClient,
    extra_types: tuple[str, ...] = (),
    *,
    attributes: tuple[AttributeSpec, ...] = CORE_ATTRIBUTES,
) -> None:
    """Make sure the ``Qualytics`` group exists with all of ``attributes`` (see the module docstring),
    applicable to the SQL types and ``extra_types`` (lineage: the product's own computed-table type).

    Raises ``TypedefError`` for a refusal a person must fix (roles, invalid definition); a throttle or an
    outage raises what the HTTP client raised (``ThrottledError``, ``HttpError`` 5xx).
    """
    key = (
        purview.base_url.lower()
        + "|"
        + ",".join(extra_types)
        + "|"
        + ",".join(sorted(a.name for a in attributes))
    )
    if key in _ensured:
        return
    with _lock_for(key):
        if key in _ensured:
            return
        if _ensure(purview, extra_types, attributes=attributes):
            _ensured.add(key)


def typedef_changes(
    purview: PurviewClient, attributes: tuple[AttributeSpec, ...] = CORE_ATTRIBUTES
) -> str | None:
    """What ``ensure_qualytics_typedef`` would write, read-only (a preview): ``"create"`` when the group is
    absent, ``"update"`` when attributes or applicable types are missing, None when it is complete."""
    applicable = existing_types(purview, tuple(ALL_APPLICABLE_TYPES)) or tuple(ALL_APPLICABLE_TYPES)
    existing = purview.get_business_metadata_def(GROUP)
    if existing is None:
        return "create"
    return "update" if missing_parts(existing, applicable, attributes) is not None else None


def existing_types(purview: PurviewClient, wanted: tuple[str, ...]) -> tuple[str, ...] | None:
    """``wanted`` minus the entity types this account lacks, from one ``GET /types/typedefs/headers``;
    None when the headers cannot be read (then the 404 of the create names what is missing)."""
    try:
        names = {h.get("name") for h in purview.list_typedef_headers("ENTITY")}
    except (HttpError, ValueError) as exc:
        if isinstance(exc, HttpError) and (exc.status in (408, 429) or exc.status >= 500):
            raise  # an outage: the caller decides
        log.info("typedef headers unavailable (%s); unknown entity types are pruned one by one", exc)
        return None
    absent = [t for t in wanted if t not in names]
    if absent:
        log.info("entity types not in this Purview account, not applicable to: %s", ", ".join(absent))
    return tuple(t for t in wanted if t in names)


def _ensure(
    purview: PurviewClient,
    extra_types: tuple[str, ...] = (),
    *,
    attributes: tuple[AttributeSpec, ...] = CORE_ATTRIBUTES,
) -> bool:
    """True when the group was seen complete; False when a 409 said it exists but it is not readable yet.
    ``extra_types`` (the product's own lineage type, created just before) are never pruned."""
    applicable = existing_types(purview, tuple(ALL_APPLICABLE_TYPES))
    if applicable is None:
        applicable = tuple(ALL_APPLICABLE_TYPES)
    applicable += extra_types
    # Fallback when the headers could not be read, or are behind: Atlas answers 404 "Given typename X was
    # invalid" for a type it lacks; X is left out and the call made again, at most once per type.
    for _ in range(len(applicable) + 1):
        if not applicable:
            break
        try:
            return _create_or_complete(purview, applicable, attributes)
        except HttpError as exc:
            unknown = _unknown_type(exc)
            if unknown is None or unknown not in applicable or unknown in extra_types:
                refusal = _refusal(exc)
                if refusal is None:
                    raise  # throttled or an outage: the caller decides
                raise refusal from exc
            log.warning(
                "entity type %s does not exist in this Purview account; not applicable to it", unknown
            )
            applicable = tuple(t for t in applicable if t != unknown)
    raise TypedefError(
        f"The {GROUP} managed attributes could not be created: none of the SQL entity types exists.",
        "Check that the Purview account has Azure SQL / SQL Server / Synapse sources registered.",
    )


def _create_or_complete(
    purview: PurviewClient, applicable: tuple[str, ...], attributes: tuple[AttributeSpec, ...]
) -> bool:
    existing = purview.get_business_metadata_def(GROUP)
    if existing is None:
        try:
            purview.create_typedefs({"businessMetadataDefs": [group_def(applicable, attributes)]})
            log.info("created the %s managed attribute group in %s", GROUP, purview.base_url)
            return True
        except HttpError as exc:
            if exc.status != 409:
                raise
            existing = purview.get_business_metadata_def(GROUP)  # created meanwhile by someone else
            if existing is None:
                # it exists (409) but this node cannot read it yet: carry on with the writes, and check it
                # again next time instead of caching it as complete
                log.warning("the %s group exists (409) but is not readable yet; carrying on", GROUP)
                return False
    update = missing_parts(existing, applicable, attributes)
    if update is not None:
        purview.update_typedefs({"businessMetadataDefs": [update]})
        log.info("added missing attributes / applicable types to the %s group", GROUP)
    return True


def _unknown_type(exc: HttpError) -> str | None:
    if exc.status != 404 or not isinstance(exc.body, dict):
        return None
    found = _INVALID_TYPE.search(str(exc.body.get("errorMessage") or ""))
    return found.group(1).strip() if found else None


def refusal(exc: HttpError, what: str, rejected_action: str) -> TypedefError | None:
    """A typedef write Purview refused → what a person can act on; None for a failure a retry may fix.
    ``what`` names the types (e.g. "the Qualytics managed attributes"); 401 is a token problem, 403 a role."""
    if exc.status == 401:
        return TypedefError(f"Purview did not accept the token while creating {what} (HTTP 401).", TOKEN_HINT)
    if exc.status == 403:
        return TypedefError(
            f"Purview refused to create or update {what} (HTTP {exc.status}).",
            "Give the integration's identity the Data Curator role on the root collection (types and "
            "managed attributes are account-wide), then run the sync again.",
        )
    if 400 <= exc.status < 500 and exc.status not in (408, 429):
        return TypedefError(f"Purview rejected {what}: {exc}", rejected_action)
    return None


def _refusal(exc: HttpError) -> TypedefError | None:
    return refusal(
        exc,
        f"the {GROUP} managed attributes",
        f"Check the existing '{GROUP}' managed attribute group in Purview (Data Map → Managed "
        "attributes); its attributes must keep the names and types the sync writes.",
    )
