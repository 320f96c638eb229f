"""The chat `发送记录` reply as an admin reads it: one line per mail, the failure's code named once."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from bot.chat.router import Router
from tests.relay.conftest import ADMIN, PASSWORD, USER
from tests.relay.test_chat import joined, said
from tests.support.smtpd import SmtpServer


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_failed_mail_names_its_code_once(relay_factory: Callable[..., Any],
                                                 smtp_server: Callable[..., SmtpServer]) -> None:
    async with relay_factory(smtp_server(), retry_max_attempts=1) as relay:
        await relay.app.mailboxes.add({"name": "dead", "type": "custom", "account": USER, "host": "127.0.0.1",
                                       "port": closed_port(), "security": "none"}, SecretStr(PASSWORD), ADMIN, verify=False)
        [queued] = await relay.component.relay.send_test(1, "boss@example.org", mailbox="dead")
        assert (await relay.wait_status(queued.id, "failed"))["status"] == "failed"
        [line] = [line for line in joined(await Router(relay.app).handle(said("发送记录"))).splitlines() if queued.id in line]
        assert line.count("connect_failed") == 1 and "Cannot reach the SMTP server" in line


async def test_a_long_recipient_list_is_shortened(relay_factory: Callable[..., Any],
                                                  smtp_server: Callable[..., SmtpServer]) -> None:
    async with relay_factory(smtp_server()) as relay:
        status, body = await relay.post({"mailbox": "ops", "to": [f"user{i:03}@example.com" for i in range(100)],
                                         "subject": "S", "text": "T"})
        assert status == 202, body
        [line] = [line for line in joined(await Router(relay.app).handle(said("outbox"))).splitlines() if body["id"] in line]
        assert "user000@example.com" in line and "more" in line and "user099" not in line
