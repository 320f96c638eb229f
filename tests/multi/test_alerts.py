"""Two `mailbot run` processes on one PostgreSQL, both connected to DingTalk (the project's emulator,
over its real Stream and OpenAPI), both see the same mailbox's login fail: the admins get the
alert once."""

from __future__ import annotations

from typing import Any

from bot.emulator import DingTalkEmulator
from tests.multi.conftest import USER, poll

ADMIN = "manager1"


async def test_a_login_failure_seen_by_both_instances_alerts_once(postgres_url: str, deploy: Any,
                                                                   timed_smtp: Any) -> None:
    server = timed_smtp(users={USER: "not-the-stored-password"})  # every login is refused (535)
    async with DingTalkEmulator() as emu:
        deployment = deploy(postgres_url, DINGTALK_CLIENT_ID=emu.client_id, DINGTALK_CLIENT_SECRET=emu.client_secret,
                            DINGTALK_OPENAPI_ENDPOINT=emu.endpoint, MAILBOT_ADMINS=ADMIN)
        await deployment.add_mailbox("ops", server)
        token = await deployment.create_token("ci")
        instances = await deployment.start(2, token=token)
        await emu.wait_connected(2, timeout=30)

        async def both_failed() -> bool:
            """Another mail to each; true once each instance has failed one (its lane saw the login fail)."""
            for instance in instances:
                status, body, _ = await instance.post({"to": ["x@example.com"], "subject": "hi", "text": "hi"})
                assert status == 202, body
            return all([(await instance.metrics())["mailbot_mails_failed_total"] > 0 for instance in instances])

        await poll(both_failed, 30, "both instances to see the login fail", every=0.2)
        # Stopped (SIGTERM: senders finish what they are in, alerts included): nothing more can come.
        assert [await instance.stop() for instance in instances] == [0, 0]
        # The instance whose failure turned the mailbox unhealthy raised it (mailbox_health moves by
        # compare-and-set: the other saw it already unhealthy); the alert claim would stop a second one too.
        assert any("Mailbox login failing: ops" in instance.log_text() for instance in instances)
        alerts = [m for m in emu.robot_messages if "ops" in str(m.msg_param)]
        print(f"\nchat alerts: {len(alerts)}; logins refused: {sum(1 for _, ok in server.logins if not ok)}")
        assert len(alerts) == 1, alerts
        assert alerts[0].user_ids == (ADMIN,) and "登录失败" in str(alerts[0].msg_param)
