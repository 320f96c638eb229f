"""The storage contract (bot/storage/base.py), one suite run against every backend: the embedded
sqlite store and a real PostgreSQL server. A second Storage object on the same data stands for
another process. The last tests are PostgreSQL's own: outages, LISTEN/NOTIFY, the field index."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

from bot.errors import StorageFailed
from bot.storage.base import Queue, Storage, Table
from bot.storage.postgres import PostgresStorage, redact
from bot.storage.sqlite import SqliteStorage
from tests.storage.postgres_server import PostgresServer

LONG = 600.0  # a lease that does not run out during a test


@dataclass
class Backend:
    name: str
    make: Callable[[], Awaitable[Storage]]  # another Storage object on the same data: another process's view
    opened: list[Storage] = field(default_factory=list)


@pytest.fixture(params=["sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        def new() -> Storage:
            return SqliteStorage(tmp_path / "data")
    else:
        url = request.getfixturevalue("postgres_url")

        def new() -> Storage:
            return PostgresStorage(url)

    async def make() -> Storage:
        storage = new()
        await storage.open()
        found.opened.append(storage)
        return storage

    found = Backend(request.param, make)
    yield found
    for storage in found.opened:
        await storage.close()


@pytest.fixture
async def storage(backend: Backend) -> Storage:
    return await backend.make()


async def keys(table: Table) -> list[str]:
    return [key for key, _ in await table.items()]


# ---- tables ---------------------------------------------------------------------------------------


async def test_round_trips(storage: Storage) -> None:
    table = storage.table("docs")
    doc = {"name": "财务部邮箱", "tags": ["审批", "通知"], "n": 3, "x": 1.5, "ok": True, "none": None,
           "nested": {"z": 1, "a": {"深": "层"}}, "big": 2**53, "empty": {}, "quote": "\"'\\"}
    assert await table.get("k") is None
    await table.put("k", doc)
    assert await table.get("k") == doc
    await table.put("键", {"v": "中文键"})
    assert await table.get("键") == {"v": "中文键"}
    await table.write({"a": {"v": 1}, "b": {"v": 2}}, delete=["键"])
    assert await table.get("键") is None and await table.get("b") == {"v": 2}
    assert await table.delete("a") is True
    assert await table.delete("a") is False
    assert await table.get("a") is None
    assert await table.count() == 2
    got = await table.get("k")
    assert got is not None
    got["name"] = "changed"  # callers never share a dict with the store
    assert (await table.get("k"))["name"] == "财务部邮箱"  # type: ignore[index]


async def test_get_many_reads_the_keys_that_exist(storage: Storage) -> None:
    table = storage.table("t")
    await table.write({f"k{i}": {"v": i, "名": "中文"} for i in range(700)})  # past one IN (...) chunk
    keys = [f"k{i}" for i in range(0, 700, 3)] + ["missing", "k0"]
    got = await table.get_many(keys)
    assert got == {f"k{i}": {"v": i, "名": "中文"} for i in range(0, 700, 3)}
    assert await table.get_many([]) == {}


async def test_a_write_lands_whole_or_not_at_all(storage: Storage) -> None:
    table = storage.table("docs")
    await table.write({"keep": {"v": 1}, "gone": {"v": 2}})
    with pytest.raises((TypeError, ValueError)):
        await table.write({"new": {"v": 3}, "bad": {"x": object()}, "keep": {"v": 9}}, delete=["gone"])
    assert await table.items() == [("keep", {"v": 1}), ("gone", {"v": 2})]
    await table.write({"new": {"v": 3}}, delete=["gone", "never-there"])
    assert await table.items() == [("keep", {"v": 1}), ("new", {"v": 3})]


async def test_a_transaction_spans_a_group_whole_or_not_at_all(storage: Storage) -> None:
    records = storage.table("records", group="mail")
    timetable = storage.queue("timetable", group="mail")
    await records.put("old", {"v": 0})
    with pytest.raises((TypeError, ValueError)):
        await storage.transaction([(records, {"m1": {"v": 1}}, ["old"]),
                                   (timetable, {"m1": {"due": 1.0, "x": object()}}, ())])
    assert await records.items() == [("old", {"v": 0})] and await timetable.items() == []

    await storage.transaction([(records, {"m1": {"v": 1}}, ["old"]), (timetable, {"m1": {"due": 1.0}}, ())])
    assert await records.items() == [("m1", {"v": 1})]
    assert await timetable.items() == [("m1", {"due": 1.0})]

    other = storage.table("elsewhere")
    with pytest.raises(ValueError):
        await storage.transaction([(records, {"m2": {"v": 2}}, ()), (other, {"m2": {"v": 2}}, ())])
    assert await records.get("m2") is None and await other.get("m2") is None


async def test_a_transaction_runs_its_steps_in_order_and_changes_versions(storage: Storage) -> None:
    """Steps that touch a row twice act in order (PostgreSQL writes other transactions as one
    statement); every written table's version changes, and a queue's waiters hear of puts."""
    records = storage.table("records", group="mail")
    timetable = storage.queue("timetable", group="mail")
    await records.write({"a": {"v": 1}, "b": {"v": 1}})
    await storage.transaction([(records, {"a": {"v": 2}}, ()), (records, {}, ["a"]), (records, {"b": {"v": 3}}, ())])
    assert await records.items() == [("b", {"v": 3})]
    await storage.transaction([(records, {}, ["b"]), (records, {"b": {"v": 4}}, ())])
    assert await records.items() == [("b", {"v": 4})]
    await records.write({"c": {"v": 5}}, delete=["c"])  # one write: its puts, then its deletes
    assert await records.get("c") is None

    before = (await records.version(), await timetable.version())
    await storage.transaction([(records, {"m": {"v": 1}}, ["b"]), (timetable, {"m": {"due": 0.0}}, ())])
    assert await records.version() != before[0] and await timetable.version() != before[1]
    assert await records.items() == [("m", {"v": 1})] and await timetable.due(time.time(), 10) == [("m", {"due": 0.0})]
    before = (await records.version(), await timetable.version())
    await storage.transaction([(records, {"m": {"v": 2}}, ()), (timetable, {}, ["m"])])
    assert await records.version() != before[0] and await timetable.version() != before[1]
    assert await timetable.items() == []


async def test_put_if_is_a_compare_and_set(storage: Storage) -> None:
    table = storage.table("cas")
    assert await table.put_if("k", {"v": 1}, None) is True
    assert await table.put_if("k", {"v": 2}, None) is False  # not absent
    assert await table.put_if("k", {"v": 2}, {"v": 0}) is False  # not what is stored
    assert await table.get("k") == {"v": 1}
    assert await table.put_if("k", {"v": 2, "中": "文"}, {"v": 1}) is True
    assert await table.put_if("k", None, {"v": 1}) is False
    assert await table.put_if("k", None, {"中": "文", "v": 2}) is True  # key order does not matter
    assert await table.get("k") is None
    assert await table.put_if("k", None, None) is True  # absent, as expected: nothing to write
    await table.put("k", {"v": 3})
    assert await table.put_if("k", None, None) is False


async def test_concurrent_put_if_from_two_processes_has_one_winner_per_round(backend: Backend) -> None:
    one, two = await backend.make(), await backend.make()
    tables = [one.table("counter"), two.table("counter")]
    current = None
    for round_ in range(5):
        new = [{"round": round_, "by": i} for i in range(12)]
        results = await asyncio.gather(*(tables[i % 2].put_if("k", new[i], current) for i in range(12)))
        assert sum(results) == 1, results
        current = new[results.index(True)]
        assert await tables[0].get("k") == current and await tables[1].get("k") == current


async def test_items_keep_insertion_order_when_a_key_is_rewritten(storage: Storage) -> None:
    table = storage.table("ordered")
    for key in ["c", "a", "b"]:
        await table.put(key, {"k": key})
    await table.put("a", {"k": "a", "again": True})
    await table.write({"c": {"k": "c2"}, "d": {"k": "d"}})
    assert await keys(table) == ["c", "a", "b", "d"]
    assert await table.get("a") == {"k": "a", "again": True}
    await table.delete("a")
    await table.put("a", {"k": "a3"})  # deleted and put again: a new row, at the end
    assert await keys(table) == ["c", "b", "d", "a"]
    assert [k for k, _ in await table.newest(2)] == ["a", "d"] and [k for k, _ in await table.oldest(2)] == ["c", "b"]


async def pages(table: Table, limit: int, *, reverse: bool = False, where: dict[str, str] | None = None,
                between: Callable[[int], Awaitable[None]] | None = None) -> list[list[str]]:
    found, after = [], None
    while True:
        page = await table.scan(limit, after=after, reverse=reverse, where=where)
        found.append([key for key, _ in page.rows])
        if page.cursor is None:
            return found
        assert len(page.rows) == limit
        after = page.cursor
        if between is not None:
            await between(len(found))


async def test_scan_pages_forward_and_back(storage: Storage) -> None:
    table = storage.table("log")
    names = [f"r{i:02}" for i in range(25)]
    await table.write({name: {"i": i} for i, name in enumerate(names)})
    assert await pages(table, 10) == [names[:10], names[10:20], names[20:]]
    assert await pages(table, 10, reverse=True) == [names[::-1][:10], names[::-1][10:20], names[::-1][20:]]
    full = await pages(table, 5)
    assert [key for page in full for key in page] == names and full[-1] == []  # a full last page: one empty after it
    assert (await table.scan(0)).rows == []
    assert await table.count() == 25


async def test_scan_filters_on_an_indexed_field(storage: Storage) -> None:
    table = storage.table("mails", indexed=("status", "mailbox"))
    docs = {f"m{i:02}": {"status": "sent" if i % 3 else "failed", "mailbox": f"box{i % 2}", "主题": "你好"}
            for i in range(30)}
    await table.write(docs)
    failed = [k for k, d in docs.items() if d["status"] == "failed"]
    assert [k for page in await pages(table, 4, where={"status": "failed"}) for k in page] == failed
    assert [k for page in await pages(table, 4, reverse=True, where={"status": "failed"}) for k in page] == failed[::-1]
    both = [k for k, d in docs.items() if d["status"] == "sent" and d["mailbox"] == "box1"]
    assert [k for k, _ in (await table.scan(100, where={"status": "sent", "mailbox": "box1"})).rows] == both
    assert (await table.scan(10, where={"status": "nothing"})).rows == []
    assert [k for k, _ in await table.newest(2, where={"status": "failed"})] == failed[::-1][:2]
    with pytest.raises(ValueError):
        await table.scan(10, where={"主题": "你好"})


async def test_a_scan_sees_every_row_once_while_rows_change_between_pages(backend: Backend) -> None:
    storage, other = await backend.make(), await backend.make()
    table, writer = storage.table("busy", indexed=("kind",)), other.table("busy", indexed=("kind",))
    names = [f"r{i:02}" for i in range(40)]
    await table.write({name: {"kind": "a", "i": i} for i, name in enumerate(names)})
    added = iter(range(1000))

    async def meddle(_page: int) -> None:
        fresh = {f"new{next(added)}": {"kind": "a"} for _ in range(3)}
        await writer.write(fresh)
        await writer.put(names[0], {"kind": "a", "rewritten": True})  # a seen row, rewritten: keeps its place
        await writer.put(names[-1], {"kind": "a", "rewritten": True})  # an unseen one likewise

    for reverse in (False, True):
        for where in (None, {"kind": "a"}):
            seen = [k for page in await pages(table, 7, reverse=reverse, where=where, between=meddle) for k in page]
            assert len(seen) == len(set(seen)), seen  # no row twice
            assert [k for k in seen if k in names] == (names[::-1] if reverse else names)  # none skipped


async def test_version_changes_when_another_process_writes(backend: Backend) -> None:
    one, two = await backend.make(), await backend.make()
    mine, theirs = one.table("tokens"), two.table("tokens")
    await mine.put("a", {"v": 1})
    before = await mine.version()
    assert await mine.version() == before  # nothing changed: the same token
    await theirs.put("b", {"v": 2})
    after_put = await mine.version()
    assert after_put != before
    await theirs.put("b", {"v": 3})  # a rewrite, same size
    after_rewrite = await mine.version()
    assert after_rewrite != after_put
    await theirs.delete("a")
    assert await mine.version() != after_rewrite
    assert await mine.items() == [("b", {"v": 3})]


async def test_names_lists_the_tables_that_hold_data(backend: Backend) -> None:
    storage = await backend.make()
    await storage.table("alpha").put("k", {"v": 1})
    await storage.queue("beta", group="g").put("k", {"due": 1.0})
    await storage.table("gamma", group="g").put("k", {"v": 1})
    other = await backend.make()  # opened none of them
    assert {"alpha", "beta", "gamma"} <= set(await other.names())
    assert await other.names() == sorted(await other.names())


# ---- queues ---------------------------------------------------------------------------------------


async def test_due_is_earliest_first_with_a_limit(storage: Storage) -> None:
    queue = storage.queue("outbox")
    now = time.time()
    await queue.write({"later": {"due": now + 100, "m": "later"}, "b": {"due": now - 5}, "a": {"due": now - 10},
                       "c": {"due": now - 1, "主题": "测试"}})
    assert [k for k, _ in await queue.due(now, 10)] == ["a", "b", "c"]
    assert [k for k, _ in await queue.due(now, 2)] == ["a", "b"]
    assert [k for k, _ in await queue.due(now + 200, 10)] == ["a", "b", "c", "later"]
    assert dict(await queue.due(now, 10))["c"] == {"due": now - 1, "主题": "测试"}
    assert await queue.next_due() == pytest.approx(now - 10)
    assert await storage.queue("empty").next_due() is None


async def test_a_claim_leases_entries_until_the_lease_ends(backend: Backend) -> None:
    one, two = await backend.make(), await backend.make()
    mine, theirs = one.queue("outbox"), two.queue("outbox")
    now = time.time()
    await mine.write({f"m{i}": {"due": now - 10 + i, "n": i} for i in range(5)})
    claimed = await mine.claim(now, 2, "worker-1", 0.5)
    assert [k for k, _ in claimed] == ["m0", "m1"]
    for key, doc in claimed:
        assert doc["owner"] == "worker-1" and doc["lease"] >= now + 0.5 and doc["n"] == int(key[1])
        assert await mine.get(key) == doc
    assert [k for k, _ in await theirs.due(now, 10)] == ["m2", "m3", "m4"]  # leased: not due
    assert await theirs.next_due() == pytest.approx(now - 8)
    assert [k for k, _ in await theirs.claim(now, 10, "worker-2", LONG)] == ["m2", "m3", "m4"]
    assert await theirs.claim(now, 10, "worker-2", LONG) == []
    assert await mine.next_due() is None  # all leased
    await asyncio.sleep(0.7)  # worker-1's lease ends: its entries are free again, for anyone
    assert [k for k, _ in await theirs.due(time.time(), 10)] == ["m0", "m1"]
    taken = await theirs.claim(time.time(), 10, "worker-2", LONG)
    assert [(k, d["owner"]) for k, d in taken] == [("m0", "worker-2"), ("m1", "worker-2")]


async def test_two_processes_claiming_at_once_take_every_entry_once(backend: Backend) -> None:
    one, two = await backend.make(), await backend.make()
    queues = [one.queue("outbox"), two.queue("outbox")]
    now = time.time()
    await queues[0].write({f"m{i:03}": {"due": now - 300 + i} for i in range(300)})
    taken: list[tuple[str, str]] = []

    async def worker(queue: Queue, owner: str) -> None:
        while batch := await queue.claim(time.time(), 7, owner, LONG):
            taken.extend((key, owner) for key, _ in batch)
            assert all(doc["owner"] == owner for _, doc in batch)

    await asyncio.gather(*(worker(queues[i % 2], f"w{i}") for i in range(6)))
    keys_taken = [key for key, _ in taken]
    assert len(keys_taken) == len(set(keys_taken)) == 300
    for key, owner in taken[::37]:
        assert (await queues[1].get(key))["owner"] == owner  # type: ignore[index]


async def test_renew_release_reschedule_and_recover(backend: Backend) -> None:
    one, two = await backend.make(), await backend.make()
    mine, theirs = one.queue("outbox"), two.queue("outbox")
    now = time.time()
    await mine.write({"a": {"due": now - 3}, "b": {"due": now - 2}, "c": {"due": now - 1}, "d": {"due": now + 50}})
    assert [k for k, _ in await mine.claim(now, 2, "w1", 0.4)] == ["a", "b"]
    assert await mine.renew(["a", "c", "missing"], "w1", 0.4) == ["a"]  # c was never w1's
    await asyncio.sleep(0.1)
    assert await mine.renew(["a"], "w1", LONG) == ["a"]
    await asyncio.sleep(0.5)  # b's lease ran out (a's was renewed)
    assert [k for k, _ in await theirs.claim(time.time(), 10, "w2", LONG)] == ["b", "c"]
    assert await mine.renew(["a", "b"], "w1", LONG) == ["a"]  # b is w2's now: not taken back

    await mine.release({"b": now - 100}, "w1")  # not w1's: left alone
    assert (await theirs.get("b"))["owner"] == "w2"  # type: ignore[index]
    await mine.release({"a": now + 10}, "w1")  # free again, due later
    assert (await mine.get("a"))["due"] == pytest.approx(now + 10)  # type: ignore[index]
    assert [k for k, _ in await mine.due(now + 20, 10)] == ["a"]  # b, c leased; d due at now + 50
    await theirs.release({"c": None}, "w2")  # keeps its due
    assert (await mine.get("c"))["due"] == pytest.approx(now - 1)  # type: ignore[index]
    assert [k for k, _ in await mine.due(now, 10)] == ["c"]
    assert await mine.next_due() == pytest.approx(now - 1)

    await mine.reschedule({"c": now + 5, "b": now - 500, "missing": 1.0})  # b is leased: left alone
    assert (await mine.get("c"))["due"] == pytest.approx(now + 5)  # type: ignore[index]
    assert (await mine.get("b"))["due"] == pytest.approx(now - 2)  # type: ignore[index]
    assert await mine.get("missing") is None
    assert await mine.next_due() == pytest.approx(now + 5)

    assert await theirs.recover("w2") == 1  # b, after a restart of w2
    assert [k for k, _ in await mine.due(now + 100, 10)] == ["b", "c", "a", "d"]
    assert await theirs.recover("w2") == 0


# ---- PostgreSQL only --------------------------------------------------------------------------------


@pytest.fixture
async def postgres(postgres_url: str) -> AsyncIterator[Callable[[], Awaitable[PostgresStorage]]]:
    """`await postgres()`: an open PostgresStorage on the test's database (closed at teardown)."""
    opened: list[PostgresStorage] = []

    async def make() -> PostgresStorage:
        storage = PostgresStorage(postgres_url)
        await storage.open()
        opened.append(storage)
        return storage

    yield make
    for storage in opened:
        await storage.close()


