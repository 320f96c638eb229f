"""Embedded default backend: one sqlitedict file per table in the data dir, values as JSON.

The files are sqlitedict's: table "docs" (key TEXT PRIMARY KEY, value BLOB), keys stored as they are
(sqlitedict's default `encode_key` is the identity), values JSON text, never pickle; a file written
by `SqliteDict(path, tablename="docs")` reads back here and the other way round.

The connection is our own, not sqlitedict's writer thread: sqlitedict commits whatever went before
a failed statement (a multi-key write could land in part), and a failed COMMIT kills its thread, so
every later call would wait forever. Here each table has one `sqlite3` connection, used only in a
worker thread under the table's lock; every write is BEGIN IMMEDIATE … COMMIT and rolls back on any
error, so it lands whole or not at all, raises StorageFailed to its caller, and the next call works
again (e.g. once the full disk has room). No call waits forever: sqlite gives up on another
process's lock after BUSY_TIMEOUT_S, a call on this process's lock after LOCK_WAIT_S.

`items()` keeps a snapshot of the table's JSON text and reuses it while the database files are
unchanged (any commit, by this process or another, changes their size or mtime), so a small,
often-read table such as the mailboxes costs no thread hop per read. Reads parse the JSON anew,
so callers never share a dict.
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
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from bot.errors import StorageFailed
from bot.storage.base import Document, Step, Storage, StoreHealth, Table
from bot.storage.private import make_private_dir, warn_if_exposed

log = logging.getLogger("mailbot.storage")
T = TypeVar("T")
# Exactly the table SqliteDict(path, tablename="docs") creates, so either can open the other's files.
SCHEMA = 'CREATE TABLE IF NOT EXISTS "docs" (key TEXT PRIMARY KEY, value BLOB)'
_GET = 'SELECT value FROM "docs" WHERE key = ?'
_ALL = 'SELECT key, value FROM "docs" ORDER BY rowid'
_COUNT = 'SELECT COUNT(*) FROM "docs"'
_DELETE = 'DELETE FROM "docs" WHERE key = ?'
# An upsert keeps a rewritten row's rowid, so rowid order stays insertion order (REPLACE would move it).
_PUT = 'INSERT INTO "docs" (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'
_NEWEST = 'SELECT key, value FROM "docs" ORDER BY rowid DESC LIMIT ? OFFSET ?'
_OLDEST = 'SELECT key, value FROM "docs" ORDER BY rowid LIMIT ? OFFSET ?'
# The health probe: a row that needs new pages, deleted in the same transaction (no reader ever sees
# it); its key cannot be a real one (NUL first).
_PROBE_PUT = 'INSERT INTO "docs" (key, value) VALUES (?, zeroblob(?))'
PROBE_KEY = "\x00mailbot-health-probe"
PROBE_BYTES = 64 * 1024
SYNCHRONOUS = "FULL"  # WAL: the log is synced at every commit, so a committed write survives power loss
BUSY_TIMEOUT_S = 1.0  # sqlite waits this long for another process's write lock, then SQLITE_BUSY
LOCK_WAIT_S = 2.0  # a call waits this long for the table's lock (held by another call), then "busy"
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
    """A connection for one table's file, creating sqlitedict's table on first use.

    isolation_level=None: no implicit transactions, every write says BEGIN IMMEDIATE itself.
    """
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
        conn.execute(SCHEMA)
    except BaseException:
        conn.close()
        raise
    return conn


class SqliteTable(Table):
    def __init__(self, path: Path, health: StoreHealth | None = None) -> None:
        self._path = path
        self.name = path.stem
        self.health = health or StoreHealth("sqlite")
        try:
            # Owner-only from the first byte: sqlite gives the -wal/-shm files the database file's mode.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            self._conn = connect(path)
        except (OSError, sqlite3.Error) as exc:
            if isinstance(exc, sqlite3.Error) and _is_bug(exc):
                raise
            raise storage_failed(exc, self.name) from exc
        self._lock = threading.Lock()
        self._snapshot: dict[str, str] | None = None
        self._stamp: tuple[int, ...] = ()
        self._generation = 0  # bumped by every write of this process: a read that overlapped one is not kept

    def _file_stamp(self) -> tuple[int, ...]:
        """Changes with every commit by any process: size and mtime of the file and its WAL."""
        stamp: list[int] = []
        for path in (self._path, self._path.with_name(self._path.name + "-wal")):
            try:
                info = os.stat(path)
                stamp += [info.st_mtime_ns, info.st_size]
            except FileNotFoundError:
                stamp += [0, 0]
        return tuple(stamp)

    def _fresh_snapshot(self) -> dict[str, str] | None:
        return self._snapshot if self._snapshot is not None and self._file_stamp() == self._stamp else None

    # ---- the connection: only ever in a worker thread, under the lock -----------------------

    def locked(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(connection)` under this table's lock (blocking: call it in a worker thread).

        sqlite errors become StorageFailed; so does waiting longer than LOCK_WAIT_S for the lock.
        """
        if not self._lock.acquire(timeout=LOCK_WAIT_S):
            raise StorageFailed("busy", table=self.name, detail="lock wait")
        try:
            return fn(self._conn)
        except sqlite3.Error as exc:
            if _is_bug(exc):
                raise
            raise storage_failed(exc, self.name) from exc
        finally:
            self._lock.release()

    @staticmethod
    def _commit(conn: sqlite3.Connection, body: Callable[[sqlite3.Connection], T]) -> T:
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
                    log.warning("rollback failed; the next write of this table retries it", exc_info=True)
            raise
        return result

    def write_locked(self, body: Callable[[sqlite3.Connection], T], *, adds: bool) -> T:
        """A write transaction under the lock, recorded in the store's health: a failure marks the
        table failing, a success that added data marks it healthy."""
        try:
            result = self.locked(lambda conn: self._commit(conn, body))
        except StorageFailed as exc:
            self.health.failed(self.name, exc, self._probe)
            raise
        if adds:
            self.health.succeeded(self.name)
        return result

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(self.locked, fn)

    async def _probe(self) -> None:
        """For StoreHealth.check while this table is failing: can it take PROBE_BYTES again?

        Skipped while another call holds the lock (its outcome updates the health); never raises.
        """
        def probe(conn: sqlite3.Connection) -> None:
            conn.execute(_PROBE_PUT, (PROBE_KEY, PROBE_BYTES))
            conn.execute(_DELETE, (PROBE_KEY,))

        def run() -> None:
            if not self._lock.locked():
                self.write_locked(probe, adds=True)

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
            row = await self._run(lambda conn: conn.execute(_GET, (key,)).fetchone())
            raw = row[0] if row is not None else None
        return json.loads(raw) if raw is not None else None

    async def put(self, key: str, value: Document) -> None:
        await self.write({key: value})

    async def write(self, put: Mapping[str, Document], delete: Iterable[str] = ()) -> None:
        await asyncio.to_thread(self.transaction(put, delete))

    def transaction(self, put: Mapping[str, Document], delete: Iterable[str] = ()) -> Callable[[], None]:
        """The blocking body of `write`, to run in a worker thread: takes the lock, commits or rolls back."""
        encoded = [(key, _encode(value)) for key, value in put.items()]  # a value JSON cannot hold fails here
        deletes = [(key,) for key in delete]
        self._snapshot, self._generation = None, self._generation + 1

        def body(conn: sqlite3.Connection) -> None:
            conn.executemany(_PUT, encoded)
            conn.executemany(_DELETE, deletes)  # a missing key is a no-op

        return lambda: self.write_locked(body, adds=bool(encoded))

    async def delete(self, key: str) -> bool:
        self._snapshot, self._generation = None, self._generation + 1
        return await asyncio.to_thread(
            self.write_locked, lambda conn: conn.execute(_DELETE, (key,)).rowcount > 0, adds=False)

    async def items(self) -> list[tuple[str, Document]]:
        snapshot = self._fresh_snapshot()
        if snapshot is None:
            stamp, generation = self._file_stamp(), self._generation  # before reading: a commit meanwhile forces a re-read
            snapshot = await self._run(lambda conn: dict(conn.execute(_ALL).fetchall()))
            if generation == self._generation:  # a write of ours overlapped the read: use it, do not keep it
                self._snapshot, self._stamp = snapshot, stamp
        return [(key, json.loads(raw)) for key, raw in snapshot.items()]

    async def newest(self, limit: int, offset: int = 0) -> list[tuple[str, Document]]:
        return await self._in_order(_NEWEST, limit, offset)

    async def oldest(self, limit: int, offset: int = 0) -> list[tuple[str, Document]]:
        return await self._in_order(_OLDEST, limit, offset)

    async def _in_order(self, query: str, limit: int, offset: int) -> list[tuple[str, Document]]:
        rows = await self._run(lambda conn: conn.execute(query, (limit, offset)).fetchall())
        return [(key, json.loads(raw)) for key, raw in rows]

    async def count(self) -> int:
        return int((await self._run(lambda conn: conn.execute(_COUNT).fetchone()))[0])

    def version(self) -> object:
        return self._generation, self._file_stamp()

    def close(self) -> None:
        """Blocking: closes the connection once no call holds it (a call stuck past LOCK_WAIT_S, e.g.
        in an fsync that never returns, keeps it open: the process is ending anyway)."""
        if not self._lock.acquire(timeout=LOCK_WAIT_S):
            log.warning("%s: a call is still running; its connection is left open", self.name)
            return
        try:
            self._conn.close()
        finally:
            self._lock.release()


