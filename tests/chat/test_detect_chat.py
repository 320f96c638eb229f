"""The type proposed from the domain in chat, end to end: the real SDK adapter on the DingTalk emulator,
our own DNS server on loopback (MAILBOT_DNS_SERVER) for the MX answers, the OAuth emulator as Microsoft."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.emulator import DingTalkEmulator, OAuthEmulator
from tests.chat.conftest import SECRET, Say, stream_settings, wired
from tests.chat.test_cards_flow import callback, created, submit_content
from tests.chat.test_oauth_chat import FORM_ID, Bot
from tests.oauth.conftest import oauth_settings
from tests.support.dns import DnsServer
from tests.support.smtpd import SmtpServer

ZONES = {"acme.cn": [(5, "mxbiz1.qq.com"), (10, "mxbiz2.qq.com")],
         "contoso.com": [(0, "contoso-com.mail.protection.outlook.com")]}


@pytest.fixture
def dns() -> Iterator[DnsServer]:
    with DnsServer(ZONES, ttl=60) as server:
        yield server


@pytest.fixture
async def bot(emu: DingTalkEmulator, oauth: OAuthEmulator, dns: DnsServer, data_dir: Path) -> AsyncIterator[Bot]:
    settings = stream_settings(data_dir, emu, card_template_mailbox_form=FORM_ID, dns_server=dns.address,
                               **oauth_settings(oauth))
    async with wired(settings, emu) as (app, router, adapter):
        yield Bot(emu, adapter, router, app)
    assert emu.card_errors == []


async def to_type_step(bot: Bot, account: str) -> str:
    """One-shot pairs without a type: the dialog goes on by text up to the type step."""
    await bot.say(f"新建邮箱 名称=ops 账号={account}")
    return bot.replies()[-1]


async def test_the_detected_type_is_proposed_with_its_reason_and_accepted(bot: Bot, dns: DnsServer) -> None:
    prompt = await to_type_step(bot, "ops@acme.cn")
    assert "acme.cn 的邮件由 mxbiz1.qq.com 接收：腾讯企业邮箱（exmail）。直接回复“是”使用它" in prompt
    assert "1. " in prompt  # the other types stay listed for an override
    assert dns.query_count == 1
    await bot.say("新浪")  # not a type: asked again, the proposal still shown, DNS not asked again
    assert "不认识" in bot.replies()[-1] and "mxbiz1.qq.com" in bot.replies()[-1]
    assert dns.query_count == 1
    await bot.say("是")
    ask = bot.replies()[-1]
    assert "客户端专用密码" in ask and "smtp.exmail.qq.com" in ask  # the Exmail secret step and its guide


async def test_the_proposal_can_be_overridden(bot: Bot) -> None:
    await to_type_step(bot, "ops@acme.cn")
    await bot.say("aliyun_enterprise")
    ask = bot.replies()[-1]
    assert "smtp.qiye.aliyun.com" in ask and "exmail" not in ask
    await bot.say("取消")


async def test_english_dialog_and_microsoft_365_leads_to_its_sign_in(bot: Bot, oauth: OAuthEmulator) -> None:
    await bot.say("new mailbox name=m365 account=ops@contoso.com")
    prompt = bot.replies()[-1]
    assert ("contoso.com receives mail at contoso-com.mail.protection.outlook.com: Microsoft 365 (Exchange Online) "
            "(microsoft365). Reply 'yes' to use it") in prompt
    await bot.say("yes")
    assert "Reply 1 for the" in bot.replies()[-1] and "2 to sign in with Microsoft" in bot.replies()[-1]
    await bot.say("2")
    code = await oauth.wait_device_code()
    assert code in bot.replies()[-1] and "ops@contoso.com" in bot.replies()[-1]
    await bot.say("cancel")


async def test_dns_that_does_not_answer_falls_back_to_the_type_question(bot: Bot, dns: DnsServer) -> None:
    dns.delay_s = 10.0
    started = time.monotonic()
    prompt = await to_type_step(bot, "ops@acme.cn")
    assert time.monotonic() - started < 5  # gave up after about 2 s, not 10
    assert "请选择邮箱类型" in prompt and "mxbiz1" not in prompt
    asked = dns.query_count
    started = time.monotonic()
    await bot.say("新浪")  # re-asked at once: the failed lookup is not repeated for this account
    assert "请选择邮箱类型" in bot.replies()[-1] and time.monotonic() - started < 1
    assert dns.query_count == asked
    await bot.say("exmail")
    assert "smtp.exmail.qq.com" in bot.replies()[-1]


async def test_a_slow_lookup_holds_only_its_own_conversation(bot: Bot, dns: DnsServer) -> None:
    dns.delay_s = 10.0
    slow = await bot.emu.send_chat("新建邮箱 名称=ops 账号=ops@acme.cn", sender_staff_id="boss")
    await bot.emu.wait_ack(slow.message_id)
    started = time.monotonic()
    other = await bot.emu.send_chat("帮助", sender_staff_id="alice")
    await bot.emu.wait_ack(other.message_id)
    while not bot.emu.webhook_messages("cid-oto-alice"):
        assert time.monotonic() - started < 1.5, "alice waited for boss's DNS lookup"
        await asyncio.sleep(0.02)
    assert not bot.emu.webhook_messages("cid-oto-boss")  # boss's lookup still runs
    await bot.adapter.idle()
    assert "请选择邮箱类型" in bot.replies()[-1]


async def test_the_password_route_of_a_type_that_can_also_sign_in_saves(
        say: Say, smtp_server: Callable[..., SmtpServer]) -> None:
    """Microsoft 365 / Gmail by password: the dialog's own choice is no mailbox field (it was refused as one)."""
    server = smtp_server(security="none", users={"ops@gmail.com": SECRET})
    assert "Reply 1 for the app password" in await say(
        f"new mailbox name=g account=ops@gmail.com type=gmail host=127.0.0.1 port={server.port} security=none")
    assert "app password" in await say("1")
    assert "✅" in await say(SECRET)


