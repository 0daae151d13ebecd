"""The unit of work on one datastore: ``DatastoreJob`` (what the run hands the work) and ``SyncContext``.

It lives with the work, not with the coordinator, so ``sync/`` never imports ``app/``: the coordinator
builds a job from its ``Services``, which satisfy the ``Collaborators`` protocol below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from purview_sync.clients.purview import PurviewClient
from purview_sync.clients.qualytics import QualyticsClient
from purview_sync.models import DatastoreReport, Integration
from purview_sync.settings import Settings
from purview_sync.storage.lineage import LineageRepo
from purview_sync.storage.mappings import MappingRepo
from purview_sync.storage.pushstate import PushStateRepo
from purview_sync.sync.matcher import DatastoreMatch
from purview_sync.sync.snapshot import DatastoreSnapshot


class Collaborators(Protocol):
    """What the work on one datastore needs from the process (``app.services.Services`` provides it)."""

    settings: Settings

    @property
    def mappings(self) -> MappingRepo: ...

    @property
    def lineage(self) -> LineageRepo: ...

    @property
    def push_state(self) -> PushStateRepo: ...

    def qualytics(self, **kwargs: Any) -> QualyticsClient: ...

    def purview_for(self, integration: Integration, **kwargs: Any) -> PurviewClient: ...


@dataclass
class DatastoreJob:
    """Everything a processor needs for one datastore; it fills ``report``."""

    services: Collaborators
    integration: Integration
    datastore: dict[str, Any]
    pull: bool
    push: bool
    deadline: float
    heartbeat: Callable[[], None]
    report: DatastoreReport = field(default_factory=DatastoreReport)
    container_id: int | None = None  # event-driven push of one table
    # parts (DESIGN.md §3c): the work goes slice by slice of tables in container-id order; ``after_table`` is
    # the cursor (the last table whose slice is done; None = from the start). When ``deadline`` comes before
    # the last slice, the work stops between two slices with ``done`` False and the caller continues it in
    # another execution; ``on_progress`` runs after each slice so the cursor and counts can be saved.
    part: int = 0
    after_table: int | None = None
    done: bool = True
    on_progress: Callable[[], None] = lambda: None
    dry_run: bool = False  # a preview: decide and count every write, send none (DESIGN.md §3c)
    run_id: str | None = None  # the sync run this work belongs to (a warning once per run)


@dataclass
class SyncContext:
    """The clients and the read state shared by push and pull of one datastore."""

    qualytics: QualyticsClient
    purview: PurviewClient
    snapshot: DatastoreSnapshot
    match: DatastoreMatch
    with_root: bool = True  # push the datastore-level values too (a sliced datastore: with its last slice)
    complete: bool = True  # snapshot and match hold every table of the datastore (False: one slice of them)
