"""The work on one datastore of a sync: read Qualytics, match in Purview, then push and/or pull.

Large datastores (DESIGN.md §3c) go **slice by slice**: ``SLICE_TABLES`` tables at a time in container-id
order, each slice read (its fields and counts only), matched (bulk GETs of its entities only), pushed and
pulled before the next, so memory follows the slice, not the datastore. A datastore of one slice is read
with the datastore-wide listings exactly as before. Between two slices the work checks its time budget
(``job.deadline``): when the next slice would not fit (as long as the longest one so far), it stops with
``job.done = False`` and ``job.after_table`` = the cursor; the caller hands the rest to a continuation. The
cut is where the work resumes by itself: a slice re-read later plans only the values that still differ.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import Any

from purview_sync.clients.http import ThrottledError
from purview_sync.sync.job import DatastoreJob, SyncContext
from purview_sync.sync.lineage_pull import pull_lineage
from purview_sync.sync.lineage_push import push_lineage
from purview_sync.sync.matcher import DatastoreMatch, Matcher
from purview_sync.sync.pull import pull_datastore
from purview_sync.sync.push import push_datastore
from purview_sync.sync.snapshot import DatastoreSnapshot, with_host
from purview_sync.sync.suggestions import MAX_SUGGESTIONS, for_datastore, for_match

log = logging.getLogger(__name__)

SLICE_TABLES = 100  # tables per slice: a part stops and saves its cursor only between two slices

NOT_MATCHED_ACTION = (
    "Check that the database and schema are scanned in Purview under the same names as in Qualytics, and "
    "that the integration's domains (collections) include them."
)


def describe(ds: dict) -> str:
    return ".".join(str(p) for p in (ds.get("database"), ds.get("schema")) if p)


def sync_datastore(job: DatastoreJob) -> None:
    services, report = job.services, job.report
    qualytics = services.qualytics()
    purview = services.purview_for(job.integration)
    purview.deadline = job.deadline
    qualytics.deadline = job.deadline
    purview.read_only = qualytics.read_only = job.dry_run  # a preview: the clients refuse any write
    try:
        datastore = with_host(qualytics, job.datastore)
        if job.container_id is not None:  # an event push of one table: the snapshot reads that container
            tables: list[dict[str, Any]] | None = None
        else:
            tables = sorted(qualytics.list_tables(int(datastore["id"])), key=lambda t: int(t["id"]))
        matcher = Matcher(purview, job.integration.domains)
        found = matcher.find_root(datastore)
        name = describe(job.datastore)
        if found.status == "ambiguous":
            report.status, report.reason = "failed", "ambiguous"
            report.error(
                f"{name} matches more than one Purview asset: {' and '.join(found.candidates)}",
                "Narrow the integration's domains to the collection that holds the right one, or set the "
                "datastore's host to the server Purview scanned.",
                asset=name,
            )
            return
        if found.status == "outside_collections":
            report.status, report.reason = "skipped", "outside the selected collections"
            report.warnings.append(
                f"{name} exists in Purview but not in the collections {job.integration.domains}"
            )
            return
        if found.status != "matched" or found.root is None:
            report.status, report.reason = "failed", "not_matched"
            report.error(
                f"No Purview schema or database named {name} was found.", NOT_MATCHED_ACTION, asset=name
            )
            if job.dry_run:
                report.suggestions = for_datastore(purview, job.integration.domains, job.datastore)
            return
        report.matched_schema = found.root.qualified_name
        index = matcher.table_index(found)
        job.heartbeat()
        if tables is None:
            whole, slices = True, [None]
        else:
            whole = len(tables) <= SLICE_TABLES and job.after_table is None
            todo = [t for t in tables if job.after_table is None or int(t["id"]) > job.after_table]
            slices = [todo[i : i + SLICE_TABLES] for i in range(0, len(todo), SLICE_TABLES)] or [[]]
            if not whole:
                log.info(
                    "datastore %s: %d tables in %d slices left (part %d, after table %s)",
                    datastore["id"], len(todo), len(slices), job.part, job.after_table,
                )  # fmt: skip
        runner = SliceRunner(job, qualytics, purview, matcher, found, index, whole)
        runner.datastore = datastore
        runner.run(slices)
    finally:
        purview.close()
        qualytics.close()


class SliceRunner:
    """Push and pull one slice after the other until the last one, or until the budget stops the part."""

    def __init__(
        self,
        job: DatastoreJob,
        qualytics: Any,
        purview: Any,
        matcher: Matcher,
        found: DatastoreMatch,
        index: dict[str, str],
        whole: bool,
    ) -> None:
        self.job, self.qualytics, self.purview, self.matcher = job, qualytics, purview, matcher
        self.found, self.index, self.whole = found, index, whole
        self.datastore: dict[str, Any] = job.datastore

    def run(self, slices: list[list[dict[str, Any]] | None]) -> None:
        job = self.job
        longest = 0.0
        for i, chunk in enumerate(slices):
            last = i == len(slices) - 1
            if i and not self.fits(longest):
                job.done = False  # the next slice would not fit this part's budget
                return
            before = copy.deepcopy(job.report)
            started = time.monotonic()
            try:
                self._one(chunk, last)
            except ThrottledError:
                if not i:
                    raise  # not even one slice fits: the datastore ends ``throttled`` (as a whole one did)
                job.report, job.done = before, False  # this slice again, in the next part
                return
            if job.report.reason == "throttled" and i:
                job.report, job.done = before, False
                return
            if chunk and not self.whole:
                job.after_table = int(chunk[-1]["id"])
            longest = max(longest, time.monotonic() - started)
            if job.report.status == "failed":
                break  # e.g. the managed attributes are unavailable: the next slices would fail the same way
            if not last:
                job.on_progress()
                job.heartbeat()
        job.done = True

    def fits(self, longest: float) -> bool:
        """Another slice fits this part's budget when it would end by the deadline, taking as long as the
        longest slice so far."""
        return time.monotonic() + longest <= self.job.deadline

    def _one(self, chunk: list[dict[str, Any]] | None, last: bool) -> None:
        job, report = self.job, self.job.report
        snapshot = DatastoreSnapshot.load(
            self.qualytics,
            self.datastore,
            with_counts=job.push,
            container_id=job.container_id,
            tables=chunk,
            narrow=not self.whole,
            datastore_values=last,
        )
        report.warnings.extend(w for w in snapshot.warnings if w not in report.warnings)
        match = self.matcher.match_tables(self.found, self.index, snapshot.tables, snapshot.fields_by_table)
        report.tables_matched += len(match.tables)
        report.columns_matched += len(match.columns)
        for table in match.unmatched_tables:
            report.unmatched(table)
        for column in match.unmatched_columns:
            report.unmatched(column, column=True)
        if job.dry_run and len(report.suggestions) < MAX_SUGGESTIONS:  # a preview: near misses, slice by slice
            report.suggestions = (report.suggestions + for_match(snapshot, match))[:MAX_SUGGESTIONS]
        context = SyncContext(
            qualytics=self.qualytics,
            purview=self.purview,
            snapshot=snapshot,
            match=match,
            with_root=last,
            complete=self.whole,
        )
        if job.push:
            push_datastore(job, context)
            if last:  # the datastore's computed containers: once, with its last slice
                push_lineage(job, context)  # no request at all unless the integration has lineage on
            job.heartbeat()
        if job.pull:
            pull_datastore(job, context)
            pull_lineage(job, context)
