"""The embedded store under faults injected at the sqlite layer: a write lands whole or not at all,
raises StorageFailed, and the next write works without reopening; and the files stay sqlitedict's."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import stat
import time
from pathlib import Path

import pytest
from sqlitedict import SqliteDict

import bot.storage.base as storage_base
from bot.errors import MailbotError, StorageFailed
from bot.storage import SqliteStorage, Table
from bot.storage.sqlite import BUSY_TIMEOUT_S
from tests.storage.faults import cap, fill, on_connection, uncap

PAD = "x" * 1000  # ~four rows a page: fifty of them need about a dozen new pages


async def snapshot(table: Table) -> list[tuple[str, object]]:
    return [(k, v) for k, v in await table.items()]


async def test_a_multi_key_write_past_the_limit_lands_nowhere_raises_and_the_next_one_works(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path)
    table = storage.table("t")
    await table.write({"keep": {"v": 1}, "gone": {"v": 2}})
    before = await snapshot(table)
    old = await cap(table, extra_pages=2)  # the first puts of the write fit, the later ones do not
    big = {f"k{i:02}": {"pad": PAD} for i in range(50)}
    with pytest.raises(StorageFailed) as failed:
        await table.write(big, delete=["gone"])
    error = failed.value
    assert isinstance(error, MailbotError) and isinstance(error, OSError) and error.temporary
    assert (error.kind, error.table, error.detail) == ("full", "t", "SQLITE_FULL")
    assert "PAD" not in str(error) and "k00" not in str(error) and "x" * 10 not in str(error)  # no value, no key
    assert "disk is full" in error.message("en") and "磁盘已满" in error.message("zh")
    assert await snapshot(table) == before  # not one put, not the delete
    assert await table.count() == 2 and await table.get("k00") is None and await table.newest(5) == before[::-1]
    assert storage.health.failing == ["t"]
    first = dict(list(big.items())[:2])
    await table.write(first)  # the write's first puts did fit: they were rolled back with the rest
    assert storage.health.failing == []

    await uncap(table, old)  # space is back: the same connection writes again, no reopening
    await table.write(big, delete=["gone"])
    assert [k for k, _ in await table.items()] == ["keep", *big]
    assert storage.health.failing == [] and await storage.health.check() is None
    await storage.close()


async def test_a_failed_commit_rolls_back_and_the_table_keeps_working(tmp_path: Path) -> None:
    """sqlitedict kept a transaction whose COMMIT failed (and its thread died). Here COMMIT is refused by
    an authorizer on the table's connection: the puts before it are rolled back, the next write commits."""
    storage = SqliteStorage(tmp_path)
    table = storage.table("t")
    await table.put("a", {"v": 1})

    def deny_commit(action: int, arg1: str | None, *_: object) -> int:
        return sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_TRANSACTION and arg1 == "COMMIT" else sqlite3.SQLITE_OK

    await on_connection(table, lambda conn: conn.set_authorizer(deny_commit))
    with pytest.raises(StorageFailed) as failed:
        await table.write({"b": {"v": 2}, "a": {"v": 3}})
    assert failed.value.detail == "SQLITE_AUTH"
    assert await on_connection(table, lambda conn: conn.in_transaction) is False
    await on_connection(table, lambda conn: conn.set_authorizer(None))
    assert await snapshot(table) == [("a", {"v": 1})]
    await table.write({"b": {"v": 2}})
    assert await snapshot(table) == [("a", {"v": 1}), ("b", {"v": 2})]
    await storage.close()


