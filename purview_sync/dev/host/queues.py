"""The local host's queue side, with the queue extension's semantics: Base64 bodies, a renewed lease while a
function runs, retry after ``visibilityTimeout``, ``<queue>-poison`` after ``maxDequeueCount``, output bindings."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.functions.queue import QueueMessage
from azure.storage.queue import QueueClient

from purview_sync.dev.host.config import HostConfig
from purview_sync.dev.host.functions import Function, Out, invocation

log = logging.getLogger("devhost")


class QueueStore:
    """Queue clients by connection setting name, the message encoding of host.json, and output bindings."""

    def __init__(self, config: HostConfig, settings: Callable[[str], str | None]) -> None:
        self.config, self.settings = config, settings

    def client(self, connection: str | None, name: str) -> QueueClient:
        conn_name = connection or "AzureWebJobsStorage"
        conn = self.settings(conn_name) or self.settings(f"AzureWebJobs{conn_name}")
        if not conn:
            raise RuntimeError(
                f"queue connection '{conn_name}' is not set; the devhost needs a connection string"
            )
        client = QueueClient.from_connection_string(conn, name)  # raw text: Base64 handled here
        with contextlib.suppress(ResourceExistsError):
            client.create_queue()
        return client

    def send_outputs(self, fn: Function, outs: dict[str, Out]) -> None:
        for name, out in outs.items():
            binding = fn.out_bindings()[name]
            value = out.get()
            if value is None or binding.type != "queue" or not binding.queue_name:
                continue
            client = self.client(binding.connection, binding.queue_name)
            for item in value if isinstance(value, list) else [value]:
                client.send_message(self.encode(item))

    def encode(self, item: Any) -> str:
        text = (
            item.decode() if isinstance(item, bytes) else item if isinstance(item, str) else json.dumps(item)
        )
        if self.config.message_encoding == "none":
            return text
        return base64.b64encode(text.encode("utf-8")).decode("ascii")

    def decode(self, content: str) -> bytes:
        if self.config.message_encoding == "none":
            return content.encode("utf-8")
        return base64.b64decode(content, validate=True)


class QueueListener:
    """Polls the queue of one queue-triggered function until ``stop`` is set, ``batchSize`` at a time."""

    def __init__(self, fn: Function, store: QueueStore, lease_seconds: float, stop: threading.Event) -> None:
        assert fn.queue_name
        self.fn, self.store, self.config = fn, store, store.config
        self.lease_seconds, self._stop = lease_seconds, stop

    def run(self) -> None:
        fn = self.fn
        assert fn.queue_name
        interval = 0.1
        queue: QueueClient | None = None
        poison: QueueClient | None = None
        with ThreadPoolExecutor(
            max_workers=self.config.batch_size, thread_name_prefix=f"q-{fn.name}"
        ) as pool:
            while not self._stop.is_set():
                try:
                    if queue is None or poison is None:
                        queue = self.store.client(fn.connection, fn.queue_name)
                        poison = self.store.client(fn.connection, f"{fn.queue_name}-poison")
                    messages = list(
                        queue.receive_messages(
                            max_messages=self.config.batch_size, visibility_timeout=int(self.lease_seconds)
                        )
                    )
                except Exception as exc:  # storage down: keep polling, like the host does
                    log.warning("queue %s: receive failed (%s); retrying", fn.queue_name, exc)
                    queue = poison = None
                    self._stop.wait(min(2.0, self.config.max_polling_interval))
                    continue
                if not messages:
                    self._stop.wait(interval)
                    interval = min(max(interval * 2, 0.1), self.config.max_polling_interval)
                    continue
                interval = 0.1
                futures = [pool.submit(self._process, queue, poison, m) for m in messages]
                wait(futures)

    def _process(self, queue: QueueClient, poison: QueueClient, message: Any) -> None:
        fn = self.fn
        lease = _Lease(queue, message.id, message.pop_receipt, self.lease_seconds)
        try:
            try:
                body = self.store.decode(message.content)
            except (binascii.Error, ValueError):
                log.error(
                    "queue %s: message %s is not valid Base64; moved to poison", fn.queue_name, message.id
                )
                self._to_poison(queue, poison, message, lease)
                return
            if message.dequeue_count > self.config.max_dequeue_count:
                self._to_poison(queue, poison, message, lease)
                return
            msg = QueueMessage(
                id=message.id,
                body=body,
                dequeue_count=message.dequeue_count,
                expiration_time=message.expires_on,
                insertion_time=message.inserted_on,
                time_next_visible=message.next_visible_on,
                pop_receipt=message.pop_receipt,
            )
            kwargs, outs = invocation(fn, msg)
            lease.start()
            try:
                fn.user_function(**kwargs)
            except Exception:
                lease.stop()
                log.error(
                    "Executed 'Functions.%s' (Failed, dequeue count %s)\n%s",
                    fn.name, message.dequeue_count, traceback.format_exc(),
                )  # fmt: skip
                if message.dequeue_count >= self.config.max_dequeue_count:
                    self._to_poison(queue, poison, message, lease)
                else:
                    queue.update_message(
                        message.id, lease.pop_receipt, visibility_timeout=int(self.config.visibility_timeout)
                    )
                return
            lease.stop()
            self.store.send_outputs(fn, outs)
            queue.delete_message(message.id, lease.pop_receipt)
            log.info("Executed 'Functions.%s' (Succeeded, message %s)", fn.name, message.id)
        except Exception:  # storage hiccup while settling: the lease expires and the message comes back
            lease.stop()
            log.warning(
                "queue %s: could not settle message %s\n%s", fn.queue_name, message.id, traceback.format_exc()
            )

    def _to_poison(self, queue: QueueClient, poison: QueueClient, message: Any, lease: _Lease) -> None:
        lease.stop()
        poison.send_message(message.content)
        queue.delete_message(message.id, lease.pop_receipt)
        log.warning("queue %s: message %s moved to %s", queue.queue_name, message.id, poison.queue_name)


class _Lease:
    """Keeps a dequeued message invisible while the function runs (the host renews its lease too)."""

    def __init__(self, queue: QueueClient, message_id: str, pop_receipt: str, seconds: float) -> None:
        self.queue, self.message_id, self.pop_receipt, self.seconds = queue, message_id, pop_receipt, seconds
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._renew, daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        while not self._stop.wait(max(1.0, self.seconds / 3)):
            with self._lock:
                if self._stop.is_set():
                    return
                try:
                    receipt = self.queue.update_message(
                        self.message_id, self.pop_receipt, visibility_timeout=int(self.seconds)
                    )
                    self.pop_receipt = receipt.pop_receipt
                except Exception as exc:
                    log.warning("could not renew the lease of message %s: %s", self.message_id, exc)

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
