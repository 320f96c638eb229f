"""Embedded default backend: sqlitedict's file format in the data dir, values as JSON.

A table is sqlitedict's (key TEXT PRIMARY KEY, value BLOB), keys stored as they are (sqlitedict's
default `encode_key` is the identity), values JSON text, never pickle. A table opened without a
group lives alone in `<name>.sqlite` as table "docs" (`SqliteDict(path, tablename="docs")` reads
it); the tables of a group share `<group>.sqlite`, one sqlite table each, under their own names
(`SqliteDict(path, tablename=name)`), so a transaction can span them (the outbox's enqueue writes
content, queue entry, idempotency key and record at once). A group's tables found in their old
single files are moved into the group file the first time it opens.

The connection is our own, not sqlitedict's writer thread: sqlitedict commits whatever went before
a failed statement (a multi-key write could land in part), and a failed COMMIT kills its thread, so
every later call would wait forever. Here each file has one `sqlite3` connection, used only in a
worker thread under the file's lock; every write is BEGIN IMMEDIATE … COMMIT and rolls back on any
error, so it lands whole or not at all, raises StorageFailed to its caller, and the next call works
again (e.g. once the full disk has room). No call waits forever: sqlite gives up on another
process's lock after BUSY_TIMEOUT_S, a call on this process's lock after LOCK_WAIT_S.

Indexed fields and a queue's `due` and `lease` are expression indexes on `json_extract(value, …)`:
sqlitedict ignores them, and a filtered listing or a due read costs the rows it returns.

`items()` keeps a snapshot of a table's JSON text and reuses it while the file is unchanged (any
commit, by this process or another, changes its size or mtime), so a small, often-read table such
as the mailboxes costs no thread hop per read. Reads parse the JSON anew, so callers never share a
dict.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from bot.errors import StorageFailed
from bot.storage.base import Document, Page, Queue, Step, Storage, StoreHealth, Table
from bot.storage.private import make_private_dir, warn_if_exposed

log = logging.getLogger("mailbot.storage")
T = TypeVar("T")
LEGACY_TABLE = "docs"  # a table alone in its file: exactly what SqliteDict(path, tablename="docs") creates
# The health probe: a row that needs new pages, deleted in the same transaction (no reader ever sees
# it); its key cannot be a real one (NUL first).
PROBE_KEY = "\x00mailbot-health-probe"
PROBE_BYTES = 64 * 1024
SYNCHRONOUS = "FULL"  # WAL: the log is synced at every commit, so a committed write survives power loss
BUSY_TIMEOUT_S = 1.0  # sqlite waits this long for another process's write lock, then SQLITE_BUSY
GET_MANY_CHUNK = 500  # keys per IN (...) of get_many: under sqlite's bound on variables
LOCK_WAIT_S = 2.0  # a call waits this long for the file's lock (held by another call), then "busy"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
# sqlite primary result codes (extended codes carry them in the low byte)
_SQLITE_KINDS = {13: "full", 10: "io", 8: "readonly", 3: "readonly", 14: "readonly", 23: "readonly",
                 5: "busy", 6: "busy", 11: "corrupt", 26: "corrupt"}
_ERRNO_KINDS = {errno.ENOSPC: "full", errno.EDQUOT: "full", errno.EIO: "io", errno.EACCES: "readonly",
                errno.EPERM: "readonly", errno.EROFS: "readonly"}


def _encode(value: Document) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def storage_failed(exc: sqlite3.Error | OSError, table: str) -> StorageFailed:
    """The one error callers see; it names the kind and sqlite's error name, never a key or value."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        kind = _SQLITE_KINDS.get(code & 0xFF, "other") if isinstance(code, int) else "other"
        return StorageFailed(kind, table=table, detail=getattr(exc, "sqlite_errorname", None) or type(exc).__name__)
    return StorageFailed(_ERRNO_KINDS.get(exc.errno or 0, "other"), table=table,
                         detail=errno.errorcode.get(exc.errno or 0, type(exc).__name__))


def _is_bug(exc: sqlite3.Error) -> bool:
    """Misuse of the API (a closed connection, bad parameters) is a bug, not the store failing."""
    return isinstance(exc, (sqlite3.ProgrammingError, sqlite3.InterfaceError))


