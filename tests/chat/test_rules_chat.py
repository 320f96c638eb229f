"""Approval notification rules in chat (issue 15): 新建通知规则 / new rule as one key=value line, 规则列表 /
rules, remove/enable/disable rule; admins only; bad or missing fields answered with every problem
and a line to copy. End to end through the real SDK on the DingTalk emulator, and on the router."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from bot.adapters.dingtalk import DingTalkAdapter
from bot.app import App
from bot.audit import Actor
from bot.chat.router import match_intent
from bot.emulator import DingTalkEmulator
from bot.relay.models import InlineTemplate
from bot.rules.model import ApprovalEvent
from tests.chat.conftest import Say
from tests.chat.test_dingtalk import chat, texts

SEED = Actor(id="seed", source="test")
LINE = ("新建通知规则 名称=报销通过 流程=PROC-EXPENSE-1 时机=finish 结果=agree 邮箱=ops 模板=approved "
        "收件人=originator,finance@example.com")


async def seed(app: App) -> None:
    """A mailbox and a relay template: what a rule names must exist."""
    await app.mailboxes.add({"name": "ops", "account": "ops@example.com", "host": "127.0.0.1", "port": 2525,
                             "security": "none"}, SecretStr("pw"), SEED, verify=False)
    await app.relay.templates.add("approved", InlineTemplate(subject="审批{{ result }}：{{ title }}",
                                                             text="{{ originator }} {{ url }}"))


INTENTS = [
    (LINE, "new_rule"), ("新建规则", "new_rule"), ("添加一条通知规则 名称=x", "new_rule"),
    ("new rule name=x on=finish", "new_rule"), ("add a notification rule", "new_rule"),
    ("规则列表", "rules"), ("通知规则", "rules"), ("查看 规则", "rules"), ("rules", "rules"), ("list rules", "rules"),
    ("show all approval rules", "rules"),
    ("删除通知规则 报销通过", "remove_rule"), ("remove rule x", "remove_rule"), ("delete rule 2", "remove_rule"),
    ("启用通知规则 报销通过", "enable_rule"), ("enable rule x", "enable_rule"),
    ("停用规则 x", "disable_rule"), ("disable rule x", "disable_rule"),
    # the mailbox commands keep theirs
    ("启用 ops", "enable"), ("停用邮箱 2", "disable"), ("新建邮箱", "new"), ("new mailbox name=x", "new"),
]


@pytest.mark.parametrize(("text", "intent"), INTENTS)
def test_intents(text: str, intent: str) -> None:
    matched = match_intent(text)
    assert matched is not None and matched[0] == intent


def test_names_keep_case_and_a_question_is_no_command() -> None:
    assert match_intent("启用通知规则 报销通过") == ("enable_rule", {"n": "报销通过"})
    assert match_intent("disable rule Expense-OK") == ("disable_rule", {"n": "Expense-OK"})
    assert match_intent("删除规则怎么弄") is None


async def test_over_dingtalk_add_list_disable_remove(emu: DingTalkEmulator, live: DingTalkAdapter) -> None:
    app: App = live.app  # type: ignore[attr-defined]
    await seed(app)
    await chat(emu, live, LINE, sender_staff_id="boss")
    added = texts(emu, "cid-oto-boss")[-1]
    assert "✅ 已添加通知规则“报销通过”" in added and "finish/agree（审批通过时）" in added
    rule = await app.rules.get("报销通过")
    assert (rule.process_code, rule.on, rule.result, rule.mailbox, rule.template, rule.to) == (
        "PROC-EXPENSE-1", "finish", "agree", "ops", "approved", ["originator", "finance@example.com"])
    assert rule.created_by.startswith("dingtalk:boss")
    event = ApprovalEvent.model_validate({"processInstanceId": "i1", "processCode": "PROC-EXPENSE-1",
                                          "type": "finish", "result": "agree"})
    assert [r.name for r in await app.rules.matching(event)] == ["报销通过"]

    await chat(emu, live, "规则列表", sender_staff_id="boss")
    listing = texts(emu, "cid-oto-boss")[-1]
    assert "1. **报销通过** · PROC-EXPENSE-1" in listing and "originator, finance@example.com" in listing
    assert "已启用" in listing

    await chat(emu, live, "停用通知规则 1", sender_staff_id="boss")
    assert "已停用通知规则“报销通过”" in texts(emu, "cid-oto-boss")[-1]
    assert await app.rules.matching(event) == []
    await chat(emu, live, "rules", sender_staff_id="boss")
    assert "⏸ disabled" in texts(emu, "cid-oto-boss")[-1]
    await chat(emu, live, "enable rule 1", sender_staff_id="boss")
    assert "Enabled rule '报销通过'" in texts(emu, "cid-oto-boss")[-1]

    await chat(emu, live, "删除通知规则 报销通过", sender_staff_id="boss")
    removed = texts(emu, "cid-oto-boss")[-1]
    assert "已删除通知规则“报销通过”" in removed and LINE in removed  # the line that adds it back
    assert await app.rules.list() == []
    actions = [(e.action, e.actor.split(" ")[0]) for e in await app.audit.entries() if e.action.startswith("rule_")]
    assert actions == [("rule_add", "dingtalk:boss"), ("rule_disable", "dingtalk:boss"),
                       ("rule_enable", "dingtalk:boss"), ("rule_remove", "dingtalk:boss")]


async def test_over_dingtalk_non_admin_is_refused(emu: DingTalkEmulator, live: DingTalkAdapter) -> None:
    app: App = live.app  # type: ignore[attr-defined]
    await seed(app)
    await app.rules.add({"name": "r1", "process_code": "PROC-1", "on": "start", "mailbox": "ops",
                         "template": "approved", "to": "originator"}, SEED)
    for text in (LINE, "规则列表", "删除通知规则 r1", "disable rule r1"):
        await chat(emu, live, text, sender_staff_id="guest")
        reply = texts(emu, "cid-oto-guest")[-1]
        assert "MAILBOT_ADMINS" in reply and "r1" not in reply
    assert [r.name for r in await app.rules.list()] == ["r1"] and (await app.rules.get("r1")).enabled
    await chat(emu, live, "规则列表", sender_staff_id="orgadmin", is_admin=True)  # a DingTalk org admin may
    assert "r1" in texts(emu, "cid-oto-orgadmin")[-1]


async def test_over_dingtalk_bad_input_is_explained(emu: DingTalkEmulator, live: DingTalkAdapter) -> None:
    app: App = live.app  # type: ignore[attr-defined]
    await seed(app)
    await chat(emu, live, "新建通知规则 名称=x 流程=PROC-1 时机=approve 邮箱=nope 模板=approved 收件人=originator,bad",
               sender_staff_id="boss")
    reply = texts(emu, "cid-oto-boss")[-1]
    assert reply.startswith("❌ 规则没有保存：")
    assert "- 时机: “approve”无效，必须是 start、finish 或 terminate，例如：finish" in reply
    assert "- 收件人: “bad”既不是 originator 也不是有效的邮件地址" in reply
    assert "现有邮箱：ops；现有模板：approved" in reply and "邮箱=ops 模板=approved" in reply  # a line to copy
    await chat(emu, live, "新建通知规则 名称=x 流程=PROC-1 时机=start 邮箱=nope 模板=gone 收件人=originator",
               sender_staff_id="boss")
    reply = texts(emu, "cid-oto-boss")[-1]
    assert "- 邮箱: 没有名为“nope”的邮箱" in reply and "- 模板: 没有名为“gone”的模板" in reply
    assert await app.rules.list() == []


async def test_missing_fields_are_all_named_with_a_line_to_copy(app: App, say: Say) -> None:
    await seed(app)
    reply = await say("new rule name=expense process=PROC-1")
    assert reply.startswith("❌ The rule was not saved:")
    for key in ("- on: ", "- mailbox: required", "- template: required", "- to: required"):
        assert key in reply
    assert "new rule name=expense-approved process=PROC-FF6Y4BE1N2-EXAMPLE on=finish result=agree mailbox=ops" in reply
    assert await app.rules.list() == []


async def test_bare_command_explains_the_fields(app: App, say: Say) -> None:
    usage = await say("新建通知规则")
    assert "时机：start（发起）、finish（结束）或 terminate" in usage and "现有邮箱：（无）" in usage
    assert "processCode" in await say("new rule")


async def test_unknown_keys_and_result_without_finish(app: App, say: Say) -> None:
    await seed(app)
    unknown = await say("新建通知规则 名称=x 流程=PROC-1 时机=finish 邮箱=ops 模板=approved 收件人=originator 抄送=a@b.com")
    assert "不认识的字段：抄送" in unknown and await app.rules.list() == []
    refused = await say("new rule name=x process=PROC-1 on=start result=agree mailbox=ops template=approved to=originator")
    assert "- result: " in refused and "finish" in refused
    taken = "new rule name=x process=PROC-1 on=start mailbox=ops template=approved to=originator"
    assert "✅ Added rule 'x'" in await say(taken)
    assert "already taken" in await say(taken)


async def test_list_empty_and_unknown_names(say: Say) -> None:
    assert "还没有通知规则" in await say("规则列表")
    assert "No notification rules yet" in await say("rules")
    assert "没有名为“nope”的通知规则" in await say("删除通知规则 nope")
    assert "no notification rule named 'nope'" in await say("disable rule nope")


async def test_without_a_name_the_list_answers(app: App, say: Say) -> None:
    await seed(app)
    await app.rules.add({"name": "r1", "process_code": "PROC-1", "on": "terminate", "mailbox": "ops",
                         "template": "approved", "to": "a@example.com"}, SEED)
    reply: Any = await say("停用通知规则")
    assert "1. **r1**" in reply and "停用通知规则 名称" in reply
    assert (await app.rules.get("r1")).enabled


async def test_help_mentions_rules(say: Say) -> None:
    assert "新建通知规则" in await say("帮助") and "new rule" in await say("help")


async def test_recipients_with_spaces_after_commas_are_one_list_and_nothing_is_dropped(app: App, say: Say) -> None:
    await seed(app)
    reply = await say("新建通知规则 名称=报销 流程=PROC-1 时机=finish 邮箱=ops 模板=approved "
                      "收件人=originator, finance@example.com，boss@example.com")
    assert reply.startswith("✅"), reply
    (rule,) = await app.rules.list()
    assert rule.to == ["originator", "finance@example.com", "boss@example.com"]
    reply = await say("new rule name=other process=PROC-1 on=finish mailbox=ops template=approved to=originator please")
    assert "I did not understand: please" in reply and len(await app.rules.list()) == 1
