"""Wiring: open storage, the secret key and the services once, close them once."""

from __future__ import annotations

from contextlib import asynccontextmanager
from collections.abc import AsyncIterator
import os
import socket
import uuid
from dataclasses import dataclass, field

from bot.audit import AuditLog
from bot.config import Settings
from bot.mailboxes import MailboxService
from bot.mailboxes.detect import Detector
from bot.mailboxes.health import HealthService
from bot.mailboxes.signin import SignIns
from bot.oauth import OAuthClient
from bot.relay.service import RelayService
from bot.rules import RuleService
from bot.secrets import SecretBox
from bot.storage import Storage, open_storage


@dataclass
class App:
    settings: Settings
    storage: Storage
    box: SecretBox
    mailboxes: MailboxService
    relay: RelayService  # one per App: the chat commands, the CLI and the API share its counters
    signins: SignIns  # OAuth2 sign-ins in progress, in the store (chat, cards, console, CLI)
    rules: RuleService  # approval notification rules (DingTalk approval events → mail)
    health: HealthService  # credential health and daily quotas (issue 16): the worker counts through it
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)  # this run of the bot (dialogs tell old runs')

    @property
    def audit(self) -> AuditLog:
        return self.mailboxes.audit


@asynccontextmanager
async def open_app(settings: Settings) -> AsyncIterator[App]:
    storage = open_storage(settings)
    try:
        await storage.open()
        box = await SecretBox.open(storage, settings.data_dir, settings.secret_key,
                                shared=settings.database_url is not None)
        oauth = OAuthClient(settings)
        service = MailboxService(storage, box, smtp_timeout=settings.smtp_timeout_s, oauth=oauth,
                                 detector=Detector.from_settings(settings))
        s = settings
        run_id = uuid.uuid4().hex
        # The embedded store has one `mailbot run` (run.lock): its leases are its own after a restart.
        owner = "local" if s.database_url is None else f"{socket.gethostname()}-{os.getpid()}-{run_id[:8]}"
        relay = RelayService(storage, service, max_mail_bytes=s.max_mail_bytes, cache_s=s.relay_poll_s,
                             max_recipients=s.max_recipients, template_timeout_s=s.template_timeout_s,
                             owner=owner, lease_s=s.relay_lease_s)
        app = App(settings=settings, storage=storage, box=box, mailboxes=service, relay=relay,
                  signins=SignIns(service, storage, box), rules=RuleService(storage, service, relay.templates, service.audit),
                  health=HealthService(storage), run_id=run_id)
        try:
            yield app
        finally:
            await relay.close()
            await oauth.close()
    finally:
        await storage.close()
