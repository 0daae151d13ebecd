"""Push: Qualytics scores, counts and links → the ``Qualytics`` managed attributes of the matched assets.

Values (DESIGN.md §3b, §5a), one set per matched asset:

* datastore → ``match.root`` (the schema entity; the database entity when the datastore has no schema):
  ``QualityScore`` = newest ``/quality-scores`` snapshot, ``AnomalyCount`` / ``CheckCount`` = the datastore's
  ``metrics.active_anomalies`` / ``metrics.active_checks`` (the ``total`` of its Active listings when the
  datastore shows no such metrics), ``QualyticsURL`` = the ``datastore`` link template;
* table / view → container ``metrics.quality_score.total``, ``metrics.active_anomalies`` /
  ``metrics.active_checks``, the ``table`` link template;
* column → field ``quality_score.total``, the active anomalies / checks of the column (from the listings
  when their items name container and fields, else asked per column — ``snapshot``), the ``column`` link.
  Links: ``settings.LinkTemplates`` (``QUALYTICS_LINK_TEMPLATES`` overrides the built-in patterns).

``dimension_scores`` on: the eight dimensions (``Completeness`` … ``Accuracy``) of the same score objects,
one decimal, a null one not written; off: none is written (``typedef.attributes_for``).

No score, or a count that could not be attributed → that attribute is not written (an older value stays;
the others are still written) — never a 0 from data that could not be read.
Scores keep at most one decimal (``round(x, 1)``), nothing else is rounded. An event push of one table
(``job.container_id``) writes that table and its columns only, not the datastore-level values.

Writes: only ``POST /entity/guid/{guid}/businessmetadata/Qualytics``, and only for an asset where a value
differs from what the entity carries (``MatchedAsset.business_attributes``; when the account's bulk GET
leaves ``businessAttributes`` out, from the hash of what was last written, table ``PushState``). Such a
write carries every value the asset has (not only the changed ones), so an account that replaces the
group on this POST and one that merges into it end the same. Never ``isOverwrite=true``, never an entity
upsert, so other groups are untouched; an asset with nothing changed costs no request. Report counts are
**attribute values**: ``attributes_written`` = values that changed (all of an asset's when compared by
hash), ``attributes_unchanged`` = values already equal in Purview and not counted as written.

A preview (``job.dry_run``) plans the same writes and counts them as written, but sends none (nor the typedef).

Manners: a pool of ``PUSH_CONCURRENCY`` workers; 429 / 5xx / timeouts are retried by the one retry policy
of ``http_client`` (honouring ``Retry-After``), and the Purview client's shared ``AdaptiveLimiter`` slows
every worker down after a 429. A throttle that outlasts the datastore's time budget (``ThrottledError``)
stops the push and ends the datastore ``failed`` (reason ``throttled``) with what to do — values already
written stay, and the next sync skips them. A write Purview refuses (e.g. Atlas 400) is reported against
its asset and the push goes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import requests

from purview_sync.clients.http import THROTTLED_ACTION, HttpError, ThrottledError
from purview_sync.clients.purview import PurviewClient
from purview_sync.settings import LinkTemplates
from purview_sync.sync.delta import BULK_GET_WITHOUT_VALUES, HashRecorder, changed_count, warn_once
from purview_sync.sync.job import DatastoreJob, SyncContext
from purview_sync.sync.matcher import MatchedAsset
from purview_sync.sync.push_failures import describe_failure
from purview_sync.sync.snapshot import DatastoreSnapshot
from purview_sync.sync.typedef import (
    DIMENSIONS,
    GROUP,
    AttributeSpec,
    TypedefError,
    attributes_for,
    ensure_qualytics_typedef,
    typedef_changes,
)

log = logging.getLogger(__name__)

PUSH_CONCURRENCY = 8
HEARTBEAT_EVERY = 100  # writes between two lock renewals
MAX_LISTED_ERRORS = 20  # per-write errors listed one by one; the rest are summed up in one entry
REFUSALS_BEFORE_STOP = 20  # 401/403 on this many writes and not one success: stop asking


@dataclass(frozen=True)
class AssetFacts:
    """What Qualytics knows about one asset; ``typedef.ATTRIBUTES[*].source`` names these fields."""

    quality_score: float | None
    anomaly_count: int | None
    check_count: int | None
    url: str | None
    dimensions: dict[str, float | None] = field(default_factory=dict)  # of the same score object

    def fact(self, source: str) -> Any:
        return self.dimensions.get(source) if source in DIMENSIONS else getattr(self, source)


@dataclass(frozen=True)
class Write:
    asset: MatchedAsset
    attributes: dict[str, Any]  # every attribute of the group that has a value (not only what changed)
    changed: int  # how many of them differ from what Purview holds (all of them when that is unknown)
    container: int = 0  # the Qualytics container the asset belongs to (0 = the datastore's own asset)


# --- values ---------------------------------------------------------------------------------------


def score_value(raw: Any) -> float | None:
    """A Qualytics score (a number, or an object with ``total``) with at most one decimal."""
    if isinstance(raw, dict):
        raw = raw.get("total")
    if raw is None or isinstance(raw, bool):
        return None
    try:
        return round(float(raw), 1)
    except (TypeError, ValueError):
        return None


def dimension_values(raw: Any) -> dict[str, float | None]:
    """The eight dimensions of a Qualytics score object, one decimal each (None when null or absent)."""
    if not isinstance(raw, dict):
        return {}
    return {dim: score_value(raw.get(dim)) for dim in DIMENSIONS}


def datastore_facts(snapshot: DatastoreSnapshot, links: LinkTemplates) -> AssetFacts:
    return AssetFacts(
        quality_score=score_value(snapshot.quality_score),
        anomaly_count=snapshot.datastore_count("anomalies") if snapshot.counts_loaded else None,
        check_count=snapshot.datastore_count("checks") if snapshot.counts_loaded else None,
        url=links.datastore(snapshot.id),
        dimensions=dimension_values(snapshot.score_snapshot),
    )


def table_facts(snapshot: DatastoreSnapshot, table: dict[str, Any], links: LinkTemplates) -> AssetFacts:
    cid = int(table["id"])
    metrics = table.get("metrics") if isinstance(table.get("metrics"), dict) else {}
    return AssetFacts(
        quality_score=score_value(metrics.get("quality_score")),
        anomaly_count=snapshot.table_count("anomalies", table),
        check_count=snapshot.table_count("checks", table),
        url=links.table(snapshot.id, cid),
        dimensions=dimension_values(metrics.get("quality_score")),
    )


def column_facts(
    snapshot: DatastoreSnapshot, table_id: int, field: dict[str, Any], links: LinkTemplates
) -> AssetFacts:
    name = str(field.get("name", ""))
    return AssetFacts(
        quality_score=score_value(field.get("quality_score")),
        anomaly_count=snapshot.column_count("anomalies", table_id, name),
        check_count=snapshot.column_count("checks", table_id, name),
        url=links.column(snapshot.id, table_id, int(field["id"])),
        dimensions=dimension_values(field.get("quality_score")),
    )


def desired_values(
    facts: AssetFacts, attributes: tuple[AttributeSpec, ...] = attributes_for(None)
) -> dict[str, Any]:
    """The group's attribute values for these facts; a fact that is None (or too long) is left out."""
    values: dict[str, Any] = {}
    for spec in attributes:
        value = facts.fact(spec.source)
        if value is None:
            continue
        if spec.max_length is not None and len(str(value)) > spec.max_length:
            log.warning(
                "%s longer than %d characters is not written: %.80s…", spec.name, spec.max_length, value
            )
            continue
        values[spec.name] = value
    return values


