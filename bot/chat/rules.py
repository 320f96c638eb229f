"""Approval notification rules in chat: 新建通知规则 / new rule, 规则列表 / rules, and removing or
switching one (admins only; the router checks). Each command calls RuleService, which validates and
audits; this module only reads the line and words the answer.

A new rule is one line of key=value pairs, like the one-shot 新建邮箱. A line with fields missing or
wrong is answered with every problem at once (the service names them all), worded with the keys the
user types, plus a complete example line to copy: no dialog, as a rule has no secret to ask for
separately and a copied, corrected line is quicker than seven questions.
"""

from __future__ import annotations

import re
import unicodedata

from bot.app import App
from bot.chat.messages import IncomingMessage, MarkdownReply, Reply, TextReply
from bot.chat.text import PAIR, T, parse_pairs, unquote
from bot.errors import InvalidInput, NotFound
from bot.i18n import Text
from bot.rules import Rule

# What users type → the rule's fields (RuleService.add's data keys).
RULE_KEYS: dict[str, str] = {
    "名称": "name", "名字": "name", "name": "name",
    "流程": "process_code", "审批": "process_code", "流程编码": "process_code", "审批流程": "process_code",
    "process": "process_code", "process_code": "process_code", "processcode": "process_code", "code": "process_code",
    "时机": "on", "触发": "on", "何时": "on", "on": "on", "when": "on",
    "结果": "result", "result": "result",
    "邮箱": "mailbox", "发信邮箱": "mailbox", "mailbox": "mailbox", "from": "mailbox",
    "模板": "template", "邮件模板": "template", "template": "template",
    "收件人": "to", "发给": "to", "to": "to", "recipients": "to",
}
# Each field named as the line names it, so a problem points at the key to fix.
KEY_OF: dict[str, Text] = {
    "name": T(zh="名称", en="name"), "process_code": T(zh="流程", en="process"), "on": T(zh="时机", en="on"),
    "result": T(zh="结果", en="result"), "mailbox": T(zh="邮箱", en="mailbox"), "template": T(zh="模板", en="template"),
    "to": T(zh="收件人", en="to"),
}
WHEN: dict[str, Text] = {
    "start": T(zh="发起时", en="when started"), "finish": T(zh="结束时（任何结果）", en="when finished (any result)"),
    "finish/agree": T(zh="审批通过时", en="when approved"), "finish/refuse": T(zh="审批拒绝时", en="when refused"),
    "terminate": T(zh="撤销/终止时", en="when terminated"),
}
EXAMPLE = T(
    zh="新建通知规则 名称=报销通过 流程=PROC-FF6Y4BE1N2-EXAMPLE 时机=finish 结果=agree 邮箱={mailbox} 模板={template} "
       "收件人=originator,finance@example.com",
    en="new rule name=expense-approved process=PROC-FF6Y4BE1N2-EXAMPLE on=finish result=agree mailbox={mailbox} "
       "template={template} to=originator,finance@example.com")
USAGE = T(
    zh="新建通知规则：审批事件发生时，用哪个邮箱、哪个模板、发给谁。一行写全：\n"
       "- 名称：规则名（不含空格）\n- 流程：审批模板的 processCode（审批后台模板 URL 里的 PROC-…）\n"
       "- 时机：start（发起）、finish（结束）或 terminate（撤销/终止）\n"
       "- 结果：agree 或 refuse（仅 finish，可省略＝任何结果）\n- 邮箱：发信邮箱名称\n- 模板：已保存的邮件模板名称\n"
       "- 收件人：originator（发起人）和/或邮件地址，逗号分隔，不加空格",
    en="new rule: which mail an approval event sends, from which mailbox, with which template, to whom. All on one line:\n"
       "- name: the rule's name (no spaces)\n- process: the approval form's processCode (PROC-… in its URL in the "
       "approval admin)\n- on: start, finish or terminate\n- result: agree or refuse (finish only; leave out for any)\n"
       "- mailbox: the sending mailbox's name\n- template: a stored mail template's name\n"
       "- to: originator (the applicant) and/or addresses, comma-separated without spaces")