async def wait_for(check: Callable[[], Awaitable[bool]], within: float) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.1)


async def test_postgresql_outage_fails_fast_and_recovers_without_a_restart(
        postgres_server: PostgresServer, postgres: Callable[[], Awaitable[PostgresStorage]]) -> None:
    storage, other = await postgres(), await postgres()
    table, queue, theirs = storage.table("mails", indexed=("status",)), storage.queue("outbox"), other.queue("outbox")
    await table.put("a", {"status": "sent"})
    await asyncio.to_thread(postgres_server.stop)
    try:
        for call in (lambda: table.put("b", {"status": "new"}), lambda: table.get("a"),
                     lambda: queue.claim(time.time(), 5, "w", LONG), lambda: storage.names()):
            started = time.monotonic()
            with pytest.raises(StorageFailed) as failed:
                await call()
            assert time.monotonic() - started < 2.5  # the promise is 2 s; generous for a loaded machine
            assert failed.value.kind == "unavailable" and failed.value.temporary
            assert "MAILBOT_DATABASE_URL" in failed.value.message("en")
        error = await storage.health.check()
        assert error is not None and error.kind == "unavailable" and "mails" in storage.health.failing
    finally:
        await asyncio.to_thread(postgres_server.start)

    # Back: the same objects work again, no reopening; the health probe clears the failure by itself.
    await wait_for(lambda: _healthy(storage), within=5)
    await table.put("b", {"status": "new"})
    assert await table.items() == [("a", {"status": "sent"}), ("b", {"status": "new"})]
    assert [k for k, _ in (await table.scan(5, where={"status": "new"})).rows] == ["b"]
    assert storage.health.failing == [] and await storage.health.check() is None

    # The listener reconnected too: a write of another process wakes changed() again.
    async def woken() -> bool:
        waiter = asyncio.ensure_future(queue.changed(10))
        await asyncio.sleep(0.05)
        await theirs.put(f"m{time.monotonic()}", {"due": time.time()})
        done, _ = await asyncio.wait([waiter], timeout=1)
        waiter.cancel()
        return bool(done)

    await wait_for(woken, within=10)


