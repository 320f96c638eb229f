"""What the bot remembers about the cards it delivered (`cards`: out track id -> record) and which
form card of each admin may still save (`card_forms`: owner -> out track id).

A record's state moves by compare-and-set against the record as read (`CardRecords.move`), so a
card callback handled twice, by one instance or two (a redelivery, two presses), moves it once:
the loser reads the state the winner left and answers from it. No secret or form value is kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, PrivateAttr

from bot.storage import Storage

CARDS_KEPT = 10_000  # the newest delivered cards whose buttons still work
TRIM_EVERY = 100  # deliveries (of this process) between two trims
TRIM_MAX = 1_000  # rows one trim deletes at most; a backlog goes over several trims
CHECK_STALE_S = 600.0  # a check running longer than this was lost with its instance: the form is open again

State = Literal["open", "checking", "done", "closed"]  # closed: cancelled or replaced by a newer form


class CardRecord(BaseModel):
    """A delivered card (no secret, no form values)."""

    card: str
    lang: str
    owner: str
    source: str = "dingtalk"
    mode: Literal["add", "edit"] = "add"
    mailbox: str | None = None
    version: int | None = None
    state: State = "open"
    since: float = 0.0  # when `state` was set
    _stored: dict[str, Any] | None = PrivateAttr(default=None)  # as read: what a move expects


class CardRecords:
    def __init__(self, storage: Storage, clock: Callable[[], float] = time.time) -> None:
        self._records = storage.table("cards")
        self._forms = storage.table("card_forms")
        self.clock = clock
        self._delivered = 0

    async def add(self, out_track_id: str, record: CardRecord) -> None:
        """Remember a card about to be delivered; the oldest beyond CARDS_KEPT are forgotten now and then
        (pressing one then says it has expired)."""
        record.since = self.clock()
        doc = record.model_dump()
        await self._records.put(out_track_id, doc)
        record._stored = doc
        self._delivered += 1
        if self._delivered % TRIM_EVERY == 0:
            await self.trim()

    async def trim(self) -> None:
        excess = min(await self._records.count() - CARDS_KEPT, TRIM_MAX)
        if excess > 0:
            await self._records.write({}, delete=[key for key, _ in await self._records.oldest(excess)])

    async def get(self, out_track_id: str) -> CardRecord | None:
        raw = await self._records.get(out_track_id) if out_track_id else None
        if raw is None:
            return None
        record = CardRecord.model_validate(raw)
        record._stored = raw
        if record.state == "checking" and self.clock() - record.since > CHECK_STALE_S:
            record.state = "open"  # its instance died mid-check; a move from here still expects the stored row
        return record

    async def move(self, out_track_id: str, record: CardRecord, state: State) -> bool:
        """Set the record's state if it is still as read; False (nothing written) when another
        callback or instance moved it first: read it again to answer as the winner did."""
        changed = record.model_copy(update={"state": state, "since": self.clock()})
        doc = changed.model_dump()
        if not await self._records.put_if(out_track_id, doc, record._stored):
            return False
        record.state, record.since, record._stored = state, changed.since, doc
        return True

    # -- the one open form of each admin --------------------------------------------------------

    async def open_form(self, owner: str) -> str | None:
        entry = await self._forms.get(owner)
        return str(entry["id"]) if entry else None

    async def set_open_form(self, owner: str, out_track_id: str) -> None:
        """`out_track_id` is now the owner's form that may save: any older one is superseded."""
        await self._forms.put(owner, {"id": out_track_id})

    async def clear_open_form(self, owner: str, out_track_id: str) -> None:
        """Forget the owner's open form if it is still `out_track_id` (a newer one stays)."""
        await self._forms.put_if(owner, None, {"id": out_track_id})
