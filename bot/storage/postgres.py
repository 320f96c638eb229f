"""PostgreSQL backend (MAILBOT_DATABASE_URL): every table in one relation, on asyncpg.

Schema (version 2; `mailbot_schema` holds the applied versions, `open()` migrates under
`pg_advisory_xact_lock`, so instances that start together wait for each other):

    mailbot_docs (tbl text, key text, seq bigint identity, value jsonb,
                  due float8 generated from value->'due', lease float8 generated from value->'lease',
                  PRIMARY KEY (tbl, key))
        index (tbl, seq) unique          insertion order and keyset paging (a rewrite keeps its seq)
        index (tbl, due, seq)            a queue's due entries (rows with a numeric due only)
        "mailbot_ix_<tbl>__<field>"      ((value->>'field'), seq) WHERE tbl = '<tbl>', one per indexed
                                         field, created on a table's first use (advisory lock)
    mailbot_versions (tbl text primary key, v bigint)   bumped by every write, read by version()
    mailbot_due(), mailbot_claim()       (version 2) a queue's due reads and its claim, planned to walk
                                         (tbl, due, seq) in order whatever the statistics say

Opening a table or queue is synchronous and needs no DDL: a name is a value of `tbl`. Documents are
jsonb, so a document reads back equal to what was put, with its keys in jsonb's order.

Queues: `claim` leases the earliest due free entries in one statement (`FOR UPDATE SKIP LOCKED`, so
concurrent claimers never wait for or take each other's rows); a lease is epoch seconds of the
client's clock, as the embedded store's. Every write that may add free due work to a queue (put,
put_if, write, transaction, release, reschedule, recover) sends `NOTIFY mailbot_queue, '<queue>'` in
its transaction; each storage listens on a dedicated connection that reconnects after an outage,
and `changed()` wakes on it at once (a notice heard while nobody waited makes the next `changed()`
return at once, so work added during a scan is not slept through).

Outages: every call gives up within CALL_TIMEOUT_S (connect, pool wait and commands included) and
raises StorageFailed("unavailable"); the pool reconnects by itself once the server is back. `url`
is the connection URL without its password, for messages.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from bot.errors import StorageFailed
from bot.storage.base import Document, Page, Queue, Step, Storage, StoreHealth, Table

log = logging.getLogger("mailbot.storage")
T = TypeVar("T")

CALL_TIMEOUT_S = 1.8  # a whole call (pool wait, connect, statements): under the 2 s users are promised
CONNECT_TIMEOUT_S = 1.0
DDL_TIMEOUT_S = 60.0  # migrating, or building an index over an existing table, may take longer
LISTEN_KEEPALIVE_S = 5.0  # the listener pings its connection this often, to notice a dead one
LISTEN_RETRY_MAX_S = 2.0
POOL_MAX = 10
CHANNEL = "mailbot_queue"
MIGRATION_LOCK = 0x6D61696C626F74  # "mailbot": pg_advisory_xact_lock key of the schema migration
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
# A JSON text holding U+0000 (jsonb and text cannot store it), not counting an escaped backslash.
_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")

_IN_ORDER = "SET enable_bitmapscan = off SET enable_sort = off"  # see migration 2
MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE mailbot_docs (
            tbl   text   NOT NULL,
            key   text   NOT NULL,
            seq   bigint GENERATED ALWAYS AS IDENTITY,
            value jsonb  NOT NULL,
            due   double precision GENERATED ALWAYS AS (
                      CASE WHEN jsonb_typeof(value->'due') = 'number' THEN (value->'due')::double precision END
                  ) STORED,
            lease double precision GENERATED ALWAYS AS (
                      CASE WHEN jsonb_typeof(value->'lease') = 'number' THEN (value->'lease')::double precision
                           ELSE 0 END
                  ) STORED,
            PRIMARY KEY (tbl, key)
        )""",
        "CREATE UNIQUE INDEX mailbot_docs_order ON mailbot_docs (tbl, seq)",
        "CREATE INDEX mailbot_docs_due ON mailbot_docs (tbl, due, seq) WHERE due IS NOT NULL",
        "CREATE TABLE mailbot_versions (tbl text PRIMARY KEY, v bigint NOT NULL)",
    ],
    # The queue's reads walk (tbl, due, seq) in order and stop after `lim` free entries. Left to
    # itself the planner, whenever its statistics are stale (a fresh database, or a queue that grew
    # since autovacuum last looked), fetched every due entry and sorted them: each claim of 64 cost
    # O(queue), 10 ms at 20,000 due. The settings hold only inside these functions.
    2: [
        f"""CREATE FUNCTION mailbot_due(q text, until float8, now float8, lim integer)
            RETURNS TABLE (key text, value jsonb, due float8, seq bigint)
            LANGUAGE plpgsql STABLE {_IN_ORDER} AS $$
            BEGIN
                RETURN QUERY
                SELECT d.key, d.value, d.due, d.seq FROM mailbot_docs d
                WHERE d.tbl = q AND d.due <= until AND d.lease < now
                ORDER BY d.due, d.seq LIMIT lim;
            END $$""",
        f"""CREATE FUNCTION mailbot_claim(q text, until float8, now float8, lim integer, patch jsonb)
            RETURNS TABLE (key text, value jsonb, due float8, seq bigint)
            LANGUAGE plpgsql {_IN_ORDER} AS $$
            BEGIN
                RETURN QUERY
                WITH picked AS (
                    SELECT d.key FROM mailbot_docs d WHERE d.tbl = q AND d.due <= until AND d.lease < now
                    ORDER BY d.due, d.seq LIMIT lim FOR UPDATE SKIP LOCKED),
                taken AS (  -- by key = ANY: a join to `picked` was planned, generically, as a walk of the whole queue
                    UPDATE mailbot_docs AS d SET value = d.value || patch
                    WHERE d.tbl = q AND d.key = ANY (ARRAY (SELECT p.key FROM picked p))
                    RETURNING d.key, d.value, d.due, d.seq),
                bump AS (
                    INSERT INTO mailbot_versions AS x (tbl, v) SELECT q, 1 WHERE EXISTS (SELECT FROM taken)
                    ON CONFLICT (tbl) DO UPDATE SET v = x.v + 1)
                SELECT t.key, t.value, t.due, t.seq FROM taken t;
            END $$""",
    ],
}
SCHEMA_VERSION = max(MIGRATIONS)

