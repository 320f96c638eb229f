"""Wiring: open storage, the secret key and the services once, close them once."""

from __future__ import annotations

from contextlib import asynccontextmanager
from collections.abc import AsyncIterator
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.audit import AuditLog
from bot.config import Settings
from bot.mailboxes import MailboxService
from bot.secrets import SecretBox
from bot.storage import SqliteStorage, Storage

if TYPE_CHECKING:
    from bot.relay.service import RelayService


@dataclass
class App:
    settings: Settings
    storage: Storage
    box: SecretBox
    mailboxes: MailboxService
    relay: "RelayService | None" = None  # created by bot.relay.component.relay_service on first use
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)  # this run of the bot (dialogs tell old runs')

    @property
    def audit(self) -> AuditLog:
        return self.mailboxes.audit


@asynccontextmanager
async def open_app(settings: Settings) -> AsyncIterator[App]:
    storage = SqliteStorage(settings.data_dir)
    try:
        box = await SecretBox.open(storage, settings.data_dir, settings.secret_key)
        service = MailboxService(storage, box, smtp_timeout=settings.smtp_timeout_s)
        app = App(settings=settings, storage=storage, box=box, mailboxes=service)
        try:
            yield app
        finally:
            if app.relay is not None:
                await app.relay.close()
    finally:
        await storage.close()