def plan(job: DatastoreJob, context: SyncContext) -> tuple[list[Write], int]:
    """The writes this datastore needs (an asset with anything changed gets all its values), and how many
    values are already right — by the entity, or by the ``PushState`` hash when no bulk GET of this datastore
    carried ``businessAttributes`` (with a warning once per run)."""
    snapshot, match = context.snapshot, context.match
    attributes = attributes_for(job.integration)
    settings = job.services.settings
    links = LinkTemplates(settings.qualytics_ui_url.rstrip("/"), settings.qualytics_link_templates)
    targets: list[tuple[MatchedAsset, AssetFacts, int]] = []  # (asset, facts, container id)
    if job.container_id is None and match.root is not None and context.with_root:
        targets.append((match.root, datastore_facts(snapshot, links), 0))
    tables = {int(t["id"]): t for t in snapshot.tables}
    for cid, asset in match.tables.items():
        if cid in tables:
            targets.append((asset, table_facts(snapshot, tables[cid], links), cid))
    matched = [(cid, fld) for cid, fields in snapshot.fields_by_table.items() for fld in fields
               if int(fld["id"]) in match.columns]  # fmt: skip
    snapshot.prefetch_columns((cid, str(fld.get("name", ""))) for cid, fld in matched)
    for cid, fld in matched:
        targets.append((match.columns[int(fld["id"])], column_facts(snapshot, cid, fld, links), cid))

    shown = any(asset.business_attributes for asset, _, _ in targets)  # does this account return them?
    written: dict[str, str] = {}
    if targets and not shown:
        containers = {container for _, _, container in targets}
        written = job.services.push_state.hashes(job.integration.id, snapshot.id, containers)
        if written:
            warn_once(job, BULK_GET_WITHOUT_VALUES)
    writes: list[Write] = []
    unchanged = 0
    seen: set[str] = set()
    for asset, facts, container in targets:
        if asset.guid in seen:  # two Qualytics names matched one asset (e.g. differing only in case)
            job.report.warnings.append(f"{asset.qualified_name} matched more than once; written once")
            continue
        seen.add(asset.guid)
        wanted = desired_values(facts, attributes)
        if not wanted:
            continue
        current = asset.business_attributes.get(GROUP)
        changed = changed_count(current, wanted, shown=shown, last=written.get(asset.guid))
        unchanged += len(wanted) - changed
        if changed:
            writes.append(Write(asset, wanted, changed, container))
    return writes, unchanged


# --- writing --------------------------------------------------------------------------------------


