"""A crash at any point of an enqueue, then the client's retry with the same idempotency key: sent once.

The crash is injected at the storage layer: before or after the enqueue's one transaction (content,
queue entry, idempotency key and record) commits, the "process" stops (the client got no 202 and
retries in a new run).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bot.app import open_app
from bot.adapters.relay_component import RelayComponent
from bot.errors import InProgress
from bot.relay import service as relay_service_module
from bot.relay.alerts import LoggingSink
from bot.relay.models import MailRecord, MailRequest
from bot.relay.service import RelayService
from bot.storage import SqliteStorage
from bot.storage.base import Step
from tests.relay.conftest import add_mailbox, relay_settings


class Crash(BaseException):
    """The process died here."""


class CrashingStorage(SqliteStorage):
    """The real embedded store, stopping for good after `commits` committed transactions."""

    def __init__(self, data_dir: Path, commits: int) -> None:
        super().__init__(data_dir)
        self.commits, self.done = commits, 0

    async def transaction(self, steps: Sequence[Step]) -> None:
        if self.done >= self.commits:
            raise Crash
        await super().transaction(steps)
        self.done += 1
        if self.done >= self.commits:
            raise Crash  # committed, but the process dies before the reply


REQUEST = {"to": ["a@example.com"], "subject": "Approve PO-7", "text": "Please approve.", "idempotency_key": "po-7"}



async def submit_retrying(component: RelayComponent, request: dict[str, Any]) -> MailRecord:
    """As a client does: a 409 `in_progress` (the key is held by an enqueue that has not finished,
    here one cut short by the crash) is retried after a moment."""
    while True:
        try:
            return (await component.relay.submit(MailRequest.model_validate(request)))[0]
        except InProgress:
            await asyncio.sleep(0.2)


@pytest.mark.parametrize("crash_after", [0, 1])  # before the enqueue's one transaction commits, or after
async def test_a_retry_after_a_crash_mid_enqueue_sends_once(tmp_path: Path, smtp_server: Any, crash_after: int,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relay_service_module, "RESERVED_S", 1.0)  # a crashed enqueue's key is taken over after 1 s
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
            record = await submit_retrying(component, REQUEST)
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
    assert subjects == ["Approve PO-7"], f"crash after {crash_after} commits: sent {len(subjects)} times"