def _sqlite_steps(steps: Sequence[Step]) -> list[tuple[SqliteTable, Mapping[str, Document], Iterable[str]]]:
    out = []
    for table, put, delete in steps:
        if not isinstance(table, SqliteTable):
            raise TypeError(f"{table!r} is not a table of this storage")
        out.append((table, put, delete))
    return out


class SqliteStorage(Storage):
    """Tables live as `<data_dir>/<name>.sqlite`; the directory is created on first use.

    The data holds mail bodies and sealed passwords, so the directory is made 0700 and every file in
    it 0600; an existing directory that others can read is reported once, when the storage opens.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.health = StoreHealth("sqlite")
        self._tables: dict[str, SqliteTable] = {}
        if self.data_dir.is_dir():
            warn_if_exposed(self.data_dir)

    def table(self, name: str) -> Table:
        if not _NAME.match(name):
            raise ValueError(f"bad table name {name!r}")
        if name not in self._tables:
            try:
                make_private_dir(self.data_dir)
            except OSError as exc:
                raise storage_failed(exc, name) from exc
            self._tables[name] = SqliteTable(self.data_dir / f"{name}.sqlite", self.health)
        return self._tables[name]

    async def write_in_order(self, steps: Sequence[Step]) -> None:
        """All steps in one worker-thread hop: each table still commits before the next starts, and
        a step that fails stops the rest (raising StorageFailed)."""
        txns = [table.transaction(put, delete) for table, put, delete in _sqlite_steps(steps)]

        def run() -> None:
            for txn in txns:
                txn()

        await asyncio.to_thread(run)

    async def close(self) -> None:
        tables, self._tables = list(self._tables.values()), {}
        for table in tables:
            await asyncio.to_thread(table.close)