# ---- the card form: submitted without a type, it comes back with the detected type and why ----------

async def open_form(bot: Bot) -> str:
    await bot.say("新建邮箱")
    [card] = created(bot.emu, FORM_ID)
    return str(card["outTrackId"])


def form_fields(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in json.loads(card["form"])["fields"]}


async def test_a_form_without_a_type_comes_back_with_the_detected_type_and_saves_on_the_second_submit(
        bot: Bot, dns: DnsServer, smtp_server: Callable[..., SmtpServer]) -> None:
    track = await open_form(bot)
    assert not form_fields(bot.emu.cards[track])["type"]["required"]
    ack = await callback(bot.emu, bot.adapter, track, "boss",
                         submit_content({"name": "审批通知", "account": "ops@acme.cn"}, "code-1"))
    assert ack["form_status"] == "disabled" and "判断邮箱类型" in ack["notice"]  # at once; DNS after the ACK
    card = bot.emu.cards[track]
    assert "acme.cn 的邮件由 mxbiz1.qq.com 接收：腾讯企业邮箱" in card["notice"] and "再提交一次" in card["notice"]
    assert "请再填一次" in card["notice"]  # the secret is not kept for the second submit
    fields = form_fields(card)
    assert fields["type"]["defaultValue"]["value"] == "exmail" and fields["account"]["defaultValue"] == "ops@acme.cn"
    assert card["form_status"] == "normal" and "code-1" not in bot.recorded()
    assert await bot.app.mailboxes.list() == []  # nothing saved on a type the admin has not seen
    # Confirmed: the admin submits the shown type (here with the server of a test double instead of Exmail's).
    server = smtp_server(security="none", users={"ops@acme.cn": SECRET})
    confirmed = {"name": "审批通知", "account": "ops@acme.cn", "type": fields["type"]["defaultValue"],
                 "host": "127.0.0.1", "port": str(server.port), "security": {"index": 2, "value": "none"}}
    await callback(bot.emu, bot.adapter, track, "boss", submit_content(confirmed, SECRET))
    assert "✅" in bot.emu.cards[track]["notice"]
    assert (await bot.app.mailboxes.get("审批通知")).type == "exmail"
    assert dns.query_count == 1


async def test_a_form_proposal_can_be_overridden_and_dns_trouble_leaves_the_type_to_choose(
        bot: Bot, dns: DnsServer) -> None:
    track = await open_form(bot)
    await callback(bot.emu, bot.adapter, track, "boss",
                   submit_content({"name": "m365", "account": "ops@contoso.com"}, None))
    card = bot.emu.cards[track]
    assert "Microsoft 365" in card["notice"] and "请再填一次" not in card["notice"]  # nothing typed to repeat
    assert "浏览器登录" in form_fields(card)["password"]["label"]  # Microsoft 365: or a sign-in, no password
    asked = dns.query_count
    overridden = {"name": "m365", "account": "ops@contoso.com", "type": {"index": 2, "value": "exmail"}}
    await callback(bot.emu, bot.adapter, track, "boss", submit_content(overridden, None))
    card = bot.emu.cards[track]  # the admin's type stands: only what it still needs is asked
    assert form_fields(card)["type"]["defaultValue"]["value"] == "exmail" and "Microsoft 365" not in card["notice"]
    assert "客户端专用密码" in card["notice"] and dns.query_count == asked
    dns.delay_s = 10.0
    started = time.monotonic()
    await callback(bot.emu, bot.adapter, track, "boss",
                   submit_content({"name": "ops", "account": "ops@slow.example"}, "code-1"))
    assert time.monotonic() - started < 5
    card = bot.emu.cards[track]
    assert "无法从域名 slow.example 判断邮箱类型" in card["notice"] and card["form_status"] == "normal"
    assert "defaultValue" not in form_fields(card)["type"]
