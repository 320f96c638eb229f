"""OAuth2 sign-in by chat and card, end to end: the real SDK adapter on the DingTalk emulator, the OAuth
emulator as Microsoft and Google, and an SMTP server that takes XOAUTH2 only for the tokens it issued."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.adapters.dingtalk import DingTalkAdapter
from bot.app import App, open_app
from bot.chat.router import Router
from bot.emulator import DingTalkEmulator, OAuthEmulator
from tests.chat.conftest import stream_settings, wired
from tests.oauth.conftest import oauth_settings, token_strings
from tests.support.smtpd import SmtpServer

FORM_ID = "form-template.schema"
OUTLOOK = "ops@outlook.com"
GMAIL = "ops@gmail.com"


class Bot:
    """The adapter, its router and app, and what the admin `boss` sees in the single chat."""

    def __init__(self, emu: DingTalkEmulator, adapter: DingTalkAdapter, router: Router, app: App) -> None:
        self.emu, self.adapter, self.router, self.app = emu, adapter, router, app

    async def say(self, text: str, *, group: bool = False) -> None:
        push = await self.emu.send_chat(text, sender_staff_id="boss", conversation_type="2" if group else "1")
        await self.emu.wait_ack(push.message_id)
        await self.adapter.idle()

    def replies(self, conversation: str = "cid-oto-boss") -> list[str]:
        return [m.body["text"]["content"] if m.body["msgtype"] == "text" else m.body["markdown"]["text"]
                for m in self.emu.webhook_messages(conversation)]

    def pushed(self) -> list[str]:
        """Proactive messages to boss's single chat (sign-in outcomes, a group dialog moved there)."""
        return [m.msg_param.get("content") or m.msg_param.get("text", "") for m in self.emu.robot_messages
                if m.kind == "oto" and m.user_ids == ("boss",)]

    async def wait_pushed(self, needle: str, timeout: float = 10.0) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            found = [p for p in self.pushed() if needle in p]
            if found:
                return found[-1]
            await asyncio.sleep(0.05)
        raise AssertionError(f"no push with {needle!r}; pushed: {self.pushed()}")

    def recorded(self) -> str:
        """Everything DingTalk received from the bot: messages, card data, ACKs."""
        return (json.dumps([c.json for c in self.emu.calls], ensure_ascii=False)
                + json.dumps(self.emu.acks, ensure_ascii=False) + json.dumps(self.emu.cards, ensure_ascii=False))


@pytest.fixture
def server(xoauth_server: SmtpServer) -> SmtpServer:
    return xoauth_server


@pytest.fixture
async def bot(emu: DingTalkEmulator, oauth: OAuthEmulator, data_dir: Path) -> AsyncIterator[Bot]:
    settings = stream_settings(data_dir, emu, card_template_mailbox_form=FORM_ID, **oauth_settings(oauth))
    async with wired(settings, emu) as (app, router, adapter):
        yield Bot(emu, adapter, router, app)
    assert emu.card_errors == []


def new_mailbox(server: SmtpServer, name: str, account: str, type_key: str, extra: str = "") -> str:
    return (f"新建邮箱 名称={name} 账号={account} 类型={type_key} 服务器=127.0.0.1 端口={server.port} "
            f"加密=starttls {extra}").strip()


def no_tokens(bot: Bot, oauth: OAuthEmulator, caplog: pytest.LogCaptureFixture) -> None:
    tokens = token_strings(oauth)
    assert tokens
    seen = bot.recorded() + caplog.text
    assert [t for t in tokens if t in seen] == []


async def signed_in_outlook(bot: Bot, oauth: OAuthEmulator, server: SmtpServer, name: str = "hotmail") -> str:
    await bot.say(new_mailbox(server, name, OUTLOOK, "outlook"))
    code = await oauth.wait_device_code()
    oauth.approve(code, OUTLOOK)
    await bot.wait_pushed("✅")
    return code


