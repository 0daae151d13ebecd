"""The work on one datastore of a sync: read Qualytics, match in Purview, then push and/or pull."""

from __future__ import annotations

import logging

from purview_sync.sync.job import DatastoreJob, SyncContext
from purview_sync.sync.lineage_pull import pull_lineage
from purview_sync.sync.lineage_push import push_lineage
from purview_sync.sync.matcher import Matcher
from purview_sync.sync.pull import pull_datastore
from purview_sync.sync.push import push_datastore
from purview_sync.sync.snapshot import DatastoreSnapshot

log = logging.getLogger(__name__)

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
    try:
        snapshot = DatastoreSnapshot.load(
            qualytics, job.datastore, with_counts=job.push, container_id=job.container_id
        )
        report.warnings.extend(snapshot.warnings)
        match = Matcher(purview, job.integration.domains).match(
            snapshot.datastore, snapshot.tables, snapshot.fields_by_table
        )
        name = describe(job.datastore)
        if match.status == "ambiguous":
            report.status, report.reason = "failed", "ambiguous"
            report.error(
                f"{name} matches more than one Purview asset: {' and '.join(match.candidates)}",
                "Narrow the integration's domains to the collection that holds the right one, or set the "
                "datastore's host to the server Purview scanned.",
                asset=name,
            )
            return
        if match.status == "outside_collections":
            report.status, report.reason = "skipped", "outside the selected collections"
            report.warnings.append(
                f"{name} exists in Purview but not in the collections {job.integration.domains}"
            )
            return
        if match.status != "matched" or match.root is None:
            report.status, report.reason = "failed", "not_matched"
            report.error(
                f"No Purview schema or database named {name} was found.", NOT_MATCHED_ACTION, asset=name
            )
            return
        report.matched_schema = match.root.qualified_name
        report.tables_matched = len(match.tables)
        report.columns_matched = len(match.columns)
        for table in match.unmatched_tables:
            report.unmatched(table)
        for column in match.unmatched_columns:
            report.unmatched(column, column=True)
        job.heartbeat()
        context = SyncContext(qualytics=qualytics, purview=purview, snapshot=snapshot, match=match)
        if job.push:
            push_datastore(job, context)
            push_lineage(job, context)  # no request at all unless the integration has lineage on
            job.heartbeat()
        if job.pull:
            pull_datastore(job, context)
            pull_lineage(job, context)
    finally:
        purview.close()
        qualytics.close()
