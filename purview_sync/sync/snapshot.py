"""One datastore as Qualytics sees it now, read only from what the Qualytics API documents
(reference/qualytics-api.md §3-§6, specs/qualytics/schemas.json):

* **Tables**: ``GET /containers?datastore=&container_type=table`` (paged). Archived ones (``archived: true``
  or ``deleted_at`` set) are skipped here, whatever the listing's default for ``archived`` is. A list item
  without ``metrics`` (or with none of the keys push reads) is read again with ``GET /containers/{id}``
  (only when counts are wanted).
* **Fields**: per table, ``GET /fields?container_id=`` — a field object does not name its container, so
  the request does. Up to ``FIELD_CONCURRENCY`` tables at once; one request for a table under 100 columns.
* **Host**: the datastore's ``connection`` is ``{id, name, type}``; when no host is shown, it is read once
  from ``GET /connections/{id}`` (it only breaks ties between two Purview servers with the same names).
* **Counts**: a table's from its ``metrics.active_anomalies`` / ``metrics.active_checks``; the datastore's
  from its own ``metrics.active_*`` when shown, else the ``total`` of its ``status=Active`` listing. A
  column's from those listings only when every item names its container and fields (a check's
  ``fields[].name``, an anomaly's ``failed_checks[].quality_check.fields[].name``); otherwise per matched
  column (``container``, ``field``, ``status=Active``, ``size=1`` → ``total``, see ``prefetch_columns``).
  A value that cannot be attributed is ``None`` — its attribute is left unwritten, never written as 0.
* **Score**: the newest ``/quality-scores`` snapshot; a 403 there (the Reporter team permission is missing)
  makes the score unknown with a warning, and the rest of the datastore proceeds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from purview_sync.clients.http import HttpError
from purview_sync.clients.qualytics import FINDINGS, QualyticsClient, reference_id

FIELD_CONCURRENCY = 8
SCORE_FORBIDDEN_ACTION = (
    "give the user of QUALYTICS_API_TOKEN the Reporter permission on the datastore's team in Qualytics "
    "(reading the quality-score history needs it), then run the sync again"
)
T = TypeVar("T")
R = TypeVar("R")


def is_archived(container: dict[str, Any]) -> bool:
    return container.get("archived") is True or bool(container.get("deleted_at"))


METRIC_KEYS = ("quality_score", "active_anomalies", "active_checks")


def has_metrics(container: dict[str, Any]) -> bool:
    """The container shows the metrics push reads (a list item may come without them, or with ``{}``)."""
    metrics = container.get("metrics")
    return isinstance(metrics, dict) and any(key in metrics for key in METRIC_KEYS)


def _named_fields(refs: Any) -> list[str] | None:
    if not isinstance(refs, list):
        return None
    names: list[str] = []
    for ref in refs:
        name = ref.get("name") if isinstance(ref, dict) else None
        if not name:
            return None
        names.append(str(name))
    return names


def attribution(what: str, item: dict[str, Any]) -> tuple[int, list[str]] | None:
    """(container id, field names) an Active anomaly or check names; None when it does not name both."""
    cid = reference_id(item.get("container"))
    if cid is None:
        return None
    if what == "checks":
        names = _named_fields(item.get("fields"))
        return None if names is None else (cid, names)
    failed = item.get("failed_checks")
    if not isinstance(failed, list):
        return None
    names = []
    for entry in failed:
        check = entry.get("quality_check") if isinstance(entry, dict) else None
        got = _named_fields(check.get("fields")) if isinstance(check, dict) else None
        if got is None:
            return None
        names += got
    return cid, names


def concurrently(fn: Callable[[T], R], items: Iterable[T], workers: int = FIELD_CONCURRENCY) -> list[R]:
    items = list(items)
    if len(items) < 2:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="qualytics") as pool:
        return list(pool.map(fn, items))


def with_host(client: QualyticsClient, datastore: dict[str, Any]) -> dict[str, Any]:
    """The datastore with ``host`` set from its connection when it shows none (one read)."""
    connection = datastore.get("connection")
    if datastore.get("host") or not isinstance(connection, dict) or connection.get("host"):
        return datastore
    connection_id = reference_id(connection)
    if connection_id is None:
        return datastore
    details = client.get_connection(connection_id) or {}
    host = details.get("host")
    return {**datastore, "host": host} if host else datastore


@dataclass
class DatastoreSnapshot:
    datastore: dict[str, Any]
    tables: list[dict[str, Any]]
    fields_by_table: dict[int, list[dict[str, Any]]]
    quality_score: float | None = None
    score_snapshot: dict[str, Any] | None = None  # the newest /quality-scores item (total + dimensions)
    counts_loaded: bool = False
    totals: dict[str, int | None] = field(default_factory=dict)  # the datastore's Active listing totals
    by_field: dict[str, Counter[tuple[int, str]]] = field(default_factory=dict)
    attributable: dict[str, bool] = field(default_factory=dict)  # listing items name container + fields
    warnings: list[str] = field(default_factory=list)
    client: QualyticsClient | None = field(default=None, repr=False)
    _per_column: dict[tuple[str, int, str], int | None] = field(default_factory=dict, repr=False)

    @property
    def id(self) -> int:
        return int(self.datastore["id"])

    @classmethod
    def load(
        cls,
        client: QualyticsClient,
        datastore: dict[str, Any],
        *,
        with_counts: bool,
        container_id: int | None = None,
        tables: list[dict[str, Any]] | None = None,
        narrow: bool = False,
        datastore_values: bool = True,
    ) -> DatastoreSnapshot:
        """The whole datastore (``tables``: its table listing when already read), or — ``narrow`` — one
        slice of it (DESIGN.md §3c, large datastores): only those tables, their fields and the Active
        listings narrowed to them (``container=`` list), so memory follows the slice. A slice reads the
        datastore-level values (score, totals) only when ``datastore_values`` (the slice that pushes them)."""
        datastore = with_host(client, datastore)
        ds_id = int(datastore["id"])
        if tables is not None:
            found = tables
        elif container_id is not None:  # an event push of one table: read just that container
            one = client.get_container(container_id)
            found = [one] if one and reference_id(one.get("datastore")) in (None, ds_id) else []
        else:
            found = list(client.list_tables(ds_id))
        tables = [t for t in found if not is_archived(t)]
        if with_counts:
            tables = concurrently(lambda t: t if has_metrics(t) else _reread(client, t), tables)
        fields = concurrently(lambda t: client.list_fields(int(t["id"])), tables)
        snapshot = cls(
            datastore=datastore,
            tables=tables,
            fields_by_table={int(t["id"]): f for t, f in zip(tables, fields, strict=True)},
            client=client,
        )
        if with_counts:
            scope = sorted(int(t["id"]) for t in tables) if narrow else None
            snapshot._load_counts(client, container_id, scope, datastore_values)
        return snapshot

    def _load_counts(
        self,
        client: QualyticsClient,
        container_id: int | None,
        scope: list[int] | None,
        datastore_values: bool,
    ) -> None:
        if datastore_values:
            try:
                self.score_snapshot = client.latest_score_snapshot(self.id)
                self.quality_score = self.score_snapshot["total"] if self.score_snapshot else None
            except HttpError as exc:
                if exc.status != 403:
                    raise
                self.warnings.append(
                    f"Qualytics refused the quality-score history of datastore {self.id} (HTTP 403), so its "
                    f"QualityScore was not written; {SCORE_FORBIDDEN_ACTION}."
                )
        for what in FINDINGS:
            by_field: Counter[tuple[int, str]] = Counter()
            attributable, total = True, None
            pages = client.active_pages(what, self.id, container_id, scope) if scope != [] else iter(())
            for number, body in enumerate(pages):
                if number == 0 and isinstance(body.get("total"), int):
                    total = body["total"]
                for item in body.get("items") or []:
                    named = attribution(what, item)
                    if named is None:
                        attributable = False
                        break
                    cid, names = named
                    for name in {n.lower() for n in names}:
                        by_field[(cid, name)] += 1
                if not attributable:
                    break  # the total is known; per-column counts will be asked for instead
            self.totals[what] = total if container_id is None and scope is None else None
            if scope is not None and datastore_values and self._metric(what) is None:
                self.totals[what] = client.active_total(
                    what, self.id
                )  # a slice's total is not the datastore's
            self.by_field[what] = by_field
            self.attributable[what] = attributable
        self.counts_loaded = True

    # --- per column ------------------------------------------------------------------------------
    def prefetch_columns(self, columns: Iterable[tuple[int, str]]) -> None:
        """Ask per column (concurrently) for the kinds the listings could not attribute."""
        if not self.counts_loaded or self.client is None:
            return
        client, columns = self.client, list(columns)
        wanted = [(what, cid, name) for what in FINDINGS if not self.attributable.get(what, True)
                  for cid, name in columns if (what, cid, name.lower()) not in self._per_column]  # fmt: skip

        def ask(key: tuple[str, int, str]) -> int | None:
            what, cid, name = key
            try:
                return client.count_active(what, self.id, cid, name)
            except HttpError as exc:
                if exc.status in (408, 429) or exc.status >= 500:
                    raise
                return None

        for key, value in zip(wanted, concurrently(ask, wanted), strict=True):
            self._per_column[(key[0], key[1], key[2].lower())] = value

    def column_count(self, what: str, container_id: int, name: str) -> int | None:
        if not self.counts_loaded:
            return None
        if self.attributable.get(what, False):
            return self.by_field[what][(container_id, name.lower())]
        return self._per_column.get((what, container_id, name.lower()))

    def table_count(self, what: str, table: dict[str, Any]) -> int | None:
        metrics = table.get("metrics")
        value = metrics.get(f"active_{what}") if isinstance(metrics, dict) else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def _metric(self, what: str) -> int | None:
        metrics = self.datastore.get("metrics")
        value = metrics.get(f"active_{what}") if isinstance(metrics, dict) else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def datastore_count(self, what: str) -> int | None:
        value = self._metric(what)
        return value if value is not None else self.totals.get(what)


def _reread(client: QualyticsClient, table: dict[str, Any]) -> dict[str, Any]:
    """A list item without ``metrics``: the container read on its own (the item itself if that fails)."""
    try:
        full = client.get_container(int(table["id"]))
    except HttpError as exc:
        if exc.status in (408, 429) or exc.status >= 500:
            raise
        return table
    return full if full else table
