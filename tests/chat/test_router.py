"""Router: intents in zh/en with variants, permissions, guides, and the mailbox commands."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bot.app import App
from bot.audit import Actor
from bot.chat.router import match_intent
from tests.chat.conftest import Say

INTENT_CASES = [
    ("帮助", "help", {}), ("help", "help", {}), ("HELP!", "help", {}), ("？", "help", {}),
    ("新建邮箱", "new", {}), ("新建 邮箱。", "new", {}), ("添加邮箱", "new", {}), ("New Mailbox", "new", {}),
    ("add a mailbox", "new", {}), ("ＮＥＷ　ＭＡＩＬＢＯＸ", "new", {}),
    ("邮箱列表", "list", {}), ("邮箱 列表", "list", {}), ("查看邮箱列表", "list", {}), ("list mailboxes", "list", {}),
    ("查看邮箱 1", "show", {"n": "1"}), ("查看邮箱 审批通知", "show", {"n": "审批通知"}), ("show mailbox Ops", "show", {"n": "Ops"}),
    ("测试邮箱 2", "test", {"n": "2"}), ("测试邮箱 2 a@b.com", "test", {"n": "2", "to": "a@b.com"}),
    ("test mailbox ops to a@b.com", "test", {"n": "ops", "to": "a@b.com"}),
    ("修改邮箱 ops 端口=587", "edit", {"n": "ops"}), ("edit mailbox ops port=587", "edit", {"n": "ops"}),
    ("删除邮箱 ops", "remove", {"n": "ops"}), ("remove mailbox 2", "remove", {"n": "2"}), ("delete mailbox ops", "remove", {"n": "ops"}),
    ("启用 ops", "enable", {"n": "ops"}), ("启用邮箱 2", "enable", {"n": "2"}), ("enable ops", "enable", {"n": "ops"}),
    ("停用 ops", "disable", {"n": "ops"}), ("disable mailbox 3", "disable", {"n": "3"}),
    ("设为默认 ops", "default", {"n": "ops"}), ("把 ops 设为默认", "default", {"n": "ops"}), ("set default ops", "default", {"n": "ops"}),
    ("取消", "cancel", {}), ("Cancel.", "cancel", {}),
]


@pytest.mark.parametrize(("text", "intent", "args"), INTENT_CASES)
def test_intents(text: str, intent: str, args: dict[str, str]) -> None:
    matched = match_intent(text)
    assert matched is not None and matched[0] == intent
    assert {k: v for k, v in matched[1].items() if k in args} == args


@pytest.mark.parametrize("text", ["怎么获取QQ邮箱授权码", "关闭QQ邮箱的SMTP怎么弄", "今天天气不错", "how do I get a gmail app password",
                                  "启用邮箱怎么弄"])
def test_not_commands(text: str) -> None:
    assert match_intent(text) is None


def test_one_shot_arguments_keep_case_and_pairs() -> None:
    name, args = match_intent("新建 邮箱 名称=Ops 账号=Ops@Example.com 服务器=SMTP.example.com") or ("", {})
    assert name == "new" and "名称=Ops" in args["rest"] and "账号=Ops@Example.com" in args["rest"]


async def test_guide_question_for_anyone(say: Say) -> None:
    reply = await say("怎么获取QQ邮箱授权码", user="someone", admin=False)
    assert "smtp.qq.com" in reply and "授权码" in reply


async def test_english_guide_and_help(say: Say) -> None:
    assert "App password" in await say("how do I get a gmail app password", admin=False) or "app password" in (
        await say("how do I get a gmail app password", admin=False)).lower()
    assert "new mailbox" in await say("help")
    assert "新建邮箱" in await say("帮助")


async def test_off_topic_gets_short_help(say: Say) -> None:
    assert "帮助" in await say("今天天气不错")
    assert "help" in await say("what's the weather")


@pytest.mark.parametrize("text", ["新建邮箱", "邮箱列表", "删除邮箱 1", "new mailbox", "default 1"])
async def test_non_admin_refused(say: Say, text: str) -> None:
    reply = await say(text, user="guest", admin=False)
    assert "MAILBOT_ADMINS" in reply and ("管理员" in reply or "admins" in reply)


async def _seed(app: App, *names: str) -> None:
    for name in names:
        await app.mailboxes.add({"name": name, "account": f"{name}@example.com", "host": "127.0.0.1", "port": 2525,
                                 "security": "none"}, SecretStr("pw"), Actor(id="seed"), verify=False)


async def test_list_show_and_numbers(app: App, say: Say) -> None:
    await _seed(app, "ops", "hr")
    listing = await say("邮箱列表")
    assert "1. ops" in listing and "2. hr" in listing
    assert "hr@example.com" in await say("查看邮箱 2")
    assert "ops@example.com" in await say("show mailbox OPS")
    assert "没有名为" in await say("查看邮箱 9")


async def test_show_says_the_relay_pace(app: App, say: Say) -> None:
    await _seed(app, "ops")
    assert "发送速率: 不限速（默认）" in await say("查看邮箱 ops")  # custom: the organisation's own server
    await app.mailboxes.set_rate("ops", 12, Actor(id="seed"))
    assert "Pace: 12 a minute\n" in await say("show mailbox ops")
    await app.mailboxes.set_rate("ops", "none", Actor(id="seed"))
    assert "Pace: no pacing\n" in await say("show mailbox ops")


async def test_enable_disable_default_are_audited(app: App, say: Say) -> None:
    await _seed(app, "ops", "hr")
    assert "停用" in await say("停用邮箱 hr")
    assert not (await app.mailboxes.get("hr")).enabled
    assert "启用" in await say("启用 2")
    assert "default" in await say("default hr")
    assert (await app.mailboxes.get("hr")).default
    actions = [(e.action, e.actor) for e in await app.audit.entries() if e.actor.startswith("dingtalk:")]
    assert ("disable", "dingtalk:boss (Boss)") in actions and ("default", "dingtalk:boss (Boss)") in actions


async def test_remove_asks_to_confirm(app: App, say: Say) -> None:
    await _seed(app, "ops", "hr")
    assert "确定删除" in await say("删除邮箱 ops")
    assert "已取消" in await say("不")
    assert await app.mailboxes.find("ops") is not None
    await say("删除邮箱 1")
    assert "已删除" in await say("确认")
    assert await app.mailboxes.find("ops") is None
    assert any(e.action == "remove" and e.actor.startswith("dingtalk:boss") for e in await app.audit.entries())


async def test_edit_without_changes_shows_usage(app: App, say: Say) -> None:
    await _seed(app, "ops")
    assert "端口=" in await say("修改邮箱 ops")


async def test_test_mailbox_failure_is_classified(app: App, say: Say) -> None:
    await app.mailboxes.add({"name": "ops", "account": "ops@example.com", "host": "127.0.0.1", "port": 1,
                             "security": "none"}, SecretStr("pw"), Actor(id="seed"), verify=False)
    reply = await say("test mailbox ops")
    assert reply.startswith("❌") and "connect" in reply.lower()
