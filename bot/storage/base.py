"""The storage contract services depend on: named tables of JSON documents, and queues.

Two backends implement it (bot.storage.sqlite, the embedded default; bot.storage.postgres) and
pass one test suite (tests/storage/test_contract.py); services never see either.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.errors import StorageFailed

Document = dict[str, Any]
Step = tuple["Table", Mapping[str, Document], Iterable[str]]
Probe = Callable[[], Awaitable[None]]
log = logging.getLogger("mailbot.storage")
PROBE_EVERY_S = 1.0
PROBE_WAIT_S = 1.0


class StoreHealth:
    """Whether the store can write, for /healthz: a table is failing from a write that raised
    StorageFailed until a write that adds data to it succeeds (deleting frees space but proves none).

    Shared by a storage and all its tables; reading it costs nothing while every table is healthy.
    While one is failing, `check()` first retries a small write to it (at most once a second), so the
    store turns healthy once space returns even if nothing else writes (a load balancer that stops
    sending traffic on a 503 would otherwise keep it failing).
    """

    def __init__(self, store: str) -> None:
        self.store = store
        self._failing: dict[str, tuple[StorageFailed, Probe | None]] = {}
        self._probed_at = -1e9
        self._probes: set[asyncio.Future[None]] = set()  # a probe that outlasted PROBE_WAIT_S, until it ends

    def failed(self, table: str, error: StorageFailed, probe: Probe | None = None) -> None:
        """A write to `table` raised `error`. `probe` retries a small write and records its outcome
        here (it never raises)."""
        if table not in self._failing:
            log.warning("the %s store cannot write %s: %s (%s)", self.store, table, error.cause.en, error.detail)
        self._failing[table] = (error, probe)

    def succeeded(self, table: str) -> None:
        if self._failing.pop(table, None) is not None:
            log.warning("the %s store writes %s again", self.store, table)

    @property
    def failing(self) -> list[str]:
        """The tables whose last write failed, by name."""
        return list(self._failing)

    async def check(self) -> StorageFailed | None:
        """None when every table's last write succeeded, else the error of a failing one (after a
        fresh probe of each, at most every PROBE_EVERY_S and never longer than PROBE_WAIT_S)."""
        if not self._failing:
            return None
        if time.monotonic() - self._probed_at >= PROBE_EVERY_S:
            self._probed_at = time.monotonic()
            probes = [asyncio.ensure_future(probe()) for _, probe in list(self._failing.values()) if probe]
            if probes:
                # A probe never raises: it records its outcome here. One that outlasts the wait
                # finishes in its thread and updates the state then.
                _, late = await asyncio.wait(probes, timeout=PROBE_WAIT_S)
                self._probes |= late
                for future in late:
                    future.add_done_callback(self._probes.discard)
        failing = list(self._failing.values())
        return failing[0][0] if failing else None


@dataclass
class Page:
    """One page of a keyset scan: pass `cursor` back as `after` for the next page (None: the end)."""

    rows: list[tuple[str, Document]]
    cursor: int | None


class Table(ABC):
    """Key → JSON document. Each write is atomic and durable when the call returns.

    Rows keep their insertion order (rewriting a key keeps its place). `indexed` fields (given when
    the table is opened) can filter a scan without reading the rest. A read or write the store cannot
    do raises StorageFailed (bot.errors); a write that raised landed whole or not at all. `health` is
    the storage's, shared by all its tables.
    """

    name: str
    health: StoreHealth
    indexed: tuple[str, ...] = ()

    @abstractmethod
    async def get(self, key: str) -> Document | None: ...

    async def get_many(self, keys: Iterable[str]) -> dict[str, Document]:
        """The documents of those `keys` that exist, in one read where the backend can (the worker
        loads a claimed batch at once instead of two round trips per mail)."""
        keys = list(dict.fromkeys(keys))
        docs = await asyncio.gather(*(self.get(key) for key in keys))
        return {key: doc for key, doc in zip(keys, docs) if doc is not None}

    async def put(self, key: str, value: Document) -> None:
        await self.write({key: value})

    @abstractmethod
    async def write(self, put: Mapping[str, Document], delete: Iterable[str] = ()) -> None:
        """Several puts and deletes in one transaction: all land or none."""

    @abstractmethod
    async def delete(self, key: str) -> bool: ...

    @abstractmethod
    async def put_if(self, key: str, value: Document | None, expected: Document | None) -> bool:
        """Compare-and-set: write `value` (None deletes) only if the stored document equals `expected`
        (None: only if the key is absent). False, writing nothing, when another writer got there
        first, in this process or any other: rows that several processes update use this."""

    @abstractmethod
    async def items(self) -> list[tuple[str, Document]]:
        """All entries in insertion order: for small tables only (mailboxes, tokens, templates)."""

    @abstractmethod
    async def scan(self, limit: int, *, after: int | None = None, reverse: bool = False,
                   where: Mapping[str, str] | None = None) -> Page:
        """Up to `limit` entries in insertion order (newest first when `reverse`), starting after
        `cursor` of the previous page, optionally only those whose indexed fields equal `where`.

        Keyset paging: a page costs about `limit` rows however deep it is, and a row added or removed
        meanwhile never makes another one appear twice or be skipped.
        """

    async def newest(self, limit: int, where: Mapping[str, str] | None = None) -> list[tuple[str, Document]]:
        return (await self.scan(limit, reverse=True, where=where)).rows

    async def oldest(self, limit: int, where: Mapping[str, str] | None = None) -> list[tuple[str, Document]]:
        return (await self.scan(limit, where=where)).rows

    @abstractmethod
    async def count(self) -> int: ...

    @abstractmethod
    async def version(self) -> object:
        """A token that changes whenever the table may have changed, by any process: callers keep a
        derived index of a small table until it does. Cheap (no table read) on every backend."""


class Queue(Table):
    """A table of due-dated entries that several processes take work from (the outbox's timetable).

    Each document carries `due` (epoch seconds), `lease` (epoch seconds; 0 or absent: free) and
    `owner` (who holds the lease), besides its own fields. Reading what is due costs about `limit`
    rows however much waits (as arq reads only due jobs); a claim is a lease, so work claimed by a
    process that died is claimable again once its lease ends.
    """

    @abstractmethod
    async def due(self, until: float, limit: int) -> list[tuple[str, Document]]:
        """Free entries (no live lease) with `due` <= `until`, earliest due first."""

    @abstractmethod
    async def claim(self, until: float, limit: int, owner: str, lease_s: float) -> list[tuple[str, Document]]:
        """Take up to `limit` of what `due(until, limit)` would return, leasing each to `owner` for
        `lease_s` seconds in one transaction. Concurrent claims (any process) never take one entry
        twice while its lease lives; the returned documents carry the new lease and owner."""

    @abstractmethod
    async def renew(self, keys: Iterable[str], owner: str, lease_s: float) -> list[str]:
        """Extend `owner`'s leases on `keys`; returns the keys it still held (a lease that ran out
        and was claimed by another process is not taken back)."""

    @abstractmethod
    async def release(self, keys: Mapping[str, float | None], owner: str) -> None:
        """Give back `owner`'s leases: key -> new due (None keeps it). Entries leased by another
        owner, or gone, are left alone."""

    @abstractmethod
    async def reschedule(self, dues: Mapping[str, float]) -> None:
        """Set a new `due` on free entries (no live lease); leased or missing ones are left alone."""

    @abstractmethod
    async def recover(self, owner: str) -> int:
        """Free every lease `owner` holds (a restarted process whose owner name is stable); how many."""

    @abstractmethod
    async def next_due(self) -> float | None:
        """The earliest `due` among free entries, None when the queue is empty (or all leased)."""

    async def changed(self, timeout: float) -> None:
        """Return after `timeout`, or earlier when another process may have added due work (a
        backend that can hear it, such as PostgreSQL's LISTEN/NOTIFY, wakes at once)."""
        await asyncio.sleep(timeout)


class Storage(ABC):
    """Opens tables by name and closes them all at shutdown.

    `group` names tables that a transaction may span: every backend makes `transaction` atomic
    within a group (the embedded store keeps a group in one file; PostgreSQL any tables at all).
    """

    health: StoreHealth
    url: str  # where the data lives, for messages (never a password)

    @abstractmethod
    def table(self, name: str, *, group: str | None = None, indexed: Sequence[str] = ()) -> Table: ...

    @abstractmethod
    def queue(self, name: str, *, group: str | None = None, indexed: Sequence[str] = ()) -> Queue: ...

    @abstractmethod
    async def transaction(self, steps: Sequence[Step]) -> None:
        """Every step's `table.write(put, delete)` in one transaction: all land or none. The tables
        must share a group (ValueError otherwise, before anything is written)."""

    @abstractmethod
    async def names(self) -> list[str]:
        """The tables that hold data, whether opened by this process or not (migrate and backup)."""

    async def open(self) -> None:
        """Connect and create or migrate the schema (idempotent; called once before any table is used)."""

    @abstractmethod
    async def close(self) -> None: ...
