"""The Qualytics simulator's knobs: one per behaviour the references leave open ([?] / [I] in
``shared/reference/qualytics-api.md``) that the product meets. ``QualyticsSim.configure(**knobs)`` sets
them; ``reset()`` puts the defaults back. The defaults follow ``shared/specs/qualytics/schemas.json`` and
the [C] facts; each other setting is another plausible real behaviour, and the product's push + pull tests
run under each (``tests/sync/test_fidelity_qualytics.py``).

* ``tag_cascade`` — §7 "datastore → containers → fields (at creation); removal cascades" [C], but not how
  a later tag write shows on the children [?]:
  ``"shown"`` (default): a child's ``global_tags`` shows its parents' tags after its own; its own list (what a
  ``tags`` write replaces) stays its own. ``"materialised"``: a tag a parent gains is copied into every
  child's own list, a tag it loses is removed from them; ``global_tags`` is the own list.
  Neither marks which entries are inherited (no ``inherited`` key: not in the schemas).
* ``duplicate_tag_status`` — a ``POST /global-tags`` of an existing name answers "an error" (S3), status
  not documented: ``409`` (default) | ``400`` | ``422``.
* ``finding_fields`` — whether listing items name their fields: ``True`` (default; a check's ``fields``, an
  anomaly's ``failed_checks[].quality_check.fields``) | ``False`` (``fields`` left out; both are optional).
* ``datastore_metrics`` — ``"2023"`` (default: the schema's ``DatastoreMetrics``, no ``active_*``) | ``"2026"``
  (the S4 example's ``active_checks`` / ``active_anomalies`` / ``fields_profiled`` besides).
* ``datastore_host`` — ``"connection"`` (default, 2026 [C]: ``connection: {id, name, type}``, the host only on
  ``GET /connections/{id}``) | ``"inline"`` (2023 ``GetJdbcDatastore``: ``host`` on the datastore).
* ``list_item_metrics`` — ``"full"`` (default) | ``"empty"``: container *list* items carry ``metrics: {}``
  (every ``ContainerMetrics`` key is optional; §4 marks the list item's metrics [I]); ``GET /containers/{id}``
  always has them.
* ``archived_in_listing`` — the default of the containers listing's ``archived`` filter is [?]: ``False``
  (default: archived containers left out unless asked for) | ``True`` (listed, with ``deleted_at`` set).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

CHOICES: dict[str, tuple[Any, ...]] = {
    "tag_cascade": ("shown", "materialised"),
    "duplicate_tag_status": (409, 400, 422),
    "finding_fields": (True, False),
    "datastore_metrics": ("2023", "2026"),
    "datastore_host": ("connection", "inline"),
    "list_item_metrics": ("full", "empty"),
    "archived_in_listing": (False, True),
}


@dataclass
class QualyticsKnobs:
    tag_cascade: str = "shown"
    duplicate_tag_status: int = 409
    finding_fields: bool = True
    datastore_metrics: str = "2023"
    datastore_host: str = "connection"
    list_item_metrics: str = "full"
    archived_in_listing: bool = False

    def set(self, **knobs: Any) -> None:
        for key, value in knobs.items():
            if key not in CHOICES:
                raise AttributeError(f"unknown Qualytics simulator knob {key!r} (knobs: {sorted(CHOICES)})")
            if value not in CHOICES[key]:
                raise ValueError(f"knob {key} must be one of {CHOICES[key]}, not {value!r}")
            setattr(self, key, value)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
