"""Group commit: writes that arrive while the previous flush runs share the next transaction.

Under load, N concurrent enqueues (or completions) cost one commit per table instead of N.
Each caller returns only after its own item is durable; a failed flush raises in every caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(self, flush: Callable[[list[T]], Awaitable[None]], linger_s: float = 0.0) -> None:
        self._flush = flush
        self._linger_s = linger_s
        self._items: list[T] = []
        self._next: asyncio.Future[None] | None = None
        self._last: asyncio.Future[None] | None = None

    async def submit(self, item: T) -> None:
        self._items.append(item)
        if self._next is None:
            self._next = self._last = asyncio.ensure_future(self._run(self._last))
        await asyncio.shield(self._next)

    async def _run(self, previous: asyncio.Future[None] | None) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait([previous])  # items gather meanwhile; its errors are its callers'
        await asyncio.sleep(self._linger_s)  # let callers of the next moments join
        items, self._items, self._next = self._items, [], None
        await self._flush(items)


class SharedRead(Generic[T]):
    """Concurrent callers share one read, each getting a read that began after it called.

    A caller that arrives while a read runs waits for the next one (that read may have begun
    before whatever the caller must see, e.g. a revoke that committed just before its request);
    every caller arriving meanwhile joins that next read. Under load, N concurrent callers cost
    about two reads instead of N, and nobody gets an answer older than its call.
    """

    def __init__(self, read: Callable[[], Awaitable[T]]) -> None:
        self._read = read
        self._next: asyncio.Future[T] | None = None
        self._last: asyncio.Future[T] | None = None

    async def get(self) -> T:
        if self._next is None:
            self._next = self._last = asyncio.ensure_future(self._run(self._last))
        return await asyncio.shield(self._next)

    async def _run(self, previous: asyncio.Future[T] | None) -> T:
        if previous is not None and not previous.done():
            await asyncio.wait([previous])  # its callers see its outcome; ours begins after it
        self._next = None  # from here on, new callers wait for a read that begins after them
        return await self._read()
