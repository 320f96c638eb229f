"""Relay pacing per mailbox: a custom server (the organisation's own) is unpaced unless a rate is set,
known providers keep their cautious rate, and `rate none` lifts pacing for any mailbox."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from bot.providers import CATALOG
from bot.relay.worker import interval_s
from tests.relay.conftest import ADMIN, PASSWORD, USER
from tests.support.smtpd import SmtpServer

QQ_CODE = "abcdefghijklmnop"
MAILS = 30  # at 20/min (custom's old default) these take 87 s; at qq's 15/min, 116 s


def test_custom_is_unpaced_and_known_providers_keep_their_rate() -> None:
    assert CATALOG["custom"].rate_limit.per_minute is None
    assert {t: p.rate_limit.per_minute for t, p in CATALOG.items() if t != "custom"} == {
        "aliyun_enterprise": 20, "dingtalk": 20, "exmail": 20, "netease_enterprise": 15, "aliyun_personal": 20,
        "qq": 15, "163": 15, "126": 15, "gmail": 20, "outlook": 10, "microsoft365": 30}


async def _send_all(relay: Any, mailbox: str, server: SmtpServer) -> float:
    t0 = time.monotonic()
    ids = [(await relay.post({"mailbox": mailbox, "to": ["a@example.com"], "subject": f"m{i}", "text": "x"}))[1]["id"]
           for i in range(MAILS)]
    await server.wait_for_messages_async(MAILS, timeout=30)
    for mail_id in ids:
        assert (await relay.wait_status(mail_id, "sent"))["status"] == "sent"
    return time.monotonic() - t0


async def test_a_custom_mailbox_without_a_rate_is_not_paced(relay_factory: Callable[..., Any],
                                                            smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server(users={USER: PASSWORD})
    async with relay_factory(server, relay_connections=1) as relay:
        await relay.app.mailboxes.add({"name": "own", "type": "custom", "account": USER, "host": "127.0.0.1",
                                       "port": server.port, "security": "none"}, SecretStr(PASSWORD), ADMIN, verify=False)
        own = await relay.app.mailboxes.get("own")
        assert own.rate_per_minute is None and own.pace_per_minute is None and interval_s(own) == 0
        took = await _send_all(relay, "own", server)
    assert took < 15, took  # one connection, no 3-second spacing


async def test_rate_none_lifts_a_providers_pace_and_default_restores_it(
        relay_factory: Callable[..., Any], smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server(users={USER: PASSWORD, "bot@qq.com": QQ_CODE})
    async with relay_factory(server) as relay:
        service = relay.app.mailboxes
        await service.add({"name": "qq", "type": "qq", "account": "bot@qq.com", "host": "127.0.0.1", "port": server.port,
                           "security": "none"}, SecretStr(QQ_CODE), ADMIN, verify=False)
        assert (await service.get("qq")).pace_per_minute == 15
        lifted = await service.set_rate("qq", "none", ADMIN)
        assert lifted.rate_per_minute == "none" and lifted.pace_per_minute is None
        took = await _send_all(relay, "qq", server)
        assert took < 15, took
        restored = await service.set_rate("qq", None, ADMIN)
        assert restored.rate_per_minute is None and interval_s(restored) == 4.0  # qq's 15 a minute again
        assert (await service.set_rate("qq", 30, ADMIN)).pace_per_minute == 30
