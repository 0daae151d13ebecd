"""Pull: Purview classifications and labels → tags on the matched Qualytics datastore, tables and fields.

For every Qualytics resource of the datastore (root ⇄ datastore, table/view ⇄ container, column ⇄ field)
the *direct* classifications and labels of its matched Purview asset (propagated ones are filtered out by
the matcher) are the tags it should carry, named by ``tagnames``. Qualytics cannot create ``external`` tags
through its public API, so they are ``global`` tags in the category ``Microsoft Purview``.

Rules
-----
* Tag lists are full replacements: a write sends every name the resource shows now, minus the mapped names
  pull removes, plus the names it adds (``tag_state``) — a parent's names are never subtracted, so a tag the
  user put on a datastore and on its table both stays on both; an ``inherited`` marker is honoured only when
  the API sends one. The list is written only when it changed (PUT for the datastore, bulk PATCH ≤ 100 for
  containers and fields); a second pull of an unchanged estate writes nothing.
* Order: fields, then containers, then the datastore. Whether Qualytics materialises a parent's tags on
  its children is not documented; writing children first means a cascade from the parent's write (adding
  or removing) is never undone by a child's list computed before it. Both behaviours end the same.
* TagMappings (PartitionKey = integration id) record each tag pull put on a resource; pull removes exactly
  those when their classification/label is gone, and never a tag it has no mapping for (the user's own).
  A mapping is written *before* the tag list that adds it, and deleted *after* the list that drops it, so a
  crash between the two is repaired by the redelivery instead of turning pull's tag into "the user's".
* Whose tag is it? A name pull created (a ``tag`` row, written before the tag is created) or took over is
  pull's. A tag that already carries pull's category and a description naming a Purview source (left by an
  earlier integration, or by another one) is adopted as taken over. Any other existing tag of that name is
  the user's: with ``overwrite_tags`` off it is left as it is and the Purview tag skipped (counted, with a
  warning naming it); with it on, pull takes it over (category and description become Purview's).
  A pre-existing association of a taken-over tag is left alone (pull did not add it, so it never removes it).
* A create answered with any 4xx (409, 400 or 422 — the status of a duplicate is not documented) → the tag
  is read by name; if it exists, pull carries on with it as with a 409.
* Clean-up: a tag pull **created** that no mapping of any integration names any more is deleted only after
  ``tag=<name>`` on ``/datastores``, ``/containers`` and ``/fields`` all answer ``total`` 0 (the listing's
  ``count`` is not documented, so it is not used). Taken-over and user tags are never deleted. A claim row
  whose tag never appeared is dropped only after ``CLAIM_GRACE_SECONDS`` (its creation may be in flight in
  another datastore's pull).

Preview (``job.dry_run``): every read and every decision as above, the same counts, but no write at all —
no tag created, taken over, assigned or deleted in Qualytics, and no mapping row written or deleted; a tag
that would be created is treated as existing from then on.

Concurrency: the datastores of one run pull in parallel and share tags. A pull records its mapping rows
before it creates or writes a tag, and re-lists the tags it found existing once those rows are stored, so a
concurrent clean-up either sees the rows (and keeps the tag) or has already deleted it (and the pull
re-creates it). What stays open is the few milliseconds between a clean-up's last check and its DELETE;
losing that race re-creates the name as a plain global tag on the next write (Qualytics auto-creates
unknown names) — nothing is lost, the tag merely lacks pull's category.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from purview_sync.clients.http import RETRIABLE_STATUS, HttpError
from purview_sync.clients.qualytics import PAGE_SIZE, QualyticsClient
from purview_sync.models import now_iso
from purview_sync.storage.mappings import TAG_KIND, MappingRepo, TagMapping
from purview_sync.sync.job import DatastoreJob, SyncContext
from purview_sync.sync.tag_state import Resource, collect_resources
from purview_sync.sync.tagnames import CATEGORY, COLOR, TagSource, looks_pulled

log = logging.getLogger(__name__)

EDITOR_ACTION = (
    "Give the user of QUALYTICS_API_TOKEN the Editor role in Qualytics (creating and editing tags needs it), "
    "then run the sync again."
)
WRITE_ACTION = (
    "Check that these Qualytics resources still exist and that the user of QUALYTICS_API_TOKEN may edit "
    "them, then run the sync again."
)
WARNING_SAMPLE = 5
USE, CREATE, SKIP, ERROR = "use", "create", "skip", "error"
CLAIM_GRACE_SECONDS = 15 * 60  # a claim row whose tag never appeared is dropped only after this


def _retriable(exc: HttpError) -> bool:
    return exc.status in RETRIABLE_STATUS


class TagPull:
    """One datastore's pull: plan, decide whose each tag is, record intent, create, write, clean up."""

    def __init__(self, job: DatastoreJob, context: SyncContext) -> None:
        self.job = job
        self.report = job.report
        self.qualytics: QualyticsClient = context.qualytics
        self.context = context
        self.repo: MappingRepo = job.services.mappings
        self.integration_id = job.integration.id
        self.overwrite = bool(job.integration.overwrite_tags)
        self.dry_run = job.dry_run  # a preview: decide and count, write nothing (module docstring)
        self.datastore_id = int(context.snapshot.datastore["id"])
        self.catalog: dict[str, dict[str, Any]] = {}  # Qualytics tags by name
        self.owned: dict[str, TagMapping] = {}  # this integration's tag rows
        self.verdict: dict[str, str] = {}  # tag name → USE | CREATE | SKIP (the user's tag) | ERROR
        self.skipped: dict[str, list[Resource]] = defaultdict(list)
        self.skipped_source: dict[str, TagSource] = {}
        self.intents: dict[tuple[str, int, str], TagMapping] = {}  # mapping rows written by this pull

    def run(self) -> None:
        mappings = self.repo.list_for_datastore(self.integration_id, self.datastore_id)
        resources = collect_resources(self.context, mappings)
        wanted: dict[str, TagSource] = {}
        for r in resources:
            r.remove = sorted(n for n in r.mapped if n not in r.desired)
            for name in sorted(r.desired):
                if name not in r.own:
                    r.add.append(name)
                    wanted.setdefault(name, r.desired[name])
        if wanted:
            self._settle_names(resources, wanted)
        self.job.heartbeat()
        self._write(resources)
        self._warn_skipped()
        self.job.heartbeat()
        self._clean_up()

    # --- whose tag is it ------------------------------------------------------------------------
    def _settle_names(self, resources: list[Resource], wanted: dict[str, TagSource]) -> None:
        """Decide every wanted name, then: intent rows → create missing tags → re-check → final adds."""
        self.catalog = {str(t.get("name")): t for t in self.qualytics.list_tags()}
        self.owned = self.repo.owned_tags(self.integration_id)
        for name in sorted(wanted):
            self.verdict[name] = self._decide(name, wanted[name])
        self._drop_unusable(resources)
        self._record_intents(resources)  # before any tag is created or written (see module docstring)
        from_catalog = [n for n, v in self.verdict.items() if v == USE]
        for name in [n for n, v in self.verdict.items() if v == CREATE]:
            self.verdict[name] = self._create(name, wanted[name])
        if from_catalog:
            # a concurrent clean-up may have deleted an unused tag between the listing and our intent rows;
            # from here on our rows protect it, so one fresh listing tells whether it needs creating again
            self.catalog = {str(t.get("name")): t for t in self.qualytics.list_tags()}
            for name in from_catalog:
                if name not in self.catalog:
                    self.verdict[name] = self._create(name, wanted[name])
        self._drop_unusable(resources)
        self._record_intents(resources)  # rows whose taken_over changed (a 409 that became a take-over)

    def _decide(self, name: str, source: TagSource) -> str:
        tag = self.catalog.get(name)
        if tag is None:
            return CREATE
        if name in self.owned:
            return USE
        if looks_pulled(tag):  # pull's tag from an earlier or another integration: adopt, never delete
            self._own(name, source, taken_over=True)
            return USE
        if not self.overwrite:
            return SKIP
        return self._take_over(name, source, tag)

    def _own(self, name: str, source: TagSource, *, taken_over: bool) -> None:
        """Record the tag as pull's (an existing row is kept as it is)."""
        row = TagMapping(TAG_KIND, 0, name, source.key, taken_over=taken_over, claimed_at=now_iso())
        if self.dry_run:
            self.owned.setdefault(name, row)
            return
        if not self.repo.claim_tag(self.integration_id, row):
            row = self.repo.owned_tags(self.integration_id).get(name, row)
        self.owned[name] = row

    def _create(self, name: str, source: TagSource) -> str:
        self._own(name, source, taken_over=False)  # the claim first: a crash leaves no orphan
        if self.dry_run:
            self.catalog[name] = {"name": name}
            return USE
        try:
            created = self.qualytics.create_tag(
                name, description=source.description, category=CATEGORY, color=COLOR
            )
        except HttpError as exc:
            if _retriable(exc):
                raise
            # a duplicate may be answered 409, 400 or 422: whether the tag exists now tells
            existing = self.qualytics.get_tag(name) if 400 <= exc.status < 500 else None
            if existing is None:
                self.report.error(
                    f"Could not create the tag '{name}' in Qualytics (from Purview {source.kind} "
                    f"'{source.value}'): {exc}",
                    EDITOR_ACTION,
                    asset=name,
                )
                return ERROR
            self.catalog[name] = existing
            if looks_pulled(existing):
                return USE
            self.repo.delete(self.integration_id, self.owned.pop(name))  # a user's tag now: not ours
            return self._decide(name, source)
        self.catalog[name] = created if isinstance(created, dict) else {"name": name}
        log.info("pull: created tag '%s' for Purview %s '%s'", name, source.kind, source.value)
        return USE

    def _take_over(self, name: str, source: TagSource, tag: dict[str, Any]) -> str:
        update: dict[str, Any] = {"type": tag.get("type") or "global", "category": CATEGORY}
        if tag.get("type") != "external":  # external tags only accept category / weight_modifier
            update.update(description=source.description, color=COLOR)
        try:
            if not self.dry_run:
                self.qualytics.update_tag(name, **update)
        except HttpError as exc:
            if _retriable(exc):
                raise
            self.report.error(
                f"Could not take over the Qualytics tag '{name}' for Purview {source.kind} "
                f"'{source.value}': {exc}",
                EDITOR_ACTION,
                asset=name,
            )
            return ERROR
        self._own(name, source, taken_over=True)
        self.report.warnings.append(
            f"Tag '{name}' existed in Qualytics; overwrite_tags is on, so the integration now manages it "
            f"(category '{CATEGORY}', from Purview {source.kind} '{source.value}')."
        )
        log.info("pull: took over tag '%s'", name)
        return USE

    def _drop_unusable(self, resources: list[Resource]) -> None:
        """Take names that turned out unusable off the resources (and off our intent rows)."""
        stale: list[TagMapping] = []
        for r in resources:
            for name in list(r.add):
                verdict = self.verdict.get(name)
                if verdict in (USE, CREATE):
                    continue
                r.add.remove(name)
                if verdict == SKIP:
                    self.skipped[name].append(r)
                    self.skipped_source.setdefault(name, r.desired[name])
                    if name in r.mapped:  # the name is a user's tag now: pull's old mapping is void
                        stale.append(r.mapped.pop(name))
                row = self.intents.pop((r.kind, r.id, name), None)
                if row is not None:
                    stale.append(row)
        if stale and not self.dry_run:
            self.repo.delete_many(self.integration_id, stale)

    def _record_intents(self, resources: list[Resource]) -> None:
        rows = []
        for r in resources:
            for name in r.add:
                if name in r.mapped:
                    continue  # pull put it here before (the user or a crash took it off): re-add
                owner = self.owned.get(name)
                row = TagMapping(
                    r.kind,
                    r.id,
                    name,
                    r.desired[name].key,
                    taken_over=bool(owner and owner.taken_over),
                    datastore_id=self.datastore_id,
                )
                if self.intents.get(row.key) != row:
                    self.intents[row.key] = row
                    rows.append(row)
        if rows and not self.dry_run:
            self.repo.put_many(self.integration_id, rows)

    # --- write -----------------------------------------------------------------------------------
    def _write(self, resources: list[Resource]) -> None:
        done: list[Resource] = [r for r in resources if not r.changed]
        by_kind: dict[str, list[Resource]] = defaultdict(list)
        for r in resources:
            if r.changed:
                by_kind[r.kind].append(r)
        for kind, write in (  # children first (see the module docstring)
            ("field", self.qualytics.set_field_tags),
            ("container", self.qualytics.set_container_tags),
        ):
            batch = by_kind[kind]
            for start in range(0, len(batch), PAGE_SIZE):
                chunk = batch[start : start + PAGE_SIZE]
                if self._attempt(chunk, write, [{"id": r.id, "tags": r.new_own} for r in chunk]):
                    done.extend(chunk)
        for r in by_kind["datastore"]:
            if self._attempt([r], self.qualytics.set_datastore_tags, r.id, r.new_own):
                done.append(r)
        gone = [r.mapped[name] for r in done for name in r.remove]
        if gone and not self.dry_run:
            self.repo.delete_many(self.integration_id, gone)  # after the write (see module docstring)

    def _attempt(self, chunk: list[Resource], write: Callable[..., None], *args: Any) -> bool:
        try:
            if not self.dry_run:
                write(*args)
        except HttpError as exc:
            if _retriable(exc):
                raise
            names = ", ".join(r.label for r in chunk[:WARNING_SAMPLE])
            more = f" and {len(chunk) - WARNING_SAMPLE} more" if len(chunk) > WARNING_SAMPLE else ""
            self.report.error(
                f"Could not write the tags of {chunk[0].kind}s {names}{more}: {exc}",
                WRITE_ACTION,
                asset=chunk[0].label,
            )
            return False
        for r in chunk:
            removed = [n for n in r.remove if n in r.own]
            self.report.tags_added += len(r.add)
            self.report.tags_removed += len(removed)
            log.debug("pull: %s %s +%s -%s", r.kind, r.label, r.add, removed)
        return True

    def _warn_skipped(self) -> None:
        for name in sorted(self.skipped):
            assets = self.skipped[name]
            source = self.skipped_source[name]
            self.report.tags_skipped += len(assets)
            sample = ", ".join(r.label for r in assets[:WARNING_SAMPLE])
            more = f" and {len(assets) - WARNING_SAMPLE} more" if len(assets) > WARNING_SAMPLE else ""
            self.report.warnings.append(
                f"Tag '{name}' already exists in Qualytics and was not created by the Purview sync, so Purview "
                f"{source.kind} '{source.value}' was skipped on {sample}{more}. Turn on overwrite_tags to let "
                "the integration manage this tag, or rename the Qualytics tag."
            )

    # --- clean up --------------------------------------------------------------------------------
    def _clean_up(self) -> None:
        """Delete the tags this integration created that nothing carries any more."""
        owned = self.repo.owned_tags(self.integration_id)
        created = {name: row for name, row in owned.items() if not row.taken_over}
        for name, row in sorted(created.items()):
            if self.repo.tag_in_use(name):
                continue  # a mapping (maybe one being written right now) still names it
            if self.qualytics.get_tag(name) is None:
                if _older_than(row.claimed_at, CLAIM_GRACE_SECONDS) and not self.dry_run:
                    self.repo.delete(self.integration_id, row)  # never appeared, or deleted elsewhere
                continue  # claimed a moment ago: its creation may be in flight elsewhere
            if not self._carried_by_nothing(name) or self.dry_run:
                continue  # carried somewhere, or a preview (it deletes nothing)
            try:
                self.qualytics.delete_tag(name)
            except HttpError as exc:
                if _retriable(exc):
                    raise
                self.report.error(
                    f"Could not delete the unused tag '{name}' from Qualytics: {exc}", EDITOR_ACTION, asset=name
                )
                continue
            log.info("pull: deleted tag '%s' (no resource carries it any more)", name)
            self.repo.delete(self.integration_id, row)

    def _carried_by_nothing(self, name: str) -> bool:
        """``tag=<name>`` on datastores, containers and fields all answer ``total`` 0 (a missing total: keep)."""
        return all(self.qualytics.tagged_total(what, name) == 0 for what in ("datastores", "containers", "fields"))


def _older_than(iso: str | None, seconds: float) -> bool:
    if not iso:
        return True
    try:
        stamp = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return True
    return (datetime.now(UTC) - stamp).total_seconds() > seconds


def pull_datastore(job: DatastoreJob, context: SyncContext) -> None:
    TagPull(job, context).run()
