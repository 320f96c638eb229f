"""Relay fixtures: an App in a temp data dir, a mailbox on a real aiosmtpd sink, the relay running."""

from __future__ import annotations

import asyncio
import time

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from bot.app import App, open_app
from bot.audit import Actor
from bot.config import Settings
from bot.relay.alerts import LoggingSink
from bot.adapters.relay_component import RelayComponent
from bot.storage import Storage
from tests.support.smtpd import SmtpServer

ADMIN = Actor(id="tester", source="test")
USER, PASSWORD = "bot@example.com", "pw-123456"


def relay_settings(data_dir: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = dict(data_dir=data_dir, smtp_timeout_s=3.0, http_port=0, retry_base_s=0.05,
                                  relay_poll_s=0.2, relay_stop_grace_s=5.0)
    values.update(extra)
    return Settings(**values)


async def add_mailbox(app: App, name: str, server: SmtpServer, *, rate: int = 100000) -> None:
    await app.mailboxes.add({"name": name, "type": "custom", "account": USER, "host": "127.0.0.1",
                             "port": server.port, "security": "none"}, SecretStr(PASSWORD), ADMIN, verify=False)
    await set_rate(app.storage, name, rate)


async def set_rate(storage: Storage, name: str, per_minute: int) -> None:
    """Tests and the bench set a mailbox's pace directly (custom is unpaced by default; a high rate keeps
    the relay's token bucket in the path at full speed)."""
    table = storage.table("mailboxes")
    doc = await table.get(name)
    assert doc is not None
    doc["rate_per_minute"] = per_minute
    await table.put(name, doc)


@dataclass
class Relay:
    app: App
    component: RelayComponent
    sink: LoggingSink
    http: aiohttp.ClientSession
    token: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.component.port}"

    async def post(self, body: Any, token: str | None = None, **kw: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        async with self.http.post(self.url + "/v1/mails", json=body, headers=headers, **kw) as resp:
            return resp.status, await resp.json()

    async def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        async with self.http.get(self.url + path, headers={"Authorization": f"Bearer {token or self.token}"}) as resp:
            return resp.status, (await resp.json() if resp.content_type == "application/json" else await resp.text())

    async def wait_status(self, mail_id: str, *statuses: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            _, view = await self.get(f"/v1/mails/{mail_id}")
            if view["status"] in statuses or time.monotonic() > deadline:
                return view
            await asyncio.sleep(0.02)


    async def alerts(self, n: int, timeout: float = 5.0) -> list[Any]:
        """The alerts so far, once there are `n` (the alert follows the durable status change)."""
        deadline = time.monotonic() + timeout
        while len(self.sink.events) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return list(self.sink.events)


@pytest.fixture
def relay_factory(tmp_path: Path) -> Callable[..., Any]:
    """`async with relay_factory(server, **settings) as relay:` a running relay on that sink."""
    @asynccontextmanager
    async def make(server: SmtpServer, **extra: Any) -> AsyncIterator[Relay]:
        async with open_app(relay_settings(tmp_path / "data", **extra)) as app:
            await add_mailbox(app, "ops", server)
            sink = LoggingSink()
            component = RelayComponent(app, sink)
            token = await component.relay.tokens.create("ci")
            await component.start()
            try:
                async with aiohttp.ClientSession() as http:
                    yield Relay(app, component, sink, http, token)
            finally:
                await component.stop()

    return make