CHOICES = T(zh="现有邮箱：{mailboxes}；现有模板：{templates}", en="Mailboxes: {mailboxes}; templates: {templates}")
NONE = T(zh="（无）", en="(none)")


def when_text(rule: Rule, lang: str) -> str:
    """`finish/agree（审批通过时）`: the stored value, which the command line takes, and what it means."""
    meaning = WHEN[rule.when()](lang)
    return f"{rule.when()}（{meaning}）" if lang == "zh" else f"{rule.when()} ({meaning})"


def command_line(rule: Rule, lang: str) -> str:
    """The 新建通知规则 / new rule line that makes this rule again (shown after removing it)."""
    k = {field: key(lang) for field, key in KEY_OF.items()}
    parts = ["新建通知规则" if lang == "zh" else "new rule", f"{k['name']}={rule.name}",
             f"{k['process_code']}={rule.process_code}", f"{k['on']}={rule.on}"]
    if rule.result:
        parts.append(f"{k['result']}={rule.result}")
    parts += [f"{k['mailbox']}={rule.mailbox}", f"{k['template']}={rule.template}", f"{k['to']}={','.join(rule.to)}"]
    return " ".join(parts)


class RuleCommands:
    """One method per rule intent; the router has already checked the sender is an admin."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def new_rule(self, msg: IncomingMessage, args: dict[str, str], lang: str) -> list[Reply]:
        # "收件人=a@x.com, b@y.com" (a space after a comma, or a Chinese comma) is one list, not a stray word.
        rest = re.sub(r"\s*[,，、]\s*", ",", args.get("rest", "").strip())
        data, unknown = parse_pairs(rest, RULE_KEYS)
        if not data:
            return [TextReply("\n".join([USAGE(lang), "", await self._example(lang)]))]
        if stray := PAIR.sub(" ", unicodedata.normalize("NFKC", rest)).split():  # nothing typed is dropped unsaid
            return [TextReply("\n".join([T(zh=f"没看懂这部分：{' '.join(stray)}（每项写成 字段=值，值里有空格时加引号）。",
                                           en=f"I did not understand: {' '.join(stray)} (write each as key=value, "
                                              "quoting a value with spaces).")(lang), await self._example(lang)]))]
        if unknown:
            known = "、".join(dict.fromkeys(key(lang) for key in KEY_OF.values()))
            return [TextReply("\n".join([T(zh=f"不认识的字段：{'、'.join(unknown)}。可用：{known}。",
                                           en=f"Unknown keys: {', '.join(unknown)}. Known: {known}.")(lang),
                                         await self._example(lang)]))]
        try:
            rule = await self.app.rules.add(data, msg.actor())
        except InvalidInput as exc:
            lines = [f"- {KEY_OF[e.field](lang) if e.field in KEY_OF else e.field}: {_problem(e.problem(lang), e.example, lang)}"
                     for e in exc.errors]
            return [TextReply("\n".join([T(zh="❌ 规则没有保存：", en="❌ The rule was not saved:")(lang), *lines, "",
                                         await self._example(lang)]))]
        return [TextReply(T(
            zh=f"✅ 已添加通知规则“{rule.name}”：{rule.process_code} {when_text(rule, lang)} → {', '.join(rule.to)}"
               f"（邮箱 {rule.mailbox}，模板 {rule.template}）。发送“规则列表”查看全部。",
            en=f"✅ Added rule '{rule.name}': {rule.process_code} {when_text(rule, lang)} → {', '.join(rule.to)} "
               f"(mailbox {rule.mailbox}, template {rule.template}). Send 'rules' to see them all.")(lang))]

    async def _example(self, lang: str) -> str:
        """A complete line to copy, with this bot's own mailbox and template where it has them."""
        mailboxes = [m.name for m in await self.app.mailboxes.list()]
        templates = [str(t["name"]) for t in await self.app.relay.templates.list()]
        example = EXAMPLE(lang).format(mailbox=mailboxes[0] if mailboxes else "ops",
                                       template=templates[0] if templates else "approved")
        choices = CHOICES(lang).format(mailboxes=", ".join(mailboxes) or NONE(lang),
                                       templates=", ".join(templates) or NONE(lang))
        return "\n".join([T(zh="例如：", en="For example:")(lang), example, choices])

    async def rules(self, msg: IncomingMessage, args: dict[str, str], lang: str) -> list[Reply]:
        rules = await self.app.rules.list()
        if not rules:
            return [TextReply(T(zh="还没有通知规则。发送“新建通知规则”查看写法。",
                                en="No notification rules yet. Send 'new rule' to see how to add one.")(lang))]
        lines = [f"{i}. {_line(rule, lang)}" for i, rule in enumerate(rules, 1)]
        hint = T(zh="停用/启用/删除：发送“停用通知规则 名称”“启用通知规则 名称”“删除通知规则 名称”（名称也可换成编号）。",
                 en="Send 'disable rule NAME', 'enable rule NAME' or 'remove rule NAME' (or its number).")(lang)
        return [MarkdownReply(title=T(zh="通知规则", en="Notification rules")(lang), text="\n".join([*lines, "", hint]))]

    async def remove_rule(self, msg: IncomingMessage, args: dict[str, str], lang: str) -> list[Reply]:
        if "n" not in args:  # which one: the list names them
            return await self.rules(msg, args, lang)
        rule = await self.app.rules.remove(await self._resolve(args["n"]), msg.actor())
        return [TextReply(T(zh=f"已删除通知规则“{rule.name}”。要恢复，发送：\n{command_line(rule, lang)}",
                            en=f"Removed rule '{rule.name}'. To add it back, send:\n{command_line(rule, lang)}")(lang))]

    async def enable_rule(self, msg: IncomingMessage, args: dict[str, str], lang: str) -> list[Reply]:
        if "n" not in args:  # which one: the list names them
            return await self.rules(msg, args, lang)
        rule = await self.app.rules.set_enabled(await self._resolve(args["n"]), True, msg.actor())
        return [TextReply(T(zh=f"已启用通知规则“{rule.name}”。", en=f"Enabled rule '{rule.name}'.")(lang))]

    async def disable_rule(self, msg: IncomingMessage, args: dict[str, str], lang: str) -> list[Reply]:
        if "n" not in args:  # which one: the list names them
            return await self.rules(msg, args, lang)
        rule = await self.app.rules.set_enabled(await self._resolve(args["n"]), False, msg.actor())
        return [TextReply(T(zh=f"已停用通知规则“{rule.name}”，它不再发信。",
                            en=f"Disabled rule '{rule.name}'; it sends no mail until enabled.")(lang))]

    async def _resolve(self, ref: str) -> str:
        """A rule by name, or by its number in 规则列表 when no rule has that name."""
        ref = unquote(ref)
        try:
            return (await self.app.rules.get(ref)).name
        except NotFound:
            rules = await self.app.rules.list()
            if ref.isdigit() and 1 <= int(ref) <= len(rules):
                return rules[int(ref) - 1].name
            raise


def _problem(problem: str, example: str, lang: str) -> str:
    if not example:
        return problem
    return f"{problem}，例如：{example}" if lang == "zh" else f"{problem}, e.g. {example}"


def _line(rule: Rule, lang: str) -> str:
    state = T(zh="已启用", en="enabled") if rule.enabled else T(zh="⏸ 已停用", en="⏸ disabled")
    return T(zh=f"**{rule.name}** · {rule.process_code} · {when_text(rule, lang)} → {', '.join(rule.to)} · "
                f"邮箱 {rule.mailbox} · 模板 {rule.template} · {state.zh}",
             en=f"**{rule.name}** · {rule.process_code} · {when_text(rule, lang)} → {', '.join(rule.to)} · "
                f"mailbox {rule.mailbox} · template {rule.template} · {state.en}")(lang)
