"""The fleet's Purview budget on Table Storage (DESIGN.md §3c "One Purview budget for all instances").

Table ``PurviewBudget``, PartitionKey = one Purview account (its host), one row per app instance that is
sending to it: ``seen_at`` (epoch seconds of its last heartbeat), ``share`` (requests per second it may
send until its next heartbeat) and ``wants`` (it has work for that account). Plus one row ``~throttle``:
the last 429 any instance saw there (``until`` = the end of its ``Retry-After``, ``episode`` = a counter),
so every instance slows down, not only the one that got it. How the shares are computed is the pacing's
business (``clients/budget.py``); this module only reads and writes the rows.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from purview_sync.storage.clients import TABLE_BUDGET, StorageClients

THROTTLE_RK = "~throttle"


def account_key(host: str) -> str:
    """A Purview host as a PartitionKey (no ``/ \\ # ?`` or control characters)."""
    return re.sub(r"[^A-Za-z0-9._:-]", "_", host.lower())[:200] or "_"


@dataclass(frozen=True)
class Peer:
    instance: str
    seen_at: float
    share: float
    wants: bool


@dataclass(frozen=True)
class Throttle:
    until: float  # epoch seconds
    episode: int
    by: str


@dataclass(frozen=True)
class Board:
    peers: list[Peer]
    throttle: Throttle | None


class BudgetRepo:
    def __init__(self, storage: StorageClients) -> None:
        self.table: TableClient = storage.table(TABLE_BUDGET)

    def read(self, account: str) -> Board:
        """Every instance row of the account and its throttle row: one query."""
        peers: list[Peer] = []
        throttle: Throttle | None = None
        for e in self.table.query_entities("PartitionKey eq @pk", parameters={"pk": account_key(account)}):
            if e["RowKey"] == THROTTLE_RK:
                throttle = Throttle(
                    until=float(e.get("until") or 0.0), episode=int(e.get("episode") or 0), by=e.get("by") or ""
                )
                continue
            peers.append(
                Peer(
                    instance=e["RowKey"],
                    seen_at=float(e.get("seen_at") or 0.0),
                    share=float(e.get("share") or 0.0),
                    wants=bool(e.get("wants")),
                )
            )
        return Board(peers=peers, throttle=throttle)

    def heartbeat(self, account: str, instance: str, *, share: float, wants: bool) -> None:
        self.table.upsert_entity(
            {
                "PartitionKey": account_key(account),
                "RowKey": instance,
                "seen_at": time.time(),
                "share": float(share),
                "wants": bool(wants),
            },
            mode=UpdateMode.REPLACE,
        )

    def leave(self, account: str, instance: str) -> None:
        try:
            self.table.delete_entity(account_key(account), instance)
        except ResourceNotFoundError:
            pass

    def signal_throttle(self, account: str, instance: str, *, until: float, episode: int) -> None:
        """Tell every instance: the account answered 429, nobody sends before ``until``."""
        self.table.upsert_entity(
            {
                "PartitionKey": account_key(account),
                "RowKey": THROTTLE_RK,
                "until": float(until),
                "episode": str(int(episode)),  # an Int64 would need an EdmType: text is simpler
                "by": instance,
            },
            mode=UpdateMode.REPLACE,
        )
