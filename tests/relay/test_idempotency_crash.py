"""A crash at any point of an enqueue, then the client's retry with the same idempotency key: sent once.

The crash is injected at the storage layer: after N committed table writes the "process" stops (the
client got no 202 and retries in a new run). Every N from the first write to the last is tried.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from bot.app import open_app
from bot.relay.alerts import LoggingSink
from bot.relay.component import RelayComponent
from bot.relay.models import MailRequest
from bot.relay.service import RelayService
from bot.storage import SqliteStorage, Table
from bot.storage.base import Document, Step
from tests.relay.conftest import add_mailbox, relay_settings


class Crash(BaseException):
    """The process died here."""


class _Counting(Table):
    def __init__(self, inner: Table, storage: CrashingStorage) -> None:
        self._inner, self._storage = inner, storage

    async def write(self, put: Mapping[str, Document], delete: Iterable[str] = ()) -> None:
        self._storage.tick()
        await self._inner.write(put, delete)
        self._storage.done += 1

    async def put(self, key: str, value: Document) -> None:
        await self.write({key: value})

    async def delete(self, key: str) -> bool:
        self._storage.tick()
        deleted = await self._inner.delete(key)
        self._storage.done += 1
        return deleted

    async def get(self, key: str) -> Document | None:
        return await self._inner.get(key)

    async def items(self) -> list[tuple[str, Document]]:
        return await self._inner.items()

    async def newest(self, limit: int, offset: int = 0) -> list[tuple[str, Document]]:
        return await self._inner.newest(limit, offset)

    async def oldest(self, limit: int, offset: int = 0) -> list[tuple[str, Document]]:
        return await self._inner.oldest(limit, offset)

    async def count(self) -> int:
        return await self._inner.count()

    def version(self) -> object:
        return self._inner.version()


class CrashingStorage(SqliteStorage):
    """The real embedded store, stopping for good after `writes` committed table writes."""

    def __init__(self, data_dir: Path, writes: int) -> None:
        super().__init__(data_dir)
        self.writes, self.done = writes, 0
        self._wrapped: dict[str, _Counting] = {}

    def tick(self) -> None:
        if self.done >= self.writes:
            raise Crash

    def table(self, name: str) -> Table:
        if name not in self._wrapped:
            self._wrapped[name] = _Counting(super().table(name), self)
        return self._wrapped[name]

    async def write_in_order(self, steps: Sequence[Step]) -> None:
        for table, put, delete in steps:
            await table.write(put, delete)


REQUEST = {"to": ["a@example.com"], "subject": "Approve PO-7", "text": "Please approve.", "idempotency_key": "po-7"}
WRITES_PER_ENQUEUE = 4  # content, queue, idempotency key, record


@pytest.mark.parametrize("crash_after", range(WRITES_PER_ENQUEUE + 1))
async def test_a_retry_after_a_crash_mid_enqueue_sends_once(tmp_path: Path, smtp_server: Any, crash_after: int) -> None:
    server = smtp_server()
    data = tmp_path / "data"
    async with open_app(relay_settings(data)) as app:
        await add_mailbox(app, "ops", server)
        crashing = CrashingStorage(data, crash_after)
        first_run = RelayService(crashing, app.mailboxes, max_mail_bytes=1 << 20)
        try:
            await first_run.submit(MailRequest.model_validate(REQUEST))
        except Crash:
            pass  # no 202: the client will retry
        await crashing.close()
    async with open_app(relay_settings(data)) as app:  # the next run, and the client's retry
        component = RelayComponent(app, LoggingSink())
        await component.start()
        try:
            record, _ = await component.relay.submit(MailRequest.model_validate(REQUEST))
            await component.relay.submit(MailRequest.model_validate(REQUEST))  # and once more, for good measure
            deadline = time.monotonic() + 10
            while (component.relay.outbox.pending or (await component.relay.get(record.id)).status != "sent") \
                    and time.monotonic() < deadline:
                await asyncio.sleep(0.02)  # until nothing is left to send
            sent = await component.relay.get(record.id)
        finally:
            await component.stop()
    assert sent.status == "sent"
    subjects = [m.message["Subject"] for m in server.messages]
    assert subjects == ["Approve PO-7"], f"crash after {crash_after} writes: sent {len(subjects)} times"