def connect(path: Path) -> sqlite3.Connection:
    """A connection for one file (tables are created by whoever opens them).

    isolation_level=None: no implicit transactions, every write says BEGIN IMMEDIATE itself.
    """
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
    except BaseException:
        conn.close()
        raise
    return conn


def _field(name: str) -> str:
    """The SQL expression for a document field (the exact text its expression index was built on)."""
    if not _NAME.match(name):
        raise ValueError(f"bad field name {name!r}")
    return f"json_extract(value, '$.{name}')"


class Database:
    """One file: its connection, the lock every use of it takes, and its health bookkeeping."""

    def __init__(self, path: Path, health: StoreHealth) -> None:
        self.path = path
        self.health = health
        try:
            # Owner-only from the first byte: sqlite gives the -wal/-shm files the database file's mode.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            self.conn = connect(path)
        except (OSError, sqlite3.Error) as exc:
            if isinstance(exc, sqlite3.Error) and _is_bug(exc):
                raise
            raise storage_failed(exc, path.stem) from exc
        self._stamped = (str(path), str(path) + "-wal")  # stat()ed on every version check: plain strings
        self.lock = threading.Lock()
        self.generation = 0  # bumped by every write of this process: a read that overlapped one is not kept
        self.tables: list[SqliteTable] = []  # the file's tables: a write forgets their snapshots

    def stamp(self) -> tuple[int, ...]:
        """Changes with every commit by any process: size and mtime of the file and its WAL."""
        stamp: list[int] = []
        for path in self._stamped:
            try:
                info = os.stat(path)
                stamp += [info.st_mtime_ns, info.st_size]
            except FileNotFoundError:
                stamp += [0, 0]
        return tuple(stamp)

    def locked(self, fn: Callable[[sqlite3.Connection], T], table: str) -> T:
        """Run `fn(connection)` under the file's lock (blocking: call it in a worker thread).

        sqlite errors become StorageFailed; so does waiting longer than LOCK_WAIT_S for the lock.
        """
        if not self.lock.acquire(timeout=LOCK_WAIT_S):
            raise StorageFailed("busy", table=table, detail="lock wait")
        try:
            return fn(self.conn)
        except sqlite3.Error as exc:
            if _is_bug(exc):
                raise
            raise storage_failed(exc, table) from exc
        finally:
            self.lock.release()

    @staticmethod
    def commit(conn: sqlite3.Connection, body: Callable[[sqlite3.Connection], T]) -> T:
        """BEGIN IMMEDIATE, body, COMMIT; ROLLBACK on any error (sqlite may have rolled back already)."""
        if conn.in_transaction:  # a ROLLBACK that failed earlier (I/O error): start clean
            conn.execute("ROLLBACK")
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = body(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    log.warning("rollback failed; the next write of this file retries it", exc_info=True)
            raise
        return result

    def write_locked(self, body: Callable[[sqlite3.Connection], T], table: SqliteTable, *, adds: bool) -> T:
        """A write transaction under the lock, recorded in the store's health: a failure marks the
        table failing, a success that added data marks it healthy."""
        self.generation += 1
        for each in self.tables:
            each.forget()
        try:
            result = self.locked(lambda conn: self.commit(conn, body), table.name)
        except StorageFailed as exc:
            self.health.failed(table.name, exc, table.probe)
            raise
        if adds:
            self.health.succeeded(table.name)
        return result

    def close(self) -> None:
        """Blocking: closes the connection once no call holds it (a call stuck past LOCK_WAIT_S, e.g.
        in an fsync that never returns, keeps it open: the process is ending anyway)."""
        if not self.lock.acquire(timeout=LOCK_WAIT_S):
            log.warning("%s: a call is still running; its connection is left open", self.path.name)
            return
        try:
            self.conn.close()
        finally:
            self.lock.release()


class SqliteTable(Table):
    def __init__(self, db: Database, name: str, sql_name: str, indexed: Sequence[str] = ()) -> None:
        self.db = db
        self.name = name
        self.health = db.health
        self.indexed = tuple(indexed)
        t = f'"{sql_name}"'
        self._sql = dict(
            get=f"SELECT value FROM {t} WHERE key = ?",
            all=f"SELECT key, value FROM {t} ORDER BY rowid",
            count=f"SELECT COUNT(*) FROM {t}",
            delete=f"DELETE FROM {t} WHERE key = ?",
            # An upsert keeps a rewritten row's rowid, so rowid order stays insertion order (REPLACE would move it).
            put=f"INSERT INTO {t} (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            probe=f"INSERT INTO {t} (key, value) VALUES (?, zeroblob(?))",
            table=t,
        )
        self._snapshot: dict[str, str] | None = None
        self._stamp: tuple[int, ...] = ()
        db.tables.append(self)
        ddl = [f"CREATE TABLE IF NOT EXISTS {t} (key TEXT PRIMARY KEY, value BLOB)"]
        ddl += [f'CREATE INDEX IF NOT EXISTS "{sql_name}__{f}" ON {t} ({_field(f)})' for f in self.indexed]
        ddl += self._extra_ddl(sql_name)

        def create(conn: sqlite3.Connection) -> None:
            for statement in ddl:
                conn.execute(statement)

        self.db.locked(lambda conn: self.db.commit(conn, create), name)

    def _extra_ddl(self, sql_name: str) -> list[str]:
        return []

    def forget(self) -> None:
        self._snapshot = None

    def _fresh_snapshot(self) -> dict[str, str] | None:
        return self._snapshot if self._snapshot is not None and self.db.stamp() == self._stamp else None

    def locked(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(connection)` under the file's lock, in a worker thread (tests inject faults with it)."""
        return self.db.locked(fn, self.name)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(self.db.locked, fn, self.name)

    async def _write(self, body: Callable[[sqlite3.Connection], T], *, adds: bool) -> T:
        return await asyncio.to_thread(self.db.write_locked, body, self, adds=adds)

    async def probe(self) -> None:
        """For StoreHealth.check while this table is failing: can it take PROBE_BYTES again?

        Skipped while another call holds the lock (its outcome updates the health); never raises.
        """
        sql = self._sql

        def probe(conn: sqlite3.Connection) -> None:
            conn.execute(sql["probe"], (PROBE_KEY, PROBE_BYTES))
            conn.execute(sql["delete"], (PROBE_KEY,))

        def run() -> None:
            if not self.db.lock.locked():
                self.db.write_locked(probe, self, adds=True)

        try:
            await asyncio.to_thread(run)
        except StorageFailed:
            pass  # recorded by write_locked
        except Exception:  # noqa: BLE001 - e.g. the table was closed meanwhile
            log.debug("health probe of %s did not run", self.name, exc_info=True)

    # ---- the Table interface ----------------------------------------------------------------

    async def get(self, key: str) -> Document | None:
        snapshot = self._fresh_snapshot()
        if snapshot is not None:
            raw = snapshot.get(key)
        else:
            row = await self._run(lambda conn: conn.execute(self._sql["get"], (key,)).fetchone())
            raw = row[0] if row is not None else None
        return json.loads(raw) if raw is not None else None

    async def get_many(self, keys: Iterable[str]) -> dict[str, Document]:
        keys = list(dict.fromkeys(keys))
        table = self._sql["table"]

        def read(conn: sqlite3.Connection) -> list[tuple[str, str]]:
            rows: list[tuple[str, str]] = []
            for i in range(0, len(keys), GET_MANY_CHUNK):
                chunk = keys[i:i + GET_MANY_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows += conn.execute(f"SELECT key, value FROM {table} WHERE key IN ({marks})", chunk).fetchall()
            return rows

        return {key: json.loads(raw) for key, raw in await self._run(read)} if keys else {}

    async def write(self, put: Mapping[str, Document], delete: Iterable[str] = ()) -> None:
        body = self.body(put, delete)
        await self._write(body, adds=bool(put))

    def body(self, put: Mapping[str, Document], delete: Iterable[str] = ()) -> Callable[[sqlite3.Connection], None]:
        """The statements of a write, to run inside a transaction (encoding first: a value JSON
        cannot hold fails here, before anything is written)."""
        encoded = [(key, _encode(value)) for key, value in put.items()]
        deletes = [(key,) for key in delete]
        sql = self._sql

        def body(conn: sqlite3.Connection) -> None:
            conn.executemany(sql["put"], encoded)
            conn.executemany(sql["delete"], deletes)  # a missing key is a no-op

        return body

    async def delete(self, key: str) -> bool:
        return await self._write(lambda conn: conn.execute(self._sql["delete"], (key,)).rowcount > 0, adds=False)

    async def put_if(self, key: str, value: Document | None, expected: Document | None) -> bool:
        encoded = None if value is None else _encode(value)
        sql = self._sql

        def body(conn: sqlite3.Connection) -> bool:
            row = conn.execute(sql["get"], (key,)).fetchone()
            current = None if row is None else json.loads(row[0])
            if current != expected:
                return False
            if encoded is None:
                conn.execute(sql["delete"], (key,))
            else:
                conn.execute(sql["put"], (key, encoded))
            return True

        return await self._write(body, adds=value is not None)

    async def items(self) -> list[tuple[str, Document]]:
        snapshot = self._fresh_snapshot()
        if snapshot is None:
            stamp, generation = self.db.stamp(), self.db.generation  # before reading: a commit meanwhile forces a re-read
            snapshot = await self._run(lambda conn: dict(conn.execute(self._sql["all"]).fetchall()))
            if generation == self.db.generation:  # a write of ours overlapped the read: use it, do not keep it
                self._snapshot, self._stamp = snapshot, stamp
        return [(key, json.loads(raw)) for key, raw in snapshot.items()]

    async def scan(self, limit: int, *, after: int | None = None, reverse: bool = False,
                   where: Mapping[str, str] | None = None) -> Page:
        clauses, params = [], []
        for name, value in (where or {}).items():
            if name not in self.indexed:
                raise ValueError(f"{self.name}.{name} is not indexed")
            clauses.append(f"{_field(name)} = ?")
            params.append(value)
        if after is not None:
            clauses.append("rowid < ?" if reverse else "rowid > ?")
            params.append(after)
        query = (f"SELECT rowid, key, value FROM {self._sql['table']}"
                 + (" WHERE " + " AND ".join(clauses) if clauses else "")
                 + f" ORDER BY rowid {'DESC' if reverse else 'ASC'} LIMIT ?")
        rows = await self._run(lambda conn: conn.execute(query, (*params, limit)).fetchall())
        cursor = rows[-1][0] if rows and len(rows) == limit else None
        return Page([(key, json.loads(raw)) for _, key, raw in rows], cursor)

    async def count(self) -> int:
        return int((await self._run(lambda conn: conn.execute(self._sql["count"]).fetchone()))[0])

    async def version(self) -> object:
        return self.db.generation, self.db.stamp()


class SqliteQueue(SqliteTable, Queue):
    """A table whose documents carry `due`, `lease` and `owner`, with an index on `due`: the rows
    a due read or a claim looks at are the due ones (and the few leased ones among them)."""

    def _extra_ddl(self, sql_name: str) -> list[str]:
        return [f'CREATE INDEX IF NOT EXISTS "{sql_name}__due" ON "{sql_name}" ({_field("due")})']

    def _due_query(self) -> str:
        return (f"SELECT key, value FROM {self._sql['table']} WHERE {_field('due')} <= ? "
                f"AND coalesce({_field('lease')}, 0) < ? ORDER BY {_field('due')} LIMIT ?")

    async def due(self, until: float, limit: int) -> list[tuple[str, Document]]:
        query, at = self._due_query(), time.time()
        rows = await self._run(lambda conn: conn.execute(query, (until, at, limit)).fetchall())
        return [(key, json.loads(raw)) for key, raw in rows]

    async def claim(self, until: float, limit: int, owner: str, lease_s: float) -> list[tuple[str, Document]]:
        query, table = self._due_query(), self._sql["table"]
        # json(?) of Python's repr: the stored lease is exactly the float returned (a bound REAL is
        # rendered with 15 digits).
        update = f"UPDATE {table} SET value = json_set(value, '$.lease', json(?), '$.owner', ?) WHERE key = ?"

        def body(conn: sqlite3.Connection) -> list[tuple[str, Document]]:
            at = time.time()
            lease = at + lease_s
            taken = []
            for key, raw in conn.execute(query, (until, at, limit)).fetchall():
                conn.execute(update, (repr(lease), owner, key))
                taken.append((key, {**json.loads(raw), "lease": lease, "owner": owner}))
            return taken

        return await self._write(body, adds=False)

    async def renew(self, keys: Iterable[str], owner: str, lease_s: float) -> list[str]:
        keys = list(keys)
        update = (f"UPDATE {self._sql['table']} SET value = json_set(value, '$.lease', json(?)) "
                  f"WHERE key = ? AND {_field('owner')} = ? AND {_field('lease')} > 0")

        def body(conn: sqlite3.Connection) -> list[str]:
            lease = repr(time.time() + lease_s)
            return [key for key in keys if conn.execute(update, (lease, key, owner)).rowcount > 0]

        return await self._write(body, adds=False) if keys else []

    async def release(self, keys: Mapping[str, float | None], owner: str) -> None:
        update = (f"UPDATE {self._sql['table']} SET value = json_set(value, '$.lease', 0, '$.due', "
                  f"coalesce(json(?), {_field('due')})) WHERE key = ? AND {_field('owner')} = ?")
        rows = [(None if due is None else repr(float(due)), key, owner) for key, due in keys.items()]
        if rows:
            await self._write(lambda conn: conn.executemany(update, rows), adds=False)

    async def reschedule(self, dues: Mapping[str, float]) -> None:
        update = (f"UPDATE {self._sql['table']} SET value = json_set(value, '$.due', json(?)) "
                  f"WHERE key = ? AND coalesce({_field('lease')}, 0) < ?")
        if dues:
            at = time.time()
            rows = [(repr(float(due)), key, at) for key, due in dues.items()]
            await self._write(lambda conn: conn.executemany(update, rows), adds=False)

    async def recover(self, owner: str) -> int:
        update = (f"UPDATE {self._sql['table']} SET value = json_set(value, '$.lease', 0) "
                  f"WHERE {_field('owner')} = ? AND {_field('lease')} > 0")
        return await self._write(lambda conn: conn.execute(update, (owner,)).rowcount, adds=False)

    async def next_due(self) -> float | None:
        query = (f"SELECT {_field('due')} FROM {self._sql['table']} WHERE coalesce({_field('lease')}, 0) < ? "
                 f"ORDER BY {_field('due')} LIMIT 1")
        row = await self._run(lambda conn: conn.execute(query, (time.time(),)).fetchone())
        return None if row is None else float(row[0])


class SqliteStorage(Storage):
    """Tables live in `<data_dir>`: `<name>.sqlite` alone, or `<group>.sqlite` with their group; the
    directory is created on first use.

    The data holds mail bodies and sealed passwords, so the directory is made 0700 and every file in
    it 0600; an existing directory that others can read is reported once, when the storage opens.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.url = str(self.data_dir)
        self.health = StoreHealth("sqlite")
        self._files: dict[str, Database] = {}
        self._tables: dict[str, SqliteTable] = {}
        if self.data_dir.is_dir():
            warn_if_exposed(self.data_dir)

    def table(self, name: str, *, group: str | None = None, indexed: Sequence[str] = ()) -> Table:
        return self._open(SqliteTable, name, group, indexed)

    def queue(self, name: str, *, group: str | None = None, indexed: Sequence[str] = ()) -> Queue:
        table = self._open(SqliteQueue, name, group, indexed)
        assert isinstance(table, SqliteQueue)
        return table

    def _open(self, kind: type[SqliteTable], name: str, group: str | None, indexed: Sequence[str]) -> SqliteTable:
        if not _NAME.match(name) or (group is not None and not _NAME.match(group)):
            raise ValueError(f"bad table name {name!r}")
        table = self._tables.get(name)
        if table is None:
            file = group or name
            try:
                make_private_dir(self.data_dir)
                db = self._files.get(file)
                if db is None:
                    db = self._files[file] = Database(self.data_dir / f"{file}.sqlite", self.health)
                if group is not None:
                    _adopt_legacy(db, name, self.data_dir / f"{name}.sqlite")
            except StorageFailed:
                raise
            except OSError as exc:
                raise storage_failed(exc, name) from exc
            table = self._tables[name] = kind(db, name, LEGACY_TABLE if group is None else name, indexed)
        if not isinstance(table, kind) or table.db.path.stem != (group or name):
            raise ValueError(f"table {name!r} was opened as another kind or group")
        return table

    async def transaction(self, steps: Sequence[Step]) -> None:
        tables = [table for table, _, _ in steps]
        if not all(isinstance(t, SqliteTable) for t in tables):
            raise TypeError("a table of another storage")
        dbs = {t.db for t in tables if isinstance(t, SqliteTable)}
        if len(dbs) > 1:
            raise ValueError("a transaction spans one group's tables: " + ", ".join(t.name for t in tables))
        if not steps:
            return
        bodies = [t.body(put, delete) for t, put, delete in steps if isinstance(t, SqliteTable)]
        first = tables[0]
        assert isinstance(first, SqliteTable)

        def body(conn: sqlite3.Connection) -> None:
            for run in bodies:
                run(conn)

        await asyncio.to_thread(first.db.write_locked, body, first, adds=any(put for _, put, _ in steps))

    async def names(self) -> list[str]:
        def read() -> list[str]:
            found = []
            for path in sorted(self.data_dir.glob("*.sqlite")):
                conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
                try:
                    tables = [row[0] for row in conn.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
                finally:
                    conn.close()
                found += [path.stem if t == LEGACY_TABLE else t for t in tables if _NAME.match(t)]
            return sorted(found)

        if not self.data_dir.is_dir():
            return []
        try:
            return await asyncio.to_thread(read)
        except (OSError, sqlite3.Error) as exc:
            raise storage_failed(exc, "names") from exc

    async def close(self) -> None:
        files, self._files, self._tables = list(self._files.values()), {}, {}
        for db in files:
            await asyncio.to_thread(db.close)

    async def tables(self) -> dict[str, Table]:
        """Every table stored in the data dir, name → Table, opened the way the code that made it
        opens it: with its group when it lives in `<group>.sqlite`, alone when it is "docs" of
        `<name>.sqlite`, as a Queue when it has a queue's due index, with the indexed fields its
        indexes name. For code that reads tables it does not know by name (`mailbot store migrate`):
        opening a group's table without its group would create a stray `<name>.sqlite` instead. No
        new file is made; a table found both alone (an older version's file) and in its group is
        opened in the group, which moves the old file's rows in (as any opening with the group does).
        """

        def read() -> dict[str, tuple[str | None, bool, list[str]]]:
            found: dict[str, tuple[str | None, bool, list[str]]] = {}
            for path in sorted(self.data_dir.glob("*.sqlite")):
                conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
                try:
                    rows = conn.execute("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'index')").fetchall()
                finally:
                    conn.close()
                indexes = {name for kind, name in rows if kind == "index"}
                for sql_name in sorted(name for kind, name in rows if kind == "table"):
                    name, group = (path.stem, None) if sql_name == LEGACY_TABLE else (sql_name, path.stem)
                    if not _NAME.match(name) or not _NAME.match(path.stem) or (name in found and group is None):
                        continue
                    fields = sorted(index[len(sql_name) + 2:] for index in indexes if index.startswith(f"{sql_name}__"))
                    queue = "due" in fields
                    found[name] = (group, queue, [f for f in fields if _NAME.match(f) and not (queue and f == "due")])
            return found

        if not self.data_dir.is_dir():
            return {}
        try:
            found = await asyncio.to_thread(read)
        except (OSError, sqlite3.Error) as exc:
            raise storage_failed(exc, "tables") from exc
        opened: dict[str, Table] = {}
        for name in sorted(found):
            group, queue, indexed = found[name]
            opener = self.queue if queue else self.table
            opened[name] = opener(name, group=group, indexed=indexed)
        return opened


def _adopt_legacy(db: Database, name: str, legacy: Path) -> None:
    """Move a table that an older version kept alone in `<name>.sqlite` into its group's file, in
    one transaction, then remove the old file (a crash before the removal copies it again: the
    upsert makes that harmless)."""
    if not legacy.exists() or legacy == db.path:
        return

    def move(conn: sqlite3.Connection) -> None:
        conn.execute(f'CREATE TABLE IF NOT EXISTS "{name}" (key TEXT PRIMARY KEY, value BLOB)')
        conn.execute(f'INSERT INTO "{name}" (key, value) SELECT key, value FROM legacy."{LEGACY_TABLE}" WHERE true '
                     "ORDER BY rowid ON CONFLICT(key) DO NOTHING")

    def run(conn: sqlite3.Connection) -> None:
        conn.execute("ATTACH DATABASE ? AS legacy", (str(legacy),))
        try:
            has = conn.execute("SELECT 1 FROM legacy.sqlite_master WHERE name = ?", (LEGACY_TABLE,)).fetchone()
            if has:
                db.commit(conn, move)
        finally:
            conn.execute("DETACH DATABASE legacy")

    db.locked(run, name)
    for suffix in ("", "-wal", "-shm"):
        legacy.with_name(legacy.name + suffix).unlink(missing_ok=True)
    log.info("moved %s into %s", legacy.name, db.path.name)
