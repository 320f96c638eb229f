"""The storage interface services depend on: named tables of JSON documents.

A second backend (e.g. Postgres) implements these two classes; services never see sqlite.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
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


class Table(ABC):
    """Key → JSON document. Each write is atomic and durable when the call returns.

    A read or write the store cannot do raises StorageFailed (bot.errors); a write that raised
    landed whole or not at all. `health` is the storage's, shared by all its tables.
    """

    health: StoreHealth

    @abstractmethod
    async def get(self, key: str) -> Document | None: ...

    @abstractmethod
    async def put(self, key: str, value: Document) -> None: ...

    @abstractmethod
    async def write(self, put: Mapping[str, Document], delete: Iterable[str] = ()) -> None:
        """Several puts and deletes in one transaction: all land or none."""

    @abstractmethod
    async def delete(self, key: str) -> bool: ...

    @abstractmethod
    async def items(self) -> list[tuple[str, Document]]:
        """All entries in insertion order (rewriting a key keeps its place)."""

    @abstractmethod
    async def newest(self, limit: int, offset: int = 0) -> list[tuple[str, Document]]:
        """Entries in insertion order, newest first, skipping `offset`: listing without reading it all."""

    @abstractmethod
    async def oldest(self, limit: int, offset: int = 0) -> list[tuple[str, Document]]:
        """Entries in insertion order, oldest first, skipping `offset`: housekeeping without reading it all."""

    @abstractmethod
    async def count(self) -> int: ...

    @abstractmethod
    def version(self) -> object:
        """A cheap token that changes whenever the table may have changed, by any process: callers
        keep a derived index of a small table until it does."""


class Storage(ABC):
    """Opens tables by name and closes them all at shutdown."""

    health: StoreHealth

    @abstractmethod
    def table(self, name: str) -> Table: ...

    async def write_in_order(self, steps: Sequence[Step]) -> None:
        """Each step's `table.write(put, delete)` commits before the next starts.

        A crash can stop between steps but never reorder them: callers build crash safety on it.
        A backend may run the steps in one go (sqlite: one thread hop instead of one per table).
        """
        for table, put, delete in steps:
            await table.write(put, delete)

    @abstractmethod
    async def close(self) -> None: ...