_PUT = """INSERT INTO mailbot_docs AS d (tbl, key, value)
          SELECT $1, k, v FROM unnest($2::text[], $3::jsonb[]) AS u(k, v)
          ON CONFLICT (tbl, key) DO UPDATE SET value = excluded.value"""
_DELETE_MANY = "DELETE FROM mailbot_docs WHERE tbl = $1 AND key = ANY($2::text[])"
_BUMP = """INSERT INTO mailbot_versions AS x (tbl, v) SELECT t, 1 FROM unnest($1::text[]) AS t
           ON CONFLICT (tbl) DO UPDATE SET v = x.v + 1"""
_NOTIFY = f"SELECT pg_notify('{CHANNEL}', t) FROM unnest($1::text[]) AS t"
# A whole transaction of puts and deletes as one statement (one round trip, no BEGIN/COMMIT): for
# steps that touch each row once (a data-modifying CTE cannot see its siblings' rows).
_WRITE_ALL = f"""WITH put AS (
        INSERT INTO mailbot_docs AS d (tbl, key, value)
        SELECT t, k, v FROM unnest($1::text[], $2::text[], $3::jsonb[]) AS u(t, k, v)
        ON CONFLICT (tbl, key) DO UPDATE SET value = excluded.value RETURNING 1),
    gone AS (
        DELETE FROM mailbot_docs AS d USING unnest($4::text[], $5::text[]) AS g(t, k)
        WHERE d.tbl = g.t AND d.key = g.k RETURNING 1),
    bump AS (
        INSERT INTO mailbot_versions AS x (tbl, v) SELECT t, 1 FROM unnest($6::text[]) AS t
        ON CONFLICT (tbl) DO UPDATE SET v = x.v + 1 RETURNING 1)
    SELECT count(pg_notify('{CHANNEL}', t)) FROM unnest($7::text[]) AS t"""


