"""Storage faults injected at the sqlite layer, for tests: a full database without a small file system.

`PRAGMA max_page_count` caps a database file for the connection that sets it only: it is not stored
in the file, and a cap set by a second connection to the same file does not bind the bot's (checked
in test_sqlite_store). So the cap goes on the table's own connection, through `SqliteTable.locked`,
in a worker thread under the table's lock as every use of that connection is.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

from bot.errors import StorageFailed
from bot.storage import Table
from bot.storage.sqlite import SqliteTable


async def on_connection(table: Table, fn: Callable[[sqlite3.Connection], Any]) -> Any:
    assert isinstance(table, SqliteTable)
    return await asyncio.to_thread(table.locked, fn)


async def pragma(table: Table, statement: str) -> Any:
    return (await on_connection(table, lambda conn: conn.execute(statement).fetchone()))[0]


async def cap(table: Table, extra_pages: int = 0) -> int:
    """Let the file grow by `extra_pages` at most (SQLITE_FULL past that); returns the old cap."""
    old = await pragma(table, "PRAGMA max_page_count")
    pages = await pragma(table, "PRAGMA page_count")
    await pragma(table, f"PRAGMA max_page_count={pages + extra_pages}")
    return int(old)


async def uncap(table: Table, old: int) -> None:
    assert await pragma(table, f"PRAGMA max_page_count={old}") == old


async def fill(table: Table, prefix: str = "filler") -> int:
    """Cap the table at its size and write filler rows until not even a tiny one fits: the next
    write that needs room fails. Returns the old cap (for `uncap`)."""
    old = await cap(table)
    written = 0
    for size in (8192, 1024, 128, 8):
        while True:
            try:
                await table.put(f"{prefix}-{written}", {"pad": "x" * size})
            except StorageFailed as exc:
                assert exc.kind == "full", exc.detail
                break
            written += 1
    return old


async def deny_writes(table: Table) -> None:
    """Every insert or update of this table fails (SQLITE_AUTH) until `allow_writes`; the other tables
    of its file write on (a record that cannot land while the queue and content can)."""
    assert isinstance(table, SqliteTable)
    sql_name = table.name if table.db.path.stem != table.name else "docs"

    def deny(action: int, arg1: str | None, *_: object) -> int:
        writes = (sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE)
        return sqlite3.SQLITE_DENY if action in writes and arg1 == sql_name else sqlite3.SQLITE_OK

    await on_connection(table, lambda conn: conn.set_authorizer(deny))


async def allow_writes(table: Table) -> None:
    await on_connection(table, lambda conn: conn.set_authorizer(None))
