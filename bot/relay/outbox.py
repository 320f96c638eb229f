"""Durable outbox: four tables written in one transaction per step, and leased claims.

- `outbox_mails`: id → MailRecord (status, attempts, errors; small), indexed by status so a listing
  of failed mail reads failed mail only.
- `outbox_content`: id → Content, kept until the mail is sent (a failed mail can be retried).
- `outbox_queue`: id → {due, at, mailbox, origin, lease, owner}: only mails still to send. It is a
  Queue: the worker reads what is due in bounded batches and claims it with a lease, so its cost
  follows the mail that is due, not the mail that waits, and several processes share it.
- `outbox_idempotency`: (token, key) → {id, hash} of the mail a client's idempotency key named.
- `outbox_pace`: mailbox → {next_at}: the pace of each mailbox, shared by every process.

The four outbox tables share a group, so each step is one transaction: an enqueue writes content,
queue entry, idempotency key and record at once (a crash leaves all or none, so a client's retry of
a mail that got no 202 sends it once); a completion writes the record and drops the queue entry and
content at once. `sending` is never stored: a mail in flight at a crash is still `queued`/`retrying`
with a lease, which runs out, and it is sent again with its stored Message-ID.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot.errors import StorageFailed
from bot.relay.batch import GroupCommit
from bot.relay.models import Content, MailRecord
from bot.storage import Storage

PENDING = ("queued", "retrying")
CACHE_MAX = 16 * 1024 * 1024  # mails enqueued here, kept until claimed: the hot path skips two reads
CACHE_COUNT = 1024
CACHE_ITEM_MAX = 1024 * 1024
ORPHAN_AGE_S = 300.0
PRUNE_PAGE = 500
PACE_TRIES = 20
CONTENT_GONE = "content_missing: the mail's content was deleted (MAILBOT_RELAY_KEEP_DAYS); post it again"


def now() -> datetime:
    return datetime.now(UTC)


def content_size(content: Content) -> int:
    return len(content.raw_b64)


def slots(next_at: float, interval_s: float, n: int, at: float) -> tuple[list[float], float]:
    """`n` send times at one per `interval_s` (a token bucket with a burst of one second's share),
    and the new `next_at`: slow providers (20/min) get strict spacing, fast ones are not held to
    timer granularity."""
    burst = max(1, int(1.0 / interval_s))
    start = max(at - (burst - 1) * interval_s, next_at)
    return [start + k * interval_s for k in range(n)], start + n * interval_s


class Outbox:
    def __init__(self, storage: Storage, owner: str = "local", lease_s: float = 60.0) -> None:
        self._storage = storage
        self.owner = owner  # whose leases these are: one per `mailbot run`
        self.origin = uuid.uuid4().hex  # this process, in the entries it counted as accepted
        self.lease_s = lease_s
        self.mails = storage.table("outbox_mails", group="outbox", indexed=("status",))
        self.content = storage.table("outbox_content", group="outbox")
        self.queue = storage.queue("outbox_queue", group="outbox", indexed=("mailbox",))
        self.idempotency = storage.table("outbox_idempotency", group="outbox")
        self.pace = storage.table("outbox_pace")
        self.inflight: set[str] = set()  # claimed by this process (its lease is ours)
        self.pending = 0  # mails to send, as last counted (and kept up to date between counts)
        self._wake = asyncio.Event()
        self._adds = GroupCommit(self._flush_adds, linger_s=0.001)
        # Completions wait a little longer: nobody waits on them (the connection is already free).
        self._sents = GroupCommit(self._flush_sent, linger_s=0.01)
        # Mails this process enqueued, until claimed: the hot path skips two reads per mail. Safe
        # because nothing else changes a pending mail (retry only applies to failed ones). Bounded.
        self._cache: dict[str, tuple[MailRecord, Content]] = {}
        self._cache_bytes = 0
        self._unsaved: dict[str, MailRecord] = {}  # sent while the store could not record it
        # Claimed mails read ahead by `prefetch` (at most a claimed batch), until `load` takes them.
        self._prefetched: dict[str, tuple[dict[str, Any] | None, dict[str, Any] | None]] = {}

    # ---- taking work --------------------------------------------------------------------------

    async def claim(self, limit: int) -> list[tuple[str, dict[str, Any]]]:
        """Lease up to `limit` due mails to this process: (id, queue entry) each."""
        taken = await self.queue.claim(time.time(), limit, self.owner, self.lease_s)
        self.inflight.update(mail_id for mail_id, _ in taken)
        return taken

    async def wait(self, timeout: float, *, room: bool = True) -> None:
        """Until mail may be due: `timeout`, the earliest due, a local enqueue or `wake()`, or another
        process's enqueue where the store can tell (PostgreSQL). Without `room` to claim more, only
        `wake()` (a sender finished) or the timeout end it, and the store is not asked."""
        if self._wake.is_set():  # something changed while the caller was busy: look at once
            self._wake.clear()
            return
        if room:
            due = await self.queue.next_due()
            if due is not None:
                timeout = min(timeout, max(0.0, due - time.time()))
        if timeout <= 0:
            return
        woken = asyncio.ensure_future(self._wake.wait())
        heard = asyncio.ensure_future(self.queue.changed(timeout) if room else asyncio.sleep(timeout))
        try:
            await asyncio.wait([woken, heard], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (woken, heard):
                task.cancel()
            await asyncio.gather(woken, heard, return_exceptions=True)
        self._wake.clear()  # only once seen: a wake() while the caller was busy elsewhere is not lost

    def wake(self) -> None:
        self._wake.set()

    async def recover(self) -> None:
        """At start: leases this owner held before a crash are free again (the embedded store's
        owner is the same across restarts; a PostgreSQL instance's leases run out instead)."""
        await self.queue.recover(self.owner)
        self.pending = await self.queue.count()

    async def take_slots(self, mailbox: str, interval_s: float, n: int) -> list[float]:
        """Reserve `n` send times in the mailbox's pace, shared by every process (compare-and-set)."""
        for _ in range(PACE_TRIES):
            doc = await self.pace.get(mailbox)
            times, next_at = slots(float(doc["next_at"]) if doc else 0.0, interval_s, n, time.time())
            if await self.pace.put_if(mailbox, {"next_at": next_at, "interval_s": interval_s}, doc):
                return times
        raise StorageFailed("busy", table="outbox_pace", detail="pace contention")

    async def check_pace(self, mailbox: str, interval_s: float) -> None:
        """The mailbox's rate is now `interval_s`: if its queue was paced at another rate (by this
        run or an earlier one), its mail deferred to the old pace is due now, to be paced anew."""
        doc = await self.pace.get(mailbox)
        if doc is None or float(doc.get("interval_s", -1)) == interval_s:
            return
        await self.pace.put_if(mailbox, None, doc)
        await self._due_now(mailbox, lambda entry: True)

    async def wake_held(self, mailbox: str) -> None:
        """The mailbox can send again (a new sign-in): its mail held for it is due now."""
        await self._due_now(mailbox, lambda entry: bool(entry.get("hold")))

    async def _due_now(self, mailbox: str, pick: Callable[[dict[str, Any]], bool]) -> None:
        """Make the mailbox's waiting (unclaimed, not yet due) mail that `pick` selects due now, in
        bounded pages of its queue entries."""
        free: dict[str, float] = {}
        cursor = None
        while True:
            page = await self.queue.scan(PRUNE_PAGE, after=cursor, where={"mailbox": mailbox})
            free.update((mail_id, 0.0) for mail_id, entry in page.rows
                        if not entry.get("lease") and float(entry.get("due", 0)) > time.time() and pick(entry))
            if page.cursor is None:
                break
            cursor = page.cursor
        await self.queue.reschedule(free)
        self._wake.set()

    # ---- durable state ----------------------------------------------------------------------

    async def add(self, record: MailRecord, content: Content,
                  idempotency: tuple[str, dict[str, Any]] | None = None) -> None:
        """Durable when this returns (group-committed with concurrent enqueues), with its idempotency
        key if it has one, in one transaction."""
        await self._adds.submit((record, content, idempotency))
        self.pending += 1
        if (content_size(content) <= CACHE_ITEM_MAX and self._cache_bytes < CACHE_MAX
                and len(self._cache) < CACHE_COUNT):
            self._cache[record.id] = (record, content)
            self._cache_bytes += content_size(content)
        self._wake.set()

    async def _flush_adds(self, batch: list[tuple[MailRecord, Content, tuple[str, dict[str, Any]] | None]]) -> None:
        at = time.time()
        keys = dict(key for _, _, key in batch if key is not None)
        await self._storage.transaction([
            (self.content, {r.id: c.model_dump(mode="json") for r, c, _ in batch}, ()),
            (self.queue, {r.id: self._entry(r, 0.0, at, self.origin) for r, _, _ in batch}, ()),
            (self.idempotency, keys, ()),
            (self.mails, {r.id: r.model_dump(mode="json") for r, _, _ in batch}, ()),
        ])

    @staticmethod
    def _entry(record: MailRecord, due: float, at: float, origin: str) -> dict[str, Any]:
        """A queue entry: `origin` is the process that counted the mail as accepted ("" for none)."""
        return {"due": due, "at": at, "mailbox": record.mailbox, "origin": origin, "lease": 0, "owner": ""}

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

    async def prefetch(self, mail_ids: list[str]) -> None:
        """Read the records and contents of claimed mails not in the cache in two reads, for `load`."""
        wanted = [i for i in mail_ids if i not in self._cache and i not in self._prefetched]
        if wanted:
            docs, raws = await asyncio.gather(self.mails.get_many(wanted), self.content.get_many(wanted))
            self._prefetched.update((i, (docs.get(i), raws.get(i))) for i in wanted)

    async def load(self, mail_id: str) -> tuple[MailRecord, Content] | None:
        """The record and content of a mail this process claimed; None (and the claim given up)
        for one that is gone, finished or not yet fully written."""
        cached = self._cache.pop(mail_id, None)
        if cached is not None:  # enqueued by this process and untouched since: no reads needed
            self._cache_bytes -= content_size(cached[1])
            return cached[0].model_copy(), cached[1]
        if (read := self._prefetched.pop(mail_id, None)) is not None:
            doc, raw = read
        else:
            doc, raw = await asyncio.gather(self.mails.get(mail_id), self.content.get(mail_id))
        if doc is None:  # only from a store written by an older version (writes are one transaction now)
            entry = await self.queue.get(mail_id)
            if entry is not None and time.time() - float(entry.get("at", 0)) > ORPHAN_AGE_S:
                await self.queue.delete(mail_id)
            await self.release({mail_id: None})
            return None
        record = MailRecord.model_validate(doc)
        if record.status not in PENDING:
            await self.queue.delete(mail_id)
            self.inflight.discard(mail_id)
            return None
        if raw is None:  # only after a crash mid-prune, then a retry: fail it visibly, never loop on it
            record.last_error, record.error_code = CONTENT_GONE, "content_missing"
            await self.failed(record)
            return None
        return record, Content.model_validate(raw)

    async def release(self, mail_ids: dict[str, float | None]) -> None:
        """Give claimed mails back untouched (shutdown, a failed claim): id -> new due, None keeps it."""
        self.inflight.difference_update(mail_ids)
        for mail_id in mail_ids:
            self._prefetched.pop(mail_id, None)
        if mail_ids:
            await self.queue.release(mail_ids, self.owner)

    async def defer(self, entries: dict[str, dict[str, Any]]) -> None:
        """Put claimed mails back with new queue entries (due at their send time); rewriting them is
        safe because this process holds their leases."""
        await self.queue.write({mail_id: {**entry, "lease": 0, "owner": ""} for mail_id, entry in entries.items()})
        self.inflight.difference_update(entries)

    async def renew(self) -> None:
        """Extend the leases of the mails this process holds (the worker calls this well within a lease)."""
        held = set(self.inflight) - set(self._unsaved)
        if held:
            await self.queue.renew(held, self.owner, self.lease_s)

    async def sent(self, record: MailRecord) -> None:
        """Group commit: completions that finish together share one transaction.

        A crash before the commit only means the mail is sent again (same Message-ID), which is
        the in-flight case the design allows.
        """
        record.status, record.sent_at = "sent", now()
        await self._sents.submit(record)

    async def _flush_sent(self, batch: list[MailRecord]) -> None:
        ids = [r.id for r in batch]
        try:
            await self._storage.transaction([
                (self.mails, {r.id: r.model_dump(mode="json") for r in batch}, ()),
                (self.queue, {}, ids),
                (self.content, {}, ids),
            ])
        except Exception:
            # Sent, but the store cannot say so: keep them in flight and leased (nobody sends them
            # again) and record them once it can (record_unsaved); only a restart before that resends them.
            self._unsaved.update((r.id, r) for r in batch)
            raise
        self.inflight.difference_update(ids)
        self.pending = max(0, self.pending - len(ids))

    async def record_unsaved(self) -> None:
        """Retry recording mails that were sent while the store failed (the worker calls this often)."""
        if self._unsaved:
            batch = list(self._unsaved.values())
            await self.queue.renew([r.id for r in batch], self.owner, self.lease_s)
            await self._flush_sent(batch)
            for record in batch:
                self._unsaved.pop(record.id, None)

    async def retry_later(self, record: MailRecord, delay_s: float, *, hold: str | None = None) -> None:
        """Back to the queue, due in `delay_s`. `hold` names what it waits for (a new sign-in), so
        `wake_held` can make it due as soon as that happened."""
        record.status = "retrying"
        at = time.time()
        entry = self._entry(record, at + delay_s, at, self.origin)
        if hold:
            entry["hold"] = hold
        await self._storage.transaction([
            (self.mails, {record.id: record.model_dump(mode="json")}, ()),
            (self.queue, {record.id: entry}, ()),  # lease ends
        ])
        self.inflight.discard(record.id)

    async def failed(self, record: MailRecord) -> None:
        record.status, record.failed_at = "failed", now()
        await self._storage.transaction([
            (self.mails, {record.id: record.model_dump(mode="json")}, ()),
            (self.queue, {}, [record.id]),
        ])
        self.inflight.discard(record.id)
        self.pending = max(0, self.pending - 1)

    async def requeue(self, record: MailRecord) -> MailRecord:
        """A failed mail gets a fresh attempt budget (same Message-ID); counted as accepted again."""
        record = record.model_copy(update={"status": "queued", "attempts": 0, "queued_at": now()})
        await self._storage.transaction([
            (self.queue, {record.id: self._entry(record, 0.0, time.time(), "")}, ()),
            (self.mails, {record.id: record.model_dump(mode="json")}, ()),
        ])
        self.pending += 1
        self._wake.set()
        return record

    async def count_pending(self) -> None:
        self.pending = await self.queue.count()

    async def prune(self, before: datetime) -> list[MailRecord]:
        """Delete mail sent or failed before `before`, with any content left; return what went.

        A failed mail can be retried until then. Reads from the oldest mail on and stops at the
        first page with nothing to delete, so an hourly run costs a page, not the whole outbox; a
        mail that finished out of order waits for a later run.
        """
        old: list[MailRecord] = []
        cursor = None
        while True:
            page = await self.mails.scan(PRUNE_PAGE, after=cursor)
            found = [MailRecord.model_validate(doc) for mail_id, doc in page.rows if self._expired(mail_id, doc, before)]
            old += found
            if not found or page.cursor is None:
                break
            cursor = page.cursor
        if old:
            ids = [r.id for r in old]
            # Content first in the same transaction. RelayService holds its retry lock meanwhile, so
            # no retry of this process turns one of them pending again before they go.
            await self._storage.transaction([(self.content, {}, ids), (self.mails, {}, ids)])
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

        Keyset pages back through the records (of that status only, by its index), so a listing
        costs about `limit` reads however many mails are kept (the console polls this twice a second).
        """
        if status == "sending":
            records = [r for r in [await self.get(i) for i in list(self.inflight)] if r is not None]
            records = [r for r in records if r.status == "sending" and (mailboxes is None or mailboxes(r.mailbox))]
            return sorted(records, key=lambda r: r.created_at, reverse=True)[:limit]
        where = {"status": status} if status else None
        records: list[MailRecord] = []
        cursor, page_size = None, max(100, 2 * limit)
        while len(records) < limit:
            page = await self.mails.scan(page_size, after=cursor, reverse=True, where=where)
            for mail_id, doc in page.rows:
                record = MailRecord.model_validate(doc)
                if mail_id in self.inflight and record.status in PENDING:
                    record.status = "sending"
                if (status and record.status != status) or (mailboxes is not None and not mailboxes(record.mailbox)):
                    continue
                records.append(record)
                if len(records) == limit:
                    break
            if page.cursor is None:
                break
            cursor = page.cursor
        records.sort(key=lambda r: r.created_at, reverse=True)
        return records
