"""OAuth2 sign-ins across instances: DingTalk hands each chat message to one of an app's Stream
connections, so the address an admin pastes, or their 取消, may reach another instance than the one
that began the sign-in. Two Apps on one data dir, each with its real SDK adapter on its own
connection to the DingTalk emulator; the OAuth emulator plays Microsoft and Google."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from bot.adapters.dingtalk import DingTalkAdapter
from bot.app import App
from bot.audit import Actor
from bot.chat.router import Router
from bot.emulator import DingTalkEmulator, OAuthEmulator
from bot.mailboxes.signin import STALE_S, WATCH_S
from tests.chat.conftest import stream_settings, wired
from tests.chat.test_oauth_chat import GMAIL, OUTLOOK, new_mailbox
from tests.oauth.conftest import oauth_settings
from tests.storage.faults import allow_writes, deny_writes
from tests.support.smtpd import SmtpServer


class Pair:
    def __init__(self, emu: DingTalkEmulator, apps: list[App], routers: list[Router],
                 adapters: list[DingTalkAdapter]) -> None:
        self.emu, self.apps, self.routers, self.adapters = emu, apps, routers, adapters

    async def say(self, text: str, to: int) -> str:
        """`text` from the admin in their single chat, handed to instance `to`; the reply."""
        before = len(self.replies())
        push = await self.emu.send_chat(text, sender_staff_id="boss", connection=to)
        await self.emu.wait_ack(push.message_id)
        await asyncio.gather(*(adapter.idle() for adapter in self.adapters))
        return "\n".join(self.replies()[before:])

    def replies(self) -> list[str]:
        return [m.body["text"]["content"] if m.body["msgtype"] == "text" else m.body["markdown"]["text"]
                for m in self.emu.webhook_messages("cid-oto-boss")]

    def pushed(self) -> list[str]:
        return [m.msg_param.get("content") or m.msg_param.get("text", "") for m in self.emu.robot_messages
                if m.kind == "oto" and m.user_ids == ("boss",)]


@pytest.fixture
def server(xoauth_server: SmtpServer) -> SmtpServer:
    return xoauth_server


@pytest.fixture
async def pair(emu: DingTalkEmulator, oauth: OAuthEmulator, data_dir: Path) -> AsyncIterator[Pair]:
    async with AsyncExitStack() as stack:
        apps, routers, adapters = [], [], []
        for i in range(2):
            app, router, adapter = await stack.enter_async_context(
                wired(stream_settings(data_dir, emu, **oauth_settings(oauth)), emu, connections=i + 1))
            apps.append(app)
            routers.append(router)
            adapters.append(adapter)
        yield Pair(emu, apps, routers, adapters)


async def test_a_google_address_pasted_to_the_other_instance_finishes_the_sign_in(
        pair: Pair, oauth: OAuthEmulator, server: SmtpServer, data_dir: Path) -> None:
    assert "2 用谷歌登录" in await pair.say(new_mailbox(server, "gmail", GMAIL, "gmail"), to=0)
    shown = await pair.say("2", to=1)  # instance 1 begins the sign-in
    [url] = re.findall(r"https?://\S+/o/oauth2/v2/auth\S*", shown)
    [(signin_id, _)] = await pair.apps[0].storage.table("oauth_signins").items()
    signin = await pair.apps[0].signins.get(signin_id)
    assert signin.code is not None
    verifier = signin.code.verifier.get_secret_value()
    stored = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    assert verifier.encode() not in stored  # sealed at rest, like a password
    redirect = await oauth.consent(url, GMAIL)
    assert "✅" in await pair.say(redirect, to=0)  # instance 0 never saw this sign-in begin
    saved = await pair.apps[1].mailboxes.get("gmail")
    assert (saved.type, saved.auth, saved.account) == ("gmail", "oauth2", GMAIL)
    assert await pair.apps[0].storage.table("oauth_signins").items() == []  # over once finished


async def test_a_device_sign_in_cancelled_on_the_other_instance_stops_and_saves_nothing(
        pair: Pair, oauth: OAuthEmulator, server: SmtpServer, data_dir: Path) -> None:
    await pair.say(new_mailbox(server, "hotmail", OUTLOOK, "outlook"), to=0)  # instance 0 polls
    code = await oauth.wait_device_code()
    [signin_id] = list(pair.routers[0].wizard.background._tasks)
    signin = await pair.apps[1].signins.get(signin_id)
    assert signin.device is not None
    stored = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    assert signin.device.device_code.get_secret_value().encode() not in stored
    waiting = await pair.say("进展如何", to=1)  # the other instance knows the sign-in, and what it waits for
    assert "还在等你登录" in waiting and code in waiting
    assert "已取消" in await pair.say("取消", to=1)
    for _ in range(100):  # the polling instance sees the sign-in gone within WATCH_S
        if not pair.routers[0].wizard.background.running(signin_id):
            break
        await asyncio.sleep(0.05)
    assert not pair.routers[0].wizard.background.running(signin_id)
    oauth.approve(code, OUTLOOK)  # too late: nobody polls any more
    await asyncio.sleep(2.2)
    assert await pair.apps[0].mailboxes.list() == [] and pair.pushed() == []


# ---- across runs: `mailbot shell` as real subprocesses on one data dir -----------------------------

async def _shell(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "shell", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env)


async def _type(proc: asyncio.subprocess.Process, line: str, until: str) -> str:
    """Type `line`, then read what the shell prints until `until` appears."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(line.encode() + b"\n")
    await proc.stdin.drain()
    seen = ""
    while until not in seen:
        chunk = await asyncio.wait_for(proc.stdout.read(4096), 30)
        assert chunk, seen
        seen += chunk.decode()
    return seen


