"""Approval events end to end: the DingTalk emulator pushes `bpms_instance_change` EVENT frames to the
real dingtalk-stream SDK in the real adapter, wired as `mailbot run` wires it (rules, relay worker,
alerts to the admins' chat); mail arrives at a real aiosmtpd server.

Once per eventId: a redelivered event, or one delivered to a second instance on the same store,
sends one mail. What the admin must fix sends no mail, one alert naming the rule, and an audit entry.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.dingtalk import DingTalkAdapter
from bot.adapters.relay_component import RelayComponent
from bot.adapters.workflow import approval_events
from bot.app import App, open_app
from bot.audit import Actor
from bot.chat.router import Router
from bot.cli.run import Runtime
from bot.emulator import DingTalkEmulator
from bot.relay.alerts import LoggingSink, NotifySink
from bot.relay.models import InlineTemplate
from bot.rules.events import EVENT_LEASE_S
from tests.chat.conftest import stream_settings
from tests.relay.conftest import add_mailbox
from tests.support.smtpd import SmtpServer

ADMIN = Actor(id="tester", source="test")
CODE = "PROC-EXPENSE-1"
TEMPLATE = InlineTemplate(
    subject="审批{{ result }}：{{ title }}",
    text="发起人 {{ originator }} <{{ originator_email }}>\n金额 {{ form['金额'] }}\n链接 {{ url }}\n"
         "创建 {{ create_time }} 完成 {{ finish_time }}\n{{ process_code }} {{ instance_id }}\n")


@dataclass
class Bot:
    app: App
    adapter: DingTalkAdapter


@pytest.fixture
async def emu() -> AsyncIterator[DingTalkEmulator]:
    async with DingTalkEmulator() as emulator:
        emulator.workflow.add_user("u-alice", "Alice", email="alice@home.example", org_email="alice@corp.example")
        emulator.workflow.add_user("u-bob", "Bob")  # no e-mail in the contacts
        yield emulator


@pytest.fixture
async def start_bots(emu: DingTalkEmulator, tmp_path: Path,
                     smtp_server: Callable[..., SmtpServer]) -> AsyncIterator[Callable[..., Any]]:
    """`await start_bots(n)`: n `mailbot run`-like instances on one data dir, instance i on Stream
    connection i; the first sets up the mailbox `ops`, the template `approved` and the rule 报销通过."""
    server = smtp_server()
    async with AsyncExitStack() as stack:

        async def start(n: int = 1) -> tuple[list[Bot], SmtpServer]:
            bots = []
            for i in range(n):
                settings = stream_settings(tmp_path / "data", emu, http_port=0, retry_base_s=0.05, relay_poll_s=0.1,
                                           DINGTALK_OAPI_ENDPOINT=emu.endpoint)
                app = await stack.enter_async_context(open_app(settings))
                if i == 0:
                    await add_mailbox(app, "ops", server)
                    await app.relay.templates.add("approved", TEMPLATE)
                    await app.rules.add({"name": "报销通过", "process_code": CODE, "on": "finish", "result": "agree",
                                         "mailbox": "ops", "template": "approved",
                                         "to": "originator,finance@example.com"}, ADMIN)
                router = Router(app)
                runtime = Runtime(app, router)
                adapter = DingTalkAdapter(app.settings, router.handle, router.cards.handle,
                                          events=approval_events(app, NotifySink(runtime.alert, app.storage)))
                runtime.components = [adapter]
                relay = RelayComponent(app, LoggingSink())
                await relay.start()
                stack.push_async_callback(relay.stop)
                await adapter.start()
                stack.push_async_callback(adapter.stop)
                await emu.wait_connected(i + 1)
                bots.append(Bot(app, adapter))
            return bots, server

        yield start


def body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


async def finish(emu: DingTalkEmulator, originator: str = "u-alice", result: str = "agree", **kw: Any) -> Any:
    instance = emu.start_approval(CODE, originator, title="差旅报销", form={"金额": "1200", "事由": "出差"})
    push = await emu.approval_event(instance, "finish", result, **kw)
    ack = await emu.wait_ack(push.message_id)
    return instance, push, ack


def alerts(emu: DingTalkEmulator) -> list[str]:
    return [m.msg_param.get("text", m.msg_param.get("content", "")) for m in emu.robot_messages]


async def test_finished_approval_sends_the_rendered_mail_to_the_originator_and_the_fixed_address(
        emu: DingTalkEmulator, start_bots: Any) -> None:
    (bot,), server = await start_bots(1)
    assert {"type": "EVENT", "topic": "*"} in emu.subscriptions
    instance, push, ack = await finish(emu)
    assert ack["code"] == 200 and json.loads(ack["data"]) == {"status": "SUCCESS", "message": "success"}
    (mail,) = await server.wait_for_messages_async(1)
    assert sorted(mail.rcpt_tos) == ["alice@corp.example", "finance@example.com"]  # org e-mail before the personal one
    assert mail.message["Subject"] == "审批agree：差旅报销"
    text = body(mail.message)
    assert "发起人 Alice <alice@corp.example>" in text and "金额 1200" in text
    assert f"链接 {emu.endpoint}/approval/{instance.instance_id}" in text
    assert f"{CODE} {instance.instance_id}" in text and "完成 20" in text
    (record,) = await bot.app.relay.recent()
    assert record.idempotency_key == f"approval:{push.event_id}:报销通过"
    calls = [(c.method, c.path, c.query.get("processInstanceId")) for c in emu.calls if "workflow" in c.path]
    assert calls == [("GET", "/v1.0/workflow/processInstances", instance.instance_id)]
    user_calls = [c for c in emu.calls if c.path == "/topapi/v2/user/get"]
    assert [c.json["userid"] for c in user_calls] == ["u-alice"] and user_calls[0].query["access_token"] == "***"
    assert emu.event_acks == [(push.event_id, 200, "SUCCESS")]


async def test_events_no_rule_matches_send_nothing(emu: DingTalkEmulator, start_bots: Any) -> None:
    (bot,), _ = await start_bots(1)
    instance = emu.start_approval(CODE, "u-alice")
    started = await emu.approval_event(instance, "start")
    refused = await emu.approval_event(emu.start_approval(CODE, "u-alice"), "finish", "refuse")
    other = await emu.approval_event(emu.start_approval("PROC-OTHER", "u-alice"), "finish", "agree")
    unrelated = await emu.send_event("user_add_org", {"userId": ["u-1"]})
    for push in (started, refused, other, unrelated):
        assert json.loads((await emu.wait_ack(push.message_id))["data"])["status"] == "SUCCESS"
    assert await bot.app.relay.recent() == []
    assert not [c for c in emu.calls if "workflow" in c.path]  # nothing matched: DingTalk is not even asked


async def test_a_disabled_rule_sends_nothing(emu: DingTalkEmulator, start_bots: Any) -> None:
    (bot,), _ = await start_bots(1)
    await bot.app.rules.set_enabled("报销通过", False, ADMIN)
    await finish(emu)
    assert await bot.app.relay.recent() == []


async def test_a_redelivered_event_sends_one_mail(emu: DingTalkEmulator, start_bots: Any) -> None:
    (bot,), server = await start_bots(1)
    _, push, _ = await finish(emu)
    again = await emu.resend(push.frame)  # a new messageId, the same eventId
    assert json.loads((await emu.wait_ack(again))["data"])["status"] == "SUCCESS"
    await server.wait_for_messages_async(1)
    await asyncio.sleep(0.3)
    assert len(server.messages) == 1 and len(await bot.app.relay.recent()) == 1
    assert [e for e, _, _ in emu.event_acks] == [push.event_id, push.event_id]
    assert len([c for c in emu.calls if "workflow" in c.path]) == 1  # the duplicate did no work at all


async def test_two_instances_on_one_store_send_one_mail(emu: DingTalkEmulator, start_bots: Any) -> None:
    (first, second), server = await start_bots(2)
    _, push, _ = await finish(emu, connection=0)
    again = await emu.resend(push.frame, connection=1)
    assert json.loads((await emu.wait_ack(again))["data"])["status"] == "SUCCESS"
    await server.wait_for_messages_async(1)
    await asyncio.sleep(0.3)
    assert len(server.messages) == 1
    assert len(await first.app.relay.recent()) == 1 == len(await second.app.relay.recent())


async def test_both_instances_at_once_send_one_mail(emu: DingTalkEmulator, start_bots: Any) -> None:
    (bot, _), server = await start_bots(2)
    instance = emu.start_approval(CODE, "u-alice", form={"金额": "1"})
    push = await emu.approval_event(instance, "finish", "agree", connection=0)
    twin = await emu.resend(push.frame, connection=1)
    await asyncio.gather(emu.wait_ack(push.message_id), emu.wait_ack(twin))
    await server.wait_for_messages_async(1)
    await asyncio.sleep(0.3)
    assert len(server.messages) == 1 and len(await bot.app.relay.recent()) == 1


async def test_refused_permission_alerts_once_naming_the_rule_and_sends_nothing(
        emu: DingTalkEmulator, start_bots: Any) -> None:
    (bot,), _ = await start_bots(1)
    emu.workflow.refuse_instances = True
    _, push, ack = await finish(emu)
    assert json.loads(ack["data"])["status"] == "SUCCESS"  # nothing to retry: the admin must act
    await finish(emu)  # a second approval meanwhile: the same cause, no second alert
    assert await bot.app.relay.recent() == []
    (alert,) = alerts(emu)
    assert "报销通过" in alert and "Workflow.Instance.Read" in alert and "权限管理" in alert
    assert [m.user_ids for m in emu.robot_messages] == [("boss",)]
    entries = [e for e in await bot.app.audit.entries() if e.action == "rule_no_mail"]
    assert [(e.target, e.ok, e.changes["reason"], e.changes["event_id"]) for e in entries][0] == (
        "报销通过", False, "permission_denied", push.event_id)


async def test_refused_contacts_permission_alerts(emu: DingTalkEmulator, start_bots: Any) -> None:
    (bot,), _ = await start_bots(1)
    emu.workflow.refuse_users = True
    await finish(emu)
    assert await bot.app.relay.recent() == []
    (alert,) = alerts(emu)
    assert "报销通过" in alert and "成员信息读权限" in alert


async def test_an_originator_without_email_alerts_and_sends_nothing(emu: DingTalkEmulator, start_bots: Any) -> None:
    (bot,), _ = await start_bots(1)
    await finish(emu, originator="u-bob")
    assert await bot.app.relay.recent() == []
    (alert,) = alerts(emu)
    assert "报销通过" in alert and "Bob" in alert and "u-bob" in alert and "通讯录" in alert
    (entry,) = [e for e in await bot.app.audit.entries() if e.action == "rule_no_mail"]
    assert entry.changes["reason"] == "no_email"


async def test_fixed_recipients_only_need_no_contacts(emu: DingTalkEmulator, start_bots: Any) -> None:
    (bot,), server = await start_bots(1)
    await bot.app.rules.add({"name": "抄送财务", "process_code": CODE, "on": "finish", "mailbox": "ops",
                             "template": "approved", "to": "finance@example.com"}, ADMIN)
    await finish(emu, originator="u-bob")  # 报销通过 alerts (no e-mail); 抄送财务 still sends
    (mail,) = await server.wait_for_messages_async(1)
    assert mail.rcpt_tos == ["finance@example.com"] and "发起人 Bob <None>" in body(mail.message)
    assert len(alerts(emu)) == 1


async def test_a_template_that_fails_alerts_with_the_fix(emu: DingTalkEmulator, start_bots: Any) -> None:
    (bot,), _ = await start_bots(1)
    await bot.app.relay.templates.add("approved", InlineTemplate(subject="{{ missing.x }}", text="x"))
    await finish(emu)
    assert await bot.app.relay.recent() == []
    (alert,) = alerts(emu)
    assert "报销通过" in alert and "mailbot template add approved" in alert


async def test_store_down_acks_later_and_the_redelivery_sends(emu: DingTalkEmulator, start_bots: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    (bot,), server = await start_bots(1)
    from bot.errors import StorageFailed
    from bot.state.claims import Claims

    real = Claims.claim

    async def down(self: Claims, key: str) -> bool:
        raise StorageFailed("full", table="approval_events")

    monkeypatch.setattr(Claims, "claim", down)
    _, push, ack = await finish(emu)
    assert ack["code"] == 500 and json.loads(ack["data"])["status"] == "LATER"
    assert await bot.app.relay.recent() == []
    monkeypatch.setattr(Claims, "claim", real)
    again = await emu.resend(push.frame)
    assert json.loads((await emu.wait_ack(again))["data"])["status"] == "SUCCESS"
    await server.wait_for_messages_async(1)
    assert emu.event_acks == [(push.event_id, 500, "LATER"), (push.event_id, 200, "SUCCESS")]


async def test_an_event_claimed_by_an_instance_that_died_is_sent_on_redelivery(
        emu: DingTalkEmulator, start_bots: Any) -> None:
    """An instance claimed the event and died before enqueueing its mail (its claim is older than the
    lease): DingTalk's redelivery gets the mail sent, once."""
    (bot,), server = await start_bots(1)
    claims = bot.app.storage.table("approval_events")  # the crashed instance's leftover, as it wrote it
    await claims.put("ev-crashed", {"at": time.time() - EVENT_LEASE_S - 60})
    _, push, ack = await finish(emu, event_id="ev-crashed")
    assert json.loads(ack["data"])["status"] == "SUCCESS"
    await server.wait_for_messages_async(1)
    await emu.wait_ack(await emu.resend(push.frame))  # and once more: still one mail
    await asyncio.sleep(0.3)
    assert len(server.messages) == 1