async def test_a_transaction_that_fails_at_a_full_step_lands_nothing(tmp_path: Path) -> None:
    """A group's tables share a file: the enqueue's four writes are one transaction, all or none."""
    storage = SqliteStorage(tmp_path)
    first, full, last = (storage.table(name, group="g") for name in ("first", "full", "last"))
    old = await fill(full)
    with pytest.raises(StorageFailed):
        await storage.transaction([(first, {"m": {"v": 1}}, ()), (full, {"m": {"pad": PAD}}, ()),
                                   (last, {"m": {"v": 1}}, ())])
    assert await first.get("m") is None and await full.get("m") is None and await last.get("m") is None
    await uncap(full, old)
    await storage.transaction([(first, {"m": {"v": 1}}, ()), (last, {"m": {"v": 1}}, ())])
    assert await first.get("m") == {"v": 1} == await last.get("m")
    with pytest.raises(ValueError):  # tables of different files cannot share a transaction
        await storage.transaction([(first, {"n": {}}, ()), (storage.table("alone"), {"n": {}}, ())])
    assert await first.get("n") is None
    await storage.close()


async def test_reads_work_while_full_and_health_recovers_by_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full table still answers reads; /healthz's check probes a failing table, so it turns healthy
    once space is back even if nothing else writes."""
    monkeypatch.setattr(storage_base, "PROBE_EVERY_S", 0.0)
    storage = SqliteStorage(tmp_path)
    table = storage.table("t")
    await table.put("a", {"v": 1})
    old = await fill(table)
    assert await table.get("a") == {"v": 1} and (await table.oldest(1)) == [("a", {"v": 1})]
    assert (failure := await storage.health.check()) is not None and failure.kind == "full"
    assert storage.health.failing == ["t"]
    assert await table.delete("a") is True  # a delete needs no room, but proves none: still failing
    assert storage.health.failing == ["t"]
    await uncap(table, old)
    assert await storage.health.check() is None and storage.health.failing == []
    assert await table.get("\x00mailbot-health-probe") is None  # the probe leaves nothing behind
    await storage.close()


async def test_a_lock_held_by_another_process_fails_within_the_busy_timeout(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path)
    table = storage.table("t")
    await table.put("a", {"v": 1})
    other = sqlite3.connect(tmp_path / "t.sqlite", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process's write transaction that never ends
        started = time.monotonic()
        with pytest.raises(StorageFailed) as failed:
            await table.put("b", {"v": 2})
        assert failed.value.kind == "busy" and time.monotonic() - started < BUSY_TIMEOUT_S + 1.0
        assert await table.get("a") == {"v": 1}  # WAL: reads go on meanwhile
        other.execute("ROLLBACK")
    finally:
        other.close()
    await table.put("b", {"v": 2})
    assert [k for k, _ in await table.items()] == ["a", "b"]
    await storage.close()


def test_max_page_count_binds_only_the_connection_that_sets_it(tmp_path: Path) -> None:
    """Why tests.storage.faults caps the table's own connection rather than a second one."""
    path = tmp_path / "t.sqlite"
    mine, other = (sqlite3.connect(path, isolation_level=None) for _ in range(2))
    try:
        mine.execute('CREATE TABLE "docs" (key TEXT PRIMARY KEY, value BLOB)')
        pages = other.execute("PRAGMA page_count").fetchone()[0]
        other.execute(f"PRAGMA max_page_count={pages}")
        mine.execute('INSERT INTO "docs" VALUES (?, ?)', ("k", "x" * 20000))  # not bound by other's cap
        with pytest.raises(sqlite3.OperationalError, match="full"):
            other.execute('INSERT INTO "docs" VALUES (?, ?)', ("l", "x" * 20000))
    finally:
        mine.close()
        other.close()


def _write_with_sqlitedict(path: Path, items: list[tuple[str, object]]) -> None:
    # As the bot configured SqliteDict before it drove its own connection: table "docs", JSON values.
    with SqliteDict(str(path), tablename="docs", journal_mode="WAL", encode=json.dumps, decode=json.loads,
                    outer_stack=False) as db:
        for key, value in items:
            db[key] = value
        db.commit()