async def _healthy(storage: Storage) -> bool:
    return await storage.health.check() is None


async def test_changed_wakes_when_another_process_adds_work(postgres: Callable[[], Awaitable[PostgresStorage]]) -> None:
    one, two = await postgres(), await postgres()
    mine, theirs = one.queue("outbox"), two.queue("outbox")
    await theirs.put("leased", {"due": 1.0})
    await mine.changed(5)  # heard (at once, or already)
    assert [k for k, _ in await theirs.claim(time.time(), 1, "w2", LONG)] == ["leased"]  # a claim adds no work
    for add in (lambda: theirs.put("m1", {"due": time.time()}),
                lambda: theirs.write({"m2": {"due": 1.0}}),
                lambda: theirs.release({"leased": time.time()}, "w2")):
        waiter = asyncio.ensure_future(mine.changed(10))
        await asyncio.sleep(0.3)
        assert not waiter.done()
        started = time.monotonic()
        await add()
        await asyncio.wait_for(waiter, 10)
        assert time.monotonic() - started < 1.0
    quiet = time.monotonic()
    await mine.changed(0.3)  # nothing new: waits out its timeout
    assert time.monotonic() - quiet >= 0.25


async def test_a_filtered_page_reads_the_field_index(postgres_server: PostgresServer, postgres_url: str,
                                                      postgres: Callable[[], Awaitable[PostgresStorage]]) -> None:
    storage = await postgres()
    table = storage.table("mails", indexed=("status",))
    await table.put("first", {"status": "failed"})  # first use: the index exists from here on
    database = postgres_url.rsplit("/", 1)[1]
    postgres_server.sql("INSERT INTO mailbot_docs (tbl, key, value) SELECT 'mails', 'm' || i, "
                        "jsonb_build_object('status', CASE WHEN i % 1000 = 0 THEN 'failed' ELSE 'sent' END) "
                        "FROM generate_series(1, 100000) AS i; ANALYZE mailbot_docs", database)
    assert await table.count() == 100001
    page = await table.scan(20, where={"status": "failed"})
    assert [k for k, _ in page.rows] == ["first"] + [f"m{i}" for i in range(1000, 20000, 1000)]
    page = await table.scan(20, after=page.cursor, where={"status": "failed"})
    assert [k for k, _ in page.rows][:2] == ["m20000", "m21000"]
    assert table.__class__.__name__ == "PostgresTable"
    query, params = table.scan_query(20, page.cursor, False, {"status": "failed"})  # type: ignore[attr-defined]
    literal = query
    for i, value in reversed(list(enumerate(params, 1))):
        literal = literal.replace(f"${i}", f"'{value}'" if isinstance(value, str) else str(value))
    plan = postgres_server.sql("EXPLAIN " + literal, database)
    assert "mailbot_ix_mails__status" in plan and "Seq Scan" not in plan, plan