def _shell_env(data_dir: Path, oauth: OAuthEmulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "MAILBOT_"))}
    return {**env, "MAILBOT_DATA_DIR": str(data_dir), "MAILBOT_HTTP_PORT": "0", "MAILBOT_SMTP_PORT": "0",
            "MAILBOT_DNS_SERVER": "127.0.0.1:9", **oauth.settings_env()}


async def test_a_google_sign_in_goes_on_after_a_restart(
        oauth: OAuthEmulator, server: SmtpServer, tmp_path: Path) -> None:
    env = _shell_env(tmp_path / "data", oauth)
    first = await _shell(env)
    await _type(first, new_mailbox(server, "gmail", GMAIL, "gmail"), "2")
    shown = await _type(first, "2", "code=")
    [url] = re.findall(r"https?://\S+/o/oauth2/v2/auth\S*", shown)
    first.kill()  # the run that began it is gone
    await first.wait()
    redirect = await oauth.consent(url, GMAIL)
    second = await _shell(env)
    try:
        assert "✅" in await _type(second, redirect, "✅")  # pasted into the next run
    finally:
        second.kill()
        await second.wait()


async def test_a_device_sign_in_whose_run_was_killed_reads_as_ended(
        oauth: OAuthEmulator, server: SmtpServer, tmp_path: Path) -> None:
    env = _shell_env(tmp_path / "data", oauth)
    first = await _shell(env)
    await _type(first, new_mailbox(server, "hotmail", OUTLOOK, "outlook"), "devicelogin")
    code = await oauth.wait_device_code()
    first.kill()  # SIGKILL: nothing tidies up; nobody polls the code any more
    await first.wait()
    await asyncio.sleep(STALE_S + 0.5)
    second = await _shell(env)
    try:
        said = await _type(second, "进展如何", "这次登录已经结束")  # not "still waiting" for a code nobody polls
        assert code not in said
    finally:
        second.kill()
        await second.wait()


async def test_a_device_sign_in_outlasts_a_store_that_fails_while_the_admin_signs_in(
        pair: Pair, oauth: OAuthEmulator, server: SmtpServer) -> None:
    """The polling instance says every WATCH_S that it still polls; a store refusing that write for a
    while (a full disk, a restarting database) must not end a sign-in the admin is completing."""
    app = pair.apps[0]
    signin = await app.signins.begin({"name": "hotmail", "type": "outlook", "account": OUTLOOK, "host": "127.0.0.1",
                                      "port": server.port, "security": "starttls"})
    code = await oauth.wait_device_code()
    finishing = asyncio.create_task(app.signins.finish(signin, Actor(id="admin", source="test")))
    table = app.storage.table("oauth_signins", indexed=("state",))
    await deny_writes(table)
    await asyncio.sleep(WATCH_S * 2 + 0.5)  # heartbeats refused meanwhile
    assert not finishing.done()
    await allow_writes(table)
    oauth.approve(code, OUTLOOK)
    result = await asyncio.wait_for(finishing, 15)
    assert (result.mailbox.name, result.mailbox.auth) == ("hotmail", "oauth2")
