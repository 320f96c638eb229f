"""Once-only claims shared by every instance on one store: "act on this key once" (a chat message's
msgId, an alert's identity).

`claim(key)` writes `{"at": now}` under `key` only if no live claim holds it (`Table.put_if`), so of
several instances that see the same key exactly one wins, whichever process it is. A claim lives
`window_s` (None: until pruned): an older one is taken over by compare-and-set, again by one winner.
Keys this process saw are also kept in memory (bounded), so a repeat costs no store read. Entries
older than `keep_s` are pruned in bounded keyset pages now and then, so the table stays small.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from bot.errors import StorageFailed
from bot.storage import Storage

log = logging.getLogger("mailbot.state")

MEMORY = 10_000  # keys this process remembers having seen
PRUNE_PAGE = 500  # rows read per prune page
PRUNE_PAGES = 10  # pages per prune run at most: a backlog is worked off over several runs
PRUNE_EVERY_S = 600.0  # at most one prune run per this many seconds per process


class Claims:
    """Keys of one table, each acted on once across instances."""

    def __init__(self, storage: Storage, table: str, *, keep_s: float, window_s: float | None = None,
                 clock: Callable[[], float] = time.time, lock: bool = False) -> None:
        """`lock`: claims are short-lived locks that get `release`d, so a claim lost is asked again at
        the store next time instead of being remembered as taken."""
        self._table = storage.table(table)
        self.lock = lock
        self.keep_s = keep_s
        self.window_s = window_s
        self.clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # key -> when this process saw it claimed
        self._pruned_at = -1e18

    def _remember(self, key: str, at: float) -> None:
        self._seen[key] = at
        self._seen.move_to_end(key)
        while len(self._seen) > MEMORY:
            self._seen.popitem(last=False)

    def _live(self, at: float, now: float) -> bool:
        return self.window_s is None or now - at < self.window_s

    async def claim(self, key: str) -> bool:
        """True for the one caller (in any process) that gets `key`; False when a live claim holds it.
        Raises StorageFailed when the store cannot say: the caller must not treat that as a loss."""
        now = self.clock()
        seen = self._seen.get(key)
        if seen is not None and self._live(seen, now) and not self.lock:
            return False
        mine = {"at": now}
        won = await self._table.put_if(key, mine, None)
        if not won:
            held = await self._table.get(key)
            at = float(held.get("at", 0)) if held is not None else now
            if held is None or not self._live(at, now):
                won = await self._table.put_if(key, mine, held)  # gone or run out: take it over, once
            if not won and not self.lock:
                self._remember(key, at)
        if won:
            self._remember(key, now)
        await self._maybe_prune(now)
        return won

    async def release(self, key: str) -> None:
        """Give up a claim this process won (a lock held only for a while): deleted by compare-and-set,
        so a claim another process took over meanwhile stays."""
        at = self._seen.pop(key, None)
        if at is not None:
            await self._table.put_if(key, None, {"at": at})

    async def _maybe_prune(self, now: float) -> None:
        if now - self._pruned_at < PRUNE_EVERY_S:
            return
        self._pruned_at = now
        try:
            await self.prune()
        except StorageFailed as exc:  # the claim itself stood; pruning waits for the next run
            log.warning("could not prune %s: %s", self._table.name, exc.code)

    async def prune(self) -> int:
        """Delete claims older than `keep_s`, oldest first, at most PRUNE_PAGES pages of PRUNE_PAGE;
        returns how many went. Rows are in insertion order, so the first young one ends the run."""
        cutoff = self.clock() - self.keep_s
        removed = 0
        for _ in range(PRUNE_PAGES):
            page = await self._table.scan(PRUNE_PAGE)  # what the last page deleted is gone: start over
            old = [key for key, doc in page.rows if float(doc.get("at", 0)) < cutoff]
            if old:
                await self._table.write({}, delete=old)
                removed += len(old)
            if len(old) < len(page.rows) or page.cursor is None:
                break
        return removed