@pytest.mark.parametrize("statistics", ["none", "stale"])
async def test_a_claim_reads_what_it_takes_not_the_whole_due_queue(
        statistics: str, postgres_url: str, postgres: Callable[[], Awaitable[PostgresStorage]]) -> None:
    """20,000 due entries while the planner has no statistics (a fresh start) or statistics of when the
    queue was small (a backlog that grew since autovacuum last looked): a claim of 64, and the next-due
    read, touch a bounded number of rows. Left to the planner, the claim read every due entry and
    sorted them, or walked the whole queue to update the 64 it picked."""
    storage = await postgres()
    queue = storage.queue("outbox_queue")
    conn = await asyncpg.connect(postgres_url)
    try:
        if statistics == "stale":
            await queue.write({f"a{i}": {"due": 0.0, "lease": 0, "owner": ""} for i in range(10)})
            await conn.execute("ANALYZE mailbot_docs")
        await queue.write({f"m{i:05d}": {"due": float(i % 7), "lease": 0, "owner": ""} for i in range(20000)})
        analyzed = await conn.fetchval("SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL "
                                       "FROM pg_stat_user_tables WHERE relname = 'mailbot_docs'")
        assert analyzed == (statistics == "stale")

        async def rows_read(call: str, *args: object) -> tuple[list[asyncpg.Record], int]:
            async with conn.transaction():
                result = await conn.fetch(call, *args)
                read = await conn.fetchval("SELECT pg_stat_get_xact_tuples_returned('mailbot_docs'::regclass) "
                                           "+ pg_stat_get_xact_tuples_fetched('mailbot_docs'::regclass)")
            return result, int(read)

        for _ in range(8):  # past the point where a cached plan may turn generic
            now = time.time()
            taken, read = await rows_read("SELECT key, due FROM mailbot_claim($1, $2, $3, 64, $4::jsonb)",
                                          "outbox_queue", now, now, json.dumps({"lease": now + 60, "owner": "w"}))
            assert len(taken) == 64 and all(row["due"] == 0.0 for row in taken)
            assert read < 2000, read  # those it takes, the ones leased before it, their updates
        (first,), read = await rows_read("SELECT due FROM mailbot_due($1, 'Infinity', $2, 1)", "outbox_queue", time.time())
        assert first["due"] == 0.0 and read < 2000, read
    finally:
        await conn.close()
    assert len(await queue.claim(time.time(), 64, "w2", 60)) == 64  # the contract's own claim, on the same path