def _read_with_sqlitedict(path: Path, tablename: str = "docs") -> list[tuple[str, object]]:
    with SqliteDict(str(path), tablename=tablename, flag="r", journal_mode="WAL", encode=json.dumps, decode=json.loads,
                    outer_stack=False) as db:
        return list(db.items())


def _schema(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT sql FROM sqlite_master WHERE name = 'docs'").fetchone()[0]
    finally:
        conn.close()


async def test_files_stay_sqlitedicts_both_ways(tmp_path: Path) -> None:
    """A data dir written by sqlitedict reads back (keys as they are, insertion order), and what the
    bot writes reads back with SqliteDict: the upgrade needs no migration and no way back is closed."""
    old = tmp_path / "old"
    old.mkdir(mode=0o700)
    _write_with_sqlitedict(old / "mailboxes.sqlite", [("审批通知", {"v": 1}), ("b", {"v": 2}), ("c", {"v": [3]})])
    storage = SqliteStorage(old)
    table = storage.table("mailboxes")
    assert await table.items() == [("审批通知", {"v": 1}), ("b", {"v": 2}), ("c", {"v": [3]})]
    assert await table.get("b") == {"v": 2} and await table.count() == 3
    await table.write({"d": {"v": "四"}, "b": {"v": 20}}, delete=["c"])
    await storage.close()
    assert await asyncio.to_thread(_read_with_sqlitedict, old / "mailboxes.sqlite") == [
        ("审批通知", {"v": 1}), ("b", {"v": 20}), ("d", {"v": "四"})]

    new = tmp_path / "new"
    storage = SqliteStorage(new)
    await storage.table("t").put("k", {"v": 1})
    await storage.close()
    assert _schema(new / "t.sqlite") == _schema(old / "mailboxes.sqlite")  # the very table SqliteDict creates
    assert await asyncio.to_thread(_read_with_sqlitedict, new / "t.sqlite") == [("k", {"v": 1})]
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in new.iterdir()}
    assert set(modes.values()) == {0o600} and stat.S_IMODE(new.stat().st_mode) == 0o700, modes


async def test_a_store_that_cannot_be_opened_is_a_storage_failure(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "t.sqlite").write_bytes(b"not a database, just some bytes" * 200)
    (data / "t.sqlite").chmod(0o600)
    storage = SqliteStorage(data)
    with pytest.raises(StorageFailed) as failed:
        storage.table("t")
    assert failed.value.kind == "corrupt" and not failed.value.temporary
    await storage.close()


async def test_a_group_adopts_its_tables_from_an_older_versions_single_files(tmp_path: Path) -> None:
    """Upgrading keeps the outbox: tables an older version kept alone (`outbox_mails.sqlite`) move into
    their group's file, in order, and sqlitedict reads them there under their own names."""
    await asyncio.to_thread(_write_with_sqlitedict, tmp_path / "outbox_mails.sqlite",
                            [("m1", {"status": "queued"}), ("m2", {"status": "sent"})])
    await asyncio.to_thread(_write_with_sqlitedict, tmp_path / "outbox_queue.sqlite", [("m1", {"due": 0.0, "mailbox": "ops"})])
    storage = SqliteStorage(tmp_path)
    mails = storage.table("outbox_mails", group="outbox", indexed=("status",))
    queue = storage.queue("outbox_queue", group="outbox")
    assert await mails.items() == [("m1", {"status": "queued"}), ("m2", {"status": "sent"})]
    assert [key for key, _ in await queue.due(time.time(), 10)] == ["m1"]
    assert await mails.newest(5, where={"status": "sent"}) == [("m2", {"status": "sent"})]
    assert not (tmp_path / "outbox_mails.sqlite").exists() and not (tmp_path / "outbox_queue.sqlite").exists()
    await storage.close()

    assert await asyncio.to_thread(_read_with_sqlitedict, tmp_path / "outbox.sqlite", "outbox_mails") == [
        ("m1", {"status": "queued"}), ("m2", {"status": "sent"})]
