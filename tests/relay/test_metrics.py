"""/metrics counts mail queued by another process (`mailbot send`) like mail posted to the API."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from tests.relay.test_cli import mailbot
from tests.support.smtpd import SmtpServer

MAIL = {"mailbox": "ops", "to": ["boss@example.com"], "subject": "S", "text": "T"}


def counter(text: str, name: str) -> int:
    found = re.search(rf"^mailbot_mails_{name}_total (\d+)$", text, re.M)
    assert found is not None, text
    return int(found.group(1))


async def test_mail_sent_by_the_cli_is_counted_as_accepted(relay_factory: Callable[..., Any],
                                                           smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server()
    async with relay_factory(server) as relay:
        data = relay.app.settings.data_dir
        for _ in range(2):
            sent = await asyncio.to_thread(mailbot, data, "send", "--mailbox", "ops", "--to", "a@example.com",
                                           "--subject", "from the CLI", "--text", "T")
            assert sent.returncode == 0, sent.stderr
        ids = [(await relay.post(MAIL))[1]["id"] for _ in range(2)]
        await server.wait_for_messages_async(4)
        for mail_id in ids:
            await relay.wait_status(mail_id, "sent")
        _, text = await relay.get("/metrics")
        for _ in range(100):  # the CLI's mails are recorded sent just after the server has them
            if counter(text, "sent") == 4:
                break
            await asyncio.sleep(0.02)
            _, text = await relay.get("/metrics")
        assert (counter(text, "accepted"), counter(text, "sent"), counter(text, "failed")) == (4, 4, 0)
