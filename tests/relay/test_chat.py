"""The relay's chat commands through the real Router, with the worker delivering to a real sink."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bot.chat.messages import IncomingMessage, Reply
from bot.chat.router import Router
from tests.support.smtpd import SmtpServer


def said(text: str, *, admin: bool = True) -> IncomingMessage:
    return IncomingMessage(text=text, sender_id="id-boss", sender_staff_id="boss", is_admin=admin,
                           conversation_id="cid-boss")


def joined(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)  # type: ignore[union-attr]


async def test_send_test_outbox_and_retry_by_chat(relay_factory: Callable[..., Any],
                                                  smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(data_replies=["550 5.7.1 Message rejected as spam"])
    async with relay_factory(srv) as relay:
        router = Router(relay.app)
        queued = joined(await router.handle(said("测试发送 ops boss@example.org")))
        mail_id = re.search(r"：(\S+)，", queued).group(1)  # type: ignore[union-attr]
        assert (await relay.wait_status(mail_id, "failed"))["status"] == "failed"

        outbox = joined(await router.handle(said("发送记录")))
        assert mail_id in outbox and "failed" in outbox and "550" in outbox

        retried = joined(await router.handle(said(f"retry {mail_id}")))
        assert mail_id in retried
        view = await relay.wait_status(mail_id, "sent")
        assert view["status"] == "sent"
        [received] = srv.messages
        assert received.rcpt_tos == ["boss@example.org"]
        assert received.message["Message-ID"] == view["message_id"]

        again = joined(await router.handle(said(f"重试 {mail_id}")))
        assert "只有 failed" in again  # a sent mail is not sent twice

        refused = joined(await router.handle(said("outbox", admin=False)))
        assert "MAILBOT_ADMINS" in refused and mail_id not in refused
