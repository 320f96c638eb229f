"""Cards end to end: the real SDK adapter, the DingTalk emulator's card APIs, real aiosmtpd servers."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.adapters.dingtalk import DingTalkAdapter
from bot.app import App, open_app
from bot.audit import Actor
from bot.chat.router import Router
from bot.emulator import DingTalkEmulator
from bot.state import card_records
from tests.chat.conftest import SECRET, stream_settings
from tests.support.smtpd import SmtpServer

FORM_ID = "form-template.schema"
LIST_ID = "list-template.schema"
RESULT_ID = "result-template.schema"


@pytest.fixture
async def cards_live(emu: DingTalkEmulator, data_dir: Path) -> AsyncIterator[DingTalkAdapter]:
    settings = stream_settings(data_dir, emu, card_template_mailbox_form=FORM_ID,
                               card_template_mailbox_list=LIST_ID, card_template_result=RESULT_ID)
    async with open_app(settings) as opened:
        router = Router(opened)
        adapter = DingTalkAdapter(opened.settings, router.handle, router.cards.handle)
        adapter.app = opened  # type: ignore[attr-defined]
        await adapter.start()
        await emu.wait_connected(1)
        yield adapter
        await adapter.stop()
    # What DingTalk would refuse or drop: late ACKs, card updates while a callback is unanswered.
    assert emu.card_errors == []


def app_of(adapter: DingTalkAdapter) -> App:
    return adapter.app  # type: ignore[attr-defined,no-any-return]


async def say(emu: DingTalkEmulator, live: DingTalkAdapter, text: str, **kw: Any) -> None:
    push = await emu.send_chat(text, **kw)
    await emu.wait_ack(push.message_id)
    await live.idle()


def created(emu: DingTalkEmulator, template: str) -> list[dict[str, Any]]:
    return [c.json for c in emu.card_calls if c.path.endswith("createAndDeliver") and c.json["cardTemplateId"] == template]


def submit_content(form: dict[str, Any], password: str | None) -> dict[str, Any]:
    values = dict(form)
    if password is not None:
        values["password"] = password
    return {"cardPrivateData": {"actionIds": ["form"], "params": {"form": values}}}


def press(action: str, **params: str) -> dict[str, Any]:
    return {"cardPrivateData": {"actionIds": [action], "params": params}}


async def callback(emu: DingTalkEmulator, live: DingTalkAdapter, track: str, user: str,
                   content: dict[str, Any]) -> dict[str, Any]:
    message_id = await emu.send_card_callback(track, user, content)
    ack = await emu.wait_ack(message_id)
    await live.idle()
    response = json.loads(ack["data"])["response"] if isinstance(ack.get("data"), str) else ack["data"]["response"]
    return response.get("cardData", {}).get("cardParamMap", {}) if response else {}


async def open_form(emu: DingTalkEmulator, live: DingTalkAdapter) -> str:
    await say(emu, live, "新建邮箱", sender_staff_id="boss", is_admin=True)
    [card] = created(emu, FORM_ID)
    assert card["openSpaceId"] == "dtv1.card//IM_ROBOT.boss"
    assert card["callbackType"] == "STREAM"
    assert all(isinstance(v, str) for v in card["cardData"]["cardParamMap"].values())
    return str(card["outTrackId"])


def form_values(srv: SmtpServer, **extra: Any) -> dict[str, Any]:
    return {"name": "审批通知", "type": {"index": 10, "value": "custom"}, "account": "notice@corp.example",
            "host": "127.0.0.1", "port": str(srv.port), "security": {"index": 0, "value": srv.security}, **extra}


def everything_recorded(emu: DingTalkEmulator) -> str:
    return json.dumps([c.json for c in emu.calls], ensure_ascii=False) + json.dumps(emu.acks, ensure_ascii=False) \
        + json.dumps(emu.cards, ensure_ascii=False)


async def test_form_card_registers_a_mailbox(emu: DingTalkEmulator, cards_live: DingTalkAdapter,
                                             smtp_server: Callable[..., SmtpServer],
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    srv = smtp_server(security="ssl", users={"notice@corp.example": SECRET})
    track = await open_form(emu, cards_live)
    ack = await callback(emu, cards_live, track, "boss", submit_content(form_values(srv), SECRET))
    assert ack["form_status"] == "disabled"  # checking: the form is locked at once
    card = emu.cards[track]
    assert "✅" in card["notice"] or "已保存" in card["notice"] or "saved" in card["notice"].lower()
    assert card["form_status"] == "disabled"
    [mailbox] = await app_of(cards_live).mailboxes.list()
    assert (mailbox.name, mailbox.type, mailbox.port) == ("审批通知", "custom", srv.port)
    assert srv.logins[-1] == ("notice@corp.example", True)
    assert SECRET not in everything_recorded(emu)
    assert SECRET not in caplog.text
    assert [e.action for e in await app_of(cards_live).audit.entries()] == ["add"]


async def test_wrong_secret_shows_reason_and_guide_and_saves_nothing(
        emu: DingTalkEmulator, cards_live: DingTalkAdapter, smtp_server: Callable[..., SmtpServer]) -> None:
    reply = ("535 Login fail. Account is abnormal, service is not open, password is incorrect, login frequency "
             "limited, or system is busy. More information at https://help.mail.qq.com/detail/108/1023")
    srv = smtp_server(security="ssl", reject_all_logins=True, auth_reply=reply)
    track = await open_form(emu, cards_live)
    values = form_values(srv, type={"index": 5, "value": "qq"}, account="12345@qq.com")
    await callback(emu, cards_live, track, "boss", submit_content(values, "wrong-code-123"))
    card = emu.cards[track]
    assert "535 Login fail" in card["notice"] and "POP3" in card["notice"]  # reason + QQ guide
    assert card["form_status"] == "normal"  # open again for another try
    assert "wrong-code-123" not in everything_recorded(emu)
    assert await app_of(cards_live).mailboxes.list() == []


async def test_invalid_field_is_shown_on_the_card_at_once(emu: DingTalkEmulator, cards_live: DingTalkAdapter,
                                                          smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(security="ssl", users={"notice@corp.example": SECRET})
    track = await open_form(emu, cards_live)
    ack = await callback(emu, cards_live, track, "boss",
                         submit_content(form_values(srv, account="not-an-address"), SECRET))
    assert "account" in ack["notice"] and "notice@example.com" in ack["notice"]
    assert "not-an-address" in ack["form"]  # what was typed is kept...
    assert SECRET not in json.dumps(ack)  # ...except the secret
    assert not [c for c in emu.card_calls if c.method == "PUT"]
    assert await app_of(cards_live).mailboxes.list() == []


async def test_non_admin_callback_is_refused(emu: DingTalkEmulator, cards_live: DingTalkAdapter,
                                            smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(security="ssl", users={"notice@corp.example": SECRET})
    track = await open_form(emu, cards_live)
    ack = await callback(emu, cards_live, track, "stranger", submit_content(form_values(srv), SECRET))
    assert "MAILBOT_ADMINS" in ack["notice"]
    assert await app_of(cards_live).mailboxes.list() == []
    assert srv.logins == []


async def test_org_admin_seen_in_chat_may_submit(emu: DingTalkEmulator, cards_live: DingTalkAdapter,
                                                 smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(security="ssl", users={"notice@corp.example": SECRET})
    await say(emu, cards_live, "新建邮箱", sender_staff_id="orgadmin", is_admin=True)
    [card] = created(emu, FORM_ID)
    await callback(emu, cards_live, card["outTrackId"], "orgadmin", submit_content(form_values(srv), SECRET))
    assert len(await app_of(cards_live).mailboxes.list()) == 1


async def test_double_submit_saves_once(emu: DingTalkEmulator, cards_live: DingTalkAdapter,
                                        smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(security="ssl", users={"notice@corp.example": SECRET})
    track = await open_form(emu, cards_live)
    content = submit_content(form_values(srv), SECRET)
    first = await emu.send_card_callback(track, "boss", content)
    second = await emu.send_card_callback(track, "boss", content)
    await emu.wait_ack(first)
    await emu.wait_ack(second)
    await cards_live.idle()
    again = await callback(emu, cards_live, track, "boss", content)
    assert len(await app_of(cards_live).mailboxes.list()) == 1
    assert [e.action for e in await app_of(cards_live).audit.entries()].count("add") == 1
    assert "不会重复保存" in again["notice"]


async def test_edit_form_is_prefilled_and_empty_secret_keeps_the_old_one(
        emu: DingTalkEmulator, cards_live: DingTalkAdapter, smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(security="ssl", users={"notice@corp.example": SECRET})
    await app_of(cards_live).mailboxes.add(form_values(srv, type="custom", security="ssl"), SecretStr(SECRET),
                                           Actor(id="boss"))
    await say(emu, cards_live, "编辑邮箱 审批通知", sender_staff_id="boss", is_admin=True)
    [card] = created(emu, FORM_ID)
    form = json.loads(card["cardData"]["cardParamMap"]["form"])
    shown = {f["name"]: f.get("defaultValue") for f in form["fields"]}
    assert shown["account"] == "notice@corp.example" and not shown["password"]
    await callback(emu, cards_live, card["outTrackId"], "boss",
                   submit_content(form_values(srv, name="审批通知2"), None))
    [mailbox] = await app_of(cards_live).mailboxes.list()
    assert mailbox.name == "审批通知2" and mailbox.version == 2


async def test_stale_edit_form_does_not_overwrite(emu: DingTalkEmulator, cards_live: DingTalkAdapter,
                                                  smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(security="ssl", users={"notice@corp.example": SECRET})
    service = app_of(cards_live).mailboxes
    await service.add(form_values(srv, type="custom", security="ssl"), SecretStr(SECRET), Actor(id="boss"))
    await say(emu, cards_live, "修改邮箱 审批通知", sender_staff_id="boss", is_admin=True)
    [card] = created(emu, FORM_ID)
    await service.set_enabled("审批通知", False, Actor(id="someone-else"))
    await callback(emu, cards_live, card["outTrackId"], "boss", submit_content(form_values(srv, port="1"), None))
    assert "someone else" in emu.cards[card["outTrackId"]]["notice"] or "他人" in emu.cards[card["outTrackId"]]["notice"]
    assert (await service.get("审批通知")).port == srv.port


async def test_only_the_newest_cards_are_remembered(emu: DingTalkEmulator, cards_live: DingTalkAdapter,
                                                    smtp_server: Callable[..., SmtpServer],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(card_records, "CARDS_KEPT", 2)
    monkeypatch.setattr(card_records, "TRIM_EVERY", 1)
    srv = smtp_server(security="ssl", users={"notice@corp.example": SECRET})
    await app_of(cards_live).mailboxes.add(form_values(srv, type="custom", security="ssl"), SecretStr(SECRET),
                                           Actor(id="boss"))
    for _ in range(4):
        await say(emu, cards_live, "邮箱列表", sender_staff_id="boss", is_admin=True)
    tracks = [c["outTrackId"] for c in created(emu, LIST_ID)]
    oldest = await callback(emu, cards_live, tracks[0], "boss", press("mailbox_disable", mailbox="审批通知", version="1"))
    assert "失效" in oldest["notice"] and (await app_of(cards_live).mailboxes.get("审批通知")).enabled
    newest = await callback(emu, cards_live, tracks[-1], "boss", press("mailbox_disable", mailbox="审批通知", version="1"))
    assert json.loads(newest["rows"])[0]["enabled"] == "false"


async def test_list_card_buttons_act_once_and_detect_stale_cards(
        emu: DingTalkEmulator, cards_live: DingTalkAdapter, smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(security="ssl", users={"notice@corp.example": SECRET})
    service = app_of(cards_live).mailboxes
    await service.add(form_values(srv, type="custom", security="ssl"), SecretStr(SECRET), Actor(id="boss"))
    await say(emu, cards_live, "邮箱列表", sender_staff_id="boss", is_admin=True)
    [card] = created(emu, LIST_ID)
    track = card["outTrackId"]
    rows = json.loads(card["cardData"]["cardParamMap"]["rows"])
    assert rows[0]["name"] == "审批通知"

    ack = await callback(emu, cards_live, track, "boss", press("mailbox_disable", mailbox="审批通知", version="1"))
    assert not (await service.get("审批通知")).enabled
    assert json.loads(ack["rows"])[0]["enabled"] == "false"
    stale = await callback(emu, cards_live, track, "boss", press("mailbox_enable", mailbox="审批通知", version="1"))
    assert "过期" in stale["notice"]
    assert not (await service.get("审批通知")).enabled  # the stale press changed nothing

    await callback(emu, cards_live, track, "boss", press("mailbox_test", mailbox="审批通知", version="2"))
    assert "审批通知" in emu.cards[track]["notice"]
    assert srv.logins.count(("notice@corp.example", True)) == 2

    ask = await callback(emu, cards_live, track, "boss", press("mailbox_delete_ask", mailbox="审批通知", version="2"))
    assert json.loads(ask["rows"])[0]["confirming"] == "true"
    await callback(emu, cards_live, track, "boss", press("mailbox_delete", mailbox="审批通知", version="2"))
    assert await service.list() == []
    refused = await callback(emu, cards_live, track, "stranger", press("mailbox_delete", mailbox="x", version="1"))
    assert "MAILBOT_ADMINS" in refused["notice"]


async def test_group_new_mailbox_sends_the_form_privately(emu: DingTalkEmulator, cards_live: DingTalkAdapter) -> None:
    await say(emu, cards_live, "新建邮箱", sender_staff_id="boss", is_admin=True, conversation_type="2",
              conversation_id="cid-group")
    [card] = created(emu, FORM_ID)
    assert card["openSpaceId"] == "dtv1.card//IM_ROBOT.boss"
    assert any("单聊" in m.body["text"]["content"] for m in emu.webhook_messages("cid-group")
               if m.body.get("msgtype") == "text")


async def test_failed_delivery_falls_back_to_markdown(emu: DingTalkEmulator, cards_live: DingTalkAdapter) -> None:
    emu.fail_deliveries = True
    await say(emu, cards_live, "邮箱列表", sender_staff_id="boss", is_admin=True)
    assert created(emu, LIST_ID)
    assert any(m.body.get("msgtype") == "markdown" for m in emu.webhook_messages())


@pytest.mark.parametrize("status, code, fix", [
    (400, "param.templateUnpublished", "还没有发布"),
    (403, "Forbidden.AccessDenied.AccessTokenPermissionDenied", "Card.Instance.Write"),
    (400, "param.somethingElse", "MAILBOT_CARD_TEMPLATE_MAILBOX_FORM"),
    (500, "ServiceUnavailable", "稍后再试"),  # DingTalk's trouble: no template advice
])
async def test_a_refused_form_card_says_why_and_how_to_register_by_text(
        emu: DingTalkEmulator, cards_live: DingTalkAdapter, status: int, code: str, fix: str) -> None:
    emu.refuse_cards = (status, code)
    await say(emu, cards_live, "新建邮箱", sender_staff_id="boss", is_admin=True)
    [answer] = [m.body["markdown"]["text"] for m in emu.webhook_messages() if m.body.get("msgtype") == "markdown"]
    assert fix in answer and "新建邮箱 名称=… 账号=…" in answer
    await say(emu, cards_live, "新建邮箱 名称=通知 账号=notice@qq.com", sender_staff_id="boss", is_admin=True)
    assert "授权码" in json.dumps([m.body for m in emu.webhook_messages()][-1], ensure_ascii=False)


async def test_a_refused_form_card_asked_for_in_a_group_is_explained_privately(
        emu: DingTalkEmulator, cards_live: DingTalkAdapter) -> None:
    emu.refuse_cards = (400, "param.templateUnpublished")
    await say(emu, cards_live, "新建邮箱", sender_staff_id="boss", is_admin=True,
              conversation_type="2", conversation_id="cid-group")
    [private] = [m for m in emu.robot_messages if m.kind == "oto"]
    assert private.user_ids == ("boss",) and "还没有发布" in private.msg_param["text"]
    assert not any("还没有发布" in json.dumps(m.body, ensure_ascii=False) for m in emu.webhook_messages("cid-group"))


async def test_without_template_ids_the_wizard_runs_and_says_so_once(emu: DingTalkEmulator,
                                                                     live: DingTalkAdapter) -> None:
    for _ in range(2):
        await say(emu, live, "新建邮箱", sender_staff_id="boss", is_admin=True)
        await say(emu, live, "取消", sender_staff_id="boss", is_admin=True)
    texts = [m.body.get("text", {}).get("content", "") for m in emu.webhook_messages()]
    assert sum("MAILBOT_CARD_TEMPLATE_MAILBOX_FORM" in t for t in texts) == 1
    assert not emu.card_calls


async def test_group_wizard_asks_for_the_secret_in_the_single_chat(emu: DingTalkEmulator, live: DingTalkAdapter) -> None:
    await say(emu, live, "新建邮箱 名称=通知 账号=notice@qq.com", sender_staff_id="boss", is_admin=True,
              conversation_type="2", conversation_id="cid-group")
    [private] = [m for m in emu.robot_messages if m.kind == "oto"]
    assert private.user_ids == ("boss",)
    assert "授权码" in private.msg_param["text"]
    group_texts = [m.body["text"]["content"] for m in emu.webhook_messages("cid-group") if m.body["msgtype"] == "text"]
    assert any("单聊" in t for t in group_texts)


async def test_failed_mail_alert_card_and_its_retry_button(emu: DingTalkEmulator, data_dir: Path,
                                                          smtp_server: Callable[..., SmtpServer]) -> None:
    from bot.cli.run import Runtime
    from bot.relay.alerts import NotifySink
    from bot.adapters.relay_component import RelayComponent
    from bot.relay.models import MailRequest

    srv = smtp_server(data_replies=["550 5.7.1 Message rejected as spam"])
    settings = stream_settings(data_dir, emu, card_template_alert="alert-template.schema", http_port=0,
                               retry_base_s=0.05, relay_poll_s=0.2)
    async with open_app(settings) as opened:
        await opened.mailboxes.add({"name": "ops", "type": "custom", "account": "bot@example.com", "host": "127.0.0.1",
                                    "port": srv.port, "security": "none"}, SecretStr(SECRET), Actor(id="boss"),
                                   verify=False)
        router = Router(opened)
        runtime = Runtime(opened, router)
        adapter = DingTalkAdapter(opened.settings, router.handle, router.cards.handle)
        relay = RelayComponent(opened, NotifySink(runtime.alert))
        runtime.components = [adapter, relay]
        await adapter.start()
        await relay.start()
        try:
            await emu.wait_connected(1)
            record, _ = await relay.relay.submit(MailRequest(to=["boss@example.org"], subject="审批通过", text="ok"))
            for _ in range(500):
                if created(emu, "alert-template.schema"):
                    break
                await asyncio.sleep(0.01)
            [card] = created(emu, "alert-template.schema")
            assert card["openSpaceId"] == "dtv1.card//IM_ROBOT.boss"
            params = card["cardData"]["cardParamMap"]
            assert "550 5.7.1" in params["alert_md"] and params["mail_id"] == record.id
            ack = await callback(emu, adapter, card["outTrackId"], "boss", press("mail_retry", mail_id=record.id))
            assert ack["show_retry"] == "false"
            for _ in range(500):
                if (await relay.relay.get(record.id)).status == "sent":
                    break
                await asyncio.sleep(0.01)
            assert (await relay.relay.get(record.id)).status == "sent"
            assert len(srv.messages) == 1
        finally:
            await relay.stop()
            await adapter.stop()