def test_the_url_shown_has_no_password() -> None:
    assert redact("postgresql://bot:s3cret@db.internal:5432/mail?sslmode=require") == \
        "postgresql://bot@db.internal:5432/mail?sslmode=require"
    assert "s3cret" not in redact("postgresql://db/mail?user=bot&password=s3cret")
    assert PostgresStorage("postgresql://bot:s3cret@db/mail").url == "postgresql://bot@db/mail"


async def test_instances_starting_together_migrate_once(postgres_server: PostgresServer, postgres_url: str,
                                                        postgres: Callable[[], Awaitable[PostgresStorage]]) -> None:
    storages = await asyncio.gather(*(postgres() for _ in range(4)))  # the schema is created by exactly one
    tables = [s.table("mails", indexed=("status",)) for s in storages]  # and the field index likewise
    pages_ = await asyncio.gather(*(t.scan(5, where={"status": "x"}) for t in tables))
    assert all(page.rows == [] for page in pages_)
    database = postgres_url.rsplit("/", 1)[1]
    assert postgres_server.sql("SELECT version FROM mailbot_schema ORDER BY version", database).split() == ["1", "2"]
    again = await postgres()  # a later start: nothing to do
    await again.table("mails", indexed=("status",)).put("m", {"status": "x"})
    assert [k for k, _ in (await tables[0].scan(5, where={"status": "x"})).rows] == ["m"]
