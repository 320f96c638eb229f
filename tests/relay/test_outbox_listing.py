"""Listing recent mail pages back through the records instead of reading the whole outbox."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.relay.models import MailRecord
from bot.relay.outbox import Outbox
from bot.storage import SqliteStorage


def _record(i: int, status: str, mailbox: str = "ops") -> MailRecord:
    at = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(seconds=i)
    return MailRecord(id=uuid.uuid4().hex, status=status, mailbox=mailbox, account="bot@example.com",  # type: ignore[arg-type]
                      to=["a@example.com"], subject=f"mail {i}", created_at=at, queued_at=at, message_id=f"<{i}@x>")


async def test_recent_finds_sparse_matches_across_pages_newest_first(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path)
    outbox = Outbox(storage)
    records = [_record(i, "failed" if i % 97 == 0 else "sent", "other" if i % 2 else "ops") for i in range(1000)]
    await outbox.mails.write({r.id: r.model_dump(mode="json") for r in records})

    latest = await outbox.recent(limit=3)
    assert [r.subject for r in latest] == ["mail 999", "mail 998", "mail 997"]
    failed = await outbox.recent(status="failed", limit=4)  # 1 in 97: several pages back
    assert [r.subject for r in failed] == ["mail 970", "mail 873", "mail 776", "mail 679"]
    everything_failed = await outbox.recent(status="failed", limit=100)
    assert len(everything_failed) == 11 and len({r.id for r in everything_failed}) == 11
    scoped = await outbox.recent(limit=2, mailboxes=lambda name: name == "ops")
    assert [r.subject for r in scoped] == ["mail 998", "mail 996"]

    # A mail that changes keeps its place: listings are by creation, and paging never skips it.
    old = records[5].model_copy(update={"status": "failed"})
    await outbox.mails.put(old.id, old.model_dump(mode="json"))
    assert [r.subject for r in await outbox.recent(status="failed", limit=1)] == ["mail 970"]
    assert [r.subject for r in await outbox.recent(status="failed", limit=100)][-2:] == ["mail 5", "mail 0"]
    await storage.close()


async def test_prune_reads_page_by_page_from_the_oldest_write(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path)
    outbox = Outbox(storage)
    month_ago = datetime.now(UTC) - timedelta(days=40)
    old = [_record(i, "sent").model_copy(update={"sent_at": month_ago}) for i in range(1200)]  # > 2 pages
    fresh = [_record(i, "sent").model_copy(update={"sent_at": datetime.now(UTC)}) for i in range(3)]
    await outbox.mails.write({r.id: r.model_dump(mode="json") for r in old + fresh})
    pruned = await outbox.prune(datetime.now(UTC) - timedelta(days=30))
    assert len(pruned) == 1200 and {r.id for r in pruned} == {r.id for r in old}
    assert [k for k, _ in await outbox.mails.items()] == [r.id for r in fresh]
    await storage.close()