def push_datastore(job: DatastoreJob, context: SyncContext) -> None:
    report = job.report
    writes, unchanged = plan(job, context)
    report.attributes_unchanged += unchanged
    if not writes:
        log.info("push: nothing changed (%d values already current)", unchanged)
        return
    anchor = context.match.root.qualified_name if context.match.root else None
    attributes = attributes_for(job.integration)
    if job.dry_run:
        _preview(job, context.purview, writes, attributes)
        return
    try:
        # needed only when something is written
        ensure_qualytics_typedef(context.purview, attributes=attributes)
    except TypedefError as exc:
        report.status, report.reason = "failed", "managed attributes unavailable"
        report.error(str(exc), exc.action, asset=anchor)
        return
    except ThrottledError as exc:
        _throttled(job, str(exc), 0, len(writes), anchor)
        return
    _write_all(job, context.purview, writes, anchor, context.snapshot.id)


def _preview(
    job: DatastoreJob, purview: PurviewClient, writes: list[Write], attributes: tuple[AttributeSpec, ...]
) -> None:
    """A preview's push: the typedef is only read, and every planned value counts as written."""
    change = typedef_changes(purview, attributes)
    if change is not None:
        verb = "create the" if change == "create" else "add missing attributes to the"
        job.report.warnings.append(f"A real run would {verb} '{GROUP}' managed attribute group first.")
    job.report.attributes_written += sum(w.changed for w in writes)
    log.info("push (preview): %d assets would be written, nothing sent", len(writes))


_SKIPPED = object()


def _write_all(
    job: DatastoreJob, purview: PurviewClient, writes: list[Write], anchor: str | None, snapshot_id: int
) -> None:
    report = job.report
    stop = threading.Event()

    def write(item: Write) -> object:
        if stop.is_set():
            return _SKIPPED
        try:
            purview.write_business_metadata(item.asset.guid, GROUP, item.attributes)
        except ThrottledError as exc:
            stop.set()
            return exc
        except (HttpError, requests.RequestException) as exc:
            return exc
        return None

    done = succeeded = refused = 0
    state = job.services.push_state  # what was written where: compared with next time if Purview hides it
    hashes = HashRecorder(lambda batch: state.put_hashes(job.integration.id, snapshot_id, batch))
    throttle: ThrottledError | None = None
    failures: list[tuple[Write, Exception]] = []
    queue: Iterator[Write] = iter(writes)
    workers = max(1, min(PUSH_CONCURRENCY, len(writes)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="push") as pool:
        pending: dict[Future[object], Write] = {}

        def top_up() -> None:
            while len(pending) < workers * 2 and not stop.is_set():
                item = next(queue, None)
                if item is None:
                    return
                pending[pool.submit(write, item)] = item

        top_up()
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                item = pending.pop(future)
                outcome = future.result()
                if outcome is _SKIPPED:
                    continue
                done += 1
                if outcome is None:
                    succeeded += 1
                    report.attributes_written += item.changed
                    hashes.add(item.container, item.asset.guid, item.attributes)
                elif isinstance(outcome, ThrottledError):
                    throttle = throttle or outcome
                else:
                    assert isinstance(outcome, Exception)
                    failures.append((item, outcome))
                    if isinstance(outcome, HttpError) and outcome.status in (401, 403):
                        refused += 1
                if done % HEARTBEAT_EVERY == 0:
                    job.heartbeat()
            if refused >= REFUSALS_BEFORE_STOP and succeeded == 0:
                stop.set()
            top_up()

    hashes.close()
    for item, exc in failures[:MAX_LISTED_ERRORS]:
        message, action = _describe(item, exc)
        report.error(message, action, asset=item.asset.qualified_name)
    if len(failures) > MAX_LISTED_ERRORS:
        rest = failures[MAX_LISTED_ERRORS:]
        _, action = _describe(*rest[-1])
        report.error(
            f"{len(rest)} more assets could not be written (first ones listed above).", action, anchor
        )
    if stop.is_set() and throttle is None:
        skipped = len(writes) - done
        report.error(
            f"Stopped after {refused} refusals and no successful write; {skipped} assets were not tried.",
            "Give the integration's identity the Data Curator role on the collections that hold these "
            "assets, then run the sync again.",
            anchor,
        )
    if throttle is not None:
        _throttled(job, str(throttle), succeeded, len(writes), anchor)
    log.info(
        "push: %d of %d assets written (%d values), %d failed%s",
        succeeded, len(writes), report.attributes_written, len(failures), ", throttled" if throttle else "",
    )  # fmt: skip


def _throttled(job: DatastoreJob, detail: str, written: int, total: int, anchor: str | None) -> None:
    report = job.report
    report.status, report.reason = "failed", "throttled"
    report.error(
        f"Purview kept throttling (HTTP 429) beyond this datastore's time budget: {written} of {total} "
        f"assets with changes were written before the push stopped ({detail}).",
        THROTTLED_ACTION,
        asset=anchor,
    )


def _describe(item: Write, exc: Exception) -> tuple[str, str]:
    return describe_failure(item.asset.qualified_name, item.asset.type_name, item.attributes, exc)
