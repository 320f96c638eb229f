"""The real SDK-based adapter against the DingTalk emulator: ACKs, replies, redelivery, reconnects,
proactive fallback, permissions and the full wizard against a real SMTP server."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.dingtalk import DingTalkAdapter
from bot.app import open_app
from bot.chat.messages import IncomingMessage, Reply, TextReply
from bot.emulator import DingTalkEmulator
from tests.chat.conftest import SECRET, stream_settings
from tests.support.smtpd import SmtpServer

ACCOUNT = "notice@example.com"


def texts(emu: DingTalkEmulator, conversation: str | None = None) -> list[str]:
    out = []
    for m in emu.webhook_messages(conversation):
        body = m.body
        out.append(body["text"]["content"] if body["msgtype"] == "text" else body["markdown"]["text"])
    return out


async def chat(emu: DingTalkEmulator, live: DingTalkAdapter, text: str, **kw: Any) -> dict[str, Any]:
    push = await emu.send_chat(text, **kw)
    ack = await emu.wait_ack(push.message_id)
    await live.idle()
    return ack


async def test_connect_ack_and_single_chat_reply(emu: DingTalkEmulator, live: DingTalkAdapter) -> None:
    assert emu.subscriptions == [{"type": "CALLBACK", "topic": "/v1.0/im/bot/messages/get"}]
    ack = await chat(emu, live, "帮助")
    assert ack["code"] == 200
    assert "新建邮箱" in texts(emu, "cid-oto-user1")[0]
    await emu.ping()


async def test_group_guide_question(emu: DingTalkEmulator, live: DingTalkAdapter) -> None:
    await chat(emu, live, "怎么获取QQ邮箱授权码", conversation_type="2", sender_staff_id="u9")
    [reply] = emu.webhook_messages("cid-group-1")
    assert reply.body["msgtype"] == "markdown" and "smtp.qq.com" in reply.body["markdown"]["text"]


async def test_redelivery_is_answered_once(emu: DingTalkEmulator, live: DingTalkAdapter) -> None:
    push = await emu.send_chat("help")
    await emu.wait_ack(push.message_id)
    again = await emu.resend(push.frame)
    assert (await emu.wait_ack(again))["code"] == 200
    await live.idle()
    assert len(texts(emu)) == 1


@pytest.mark.parametrize("how", ["disconnect", "drop"])
async def test_reconnects(emu: DingTalkEmulator, live: DingTalkAdapter, how: str) -> None:
    await (emu.disconnect() if how == "disconnect" else emu.drop_connection())
    await emu.wait_connected(2)
    await chat(emu, live, "help")
    assert len(texts(emu)) == 1


async def test_expired_webhook_uses_proactive_api(emu: DingTalkEmulator, live: DingTalkAdapter) -> None:
    await chat(emu, live, "help", webhook_ttl_s=0)
    await chat(emu, live, "帮助", conversation_type="2", webhook_ttl_s=0)
    assert texts(emu) == []
    oto, group = emu.robot_messages
    assert (oto.kind, oto.user_ids, oto.msg_key) == ("oto", ("user1",), "sampleText")
    assert (group.kind, group.open_conversation_id) == ("group", "cid-group-1")
    emu.revoke_access_tokens()  # the cached token is now rejected: refreshed once, then sent
    await chat(emu, live, "help", webhook_ttl_s=0)
    assert len(emu.robot_messages) == 3


async def test_session_gone_errcode_falls_back(emu: DingTalkEmulator, live: DingTalkAdapter) -> None:
    push = await emu.send_chat("help")
    emu._webhooks._sessions.pop(next(iter(emu._webhooks._sessions)))  # DingTalk forgot the session
    await emu.wait_ack(push.message_id)
    await live.idle()
    assert texts(emu) == [] and len(emu.robot_messages) == 1


async def test_non_admin_refused_and_env_admin_allowed(emu: DingTalkEmulator, live: DingTalkAdapter) -> None:
    await chat(emu, live, "新建邮箱", sender_staff_id="guest")
    assert "MAILBOT_ADMINS" in texts(emu, "cid-oto-guest")[0]
    await chat(emu, live, "新建邮箱", sender_staff_id="boss")  # listed in MAILBOT_ADMINS
    await chat(emu, live, "新建邮箱", sender_staff_id="orgadmin", is_admin=True)
    assert "名称" in texts(emu, "cid-oto-boss")[0] and "名称" in texts(emu, "cid-oto-orgadmin")[0]


async def test_full_wizard_over_dingtalk(emu: DingTalkEmulator, live: DingTalkAdapter,
                                         smtp_server: Callable[..., SmtpServer],
                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = smtp_server(security="none", users={ACCOUNT: SECRET})
    start = f"新建邮箱 名称=ops 账号={ACCOUNT} 服务器=127.0.0.1 端口={server.port} 加密=none"
    await chat(emu, live, start, conversation_type="2", sender_staff_id="boss")
    assert "单聊" in texts(emu, "cid-group-1")[-1]
    await chat(emu, live, "wrong-secret-987", sender_staff_id="boss")
    failed = texts(emu, "cid-oto-boss")[-1]
    assert "登录被拒绝" in failed and "1 重新输入" in failed
    assert await live.app.mailboxes.list() == []  # type: ignore[attr-defined]
    await chat(emu, live, "1", sender_staff_id="boss")
    await chat(emu, live, SECRET, sender_staff_id="boss")
    assert "✅" in texts(emu, "cid-oto-boss")[-1]
    saved = await live.app.mailboxes.get("ops")  # type: ignore[attr-defined]
    assert saved.account == ACCOUNT
    outbound = json.dumps([c.json for c in emu.calls if c.path != "/v1.0/gateway/connections/open"], ensure_ascii=False)
    for secret in (SECRET, "wrong-secret-987"):
        assert secret not in outbound
        assert secret not in caplog.text


async def test_failing_handler_answers_and_logs(emu: DingTalkEmulator, data_dir: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    async def broken(message: IncomingMessage) -> list[Reply]:
        raise RuntimeError("boom")

    async with open_app(stream_settings(data_dir, emu)) as app:
        adapter = DingTalkAdapter(app.settings, broken)
        await adapter.start()
        try:
            await emu.wait_connected(1)
            await chat(emu, adapter, "help")
        finally:
            await adapter.stop()
    assert "went wrong" in texts(emu)[0]
    assert "boom" in caplog.text and "handling message" in caplog.text


async def test_per_conversation_order(emu: DingTalkEmulator, data_dir: Path) -> None:
    async def echo(message: IncomingMessage) -> list[Reply]:
        for _ in range(int(message.text) % 3):
            await asyncio.sleep(0)
        return [TextReply(message.text)]

    async with open_app(stream_settings(data_dir, emu)) as app:
        adapter = DingTalkAdapter(app.settings, echo)
        await adapter.start()
        try:
            await emu.wait_connected(1)
            pushes = [await emu.send_chat(str(i), sender_staff_id=f"u{i % 2}") for i in range(10)]
            for push in pushes:
                await emu.wait_ack(push.message_id)
            await adapter.idle()
        finally:
            await adapter.stop()
    assert texts(emu, "cid-oto-u0") == ["0", "2", "4", "6", "8"]
    assert texts(emu, "cid-oto-u1") == ["1", "3", "5", "7", "9"]
