"""The Qualytics simulator's finding routes: anomalies and quality checks, listed per datastore/container
with their status, archived, field, tag and rule filters, and fetched one by one. The findings of an
archived container count as archived (as the datastore's metrics leave archived containers out)."""

from __future__ import annotations

from purview_sync.dev.qualytics.payloads import Payloads
from purview_sync.dev.qualytics.records import (
    ANOMALY_ARCHIVED,
    ANOMALY_STATUSES,
    CHECK_ARCHIVED,
    CHECK_STATUSES,
)
from purview_sync.dev.qualytics.wire import Query, archived_ok, not_found, page_of, path_id
from purview_sync.dev.simserver import SimRequest, SimResponse, json_response


class FindingRoutes(Payloads):
    """Handlers of ``/anomalies`` and ``/quality-checks``."""

    def _scoped(self, containers: list[int] | None, datastores: list[int] | None,
                by_container: dict[int, list[int]]) -> list[int]:
        """Ids of anomalies/checks under the given containers or datastores, via the indexes."""
        if containers is not None:
            cids = containers
        elif datastores is not None:
            cids = [c for d in datastores for c in self._containers_by_ds.get(d, ())]
        else:
            cids = list(by_container)
        return sorted(i for c in set(cids) for i in by_container.get(c, ()))

    def _list_anomalies(self, req: SimRequest) -> SimResponse:
        q = Query(req)
        page, size = q.page()
        datastores = q.integers("datastore")
        containers = q.integers("container")
        fields = q.texts("field")
        statuses = q.texts("status", allowed=ANOMALY_STATUSES, commas=True)
        checks = q.integers("quality_check")
        tags = q.texts("tag")
        anomaly_type = q.text("anomaly_type")
        archived = q.archived()
        sort_created = q.sort("sort_created")
        q.done()
        out = []
        for aid in self._scoped(containers, datastores, self._anomalies_by_container):
            a = self.anomalies[aid]
            if datastores is not None and a.datastore_id not in datastores:
                continue
            if containers is not None and a.container_id not in containers:
                continue
            if fields is not None and not set(fields) & set(a.fields):
                continue
            if statuses is not None and a.status not in statuses:
                continue
            if not archived_ok(archived, a.status in ANOMALY_ARCHIVED or self.containers[a.container_id].archived):
                continue
            if checks is not None and (a.check_id or a.stub_check_id) not in checks:
                continue
            if anomaly_type is not None and a.type != anomaly_type:
                continue
            if tags is not None and not set(tags) & {t["name"] for t in self._global_tags("anomaly", a)}:
                continue
            out.append(a)
        if sort_created:
            out.sort(key=lambda a: (a.created, a.id), reverse=sort_created == "desc")
        return json_response(page_of(out, page, size, self._anomaly_payload))

    def _get_anomaly(self, req: SimRequest) -> SimResponse:
        a = self.anomalies.get(path_id(req))
        if a is None:
            raise not_found("Anomaly", req.params["id"])
        return json_response(self._anomaly_payload(a))

    def _list_checks(self, req: SimRequest) -> SimResponse:
        q = Query(req)
        page, size = q.page()
        datastore = q.integer("datastore", required=True)
        containers = q.integers("container")
        fields = q.texts("field")
        statuses = q.texts("status", allowed=CHECK_STATUSES, commas=True)
        tags = q.texts("tag")
        rule_types = q.texts("rule_type")
        archived = q.archived()
        q.done()
        out = []
        for kid in self._scoped(containers, [datastore] if datastore is not None else None,
                                self._checks_by_container):
            k = self.checks[kid]
            if k.datastore_id != datastore:
                continue
            if containers is not None and k.container_id not in containers:
                continue
            if fields is not None and not set(fields) & set(k.fields):
                continue
            if statuses is not None and k.status not in statuses:
                continue
            if not archived_ok(archived, k.status in CHECK_ARCHIVED or self.containers[k.container_id].archived):
                continue
            if rule_types is not None and k.rule_type not in rule_types:
                continue
            if tags is not None and not set(tags) & {t["name"] for t in self._global_tags("check", k)}:
                continue
            out.append(k)
        return json_response(page_of(out, page, size, self._check_payload))

    def _get_check(self, req: SimRequest) -> SimResponse:
        k = self.checks.get(path_id(req))
        if k is None:
            raise not_found("Quality check", req.params["id"])
        return json_response(self._check_payload(k))
