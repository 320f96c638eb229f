"""Copy every table of one storage into another (`mailbot store migrate`: the embedded store into
PostgreSQL), then count what arrived.

Tables are copied one at a time in insertion order, a keyset page at a time, each page written as
upserts in one or more transactions of at most BATCH_BYTES of JSON: copying again writes the same
keys again (rows keep their place) and adds nothing. A queue's entries arrive free (lease 0, owner
""): the process that held a lease in the old store does not exist for the new one. Groups are not
kept on the target side: they only bound transactions, and a copy writes one table at a time.

Documents are copied as they are, so sealed passwords stay sealed with the key that sealed them; the
copy never decrypts, prints or logs a value or a key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.errors import MailbotError
from bot.i18n import Text
from bot.storage.base import Document, Queue, Storage, Table

PAGE_ROWS = 200
BATCH_BYTES = 1024 * 1024  # a write to PostgreSQL must finish within its call timeout


@dataclass(frozen=True)
class Counted:
    """One table after a copy: `source` keys in the source now, `target` how many of them the target holds."""

    name: str
    source: int
    target: int

    @property
    def ok(self) -> bool:
        return self.source == self.target


class TargetHoldsOtherData(MailbotError):
    """A document that must be equal on both sides differs (the check of another key): nothing was copied."""

    code = "target_holds_other_data"

    def __init__(self, table: str, key: str, where: str) -> None:
        super().__init__(
            Text(zh=f"目标数据库 {where} 里已有另一个密钥加密的数据（{table}/{key} 与本存储的不同），没有复制任何内容。",
                 en=f"The target database {where} already holds data sealed with another key ({table}/{key} differs "
                    "from this store's); nothing was copied."),
            Text(zh="迁移到一个空数据库（createdb 新建一个），或者先确认那个数据库不再需要并清空它。",
                 en="Migrate into an empty database (make one with createdb), or make sure that database is no longer "
                    "needed and empty it first."))
        self.table, self.key = table, key


class Uncopyable(MailbotError):
    """A document the target cannot store (PostgreSQL: the character U+0000); what came before stays copied."""

    code = "uncopyable"

    def __init__(self, table: str, key: str, reason: str) -> None:
        super().__init__(
            Text(zh=f"表 {table} 的记录 {key} 无法写入目标存储：{reason}",
                 en=f"Record {key} of table {table} cannot be written to the target store: {reason}"),
            Text(zh="删除或修改这条记录后再次运行迁移（再次运行是安全的，已复制的内容不会重复）。",
                 en="Remove or change that record and run the migration again (running it again is safe: nothing "
                    "copied is duplicated)."))


def _free(doc: Document) -> Document:
    return {**doc, "lease": 0, "owner": ""}


async def _keys(table: Table) -> set[str]:
    keys: set[str] = set()
    after: int | None = None
    while True:
        page = await table.scan(PAGE_ROWS, after=after)
        keys.update(key for key, _ in page.rows)
        if page.cursor is None:
            return keys
        after = page.cursor


def _batches(rows: Sequence[tuple[str, Document]]) -> list[dict[str, Document]]:
    """Rows split into writes of at most BATCH_BYTES of JSON each (a bigger document goes alone)."""
    batches: list[dict[str, Document]] = [{}]
    size = 0
    for key, doc in rows:
        weight = len(key) + len(json.dumps(doc, ensure_ascii=False))
        if batches[-1] and size + weight > BATCH_BYTES:
            batches.append({})
            size = 0
        batches[-1][key] = doc
        size += weight
    return [batch for batch in batches if batch]


async def _write_one_by_one(into: Table, name: str, batch: Mapping[str, Document], error: ValueError) -> None:
    """A batch one of whose documents the target refused: write the others, then name that one."""
    refused: tuple[str, str] | None = None
    for key, doc in batch.items():
        try:
            await into.put(key, doc)
        except ValueError as exc:
            refused = refused or (key, str(exc))
    key, reason = refused or ("?", str(error))
    raise Uncopyable(name, key, reason)


def _open_target(target: Storage, name: str, source: Table) -> Table:
    return target.queue(name) if isinstance(source, Queue) else target.table(name)


async def copy_tables(source: Mapping[str, Table], target: Storage, *,
                      must_match: Sequence[tuple[str, str]] = ()) -> list[Counted]:
    """Copy every table of `source` (name → table, e.g. `SqliteStorage.tables()`) into `target`, then
    count each: how many keys the source holds now and how many of those the target holds.

    `must_match`: (table, key) documents that, when both sides have them, must be equal before
    anything is copied (TargetHoldsOtherData otherwise), such as the check of the key that sealed the
    secrets: a target holding another key's secrets must not be mixed with these.
    """
    for name, key in must_match:
        if name in source:
            mine, theirs = await source[name].get(key), await _open_target(target, name, source[name]).get(key)
            if mine is not None and theirs is not None and mine != theirs:
                raise TargetHoldsOtherData(name, key, target.url)
    for name, table in source.items():
        into = _open_target(target, name, table)
        queue = isinstance(table, Queue)
        after: int | None = None
        while True:
            page = await table.scan(PAGE_ROWS, after=after)
            rows = [(key, _free(doc) if queue else doc) for key, doc in page.rows]
            for batch in _batches(rows):
                try:
                    await into.write(batch)
                except ValueError as exc:  # a document the target cannot hold, refused before anything ran
                    await _write_one_by_one(into, name, batch, exc)
            if page.cursor is None:
                break
            after = page.cursor
    counts = []
    for name, table in source.items():
        keys = await _keys(table)
        there = await _keys(_open_target(target, name, table))
        counts.append(Counted(name, len(keys), len(keys & there)))
    return counts
