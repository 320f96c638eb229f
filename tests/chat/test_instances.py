"""Several `mailbot run` instances on one store: two Apps opened on one data dir (two processes' view
of it), each with its own Router and real SDK adapter on its own Stream connection to the emulator,
which hands a frame to the connection a test picks (DingTalk spreads an app's frames over its
connections, and redelivers a late-ACKed one to any of them).

A message is answered once, a card submit is checked and saved once, a dialog moves on across
instances, an alert goes out once; a store that cannot dedupe says so instead of dropping the message.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.adapters.dingtalk import DingTalkAdapter
from bot.app import App, open_app
from bot.audit import Actor
from bot.chat.router import Router
from bot.cli.run import Runtime
from bot.emulator import DingTalkEmulator
from bot.errors import smtp_error_from
from bot.relay.alerts import Alert, NotifySink
from tests.chat.conftest import SECRET, stream_settings
from tests.support.smtpd import SmtpServer

FORM_ID = "form-template.schema"
LIST_ID = "list-template.schema"


@dataclass
class Instance:
    app: App
    router: Router
    adapter: DingTalkAdapter
    runtime: Runtime


@pytest.fixture
async def pair(emu: DingTalkEmulator, data_dir: Path) -> AsyncIterator[list[Instance]]:
    """Two instances on one data dir; instance i is Stream connection i."""
    async with AsyncExitStack() as stack:
        instances = []
        for i in range(2):
            app = await stack.enter_async_context(open_app(stream_settings(data_dir, emu,
                                                                          card_template_mailbox_form=FORM_ID,
                                                                          card_template_mailbox_list=LIST_ID)))
            router = Router(app)
            adapter = DingTalkAdapter(app.settings, router.handle, router.cards.handle)
            runtime = Runtime(app, router, [adapter])
            await adapter.start()
            stack.push_async_callback(adapter.stop)
            await emu.wait_connected(i + 1)
            instances.append(Instance(app, router, adapter, runtime))
        yield instances
    assert emu.card_errors == []


async def idle(pair: list[Instance]) -> None:
    await asyncio.gather(*(i.adapter.idle() for i in pair))


def texts(emu: DingTalkEmulator, conversation: str | None = None) -> list[str]:
    return [m.body["text"]["content"] if m.body["msgtype"] == "text" else m.body["markdown"]["text"]
            for m in emu.webhook_messages(conversation)]


async def say(emu: DingTalkEmulator, pair: list[Instance], text: str, to: int, **kw: Any) -> None:
    push = await emu.send_chat(text, connection=to, **kw)
    await emu.wait_ack(push.message_id)
    await idle(pair)


async def test_a_message_delivered_to_both_instances_is_answered_once(emu: DingTalkEmulator,
                                                                     pair: list[Instance]) -> None:
    push = await emu.send_chat("help", connection=0)
    again = await emu.resend(push.frame, connection=1)  # before the first is handled: both race for it
    await emu.wait_ack(push.message_id)
    await emu.wait_ack(again)
    await idle(pair)
    late = await emu.resend(push.frame, connection=1)  # long after: the other instance remembers nothing of it
    await emu.wait_ack(late)
    await idle(pair)
    assert len(texts(emu)) == 1
    await say(emu, pair, "help", to=1)  # a new message is answered as usual
    assert len(texts(emu)) == 2


async def test_a_dialog_started_on_one_instance_goes_on_at_the_other(emu: DingTalkEmulator, pair: list[Instance],
                                                                     smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server(security="none", users={"notice@example.com": SECRET})
    await say(emu, pair, "新建邮箱 名称=ops 账号=notice@example.com 类型=custom", to=0,
              sender_staff_id="boss")
    assert "SMTP" in texts(emu)[-1]
    for i, text in enumerate(["127.0.0.1", str(server.port), "none", SECRET]):
        await say(emu, pair, text, to=(i + 1) % 2, sender_staff_id="boss")  # steps alternate between instances
    assert "✅" in texts(emu)[-1], texts(emu)
    assert not any("继续你在" in t for t in texts(emu))  # a live dialog, not one left by an earlier run
    assert (await pair[1].app.mailboxes.get("ops")).port == server.port


async def test_a_card_submit_delivered_to_both_instances_saves_once(emu: DingTalkEmulator, pair: list[Instance],
                                                                   smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(security="ssl", users={"notice@corp.example": SECRET})
    await say(emu, pair, "新建邮箱", to=0, sender_staff_id="boss", is_admin=True)
    [card] = [c.json for c in emu.card_calls if c.path.endswith("createAndDeliver")]
    track = card["outTrackId"]
    form = {"name": "审批通知", "type": {"index": 10, "value": "custom"}, "account": "notice@corp.example",
            "host": "127.0.0.1", "port": str(srv.port), "security": {"index": 0, "value": "ssl"}, "password": SECRET}
    content = {"cardPrivateData": {"actionIds": ["form"], "params": {"form": form}}}
    first = await emu.send_card_callback(track, "boss", content, connection=0)
    second = await emu.send_card_callback(track, "boss", content, connection=1)  # a redelivery, or a second press
    acks = [await emu.wait_ack(first), await emu.wait_ack(second)]
    await idle(pair)
    notices = [json.loads(a["data"])["response"]["cardData"]["cardParamMap"]["notice"] for a in acks]
    assert sum("正在验证" in n for n in notices) == 1, notices  # one instance checks, the other says so
    assert [login for login in srv.logins if login[1]] == [("notice@corp.example", True)]  # one live check
    assert len(await pair[0].app.mailboxes.list()) == 1
    assert [e.action for e in await pair[1].app.mailboxes.audit.entries()].count("add") == 1
    shown = emu.cards[track]  # the winner's outcome is on the card
    assert shown["form_status"] == "disabled" and "已保存" in shown["notice"], shown


async def test_a_button_pressed_on_both_instances_acts_once(emu: DingTalkEmulator, pair: list[Instance]) -> None:
    await pair[0].app.mailboxes.add({"name": "ops", "type": "custom", "account": "bot@example.com",
                                     "host": "127.0.0.1", "port": 2525, "security": "none"},
                                    SecretStr(SECRET), Actor(id="boss"), verify=False)
    await say(emu, pair, "邮箱列表", to=0, sender_staff_id="boss", is_admin=True)
    [card] = [c.json for c in emu.card_calls if c.path.endswith("createAndDeliver")]
    press = {"cardPrivateData": {"actionIds": ["mailbox_disable"], "params": {"mailbox": "ops", "version": "1"}}}
    sent = [await emu.send_card_callback(card["outTrackId"], "boss", press, connection=i) for i in (0, 1)]
    acks = [await emu.wait_ack(message_id) for message_id in sent]
    await idle(pair)
    notices = [json.loads(a["data"])["response"]["cardData"]["cardParamMap"]["notice"] for a in acks]
    assert sorted("已停用" in n for n in notices) == [False, True], notices  # the other says nothing was done
    assert any("过期" in n for n in notices), notices
    assert [e.action for e in await pair[1].app.mailboxes.audit.entries()].count("disable") == 1
    assert not (await pair[1].app.mailboxes.get("ops")).enabled


async def test_an_alert_raised_by_both_instances_goes_out_once(emu: DingTalkEmulator, pair: list[Instance]) -> None:
    sinks = [NotifySink(i.runtime.alert, i.app.storage) for i in pair]
    rejected = smtp_error_from("auth_rejected", "535 5.7.8 authentication failed", "qq")
    failing = Alert.of("login_failing", "ops", rejected, "m1")
    await asyncio.gather(*(sink.alert(failing) for sink in sinks))
    [sent] = [m for m in emu.robot_messages if m.kind == "oto"]
    assert sent.user_ids == ("boss",) and "ops" in sent.msg_param["text"]
    await sinks[1].alert(failing)  # raised again by the other instance's worker: still once
    failed = [Alert.of("mail_failed", "ops", rejected, "m1", attempt=n) for n in (1, 1, 2)]
    for sink, alert in zip([*sinks, sinks[0]], failed):  # the same attempt once; a retried mail's new failure again
        await sink.alert(alert)
    assert len([m for m in emu.robot_messages if m.kind == "oto"]) == 3


async def test_a_store_that_cannot_dedupe_says_so(emu: DingTalkEmulator, pair: list[Instance]) -> None:
    await say(emu, pair, "help", to=0)  # the dedupe table exists
    other = sqlite3.connect(pair[0].app.settings.data_dir / "chat_seen.sqlite", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds its write lock past the busy timeout
        await say(emu, pair, "帮助", to=1)
        assert "数据存储正忙" in texts(emu)[-1], texts(emu)  # not dropped, not answered as if all were well
    finally:
        other.execute("ROLLBACK")
        other.close()
    await say(emu, pair, "帮助", to=1)
    assert "新建邮箱" in texts(emu)[-1]
