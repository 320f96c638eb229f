"""Intent router: one incoming message → replies, in the sender's language.

Intents are regular expressions over the compacted text (full-width folded, lower case, no spaces
between Chinese characters), so "新建 邮箱！", "New Mailbox" and "新建邮箱 名称=…" all match. Order
matters only where one pattern is a prefix of another (the list before "show mailbox N").
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.app import App
from bot.chat.cards import Cards
from bot.chat.handlers import Commands
from bot.chat.messages import IncomingMessage, MarkdownReply, Reply, TextReply
from bot.chat.rules import RuleCommands
from bot.chat.text import CANCELLED, ERROR, REFUSED, T, compact
from bot.chat.signin import Push
from bot.chat.wizard import CANCEL, SECRET_STATES, Wizard
from bot.errors import MailbotError
from bot.guides import answer
from bot.i18n import detect_lang
from bot.state.claims import Claims
from bot.state.flows import Flow, Flows, Superseded

log = logging.getLogger("mailbot.chat")

_MB = r"(?:邮箱|mailbox|mail box|mailboxes)"
_RULE = r"(?:通知规则|审批规则|规则)"
_RULE_EN = r"(?:notification\s+|approval\s+)?rule"
_RN = r"(?:\s*(?!\S*(?:怎么|如何|为什么|吗|呢|\bhow\b|\bwhat\b|\bwhy\b))(?P<n>\S+))?"  # a rule's name or number; none: the list
_N = r"\s*(?:#|no\.?|第)?\s*(?!\S*(?:怎么|如何|为什么|吗|呢|\bhow\b|\bwhat\b|\bwhy\b))(?P<n>[^\s=]+?)\s*(?:号)?"


@dataclass(frozen=True)
class Intent:
    name: str
    patterns: tuple[re.Pattern[str], ...]
    admin: bool = True


def _intent(name: str, *patterns: str, admin: bool = True) -> Intent:
    return Intent(name, tuple(re.compile(p, re.IGNORECASE) for p in patterns), admin)


INTENTS: tuple[Intent, ...] = (
    _intent("cancel", CANCEL.pattern, admin=False),
    _intent("help", r"^(?:帮助|help|\?|菜单|menu|命令|commands?|使用说明|说明|怎么用|你能做什么|what can you do|usage|)$", admin=False),
    # Rules first: "启用通知规则 X" must not be read as enabling a mailbox named "通知规则X".
    _intent("new_rule", rf"^(?:新建|新增|添加|创建|增加)(?:一[条个])?{_RULE}(?P<rest>.*)$",
            rf"^(?:new|add|create)\s*(?:an?\s+|new\s+)?{_RULE_EN}\b(?P<rest>.*)$"),
    _intent("rules", rf"^(?:{_RULE}(?:列表|清单)?|列出(?:所有)?{_RULE}|(?:查看|所有|查看所有){_RULE}(?:列表)?)$",
            r"^(?:(?:list|show|ls)\s+)?(?:all\s+)?(?:the\s+)?(?:notification\s+|approval\s+)?rules$", r"^rule\s*list$"),
    _intent("remove_rule", rf"^(?:删除|移除|删掉){_RULE}{_RN}$", rf"^(?:remove|delete|rm|del)\s*{_RULE_EN}\b{_RN}$"),
    _intent("enable_rule", rf"^(?:启用|激活|开启){_RULE}{_RN}$", rf"^(?:enable|activate)\s*{_RULE_EN}\b{_RN}$"),
    _intent("disable_rule", rf"^(?:停用|禁用|关闭){_RULE}{_RN}$", rf"^(?:disable|deactivate)\s*{_RULE_EN}\b{_RN}$"),
    _intent("new", rf"^(?:新建|新增|添加|创建|注册|增加)(?:一个)?{_MB}(?P<rest>.*)$",
            rf"^(?:new|add|create|register)\s*(?:a\s+|new\s+)?{_MB}\b(?P<rest>.*)$"),
    _intent("list", rf"^(?:{_MB}列表|列出{_MB}|查看{_MB}列表|所有{_MB}|查看所有{_MB}|{_MB}清单)$",
            r"^(?:list|show|ls)\s*(?:all\s+)?(?:the\s+)?(?:mailboxes|mailbox list|mailbox)$", r"^(?:mailboxes|mailbox list)$"),
    _intent("status", rf"^(?:{_MB}(?:状态|健康|健康状态)|查看{_MB}状态|所有{_MB}状态)$",
            rf"^(?:{_MB}|mailboxes)\s*(?:status|health)$", r"^(?:status|health)\s+(?:of\s+)?(?:the\s+)?mailboxes$"),
    _intent("show", rf"^(?:查看|显示|详情|查询){_MB}{_N}$", rf"^{_MB}详情{_N}$",
            rf"^(?:show|view|info|details?)\s*(?:of\s+)?{_MB}{_N}$"),
    _intent("test", rf"^(?:测试|检测|检查|验证){_MB}{_N}(?:\s+(?:到|发到|to)?\s*(?P<to>\S+@\S+))?$",
            rf"^(?:test|check|verify)\s*{_MB}{_N}(?:\s+(?:to\s+)?(?P<to>\S+@\S+))?$"),
    _intent("edit", rf"^(?:修改|编辑|更改|更新){_MB}\s*(?P<n>[^\s=]+)(?P<rest>(?:\s.*)?)$",
            rf"^(?:edit|change|update|modify)\s*{_MB}\s+(?P<n>[^\s=]+)(?P<rest>(?:\s.*)?)$"),
    _intent("remove", rf"^(?:删除|移除|删掉){_MB}{_N}$", rf"^(?:remove|delete|rm|del)\s*{_MB}{_N}$"),
    _intent("reauth", rf"^(?:重新登录|重新登陆|重新授权|重新认证|再次登录)(?:{_MB})?{_N}$",
            rf"^(?:reauth(?:orize|orise)?|re-auth|re-?login|re-?sign\s*in)\s*(?:{_MB}\s+)?{_N}$",
            rf"^sign\s*in\s+(?:to\s+)?(?:{_MB}\s+)?{_N}\s+again$", rf"^sign\s*in\s+again\s+(?:(?:to|for)\s+)?(?:{_MB}\s+)?{_N}$"),
    _intent("enable", rf"^(?:启用|激活)(?:{_MB})?{_N}$", rf"^(?:enable|activate)\s*(?:{_MB}\s+)?{_N}$"),
    _intent("disable", rf"^(?:停用|禁用)(?:{_MB})?{_N}$", rf"^(?:disable|deactivate)\s*(?:{_MB}\s+)?{_N}$"),
    _intent("outbox", r"^(?:发送记录|发信记录|邮件记录|发件箱|outbox|sent mails?|mail log|delivery log)$"),
    _intent("retry", r"^(?:重试|重发)(?:邮件)?\s*(?P<id>[0-9a-z][0-9a-z_-]{3,})$",
            r"^(?:retry|resend)\s+(?:mail\s+)?(?P<id>[0-9a-z][0-9a-z_-]{3,})$"),
    _intent("send_test", rf"^测试发送{_N}\s+(?:到|发到|to)?\s*(?P<to>\S+@\S+)$",
            rf"^send\s+(?:a\s+)?test(?:\s+mail)?\s*(?:from|via|through)?{_N}\s+(?:to\s+)?(?P<to>\S+@\S+)$"),
    _intent("default", rf"^(?:设为默认|设置为默认|设成默认|设置默认|默认)(?:{_MB})?{_N}$", rf"^把{_N}设为默认(?:{_MB})?$",
            rf"^(?:set\s+)?default\s*(?:{_MB}\s+)?(?:to\s+)?{_N}$", rf"^(?:make|set)\s+{_N}\s+(?:the\s+)?default$"),
)

HELP = T(
    zh="我可以：\n"
       "- 回答各类邮箱授权码/SMTP 的获取方法，例如“怎么获取QQ邮箱授权码”\n"
       "- 管理员：新建邮箱（或 新建邮箱 名称=… 账号=… [类型=…]）、邮箱列表、查看邮箱 N、测试邮箱 N [地址]、"
       "修改邮箱 N 端口=…、删除邮箱 N、启用/停用/设为默认 N、重新授权 N（Outlook、Microsoft 365、Gmail 的浏览器授权失效时）、"
       "邮箱状态（登录是否正常、今日发信量与每日上限）、发送记录、重试 ID、测试发送 N 地址\n"
       "- 管理员：审批通知规则（钉钉审批事件 → 邮件）：新建通知规则 名称=… 流程=… 时机=… 邮箱=… 模板=… 收件人=…、"
       "规则列表、启用/停用/删除通知规则 名称\n"
       "- 任何一步都可以发送“取消”。",
    en="I can:\n"
       "- explain how to get a mailbox's app password / SMTP settings, e.g. 'how do I get a Gmail app password'\n"
       "- for admins: new mailbox (or new mailbox name=… account=… [type=…]), list mailboxes, show mailbox N, "
       "test mailbox N [addr], edit mailbox N port=…, remove mailbox N, enable/disable/default N, "
       "reauth N (when the browser sign-in of Outlook, Microsoft 365, Gmail expired), "
       "mailbox status (login health, mails sent today against the daily quota), outbox, "
       "retry ID, send test N addr\n"
       "- for admins: approval notification rules (DingTalk approval events → mail): new rule name=… process=… "
       "on=… mailbox=… template=… to=…, rules, enable/disable/remove rule NAME\n"
       "- send 'cancel' at any step.",
)
SHORT_HELP = T(zh="没听懂。发送“帮助”查看我能做什么，或直接问“怎么获取163邮箱授权码”。",
               en="I did not get that. Send 'help' to see what I can do, or ask e.g. 'how do I get a Gmail app password'.")
MAX_MESSAGE_CHARS = 2000  # a guide question or a command is far shorter; the matcher's work stays under ~10 ms
TOO_LONG = T(zh="消息太长（{n} 个字符），最多 {max} 个字符。请只发送问题或命令本身。",
             en="That message is too long ({n} characters; at most {max}). Send just the question or the command.")
NOTHING_TO_CANCEL = T(zh="现在没有进行中的操作，无需取消。", en="There is nothing to cancel.")
STILL_OPEN = T(zh="（你的“{flow}”还在进行中：{prompt}）", en="(Your '{flow}' is still open: {prompt})")
LEFT = T(zh="（已放弃未完成的“{flow}”。）", en="(Left your unfinished '{flow}'.)")
# intents that start a dialog of their own: the open one is left for it
RULE_INTENTS = frozenset({"new_rule", "rules", "remove_rule", "enable_rule", "disable_rule"})
STARTS_FLOW = frozenset({"new", "remove", "edit", "reauth"})
# Front ends whose message ids are unique and may be delivered again, to this or another instance:
# each such message is handled by the one instance that claims its id first.
DEDUPED_SOURCES = frozenset({"dingtalk"})
SEEN_KEEP_S = 86_400.0  # a redelivery comes within minutes; ids older than a day are pruned
EXPIRED = T(zh="上一个未完成的操作已超时取消（{minutes} 分钟无回复）。",
            en="Your unfinished step was cancelled after {minutes} minutes without a reply.")


def match_intent(text: str) -> tuple[str, dict[str, str]] | None:
    """The first intent whose pattern matches, with its named groups (None-valued ones dropped)."""
    said = compact(text, lower=False)  # IGNORECASE patterns: arguments keep the user's case
    for intent in INTENTS:
        for pattern in intent.patterns:
            found = pattern.match(said)
            if found:
                return intent.name, {k: v for k, v in found.groupdict().items() if v is not None}
    return None


def _is_admin_intent(name: str) -> bool:
    return next(i.admin for i in INTENTS if i.name == name)


class Router:
    """Flows first (an open wizard owns the conversation), then intents, then guides, then short help."""

    def __init__(self, app: App, *, idle_s: float | None = None, clock: Callable[[], float] = time.time) -> None:
        self.app = app
        idle = idle_s if idle_s is not None else app.settings.wizard_idle_s
        self.flows = Flows(app.storage, idle, clock, run=app.run_id)
        self.seen = Claims(app.storage, "chat_seen", keep_s=SEEN_KEEP_S)
        self.wizard = Wizard(app, self.flows)
        self.cards = Cards(app, self.wizard)
        self.commands = Commands(app, self.wizard, self.cards)
        self.rule_commands = RuleCommands(app)

    @property
    def pushes(self) -> dict[str, Push]:
        """Front end (`IncomingMessage.source`) → its proactive send, for what a sign-in says when it
        ends after its message was answered. A front end that can push registers itself here."""
        return self.wizard.background.pushes

    async def close(self) -> None:
        """Shutdown: background sign-in waits are cancelled before the services close."""
        await self.wizard.close()

    async def handle(self, msg: IncomingMessage) -> list[Reply]:
        """The replies to `msg`; none when another instance handles it (a redelivered message, or a
        dialog step another instance took first)."""
        try:
            if msg.source in DEDUPED_SOURCES and msg.msg_id and not await self.seen.claim(msg.msg_id):
                log.info("message %s is handled elsewhere", msg.msg_id)
                return []
            if len(msg.text) > MAX_MESSAGE_CHARS:  # every front end comes through here: the work per message is bounded
                lang = detect_lang(msg.text[:200])
                return [TextReply(TOO_LONG(lang).format(n=len(msg.text), max=MAX_MESSAGE_CHARS))]
            return await self._handle(msg)
        except Superseded:
            log.info("a dialog step of message %s was taken by another instance", msg.msg_id)
            return []
        except MailbotError as exc:  # a store that cannot write or read says so (StorageFailed): nothing is dropped silently
            return [TextReply(exc.message(msg.language))]

    async def _handle(self, msg: IncomingMessage) -> list[Reply]:
        await self.cards.remember_admin(msg)
        loaded = await self.flows.load(msg.sender_staff_id, msg.conversation_id, private=msg.private)
        key, flow, expired = loaded.key, loaded.flow, loaded.expired
        notes: list[Reply] = []
        if flow is not None and key is not None:
            if not expired:
                command = self._command_in_flow(msg, flow)
                if command is not None:
                    return await self._command_over_flow(msg, key, flow, command)
                if CANCEL.match(compact(msg.text)):
                    await self.wizard.abandon(flow)
                    await self.flows.drop(key)
                    return [*await self.cards.close_forms(msg.sender_staff_id, msg.language),
                            TextReply(CANCELLED(msg.language))]
                if self.flows.resumed(flow) and not await self.wizard.signing_in(flow):
                    return await self.wizard.resume(key, flow, flow.lang)
                try:
                    return await self.wizard.feed(msg, key, flow)
                except MailbotError as exc:
                    return [TextReply(exc.message(flow.lang))]
            notes.append(TextReply(EXPIRED(flow.lang).format(minutes=round(self.flows.idle_s / 60))))
            await self.wizard.abandon(flow)
            if flow.state in SECRET_STATES:
                return notes  # that text may be a late secret: never route it anywhere
        return notes + await self._route(msg)

    def _command_in_flow(self, msg: IncomingMessage, flow: Flow) -> tuple[str, dict[str, str]] | None:
        """A command typed while a dialog waits for a value. At the secret step only a bare command word
        counts ("帮助", "邮箱列表"): a password such as "default2024" must never be read as `default 2024`."""
        matched = match_intent(msg.text)
        if matched is None or matched[0] == "cancel":
            return None
        name, args = matched
        if self.wizard.takes_secret(flow) and any(v.strip() for v in args.values()):
            return None
        return name, args

    async def _command_over_flow(self, msg: IncomingMessage, key: str, flow: Flow,
                                 command: tuple[str, dict[str, str]]) -> list[Reply]:
        """Run the command in the language it was typed in; the dialog stays open unless it starts another."""
        name, _ = command
        lang = msg.language
        title = self.wizard.title(flow, lang)
        if name in STARTS_FLOW and (msg.is_admin or not _is_admin_intent(name)):
            await self.wizard.abandon(flow)
            await self.flows.drop(key)
            return [TextReply(LEFT(lang).format(flow=title)), *await self._route(msg, command)]
        replies = await self._route(msg, command)
        return [*replies, TextReply(STILL_OPEN(lang).format(flow=title, prompt=self.wizard.waiting_for(flow, lang)))]

    async def _route(self, msg: IncomingMessage, matched: tuple[str, dict[str, str]] | None = None) -> list[Reply]:
        lang = msg.language
        matched = matched or match_intent(msg.text)
        if matched is None:
            guide = answer(msg.text, lang=msg.lang)
            if guide.kind != "none":
                return [MarkdownReply(title=guide.title or "mailbot", text=guide.reply)]
            return [TextReply(SHORT_HELP(lang))]
        name, args = matched
        if name == "help":
            return [TextReply(HELP(lang))]
        if name == "cancel":
            closed = await self.cards.close_forms(msg.sender_staff_id, lang)
            return closed + [TextReply(CANCELLED(lang) if closed else NOTHING_TO_CANCEL(lang))]
        if _is_admin_intent(name) and not msg.is_admin:
            return [TextReply(REFUSED(lang))]
        commands = self.rule_commands if name in RULE_INTENTS else self.commands
        return await getattr(commands, name)(msg, args, lang)


def failure_reply(msg: IncomingMessage) -> TextReply:
    """What an adapter answers when handling crashed; the cause goes to the log, not the chat."""
    return TextReply(ERROR(msg.language))