async def test_outlook_signs_in_with_a_device_code_and_is_saved(
        bot: Bot, oauth: OAuthEmulator, server: SmtpServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await bot.say(new_mailbox(server, "hotmail", OUTLOOK, "outlook"))
    code = await oauth.wait_device_code()
    shown = bot.replies()[-1]
    assert code in shown and f"{oauth.url}/devicelogin" in shown and OUTLOOK in shown
    assert await bot.app.mailboxes.list() == []  # nothing before the sign-in
    await bot.say("好了吗")  # a message while waiting: still waiting, the code again
    assert "还在等你登录" in bot.replies()[-1] and code in bot.replies()[-1]
    oauth.approve(code, OUTLOOK)
    done = await bot.wait_pushed("✅")
    assert "hotmail" in done and OUTLOOK in done
    saved = await bot.app.mailboxes.get("hotmail")
    assert (saved.type, saved.auth, saved.auth_state) == ("outlook", "oauth2", "ok")
    assert server.logins[-1] == (OUTLOOK, True)
    await bot.say("查看邮箱 hotmail")
    assert "OAuth2" in bot.replies()[-1]
    await bot.say("list mailboxes")
    assert "OAuth2" in "\n".join(bot.replies()[-2:])  # the list, then the note that its card is not set
    no_tokens(bot, oauth, caplog)


async def test_a_group_dialog_moves_the_sign_in_to_the_single_chat(
        bot: Bot, oauth: OAuthEmulator, server: SmtpServer) -> None:
    await bot.say(new_mailbox(server, "hotmail", OUTLOOK, "outlook"), group=True)
    code = await oauth.wait_device_code()
    in_group = "\n".join(bot.replies("cid-group-1"))
    assert "单聊" in in_group and code not in in_group and "devicelogin" not in in_group
    assert any(code in p for p in bot.pushed())  # the code went to boss alone
    oauth.approve(code, OUTLOOK)
    await bot.wait_pushed("✅")
    assert (await bot.app.mailboxes.get("hotmail")).auth == "oauth2"
    assert code not in "\n".join(bot.replies("cid-group-1"))


async def test_declined_sign_in_saves_nothing_and_says_so(bot: Bot, oauth: OAuthEmulator, server: SmtpServer) -> None:
    await bot.say(new_mailbox(server, "hotmail", OUTLOOK, "outlook"))
    oauth.decline(await oauth.wait_device_code())
    failed = await bot.wait_pushed("❌")
    assert "1 重新输入" in failed
    assert await bot.app.mailboxes.list() == []
    await bot.say("1")  # sign in again: a new code
    code = await oauth.wait_device_code()
    assert code in bot.replies()[-1]
    await bot.say("取消")
    assert "已取消" in bot.replies()[-1]


async def test_cancel_mid_wait_ends_the_sign_in(bot: Bot, oauth: OAuthEmulator, server: SmtpServer) -> None:
    await bot.say(new_mailbox(server, "hotmail", OUTLOOK, "outlook"))
    code = await oauth.wait_device_code()
    [signin_id] = [t for t in bot.router.wizard.background._tasks]
    await bot.say("取消")
    assert "已取消" in bot.replies()[-1]
    assert not bot.router.wizard.background.running(signin_id)
    oauth.approve(code, OUTLOOK)  # too late: nobody polls any more
    await asyncio.sleep(2.2)
    assert await bot.app.mailboxes.list() == [] and bot.pushed() == []


async def test_gmail_asks_password_or_sign_in_and_takes_a_pasted_address(
        bot: Bot, oauth: OAuthEmulator, server: SmtpServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await bot.say(new_mailbox(server, "gmail", GMAIL, "gmail"))
    assert "2 用谷歌登录" in bot.replies()[-1]
    await bot.say("2")
    [url] = re.findall(r"https?://\S+/o/oauth2/v2/auth\S*", bot.replies()[-1])
    redirect = await oauth.consent(url, GMAIL)
    auth_code = re.search(r"code=([^&]+)", redirect)
    assert auth_code is not None
    await bot.say("this is not the address")
    assert "code" in bot.replies()[-1] and "this is not the address" not in bot.replies()[-1]
    await bot.say(redirect)
    assert "✅" in bot.replies()[-1]
    saved = await bot.app.mailboxes.get("gmail")
    assert (saved.type, saved.auth) == ("gmail", "oauth2")
    assert auth_code.group(1) not in bot.recorded() and auth_code.group(1) not in caplog.text
    assert "code=" not in json.dumps(await bot.app.storage.table("wizards").items())
    no_tokens(bot, oauth, caplog)


async def test_gmail_app_password_route_is_still_offered(bot: Bot, server: SmtpServer) -> None:
    await bot.say(new_mailbox(server, "gmail", GMAIL, "gmail"))
    await bot.say("1")
    assert "应用专用密码" in bot.replies()[-1]


async def test_reauth_by_chat_after_the_sign_in_was_revoked(
        bot: Bot, oauth: OAuthEmulator, server: SmtpServer, caplog: pytest.LogCaptureFixture) -> None:
    await signed_in_outlook(bot, oauth, server)
    oauth.revoke(OUTLOOK)
    await bot.say("测试邮箱 hotmail")  # the refresh is refused: the mailbox needs a new sign-in
    assert "重新登录" in bot.replies()[-1]
    assert (await bot.app.mailboxes.get("hotmail")).auth_state == "needs_reauth"
    await bot.say("邮箱列表")
    assert "重新登录 hotmail" in "\n".join(bot.replies()[-2:])
    await bot.say("reauth hotmail")
    code = await oauth.wait_device_code()
    assert code in bot.replies()[-1]
    oauth.approve(code, OUTLOOK)
    again = await bot.wait_pushed("✅ Signed in again")
    assert "hotmail" in again
    assert (await bot.app.mailboxes.get("hotmail")).auth_state == "ok"
    no_tokens(bot, oauth, caplog)


async def test_reauth_is_for_admins_and_sign_in_types(bot: Bot, oauth: OAuthEmulator) -> None:
    push = await bot.emu.send_chat("重新登录 hotmail", sender_staff_id="someone")
    await bot.emu.wait_ack(push.message_id)
    await bot.adapter.idle()
    assert "只有管理员" in bot.replies("cid-oto-someone")[-1]
    await bot.say("重新登录 nothing")
    assert "没有名为" in bot.replies()[-1]


async def test_form_card_starts_the_sign_in_in_the_single_chat(
        bot: Bot, oauth: OAuthEmulator, server: SmtpServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await bot.say("新建邮箱")
    [card] = [c.json for c in bot.emu.card_calls if c.path.endswith("createAndDeliver")]
    track = card["outTrackId"]
    values = {"name": "hotmail", "type": {"index": 9, "value": "outlook"}, "account": OUTLOOK,
              "host": "127.0.0.1", "port": str(server.port), "security": {"index": 1, "value": "starttls"}}
    message_id = await bot.emu.send_card_callback(track, "boss", {"cardPrivateData": {
        "actionIds": ["form"], "params": {"form": values}}})
    await bot.emu.wait_ack(message_id)
    await bot.adapter.idle()
    assert "单聊" in bot.emu.cards[track]["notice"] and bot.emu.cards[track]["form_status"] == "disabled"
    code = await oauth.wait_device_code()
    assert any(code in p for p in bot.pushed())
    oauth.approve(code, OUTLOOK)
    await bot.wait_pushed("✅")
    assert (await bot.app.mailboxes.get("hotmail")).auth == "oauth2"
    assert code not in json.dumps(bot.emu.cards, ensure_ascii=False)
    no_tokens(bot, oauth, caplog)


async def test_the_dialog_waits_as_long_as_the_device_code_lives(
        emu: DingTalkEmulator, oauth: OAuthEmulator, data_dir: Path, server: SmtpServer) -> None:
    """Dialogs expire after MAILBOT_WIZARD_IDLE_S of silence (here 1 s); one waiting for a device
    sign-in lives as long as Microsoft's code (15 minutes), so asking meanwhile does not end it."""
    settings = stream_settings(data_dir, emu, card_template_mailbox_form=FORM_ID, **oauth_settings(oauth))
    async with open_app(settings) as app:
        router = Router(app, idle_s=1.0)
        adapter = DingTalkAdapter(app.settings, router.handle, router.cards.handle)
        router.pushes["dingtalk"] = adapter.send_private
        await adapter.start()
        await emu.wait_connected(1)
        bot = Bot(emu, adapter, router, app)
        try:
            await bot.say(new_mailbox(server, "hotmail", OUTLOOK, "outlook"))
            code = await oauth.wait_device_code()
            await asyncio.sleep(1.5)
            await bot.say("好了吗")
            assert "还在等你登录" in bot.replies()[-1] and code in bot.replies()[-1]
            oauth.approve(code, OUTLOOK)
            assert "hotmail" in await bot.wait_pushed("✅")
        finally:
            await router.close()
            await adapter.stop()


async def test_changing_the_password_of_an_oauth_mailbox_signs_in_again(
        bot: Bot, oauth: OAuthEmulator, server: SmtpServer) -> None:
    await signed_in_outlook(bot, oauth, server)
    await bot.say("修改邮箱 hotmail 授权码")  # there is no password to type: it is a new sign-in
    code = await oauth.wait_device_code()
    assert code in bot.replies()[-1] and "不会回显" not in bot.replies()[-1]
    pushed = len(bot.pushed())
    oauth.approve(code, OUTLOOK)
    for _ in range(200):
        if len(bot.pushed()) > pushed:
            break
        await asyncio.sleep(0.05)
    assert "✅" in bot.pushed()[-1] and server.logins[-1] == (OUTLOOK, True)
    assert (await bot.app.mailboxes.get("hotmail")).version == 2  # reauth saved a new sign-in