def redact(url: str) -> str:
    """The URL without its password (in the userinfo or a `password` query parameter)."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hosts = netloc.rpartition("@")
            netloc = userinfo.split(":", 1)[0] + "@" + hosts
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                           if k.lower() not in ("password", "passfile")])
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return "postgresql://(unparsable URL)"


def _encode(value: Document) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if "\\u0000" in text and _NUL.search(text):  # the substring test first: mail content is long
        raise ValueError("PostgreSQL cannot store the character U+0000 in a document")
    return text


def _check_key(key: str) -> str:
    if not isinstance(key, str) or "\x00" in key:
        raise ValueError("a key is a string without U+0000")
    return key


def _closed(conn: asyncpg.Connection) -> bool:
    """Whether a pooled connection is closed. One the server closed (a restart cuts every session)
    has gone back to the pool already, and its proxy refuses every call, terminate() included."""
    try:
        return conn.is_closed()
    except asyncpg.InterfaceError:
        return True


def _storage_failed(exc: BaseException, table: str, *, closed: bool = False) -> StorageFailed | None:
    """The StorageFailed a backend error stands for; None for a bug (bad SQL, misuse of the API).
    `closed`: the call's connection was closed under it (asyncpg's protocol then reports a state error)."""
    detail = type(exc).__name__
    if isinstance(exc, StorageFailed):
        return exc
    if isinstance(exc, (OSError, TimeoutError, asyncpg.PostgresConnectionError)):
        return StorageFailed("unavailable", table=table, detail=detail)
    if isinstance(exc, asyncpg.InterfaceError):
        # "connection is closed" / "connection was closed in the middle of operation": the server went away
        return StorageFailed("unavailable", table=table, detail=detail) if "closed" in str(exc) else None
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", None) or ""
        if state.startswith("42") and state != "42501":
            return None  # a bug in our SQL, not the store failing
        if state.startswith(("08", "57P")) or state == "53300":
            kind = "unavailable"
        elif state == "53100":
            kind = "full"
        elif state in ("25006", "42501"):
            kind = "readonly"
        elif state.startswith(("40", "55P")) or state == "57014":
            kind = "busy"
        elif state.startswith("XX"):
            kind = "corrupt" if state in ("XX001", "XX002") else "other"
        elif state.startswith("58"):
            kind = "io"
        else:
            kind = "other"
        return StorageFailed(kind, table=table, detail=detail)
    if isinstance(exc, asyncpg.InternalClientError):
        return StorageFailed("unavailable" if closed else "other", table=table, detail=detail)
    return None


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset: nothing (asyncpg still rolls back an open transaction). The default runs
    four statements per release; we keep no session state (advisory locks are transaction-scoped)."""


def _index_name(table: str, field: str) -> str:
    name = f"mailbot_ix_{table}__{field}"
    if len(name) > 63:
        name = "mailbot_ix_" + hashlib.sha1(f"{table}.{field}".encode()).hexdigest()[:20]
    return name


def _field(name: str) -> str:
    """The SQL expression of a document field (the exact text its index is built on)."""
    if not _NAME.match(name):
        raise ValueError(f"bad field name {name!r}")
    return f"(value ->> '{name}')"


