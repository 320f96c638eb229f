"""The chat's 邮箱状态 / mailbox status (issue 16): admins only; per mailbox its health, last check, last
send and today's count against the daily quota, the reason and fix when unhealthy."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from bot.app import App
from bot.audit import Actor
from bot.errors import AuthRejected
from tests.chat.conftest import Say

ADMIN = Actor(id="boss", source="test")


async def test_status_reply(app: App, say: Say, smtp_server: Any) -> None:
    server = smtp_server()
    assert "还没有邮箱" in await say("邮箱状态")
    for name in ("ops", "qq"):
        data = ({"name": name, "type": "custom", "account": "bot@example.com", "host": "127.0.0.1",
                 "port": server.port, "security": "none"} if name == "ops" else
                {"name": name, "type": "qq", "account": "bot@qq.com"})
        await app.mailboxes.add(data, SecretStr("abcdefghijklmnop"), ADMIN, verify=False)
    ops = await app.mailboxes.get("ops")
    await app.health.failed(ops, AuthRejected("535 5.7.8 authentication failed", provider_type="custom"), check=True)

    text = await say("邮箱状态")
    assert "ops：异常" in text and "登录被拒绝" in text and "解决：" in text
    assert "qq：未检查" in text and "今日 0/500（估计值）" in text
    english = await say("mailbox status")
    assert "ops: unhealthy" in english and "today 0/500 (estimate)" in english and "Fix: " in english
    refused = await say("邮箱状态", user="guest", admin=False)
    assert "ops" not in refused and "管理员" in refused
