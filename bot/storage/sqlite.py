"""Embedded default backend: one sqlitedict file per table in the data dir, values as JSON.

sqlitedict is synchronous, so every call runs in a worker thread; a lock per table keeps a
transaction's puts from interleaving with another's. Values are encoded as JSON, never pickle.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

from sqlitedict import SqliteDict

from bot.storage.base import Document, Storage, Table

T = TypeVar("T")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


def _encode(value: Document) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class SqliteTable(Table):
    def __init__(self, path: Path) -> None:
        self._db = SqliteDict(
            str(path),
            tablename="docs",
            autocommit=False,
            journal_mode="WAL",
            encode=_encode,
            decode=json.loads,
            outer_stack=False,
        )
        self._lock = threading.Lock()

    async def _run(self, fn: Callable[[], T]) -> T:
        def locked() -> T:
            with self._lock:
                return fn()

        return await asyncio.to_thread(locked)

    async def get(self, key: str) -> Document | None:
        return await self._run(lambda: self._db.get(key))

    async def put(self, key: str, value: Document) -> None:
        await self.write({key: value})

    async def write(self, put: Mapping[str, Document], delete: Iterable[str] = ()) -> None:
        for value in put.values():
            _encode(value)  # a value JSON cannot hold fails here, before the file is touched
        deletes = list(delete)

        def txn() -> None:
            for key, value in put.items():
                self._db[key] = value
            for key in deletes:
                if key in self._db:
                    del self._db[key]
            self._db.commit(blocking=True)

        await self._run(txn)

    async def delete(self, key: str) -> bool:
        def txn() -> bool:
            if key not in self._db:
                return False
            del self._db[key]
            self._db.commit(blocking=True)
            return True

        return await self._run(txn)

    async def items(self) -> list[tuple[str, Document]]:
        return await self._run(lambda: list(self._db.items()))

    async def count(self) -> int:
        return await self._run(lambda: len(self._db))

    def close(self) -> None:
        with self._lock:
            self._db.close()


class SqliteStorage(Storage):
    """Tables live as `<data_dir>/<name>.sqlite`; the directory is created on first use."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._tables: dict[str, SqliteTable] = {}

    def table(self, name: str) -> Table:
        if not _NAME.match(name):
            raise ValueError(f"bad table name {name!r}")
        if name not in self._tables:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._tables[name] = SqliteTable(self.data_dir / f"{name}.sqlite")
        return self._tables[name]

    async def close(self) -> None:
        tables, self._tables = list(self._tables.values()), {}
        for table in tables:
            await asyncio.to_thread(table.close)
