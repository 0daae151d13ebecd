"""Table and queue clients for the app's storage account (Azurite locally, identity-based in Azure).

Queue messages are Base64 on the wire because that is what the Functions host expects
(azure-functions.md §2.2); every QueueClient made here carries the Base64 policies.
"""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient, TableServiceClient
from azure.storage.queue import (
    QueueClient,
    QueueServiceClient,
    TextBase64DecodePolicy,
    TextBase64EncodePolicy,
)

from purview_sync.settings import Settings

TABLE_INTEGRATIONS = "Integrations"
TABLE_SYNC_RUNS = "SyncRuns"
TABLE_TAG_MAPPINGS = "TagMappings"
TABLE_EVENTS = "EventState"
TABLE_LINEAGE_MAPPINGS = "LineageMappings"
TABLE_BUDGET = "PurviewBudget"  # the fleet's shares of each Purview account's request budget
TABLE_PUSH_STATE = "PushState"
TABLE_OPERATION_POLL = "OperationPoll"  # the poll of Qualytics' finished operations: watermark and markers
TABLES = (
    TABLE_INTEGRATIONS, TABLE_SYNC_RUNS, TABLE_TAG_MAPPINGS, TABLE_EVENTS, TABLE_LINEAGE_MAPPINGS, TABLE_BUDGET,
    TABLE_PUSH_STATE, TABLE_OPERATION_POLL,
)  # fmt: skip

QUEUE_DATASTORE = "purview-sync-datastore"
QUEUE_EVENTS = "qualytics-events"
QUEUE_EVENT_PUSH = "purview-sync-event-push"  # internal: a coalesced event push that is due
QUEUES = tuple(q + suffix for q in (QUEUE_DATASTORE, QUEUE_EVENTS, QUEUE_EVENT_PUSH) for suffix in ("", "-poison"))


class StorageClients:
    """One service client per storage service; tables and queues are created on first use."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._ready_tables: set[str] = set()
        self._ready_queues: set[str] = set()
        if settings.storage_connection:
            self.tables = TableServiceClient.from_connection_string(settings.storage_connection)
            self.queues = QueueServiceClient.from_connection_string(
                settings.storage_connection,
                message_encode_policy=TextBase64EncodePolicy(),
                message_decode_policy=TextBase64DecodePolicy(),
            )
        else:
            credential = _managed_identity(settings.storage_client_id)
            account = settings.storage_account_name
            table_uri = settings.storage_table_uri or f"https://{account}.table.core.windows.net"
            queue_uri = settings.storage_queue_uri or f"https://{account}.queue.core.windows.net"
            if not (settings.storage_table_uri or account):
                raise RuntimeError(
                    "Storage is not configured: set AzureWebJobsStorage (connection string) or "
                    "AzureWebJobsStorage__accountName / __tableServiceUri / __queueServiceUri"
                )
            self.tables = TableServiceClient(endpoint=table_uri, credential=credential)
            self.queues = QueueServiceClient(
                account_url=queue_uri,
                credential=credential,
                message_encode_policy=TextBase64EncodePolicy(),
                message_decode_policy=TextBase64DecodePolicy(),
            )

    def table(self, name: str) -> TableClient:
        client = self.tables.get_table_client(name)
        if name not in self._ready_tables:
            with self._lock:
                with contextlib.suppress(ResourceExistsError):
                    client.create_table()
                self._ready_tables.add(name)
        return client

    def queue(self, name: str) -> QueueClient:
        # get_queue_client() does not hand the service client's message policies down (azure-storage-queue
        # 12.x): pass them again, or messages go out as raw JSON that the Functions host cannot decode.
        client = self.queues.get_queue_client(
            name,
            message_encode_policy=TextBase64EncodePolicy(),
            message_decode_policy=TextBase64DecodePolicy(),
        )
        if name not in self._ready_queues:
            with self._lock:
                with contextlib.suppress(ResourceExistsError):
                    client.create_queue()
                self._ready_queues.add(name)
        return client

    def enqueue(self, queue_name: str, message: dict[str, Any], *, delay_seconds: int = 0) -> None:
        self.queue(queue_name).send_message(
            json.dumps(message, separators=(",", ":")), visibility_timeout=delay_seconds or None
        )

    def ping(self) -> dict[str, str]:
        """Reachability of each service, for /api/health."""
        result: dict[str, str] = {}
        for name, probe in (
            ("tables", lambda: next(iter(self.tables.list_tables(results_per_page=1)), None)),
            ("queues", lambda: next(iter(self.queues.list_queues(results_per_page=1)), None)),
        ):
            try:
                probe()
                result[name] = "ok"
            except Exception as exc:
                result[name] = f"unreachable: {type(exc).__name__}"
        return result


def _managed_identity(client_id: str | None) -> Any:
    from azure.identity import ManagedIdentityCredential

    return ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
