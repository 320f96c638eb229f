"""Embedded default backend: one sqlitedict file per table in the data dir, values as JSON.

sqlitedict is synchronous, so every call runs in a worker thread; a lock per table keeps a
transaction's puts from interleaving with another's. Values are encoded as JSON, never pickle.

`items()` keeps a snapshot of the table's JSON text and reuses it while the database files are
unchanged (any commit, by this process or another, changes their size or mtime), so a small,
often-read table such as the mailboxes costs no thread hop per read. Reads parse the JSON anew,
so callers never share a dict.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from sqlitedict import SqliteDict

from bot.storage.base import Document, Step, Storage, Table
from bot.storage.private import make_private_dir, warn_if_exposed

T = TypeVar("T")
_DELETE = 'DELETE FROM "docs" WHERE key = ?'
# An upsert keeps a rewritten row's rowid, so rowid order stays insertion order (REPLACE would move it).
_PUT = 'INSERT INTO "docs" (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'
_NEWEST = 'SELECT key, value FROM "docs" ORDER BY rowid DESC LIMIT ? OFFSET ?'
_OLDEST = 'SELECT key, value FROM "docs" ORDER BY rowid LIMIT ? OFFSET ?'
SYNCHRONOUS = "FULL"  # WAL: the log is synced at every commit, so a committed write survives power loss
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


def _encode(value: Document) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class SqliteTable(Table):
    def __init__(self, path: Path) -> None:
        self._path = path
        # Owner-only from the first byte: sqlite gives the -wal/-shm/-journal files the database file's mode.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        self._db = SqliteDict(
            str(path),
            tablename="docs",
            autocommit=False,
            journal_mode="WAL",
            encode=_encode,
            decode=str,
            outer_stack=False,
        )
        # sqlitedict opens its connection with `synchronous=OFF`: a commit then survives a crash of
        # the process but not of the machine. A relay that answers 202 "durable" syncs every commit.
        self._db.conn.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
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

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.to_thread(self.locked, fn)

    async def get(self, key: str) -> Document | None:
        snapshot = self._fresh_snapshot()
        raw = snapshot.get(key) if snapshot is not None else await self._run(lambda: self._db.get(key))
        return json.loads(raw) if raw is not None else None

    async def put(self, key: str, value: Document) -> None:
        await self.write({key: value})

    async def write(self, put: Mapping[str, Document], delete: Iterable[str] = ()) -> None:
        await self._run(self.transaction(put, delete))

    def transaction(self, put: Mapping[str, Document], delete: Iterable[str] = ()) -> Callable[[], None]:
        """The blocking body of `write`, to run in a worker thread under this table's lock."""
        encoded = {key: _encode(value) for key, value in put.items()}  # a value JSON cannot hold fails here
        deletes = list(delete)
        self._snapshot, self._generation = None, self._generation + 1

        def txn() -> None:
            for key, raw in encoded.items():
                self._db.conn.execute(_PUT, (self._db.encode_key(key), raw))
            for key in deletes:  # queued like the puts: no round trip per key; a missing key is a no-op
                self._db.conn.execute(_DELETE, (self._db.encode_key(key),))
            self._db.commit(blocking=True)

        return txn

    def locked(self, fn: Callable[[], T]) -> T:
        with self._lock:
            return fn()

    async def delete(self, key: str) -> bool:
        def txn() -> bool:
            if key not in self._db:
                return False
            del self._db[key]
            self._db.commit(blocking=True)
            return True

        self._snapshot, self._generation = None, self._generation + 1
        return await self._run(txn)

    async def items(self) -> list[tuple[str, Document]]:
        snapshot = self._fresh_snapshot()
        if snapshot is None:
            stamp, generation = self._file_stamp(), self._generation  # before reading: a commit meanwhile forces a re-read
            snapshot = await self._run(lambda: dict(self._db.items()))
            if generation == self._generation:  # a write of ours overlapped the read: use it, do not keep it
                self._snapshot, self._stamp = snapshot, stamp
        return [(key, json.loads(raw)) for key, raw in snapshot.items()]

    async def newest(self, limit: int, offset: int = 0) -> list[tuple[str, Document]]:
        return await self._in_order(_NEWEST, limit, offset)

    async def oldest(self, limit: int, offset: int = 0) -> list[tuple[str, Document]]:
        return await self._in_order(_OLDEST, limit, offset)

    async def _in_order(self, query: str, limit: int, offset: int) -> list[tuple[str, Document]]:
        rows = await self._run(lambda: list(self._db.conn.select(query, (limit, offset))))
        return [(key, json.loads(raw)) for key, raw in rows]

    async def count(self) -> int:
        return await self._run(lambda: len(self._db))

    def version(self) -> object:
        return self._generation, self._file_stamp()

    def close(self) -> None:
        with self._lock:
            self._db.close()


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
        self._tables: dict[str, SqliteTable] = {}
        if self.data_dir.is_dir():
            warn_if_exposed(self.data_dir)

    def table(self, name: str) -> Table:
        if not _NAME.match(name):
            raise ValueError(f"bad table name {name!r}")
        if name not in self._tables:
            make_private_dir(self.data_dir)
            self._tables[name] = SqliteTable(self.data_dir / f"{name}.sqlite")
        return self._tables[name]

    async def write_in_order(self, steps: Sequence[Step]) -> None:
        """All steps in one worker-thread hop: each table still commits before the next starts."""
        txns = [(table, table.transaction(put, delete)) for table, put, delete in _sqlite_steps(steps)]

        def run() -> None:
            for table, txn in txns:
                table.locked(txn)

        await asyncio.to_thread(run)

    async def close(self) -> None:
        tables, self._tables = list(self._tables.values()), {}
        for table in tables:
            await asyncio.to_thread(table.close)
