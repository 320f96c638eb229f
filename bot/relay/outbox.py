"""Durable outbox: three tables, and an in-memory schedule rebuilt from them at start.

- `outbox_mails`: id → MailRecord (status, attempts, errors; small).
- `outbox_content`: id → Content, kept until the mail is sent (a failed mail can be retried).
- `outbox_queue`: id → {due, at, mailbox}: only mails still to send, so the worker's scan is
  O(pending), and it can route a due mail to its mailbox's lane without reading the record.
- `outbox_idempotency`: (token, key) → {id, hash} of the mail a client's idempotency key named.

Write order makes every crash point safe: content, then queue, then the idempotency key, then the
record on enqueue (a queue entry without a record is dropped at load, and a key without a record
is taken as unused: the client never got its 202, and its retry is enqueued once); the record, then
the queue entry on completion (a queue entry of a sent mail is dropped at load). `sending` is
never stored: a mail in flight at a crash is still `queued`/`retrying` and is sent again after
restart, with its stored Message-ID.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from datetime import UTC, datetime
from typing import Any

from bot.relay.batch import GroupCommit
from bot.relay.models import Content, MailRecord
from bot.storage import Storage

PENDING = ("queued", "retrying")
CACHE_MAX = 64 * 1024 * 1024
CACHE_ITEM_MAX = 1024 * 1024


def content_size(content: Content) -> int:
    return len(content.raw_b64)
ORPHAN_AGE_S = 300.0
PRUNE_PAGE = 500
CONTENT_GONE = "content_missing: the mail's content was deleted (MAILBOT_RELAY_KEEP_DAYS); post it again"


def now() -> datetime:
    return datetime.now(UTC)


class Outbox:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self.mails = storage.table("outbox_mails")
        self.content = storage.table("outbox_content")
        self.queue = storage.table("outbox_queue")
        self.idempotency = storage.table("outbox_idempotency")
        self._heap: list[tuple[float, str, str]] = []  # (due, id, mailbox)
        self._scheduled: set[str] = set()  # on the timetable
        self._routed: set[str] = set()  # taken off it, waiting for a sender to claim it
        self.inflight: set[str] = set()
        self._wake = asyncio.Event()
        self._adds = GroupCommit(self._flush_adds, linger_s=0.001)
        # Completions wait a little longer: nobody waits on them (the connection is already free).
        self._sents = GroupCommit(self._flush_sent, linger_s=0.01)
        # Mails this process enqueued, until claimed: the hot path skips two reads per mail.
        # Safe because nothing else changes a pending mail (retry only applies to failed ones).
        self._cache: dict[str, tuple[MailRecord, Content]] = {}
        self._cache_bytes = 0
        # Mails this process queued (new, or rescheduled after a failed attempt) and has not claimed yet.
        # Any other mail the worker claims was queued elsewhere: see accepted_here.
        self._local: set[str] = set()
        self._unsaved: dict[str, MailRecord] = {}  # sent while the store could not record it

    # ---- schedule (memory) ------------------------------------------------------------------

    def schedule(self, mail_id: str, due: float, mailbox: str) -> None:
        """Put a mail on the in-memory timetable (idempotent; in-flight mails are left alone)."""
        if mail_id in self._scheduled or mail_id in self._routed or mail_id in self.inflight:
            return
        self._scheduled.add(mail_id)
        heapq.heappush(self._heap, (due, mail_id, mailbox))
        self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._scheduled) + len(self._routed) + len(self.inflight)

    async def rescan(self) -> None:
        """Pick up mail queued or retried by another process (CLI); cheap: queue docs are tiny."""
        for mail_id, doc in await self.queue.items():
            if mail_id not in self._local:  # ours are scheduled by add(); taken here too, one could go out twice
                self.schedule(mail_id, float(doc.get("due", 0)), str(doc.get("mailbox", "")))

    async def next_due(self, timeout: float) -> tuple[str, str] | None:
        """The next mail whose time has come; None after `timeout`, or as soon as `wake()` says
        something changed (new mail, shutdown): the caller then looks again."""
        if (due := self._pop_due()) is not None:
            return due
        wait = min(self._heap[0][0] - time.time(), timeout) if self._heap else timeout
        if wait > 0:
            try:
                await asyncio.wait_for(self._wake.wait(), wait)
            except TimeoutError:
                pass
        self._wake.clear()  # only once seen: a wake() while the caller was busy elsewhere is not lost
        return self._pop_due()

    def _pop_due(self) -> tuple[str, str] | None:
        if self._heap and self._heap[0][0] <= time.time():
            _, mail_id, mailbox = heapq.heappop(self._heap)
            self._scheduled.discard(mail_id)
            self._routed.add(mail_id)
            return mail_id, mailbox
        return None

    def wake(self) -> None:
        self._wake.set()

    # ---- durable state ----------------------------------------------------------------------

    async def add(self, record: MailRecord, content: Content,
                  idempotency: tuple[str, dict[str, Any]] | None = None) -> None:
        """Durable when this returns (group-committed with concurrent enqueues), with its idempotency
        key if it has one: the key lands before the record, so no crash point leaves a 202'd mail
        without its key (the client's retry would send it twice)."""
        self._local.add(record.id)  # before the commit: a rescan may see the mail before add() returns
        try:
            await self._adds.submit((record, content, idempotency))
        except BaseException:
            self._local.discard(record.id)
            raise
        if content_size(content) <= CACHE_ITEM_MAX and self._cache_bytes < CACHE_MAX:
            self._cache[record.id] = (record, content)
            self._cache_bytes += content_size(content)
        self.schedule(record.id, 0.0, record.mailbox)

    async def _flush_adds(self, batch: list[tuple[MailRecord, Content, tuple[str, dict[str, Any]] | None]]) -> None:
        at = time.time()
        keys = dict(key for _, _, key in batch if key is not None)
        await self._storage.write_in_order([
            (self.content, {r.id: c.model_dump(mode="json") for r, c, _ in batch}, ()),
            (self.queue, {r.id: {"due": 0.0, "at": at, "mailbox": r.mailbox} for r, _, _ in batch}, ()),
            *([(self.idempotency, keys, ())] if keys else []),
            (self.mails, {r.id: r.model_dump(mode="json") for r, _, _ in batch}, ()),
        ])

    async def has_content(self, mail_id: str) -> bool:
        return await self.content.get(mail_id) is not None

    async def get(self, mail_id: str) -> MailRecord | None:
        doc = await self.mails.get(mail_id)
        if doc is None:
            return None
        record = MailRecord.model_validate(doc)
        if mail_id in self.inflight and record.status in PENDING:
            record.status = "sending"
        return record

    async def claim(self, mail_id: str) -> tuple[MailRecord, Content] | None:
        """Mark a due mail in flight; stale ids (sent, failed, gone) are cleaned up and skipped."""
        self._routed.discard(mail_id)
        if mail_id in self.inflight:  # never two sends of one mail at once
            return None
        self.inflight.add(mail_id)  # before any await: a second claim of this mail meanwhile gets None
        try:
            claimed = await self._claim(mail_id)
        except BaseException:
            self.inflight.discard(mail_id)
            raise
        if claimed is None:
            self.inflight.discard(mail_id)
        return claimed

    async def _claim(self, mail_id: str) -> tuple[MailRecord, Content] | None:
        cached = self._cache.pop(mail_id, None)
        if cached is not None:  # enqueued by this process and untouched since: no reads needed
            self._cache_bytes -= content_size(cached[1])
            return cached[0].model_copy(), cached[1]
        doc, raw = await asyncio.gather(self.mails.get(mail_id), self.content.get(mail_id))
        if doc is None:
            # Either a crash between queue and record (the client got no 202), or another process
            # is enqueueing right now: drop it only once it is clearly old.
            entry = await self.queue.get(mail_id)
            if entry is not None and time.time() - float(entry.get("at", 0)) > ORPHAN_AGE_S:
                await self.queue.delete(mail_id)
            return None
        record = MailRecord.model_validate(doc)
        if record.status not in PENDING:
            await self.queue.delete(mail_id)
            return None
        if raw is None:  # only after a crash mid-prune, then a retry: fail it visibly, never loop on it
            record.last_error, record.error_code = CONTENT_GONE, "content_missing"
            await self.failed(record)
            return None
        return record, Content.model_validate(raw)

    def accepted_here(self, mail_id: str) -> bool:
        """Whether this process queued the mail it just claimed; False for mail queued by another
        process (`mailbot send`, `mailbot outbox retry`), left by an earlier run, or retried."""
        if mail_id in self._local:
            self._local.discard(mail_id)
            return True
        return False

    async def release(self, mail_id: str) -> None:
        """Give a routed or in-flight mail back untouched (shutdown): it is sent after restart."""
        self._routed.discard(mail_id)
        self.inflight.discard(mail_id)

    async def sent(self, record: MailRecord) -> None:
        """Group commit: completions that finish together share one transaction per table.

        A crash before the commit only means the mail is sent again (same Message-ID), which is
        the in-flight case the design allows.
        """
        record.status, record.sent_at = "sent", now()
        await self._sents.submit(record)

    async def _flush_sent(self, batch: list[MailRecord]) -> None:
        ids = [r.id for r in batch]
        try:
            await self._storage.write_in_order([
                (self.mails, {r.id: r.model_dump(mode="json") for r in batch}, ()),
                (self.queue, {}, ids),
                (self.content, {}, ids),
            ])
        except Exception:
            # Sent, but the store cannot say so: keep them in flight (no rescan sends them again) and
            # record them once it can (record_unsaved); only a restart before that resends them.
            self._unsaved.update((r.id, r) for r in batch)
            raise
        self.inflight.difference_update(ids)

    async def record_unsaved(self) -> None:
        """Retry recording mails that were sent while the store failed (the worker calls this often)."""
        if self._unsaved:
            batch = list(self._unsaved.values())
            await self._flush_sent(batch)
            for record in batch:
                self._unsaved.pop(record.id, None)

    async def retry_later(self, record: MailRecord, delay_s: float) -> None:
        record.status = "retrying"
        due = time.time() + delay_s
        await self.mails.put(record.id, record.model_dump(mode="json"))
        await self.queue.put(record.id, {"due": due, "at": time.time(), "mailbox": record.mailbox})
        self.inflight.discard(record.id)
        self._local.add(record.id)
        self.schedule(record.id, due, record.mailbox)

    async def failed(self, record: MailRecord) -> None:
        record.status, record.failed_at = "failed", now()
        await self.mails.put(record.id, record.model_dump(mode="json"))
        await self.queue.delete(record.id)
        self.inflight.discard(record.id)

    async def requeue(self, record: MailRecord) -> MailRecord:
        """A failed mail gets a fresh attempt budget (same Message-ID)."""
        record = record.model_copy(update={"status": "queued", "attempts": 0, "queued_at": now()})
        await self.queue.put(record.id, {"due": 0.0, "at": time.time(), "mailbox": record.mailbox})
        await self.mails.put(record.id, record.model_dump(mode="json"))
        self.schedule(record.id, 0.0, record.mailbox)
        return record

    async def prune(self, before: datetime) -> list[MailRecord]:
        """Delete mail sent or failed before `before`, with any content left; return what went.

        A failed mail can be retried until then. Reads from the oldest mail on and stops at the
        first page with nothing to delete, so an hourly run costs a page, not the whole outbox; a
        mail that finished out of order waits for a later run.
        """
        old: list[MailRecord] = []
        offset = 0
        while True:
            rows = await self.mails.oldest(PRUNE_PAGE, offset)
            found = [MailRecord.model_validate(doc) for mail_id, doc in rows if self._expired(mail_id, doc, before)]
            old += found
            if not found or len(rows) < PRUNE_PAGE:
                break
            offset += PRUNE_PAGE
        # Retried meanwhile (this process puts a retried mail on the timetable before it returns).
        old = [r for r in old if r.id not in self._scheduled and r.id not in self._routed and r.id not in self.inflight]
        if old:
            ids = [r.id for r in old]
            # Content first: a crash in between leaves a record without content, which only a retry
            # reads, and it reports the mail as gone.
            await self._storage.write_in_order([(self.content, {}, ids), (self.mails, {}, ids)])
        return old

    def _expired(self, mail_id: str, doc: dict[str, Any], before: datetime) -> bool:
        status = doc.get("status")
        # Records from before `failed_at` existed count from their last queueing.
        last = doc.get("sent_at") if status == "sent" else doc.get("failed_at") or doc.get("queued_at")
        return (status not in PENDING and mail_id not in self.inflight and bool(last)
                and datetime.fromisoformat(str(last)) < before)

    async def recent(self, *, status: str | None = None, limit: int = 50,
                     mailboxes: Any = None) -> list[MailRecord]:
        """The newest `limit` matching mails, newest first.

        Pages back through the records in insertion order, so a listing costs about `limit` reads
        however many mails are kept (the console polls this twice a second).
        """
        records: list[MailRecord] = []
        seen: set[str] = set()  # a mail added between two pages shifts rows: never list one twice
        offset, page = 0, max(100, 2 * limit)
        while len(records) < limit:
            rows = await self.mails.newest(page, offset)
            for mail_id, doc in rows:
                if mail_id in seen:
                    continue
                seen.add(mail_id)
                record = MailRecord.model_validate(doc)
                if mail_id in self.inflight and record.status in PENDING:
                    record.status = "sending"
                if (status and record.status != status) or (mailboxes is not None and not mailboxes(record.mailbox)):
                    continue
                records.append(record)
                if len(records) == limit:
                    break
            if len(rows) < page:
                break
            offset += page
        records.sort(key=lambda r: r.created_at, reverse=True)
        return records