class PostgresTable(Table):
    def __init__(self, storage: PostgresStorage, name: str, group: str, indexed: Sequence[str]) -> None:
        self.storage = storage
        self.name = name
        self.group = group
        self.health = storage.health
        for field in indexed:
            _field(field)  # validates
        self.indexed = tuple(dict.fromkeys(indexed))
        self._indexes_ready = not self.indexed
        self._ready_lock = asyncio.Lock()

    # ---- plumbing ---------------------------------------------------------------------------

    async def _ensure_indexes(self) -> None:
        """Create this table's field indexes on first use (another process may be doing the same:
        the advisory lock makes one build them and the others find them)."""
        if self._indexes_ready:
            return
        async with self._ready_lock:
            if self._indexes_ready:
                return
            missing = []
            for field in self.indexed:
                name = _index_name(self.name, field)
                if await self.storage.call(self.name, lambda conn, n=name: conn.fetchval("SELECT to_regclass($1)", n)) is None:
                    missing.append((name, field))
            if missing:
                async def build(conn: asyncpg.Connection) -> None:
                    async with conn.transaction():
                        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
                        for name, field in missing:
                            await conn.execute(
                                f'CREATE INDEX IF NOT EXISTS "{name}" ON mailbot_docs ({_field(field)}, seq) '
                                f"WHERE tbl = '{self.name}'", timeout=DDL_TIMEOUT_S)
                await self.storage.call(self.name, build, timeout=DDL_TIMEOUT_S)
            self._indexes_ready = True

    async def _read(self, body: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        await self._ensure_indexes()
        return await self.storage.call(self.name, body)

    def _statements(self, put: Mapping[str, Document], delete: Iterable[str]) -> list[tuple[str, tuple[Any, ...]]]:
        """A write's statements (values encoded here: one JSON cannot hold fails before anything runs)."""
        keys = [_check_key(key) for key in put]
        values = [_encode(value) for value in put.values()]
        gone = [_check_key(key) for key in delete]
        statements: list[tuple[str, tuple[Any, ...]]] = []
        if keys:
            statements.append((_PUT, (self.name, keys, values)))
        if gone:
            statements.append((_DELETE_MANY, (self.name, gone)))
        return statements

    def _wakes(self, put: Mapping[str, Document]) -> bool:
        return False

    # ---- the Table interface ----------------------------------------------------------------

    async def get(self, key: str) -> Document | None:
        raw = await self._read(lambda conn: conn.fetchval(
            "SELECT value FROM mailbot_docs WHERE tbl = $1 AND key = $2", self.name, key))
        return None if raw is None else json.loads(raw)

    async def get_many(self, keys: Iterable[str]) -> dict[str, Document]:
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        rows = await self._read(lambda conn: conn.fetch(
            "SELECT key, value FROM mailbot_docs WHERE tbl = $1 AND key = ANY($2::text[])", self.name, keys))
        return {row["key"]: json.loads(row["value"]) for row in rows}

    async def write(self, put: Mapping[str, Document], delete: Iterable[str] = ()) -> None:
        await self.storage.transaction([(self, put, delete)])

    async def delete(self, key: str) -> bool:
        async def body(conn: asyncpg.Connection) -> bool:
            async with conn.transaction():
                gone = await conn.fetchval(
                    "DELETE FROM mailbot_docs WHERE tbl = $1 AND key = $2 RETURNING true", self.name, key)
                if gone:
                    await conn.execute(_BUMP, [self.name])
            return bool(gone)

        await self._ensure_indexes()
        return await self.storage.call(self.name, body)

    async def put_if(self, key: str, value: Document | None, expected: Document | None) -> bool:
        _check_key(key)
        new = None if value is None else _encode(value)
        old = None if expected is None else _encode(expected)
        wake = value is not None and self._wakes({key: value})

        async def body(conn: asyncpg.Connection) -> bool:
            async with conn.transaction():
                if old is None and new is None:
                    return not await conn.fetchval(
                        "SELECT EXISTS (SELECT 1 FROM mailbot_docs WHERE tbl = $1 AND key = $2)", self.name, key)
                if old is None:
                    done = await conn.fetchval(
                        "INSERT INTO mailbot_docs (tbl, key, value) VALUES ($1, $2, $3::jsonb) "
                        "ON CONFLICT (tbl, key) DO NOTHING RETURNING true", self.name, key, new)
                elif new is None:
                    done = await conn.fetchval(
                        "DELETE FROM mailbot_docs WHERE tbl = $1 AND key = $2 AND value = $3::jsonb RETURNING true",
                        self.name, key, old)
                else:
                    done = await conn.fetchval(
                        "UPDATE mailbot_docs SET value = $4::jsonb WHERE tbl = $1 AND key = $2 AND value = $3::jsonb "
                        "RETURNING true", self.name, key, old, new)
                if done:
                    await conn.execute(_BUMP, [self.name])
                    if wake:
                        await conn.execute(_NOTIFY, [self.name])
                return bool(done)

        await self._ensure_indexes()
        return await self.storage.call(self.name, body, adds=value is not None)

    async def items(self) -> list[tuple[str, Document]]:
        rows = await self._read(lambda conn: conn.fetch(
            "SELECT key, value FROM mailbot_docs WHERE tbl = $1 ORDER BY seq", self.name))
        return [(row[0], json.loads(row[1])) for row in rows]

    def scan_query(self, limit: int, after: int | None, reverse: bool,
                   where: Mapping[str, str] | None) -> tuple[str, list[Any]]:
        """The SQL of a scan page. A filter names the table and the field as literals (both checked
        names), so that the planner matches the field's partial index whatever the parameters."""
        clauses, params = [f"tbl = '{self.name}'" if where else "tbl = $1"], [] if where else [self.name]
        for field, value in (where or {}).items():
            if field not in self.indexed:
                raise ValueError(f"{self.name}.{field} is not indexed")
            params.append(str(value))
            clauses.append(f"{_field(field)} = ${len(params)}")
        if after is not None:
            params.append(int(after))
            clauses.append(f"seq {'<' if reverse else '>'} ${len(params)}")
        params.append(int(limit))
        query = (f"SELECT seq, key, value FROM mailbot_docs WHERE {' AND '.join(clauses)} "
                 f"ORDER BY seq {'DESC' if reverse else 'ASC'} LIMIT ${len(params)}")
        return query, params

    async def scan(self, limit: int, *, after: int | None = None, reverse: bool = False,
                   where: Mapping[str, str] | None = None) -> Page:
        query, params = self.scan_query(limit, after, reverse, where)
        rows = await self._read(lambda conn: conn.fetch(query, *params))
        cursor = rows[-1][0] if rows and len(rows) == limit else None
        return Page([(row[1], json.loads(row[2])) for row in rows], cursor)

    async def count(self) -> int:
        return int(await self._read(lambda conn: conn.fetchval(
            "SELECT count(*) FROM mailbot_docs WHERE tbl = $1", self.name)))

    async def version(self) -> object:
        """The table's write counter (one primary-key read; every write of any process bumps it in
        its own transaction)."""
        return await self._read(lambda conn: conn.fetchval(
            "SELECT coalesce((SELECT v FROM mailbot_versions WHERE tbl = $1), 0)", self.name))


class PostgresQueue(PostgresTable, Queue):
    """Documents carry `due`, `lease`, `owner`; `due` and `lease` are also generated columns, so a
    due read walks the (tbl, due, seq) index and stops after `limit` free entries (the functions
    of migration 2 keep the planner on that path)."""

    def _wakes(self, put: Mapping[str, Document]) -> bool:
        return bool(put)

    async def due(self, until: float, limit: int) -> list[tuple[str, Document]]:
        rows = await self._read(lambda conn: conn.fetch(
            "SELECT key, value FROM mailbot_due($1, $2, $3, $4)", self.name, float(until), time.time(), int(limit)))
        return [(row[0], json.loads(row[1])) for row in rows]

    async def claim(self, until: float, limit: int, owner: str, lease_s: float) -> list[tuple[str, Document]]:
        async def body(conn: asyncpg.Connection) -> list[asyncpg.Record]:
            now = time.time()
            patch = json.dumps({"lease": now + lease_s, "owner": owner}, ensure_ascii=False)
            # One statement (its own transaction): the claim, and the version bump when it took any.
            return await conn.fetch("SELECT key, value, due, seq FROM mailbot_claim($1, $2, $3, $4, $5::jsonb)",
                                    self.name, float(until), now, int(limit), patch)

        await self._ensure_indexes()
        rows = await self.storage.call(self.name, body)
        return [(row[0], json.loads(row[1])) for row in sorted(rows, key=lambda r: (r[2], r[3]))]

    async def renew(self, keys: Iterable[str], owner: str, lease_s: float) -> list[str]:
        keys = list(keys)
        if not keys:
            return []

        async def body(conn: asyncpg.Connection) -> list[str]:
            patch = json.dumps({"lease": time.time() + lease_s})
            async with conn.transaction():
                held = await conn.fetch(
                    "UPDATE mailbot_docs SET value = value || $4::jsonb WHERE tbl = $1 AND key = ANY($2::text[]) "
                    "AND value->>'owner' = $3 AND lease > 0 RETURNING key", self.name, keys, owner, patch)
                if held:
                    await conn.execute(_BUMP, [self.name])
            found = {row[0] for row in held}
            return [key for key in keys if key in found]

        return await self.storage.call(self.name, body)

    async def release(self, keys: Mapping[str, float | None], owner: str) -> None:
        patches = {key: {"lease": 0} if due is None else {"lease": 0, "due": due} for key, due in keys.items()}
        await self._patch(patches, "d.value->>'owner' = $4", owner)

    async def reschedule(self, dues: Mapping[str, float]) -> None:
        await self._patch({key: {"due": due} for key, due in dues.items()}, "d.lease < $4", time.time())

    async def _patch(self, patches: Mapping[str, Document], condition: str, arg: object) -> None:
        """Merge each patch into its entry where `condition` ($4 = `arg`) holds, in one statement;
        a queue that changed wakes the processes waiting in `changed()`."""
        if not patches:
            return
        names, values = list(patches), [json.dumps(patch) for patch in patches.values()]

        async def body(conn: asyncpg.Connection) -> None:
            async with conn.transaction():
                done = await conn.fetch(
                    "UPDATE mailbot_docs AS d SET value = d.value || u.patch "
                    "FROM unnest($2::text[], $3::jsonb[]) AS u(key, patch) "
                    f"WHERE d.tbl = $1 AND d.key = u.key AND {condition} RETURNING true",
                    self.name, names, values, arg)
                if done:
                    await conn.execute(_BUMP, [self.name])
                    await conn.execute(_NOTIFY, [self.name])

        await self.storage.call(self.name, body)

    async def recover(self, owner: str) -> int:
        async def body(conn: asyncpg.Connection) -> int:
            async with conn.transaction():
                freed = await conn.fetch(
                    "UPDATE mailbot_docs SET value = value || '{\"lease\": 0}'::jsonb "
                    "WHERE tbl = $1 AND value->>'owner' = $2 AND lease > 0 RETURNING true", self.name, owner)
                if freed:
                    await conn.execute(_BUMP, [self.name])
                    await conn.execute(_NOTIFY, [self.name])
            return len(freed)

        return await self.storage.call(self.name, body)

    async def next_due(self) -> float | None:
        due = await self._read(lambda conn: conn.fetchval(
            "SELECT due FROM mailbot_due($1, 'Infinity', $2, 1)", self.name, time.time()))
        return None if due is None else float(due)

    async def changed(self, timeout: float) -> None:
        await self.storage.wait_changed(self.name, timeout)


class PostgresStorage(Storage):
    """All tables of one database; `open()` connects and migrates (see the module's docstring)."""

    def __init__(self, url: str) -> None:
        if url.startswith(("postgresql+asyncpg://", "postgres+asyncpg://")):  # SQLAlchemy's spelling
            url = url.replace("+asyncpg", "", 1)
        self._dsn = url
        self.url = redact(url)
        self.health = StoreHealth("postgresql")
        self._pool: asyncpg.Pool | None = None
        self._tables: dict[str, PostgresTable] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self._pending: set[str] = set()  # queues notified while nobody waited
        self._closed = False

    # ---- tables -----------------------------------------------------------------------------

    def table(self, name: str, *, group: str | None = None, indexed: Sequence[str] = ()) -> Table:
        return self._open(PostgresTable, name, group, indexed)

    def queue(self, name: str, *, group: str | None = None, indexed: Sequence[str] = ()) -> Queue:
        table = self._open(PostgresQueue, name, group, indexed)
        assert isinstance(table, PostgresQueue)
        return table

    def _open(self, kind: type[PostgresTable], name: str, group: str | None, indexed: Sequence[str]) -> PostgresTable:
        if not _NAME.match(name) or (group is not None and not _NAME.match(group)):
            raise ValueError(f"bad table name {name!r}")
        table = self._tables.get(name)
        if table is None:
            table = self._tables[name] = kind(self, name, group or name, indexed)
        if type(table) is not kind or table.group != (group or name):
            raise ValueError(f"table {name!r} was opened as another kind or group")
        more = [field for field in indexed if field not in table.indexed]
        if more:  # opened again with more indexed fields: they are built on the next use
            for field in more:
                _field(field)
            table.indexed += tuple(more)
            table._indexes_ready = False
        return table

    # ---- calls ------------------------------------------------------------------------------

    async def call(self, table: str, body: Callable[[asyncpg.Connection], Awaitable[T]], *,
                   adds: bool = False, timeout: float = CALL_TIMEOUT_S) -> T:
        """Run `body(connection)` with a pooled connection, all of it within `timeout`.

        A backend failure becomes StorageFailed (recorded in `health`, with a probe that clears it
        once the server answers); a call that failed drops its connection (the pool opens a new
        one), so nothing of a broken transaction is left behind.
        """
        pool = self._pool
        if pool is None:
            raise RuntimeError("PostgresStorage: call open() first" if not self._closed else "PostgresStorage is closed")
        conn = None
        try:
            async with asyncio.timeout(timeout):
                conn = await pool.acquire()
                result = await body(conn)
        except BaseException as exc:
            closed = conn is not None and _closed(conn)
            if conn is not None:
                self._drop(pool, conn)
            if conn is None and isinstance(exc, TimeoutError) and pool.get_size() >= POOL_MAX:
                # Every pooled connection was busy the whole time: this process is overloaded, the
                # server is not down (a refused or slow connect leaves the pool below its size).
                error: StorageFailed | None = StorageFailed("busy", table=table, detail="pool wait")
            else:
                error = _storage_failed(exc, table, closed=closed) if isinstance(exc, Exception) else None
            if error is None:
                raise
            self.health.failed(table, error, lambda: self._probe(table))
            raise error from exc
        await pool.release(conn)
        if adds:
            self.health.succeeded(table)
        return result

    def _drop(self, pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
        """Close a connection a call failed on, never to be reused."""
        try:
            conn.terminate()
        except asyncpg.InterfaceError:
            return  # the server closed it, and the pool took it back then
        self._spawn(pool.release(conn))

    async def _probe(self, table: str) -> None:
        """For StoreHealth.check while `table` is failing: does the server answer? Never raises."""
        try:
            await self.call(table, lambda conn: conn.fetchval("SELECT 1"), adds=True)
        except StorageFailed:
            pass  # recorded by call
        except Exception:  # noqa: BLE001 - e.g. closed meanwhile
            log.debug("health probe of %s did not run", table, exc_info=True)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        async def quietly() -> None:
            try:
                await coro
            except Exception:  # noqa: BLE001 - a dropped connection's cleanup
                log.debug("postgres cleanup failed", exc_info=True)

        task = asyncio.ensure_future(quietly())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def transaction(self, steps: Sequence[Step]) -> None:
        tables = [table for table, _, _ in steps]
        if not all(isinstance(t, PostgresTable) and t.storage is self for t in tables):
            raise TypeError("a table of another storage")
        groups = {t.group for t in tables if isinstance(t, PostgresTable)}
        if len(groups) > 1:
            # PostgreSQL could span any tables; the embedded store cannot, and code must run on both.
            raise ValueError("a transaction spans one group's tables: " + ", ".join(t.name for t in tables))
        statements: list[tuple[str, tuple[Any, ...]]] = []
        touched: set[str] = set()
        wake: set[str] = set()
        for table, put, delete in steps:
            assert isinstance(table, PostgresTable)
            mine = table._statements(put, delete)
            statements += mine
            if mine:
                touched.add(table.name)
            if table._wakes(put):
                wake.add(table.name)
        if not statements:
            return
        for table in tables:
            assert isinstance(table, PostgresTable)
            await table._ensure_indexes()
        put_t: list[str] = []
        put_k: list[str] = []
        put_v: list[str] = []
        gone_t: list[str] = []
        gone_k: list[str] = []
        for sql, params in statements:
            if sql is _PUT:
                put_t += [params[0]] * len(params[1])
                put_k += params[1]
                put_v += params[2]
            else:
                gone_t += [params[0]] * len(params[1])
                gone_k += params[1]
        rows = list(zip(put_t + gone_t, put_k + gone_k))
        if len(rows) == len(set(rows)):  # each row once: one statement
            args = (put_t, put_k, put_v, gone_t, gone_k, sorted(touched), sorted(wake))

            async def body(conn: asyncpg.Connection) -> None:
                await conn.execute(_WRITE_ALL, *args)
        else:
            async def body(conn: asyncpg.Connection) -> None:
                async with conn.transaction():
                    for sql, args in statements:
                        await conn.execute(sql, *args)
                    await conn.execute(_BUMP, sorted(touched))  # one order everywhere: no deadlock on versions
                    if wake:
                        await conn.execute(_NOTIFY, sorted(wake))

        first = tables[0]
        assert isinstance(first, PostgresTable)
        await self.call(first.name, body, adds=any(put for _, put, _ in steps))

    async def names(self) -> list[str]:
        # The distinct names by skipping through the primary key (no read of the rows themselves).
        rows = await self.call("names", lambda conn: conn.fetch(
            """WITH RECURSIVE t(tbl) AS (
                   (SELECT tbl FROM mailbot_docs ORDER BY tbl LIMIT 1)
                   UNION ALL
                   SELECT (SELECT d.tbl FROM mailbot_docs d WHERE d.tbl > t.tbl ORDER BY d.tbl LIMIT 1)
                   FROM t WHERE t.tbl IS NOT NULL)
               SELECT tbl FROM t WHERE tbl IS NOT NULL"""))
        return [row[0] for row in rows]

    # ---- open, migrate, listen, close -------------------------------------------------------

    async def open(self) -> None:
        if self._pool is not None:
            return
        if self._closed:
            raise RuntimeError("PostgresStorage is closed")
        try:
            async with asyncio.timeout(CALL_TIMEOUT_S):
                pool = await asyncpg.create_pool(
                    self._dsn, min_size=0, max_size=POOL_MAX, timeout=CONNECT_TIMEOUT_S,
                    command_timeout=CALL_TIMEOUT_S, reset=_keep_session,
                    server_settings={"application_name": "mailbot", "jit": "off"})
        except Exception as exc:
            error = _storage_failed(exc, "open")
            if error is None:
                raise
            raise error from exc
        self._pool = pool
        try:
            await self.call("mailbot_schema", self._migrate, timeout=DDL_TIMEOUT_S)
            self._listener = asyncio.create_task(self._listen(), name="mailbot-postgres-listener")
            try:
                async with asyncio.timeout(CALL_TIMEOUT_S):
                    await self._listening.wait()
            except TimeoutError:
                raise StorageFailed("unavailable", table=CHANNEL, detail="TimeoutError") from None
        except BaseException:
            await self.close()
            raise

    @staticmethod
    async def _migrate(conn: asyncpg.Connection) -> None:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await conn.execute("CREATE TABLE IF NOT EXISTS mailbot_schema ("
                               "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
            current = await conn.fetchval("SELECT coalesce(max(version), 0) FROM mailbot_schema")
            if current > SCHEMA_VERSION:
                raise StorageFailed("other", table="mailbot_schema",
                                    detail=f"schema version {current} is newer than this mailbot's {SCHEMA_VERSION}")
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version]:
                    await conn.execute(statement, timeout=DDL_TIMEOUT_S)
                await conn.execute("INSERT INTO mailbot_schema (version) VALUES ($1)", version)
                log.info("postgresql schema migrated to version %d", version)

    async def _listen(self) -> None:
        """Keep one connection LISTENing on CHANNEL; reconnect after an outage. While it is down
        `changed()` just waits out its timeout; after a reconnect every waiter wakes (a NOTIFY may
        have been missed)."""
        delay, lost_at = 0.1, None
        while not self._closed:
            conn = None
            try:
                conn = await asyncpg.connect(self._dsn, timeout=CONNECT_TIMEOUT_S,
                                             server_settings={"application_name": "mailbot-listener"})
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _conn: lost.set())
                await conn.add_listener(CHANNEL, self._notified)
                if lost_at is not None:
                    log.warning("postgresql listener connected again after %.1f s", time.monotonic() - lost_at)
                self._listening.set()
                self._wake(None)
                delay, lost_at = 0.1, None
                while not lost.is_set():
                    try:
                        await asyncio.wait_for(lost.wait(), LISTEN_KEEPALIVE_S)
                    except TimeoutError:
                        await conn.fetchval("SELECT 1", timeout=CALL_TIMEOUT_S)
                raise ConnectionResetError("listener connection closed")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: reconnect
                if self._listening.is_set() and not self._closed:
                    lost_at = time.monotonic()
                    log.warning("postgresql listener lost its connection (%s); reconnecting", type(exc).__name__)
            finally:
                self._listening.clear()
                if conn is not None:
                    conn.terminate()
            if not self._closed:
                await asyncio.sleep(delay)
                delay = min(delay * 2, LISTEN_RETRY_MAX_S)

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self._wake(payload)

    def _wake(self, name: str | None) -> None:
        names = list(self._waiters) if name is None else [name]
        for queue in names:
            waiters = self._waiters.pop(queue, set())
            if not waiters:
                self._pending.add(queue)
            for future in waiters:
                if not future.done():
                    future.set_result(None)

    async def wait_changed(self, name: str, timeout: float) -> None:
        if name in self._pending:
            self._pending.discard(name)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(name, set()).add(future)
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            pass
        finally:
            waiters = self._waiters.get(name)
            if waiters is not None:
                waiters.discard(future)
                if not waiters:
                    del self._waiters[name]

    async def close(self) -> None:
        self._closed = True
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), CALL_TIMEOUT_S)
            except (Exception, asyncio.TimeoutError):  # noqa: BLE001 - a server gone: drop the connections
                pool.terminate()
        for waiters in self._waiters.values():
            for future in waiters:
                if not future.done():
                    future.set_result(None)
        self._waiters.clear()
