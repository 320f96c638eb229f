"""The chat's 邮箱状态 / mailbox status (issue 16): admins only; per mailbox its health, last check, last
send and today's count against the daily quota, the reason and fix when unhealthy."""

from __future__ import annotations

import json
from typing import Any

from pydantic import SecretStr

from bot.app import App
from bot.audit import Actor
from bot.errors import AuthRejected
from bot.guides import short_guide
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
    assert "指引" not in text  # a custom server has no guide to point to
    qq = await app.mailboxes.get("qq")
    await app.health.failed(qq, AuthRejected("535 Login fail. Authorization code is required", provider_type="qq"),
                            check=True)
    text = await say("邮箱状态")
    assert "qq：异常" in text and "按下方指引获取" in text  # the fix points to the guide, which follows it
    assert text.count("指引：") == 1 and all(line in text for line in short_guide("qq", "zh"))
    english = await say("mailbox status")
    assert "ops: unhealthy" in english and "today 0/500 (estimate)" in english and "Fix: " in english
    refused = await say("邮箱状态", user="guest", admin=False)
    assert "ops" not in refused and "管理员" in refused


async def _health_alert_through_dingtalk(emu: Any, data_dir: Any, server: Any, **cards: str) -> None:
    """A revoked code found by the periodic check reaches the admins through the emulator."""
    from datetime import UTC, datetime

    from bot.adapters.dingtalk import DingTalkAdapter
    from bot.adapters.relay_component import RelayComponent
    from bot.app import open_app
    from bot.chat.router import Router
    from bot.cli.run import Runtime
    from bot.mailboxes.health import HealthChecker, HealthService
    from bot.relay.alerts import NotifySink
    from tests.chat.conftest import stream_settings

    settings = stream_settings(data_dir, emu, http_port=0, **cards)
    async with open_app(settings) as opened:
        await opened.mailboxes.add({"name": "ops", "type": "qq", "account": "bot@qq.com", "host": "127.0.0.1",
                                    "port": server.port, "security": "none"}, SecretStr("abcdefghijklmnop"), ADMIN,
                                   verify=False)
        router = Router(opened)
        runtime = Runtime(opened, router)
        adapter = DingTalkAdapter(opened.settings, router.handle, router.cards.handle)
        relay = RelayComponent(opened, NotifySink(runtime.alert, opened.storage))
        runtime.components = [adapter, relay]
        await adapter.start()
        try:
            await emu.wait_connected(1)
            now = datetime.now(UTC).timestamp() + 86400
            checker = HealthChecker(HealthService(opened.storage, clock=lambda: now), opened.storage,
                                    opened.mailboxes.list, opened.mailboxes.check_login, relay._health_alert,
                                    interval_h=24, timeout_s=10, clock=lambda: now)
            await checker.tick()
            await checker.tick()
        finally:
            await adapter.stop()


async def test_health_alert_is_the_result_card_with_guide_and_buttons(emu: Any, data_dir: Any, smtp_server: Any) -> None:
    server = smtp_server(users={"bot@qq.com": "revoked"}, auth_reply="535 Login fail. Please enter your authorization code")
    await _health_alert_through_dingtalk(emu, data_dir, server, card_template_result="result-template.schema")
    from tests.chat.test_cards_flow import created

    [card] = created(emu, "result-template.schema")
    assert card["openSpaceId"] == "dtv1.card//IM_ROBOT.boss"
    params = card["cardData"]["cardParamMap"]
    assert params["mailbox"] == "ops" and params["show_retry"] == "true" and params["edit_text"]
    assert "授权码" in params["result_md"] and params["guide_md"]


async def test_health_alert_is_markdown_without_templates(emu: Any, data_dir: Any, smtp_server: Any) -> None:
    server = smtp_server(users={"bot@qq.com": "revoked"}, auth_reply="535 Login fail. Please enter your authorization code")
    await _health_alert_through_dingtalk(emu, data_dir, server)
    private = [m for m in emu.robot_messages if m.kind == "oto"]
    assert len(private) == 1 and "邮箱登录失败：ops" in json.dumps(private[0].msg_param, ensure_ascii=False)
    assert not emu.card_calls
