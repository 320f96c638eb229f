"""Multi-step chat flows ("新建邮箱", remove confirmation, new secret) as an explicit state machine.

A flow is a small JSON document kept by the flows service (bot.state.flows), keyed by user +
conversation, so it survives a restart and every instance on the store sees it; each step is a
compare-and-set there (a step another instance took first raises Superseded, and that one answers).
Steps are data (`STEPS`): each names the field it fills, its prompt and its parser, which validates
with the registry's model and raises InvalidInput to re-ask with the reason.

The secret is never part of the state: it is only ever the text of the message that answers the
secret step, used at once for the login check and then dropped. In a group the secret step moves to
the user's single chat (key `user|@private`), so nobody types a secret where others read it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from pydantic import SecretStr

from bot.app import App
from bot.chat.messages import IncomingMessage, MarkdownReply, Reply, TextReply
from bot.chat.text import CANCELLED, T, compact, normalize, parse_pairs, unquote
from bot.errors import FieldError, InvalidInput, MailbotError, SmtpError
from bot.guides import short_guide
from bot.i18n import Text
from bot.mailboxes.model import parse_spec
from bot.mailboxes.service import password_refused
from bot.providers import CATALOG, PROVIDER_TYPES, detect_type, get_provider
from bot.state.flows import PRIVATE, Flow, Flows

YES = re.compile(r"^(是|是的|对|好|好的|确认|确定|可以|ok|okay|yes|y|sure|confirm|1)$")
NO = re.compile(r"^(否|不|不是|no|n)$")
CANCEL = re.compile(r"^(取消|算了|退出|放弃|cancel|quit|exit|abort|stop)$")
_PLACEHOLDER = {"name": "x", "account": "someone@example.com"}


# ---- validating one field with the registry model -----------------------------------------------

def _field_check(field: str, value: str) -> Any:
    """Validate one field alone: other required fields get harmless placeholders."""
    data = {**_PLACEHOLDER, field: value}
    try:
        spec = parse_spec(data)
    except InvalidInput as exc:
        own = [e for e in exc.errors if e.field == field]
        if own:
            raise InvalidInput(own) from None
        raise
    return getattr(spec, field)


def _type_error(value: str) -> InvalidInput:
    return InvalidInput([FieldError(
        field="type",
        problem=T(zh=f"不认识“{value}”，请回复编号、类型名或别名", en=f"'{value}' is not a known type; reply with a number, a type key or a name"),
        example="qq",
    )])


def parse_type(value: str, proposed: str | None) -> str:
    """A number from the list, a type key, a name or an alias; yes/empty takes the proposal."""
    folded = normalize(value)
    if proposed and (not folded or YES.match(folded)):
        return proposed
    if folded.isdigit() and 1 <= int(folded) <= len(PROVIDER_TYPES):
        return PROVIDER_TYPES[int(folded) - 1]
    squeezed = folded.replace(" ", "")
    for provider in CATALOG.values():
        names = {provider.type, provider.name_zh, provider.name_en, *provider.aliases}
        if squeezed in {n.lower().replace(" ", "") for n in names}:
            return provider.type
    raise _type_error(value)


async def _parse_name(app: App, value: str, data: dict[str, Any]) -> Any:
    name = _field_check("name", unquote(value))
    if await app.mailboxes.find(name) is not None:
        raise InvalidInput([FieldError(field="name", problem=T(
            zh=f"名称“{name}”已被使用，请换一个", en=f"the name '{name}' is already taken; pick another"),
            example=f"{name}-2")])
    return name


def _simple(field: str) -> Callable[[App, str, dict[str, Any]], Awaitable[Any]]:
    async def parse(app: App, value: str, data: dict[str, Any]) -> Any:
        return _field_check(field, unquote(value))
    return parse


async def _parse_type(app: App, value: str, data: dict[str, Any]) -> Any:
    type_key = parse_type(value, _proposed_type(data))
    if get_provider(type_key).basic_auth_disabled:  # say so now, not after the password was typed
        raise InvalidInput([password_refused(type_key)])
    return type_key


def _proposed_type(data: dict[str, Any]) -> str | None:
    return detect_type(data["account"]) if data.get("account") else None


def _is_custom(data: dict[str, Any]) -> bool:
    return data.get("type") == "custom"


# ---- steps as data ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """One question of the "new mailbox" flow: the field it fills and when it is asked."""

    field: str
    prompt: Callable[[dict[str, Any], str], str]
    parse: Callable[[App, str, dict[str, Any]], Awaitable[Any]]
    needed: Callable[[dict[str, Any]], bool]


def _type_prompt(data: dict[str, Any], lang: str) -> str:
    lines = [f"{i}. {get_provider(key).name(lang)} ({key})" for i, key in enumerate(PROVIDER_TYPES, 1)]
    proposed = _proposed_type(data)
    if proposed:
        head = T(zh=f"根据账号域名，类型应为 {get_provider(proposed).name_zh}（{proposed}）。回复“是”确认，或回复其他类型的编号/名称：",
                 en=f"From the account's domain the type is {get_provider(proposed).name_en} ({proposed}). Reply 'yes' to confirm, or another type's number/name:")(lang)
    else:
        head = T(zh="请选择邮箱类型（回复编号、类型名或别名）：", en="Choose the mailbox type (reply with a number, key or name):")(lang)
    return "\n".join([head, *lines])


def _fixed(text: Text) -> Callable[[dict[str, Any], str], str]:
    return lambda data, lang: text(lang)


STEPS: tuple[Step, ...] = (
    Step("name", _fixed(T(zh="给这个邮箱起个名称（例如：审批通知）：", en="Name this mailbox (e.g. approvals):")),
         _parse_name, lambda d: "name" not in d),
    Step("account", _fixed(T(zh="邮箱账号（完整地址，例如 notice@yourcompany.com）：",
                             en="The account (full address, e.g. notice@yourcompany.com):")),
         _simple("account"), lambda d: "account" not in d),
    Step("type", _type_prompt, _parse_type, lambda d: "type" not in d),
    Step("host", _fixed(T(zh="SMTP 服务器地址（例如 smtp.example.com）：", en="SMTP host (e.g. smtp.example.com):")),
         _simple("host"), lambda d: _is_custom(d) and "host" not in d),
    Step("port", _fixed(T(zh="端口（例如 465）：", en="Port (e.g. 465):")),
         _simple("port"), lambda d: _is_custom(d) and "port" not in d),
    Step("security", _fixed(T(zh="加密方式：ssl、starttls 或 none：", en="Security: ssl, starttls or none:")),
         _simple("security"), lambda d: _is_custom(d) and "security" not in d),
)
STEP_BY_FIELD = {step.field: step for step in STEPS}
FAILED_CHOICES = T(zh="回复 1 重新输入，2 修改设置（如 端口=587 加密=starttls），3 取消。",
                   en="Reply 1 to enter it again, 2 to change settings (e.g. port=587 security=starttls), 3 to cancel.")


# ---- the machine -------------------------------------------------------------------------------

def error_lines(exc: MailbotError, lang: str) -> list[str]:
    """The classified reason and fix, plus the provider's short guide when it helps."""
    lines = [exc.message(lang)]
    if isinstance(exc, SmtpError) and exc.offers_guide and exc.provider_type in CATALOG and exc.provider_type != "custom":
        lines += ["", T(zh="获取方法：", en="How to get it:")(lang), *short_guide(exc.provider_type, lang)]
    return lines


def summary(mailbox: Any, lang: str) -> str:
    default = T(zh="（默认）", en=" (default)")(lang) if mailbox.default else ""
    return (f"{mailbox.name}{default}: {get_provider(mailbox.type).name(lang)} · {mailbox.account} · "
            f"{mailbox.host}:{mailbox.port} {mailbox.security}")


FLOW_TITLES = {"new": T(zh="新建邮箱", en="new mailbox"), "edit_secret": T(zh="修改邮箱 {name} 密码", en="edit mailbox {name} password"),
               "remove": T(zh="删除邮箱 {name}", en="remove mailbox {name}")}
RESUMED = T(zh="继续你在 {time} 开始的“{flow}”——发送“取消”可停止。",
            en="Continuing your '{flow}' from {time} — send 'cancel' to stop.")
CONFIRM_REMOVE = T(zh="回复“确认”删除，“取消”放弃。", en="Reply 'yes' to remove, 'cancel' to keep it.")
AMEND = T(zh="回复要修改的项，例如：端口=587 加密=starttls 或 类型=exmail",
          en="Reply with what to change, e.g. port=587 security=starttls or type=exmail")


class Wizard:
    """Runs flows for the router: start them, feed them messages, cancel and expire them."""

    def __init__(self, app: App, flows: Flows) -> None:
        self.app = app
        self.flows = flows

    @staticmethod
    def title(flow: Flow, lang: str) -> str:
        return FLOW_TITLES[flow.kind](lang).format(name=flow.data.get("name", ""))

    def waiting_for(self, flow: Flow, lang: str) -> str:
        """What the open flow asks for now, as one line."""
        if flow.state in STEP_BY_FIELD:
            return STEP_BY_FIELD[flow.state].prompt(flow.data, lang).splitlines()[0]
        if flow.state == "secret":
            provider = get_provider(flow.data["type"])
            return T(zh=f"请发送{provider.secret_name_zh}。", en=f"send the {provider.secret_name_en}.")(lang)
        if flow.state == "failed":
            return FAILED_CHOICES(lang)
        if flow.state == "confirm_remove":
            return CONFIRM_REMOVE(lang)
        return AMEND(lang)

    async def resume(self, key: str, flow: Flow, lang: str) -> list[Reply]:
        """A flow an earlier run left open: say so and ask again, rather than take this message as its value
        (it may have been meant for something else; at the secret step it is dropped unread)."""
        await self.flows.save(key, flow)
        when = time.strftime("%H:%M", time.localtime(flow.touched))
        return [TextReply("\n".join([RESUMED(lang).format(flow=self.title(flow, lang), time=when),
                                     self.waiting_for(flow, lang)]), expects_secret=flow.state == "secret")]

    # -- entry points ---------------------------------------------------------------------------

    async def start_new(self, msg: IncomingMessage, pairs_text: str, lang: str) -> list[Reply]:
        """`新建邮箱` alone starts at the name; with key=value pairs only what is missing is asked."""
        flow = Flow(kind="new", state="", lang=lang, data={}, touched=0, origin=msg.conversation_id)
        notes = await self._merge(flow, pairs_text, one_shot=True)
        return await self._advance(msg, self.flows.key(msg.sender_staff_id, msg.conversation_id), flow, notes)

    async def start_secret_change(self, msg: IncomingMessage, name: str, lang: str) -> list[Reply]:
        mailbox = await self.app.mailboxes.get(name)
        flow = Flow(kind="edit_secret", state="", lang=lang, data={"name": mailbox.name, "type": mailbox.type},
                    touched=0, origin=msg.conversation_id)
        return await self._advance(msg, self.flows.key(msg.sender_staff_id, msg.conversation_id), flow, [])

    async def start_remove(self, msg: IncomingMessage, name: str, lang: str) -> list[Reply]:
        mailbox = await self.app.mailboxes.get(name)
        flow = Flow(kind="remove", state="confirm_remove", lang=lang, data={"name": mailbox.name}, touched=0)
        await self.flows.save(self.flows.key(msg.sender_staff_id, msg.conversation_id), flow)
        return [TextReply(T(zh=f"确定删除邮箱“{mailbox.name}”（{mailbox.account}）吗？",
                            en=f"Remove the mailbox '{mailbox.name}' ({mailbox.account})? ")(lang) + CONFIRM_REMOVE(lang))]

    async def feed(self, msg: IncomingMessage, key: str, flow: Flow) -> list[Reply]:
        """The next message of a conversation with an open flow (the router has taken out commands and 取消)."""
        lang = flow.lang
        said = compact(msg.text)
        if flow.state == "secret":
            return await self._secret(msg, key, flow)
        if flow.state == "confirm_remove":
            return await self._confirm_remove(msg, key, flow, said)
        if flow.state == "failed":
            return await self._failed(msg, key, flow, said)
        if flow.state == "amend":
            notes = await self._merge(flow, msg.text, one_shot=False)
            return await self._advance(msg, key, flow, notes)
        step = STEP_BY_FIELD[flow.state]
        try:
            flow.data[step.field] = await step.parse(self.app, msg.text, flow.data)
        except InvalidInput as exc:
            await self.flows.save(key, flow)
            return [TextReply("\n".join([exc.message(lang), "", step.prompt(flow.data, lang)]))]
        return await self._advance(msg, key, flow, [])

    # -- moving on ------------------------------------------------------------------------------

    async def _merge(self, flow: Flow, text: str, *, one_shot: bool) -> list[str]:
        """Take key=value pairs into the flow; invalid ones are reported and asked again."""
        pairs, unknown = parse_pairs(text)
        notes = [T(zh=f"不认识的字段：{k}", en=f"Unknown field: {k}")(flow.lang) for k in unknown]
        if "type" in pairs and pairs["type"] != flow.data.get("type"):
            for field in ("host", "port", "security"):
                flow.data.pop(field, None)
        for field in STEP_BY_FIELD:
            if field not in pairs:
                continue
            try:
                flow.data[field] = await STEP_BY_FIELD[field].parse(self.app, pairs[field], flow.data)
            except InvalidInput as exc:
                flow.data.pop(field, None)
                notes.append(exc.message(flow.lang))
        if one_shot and flow.data.get("account") and "type" not in flow.data:
            detected = _proposed_type(flow.data) or ("custom" if "host" in flow.data else None)
            if detected and get_provider(detected).basic_auth_disabled:
                notes.append(InvalidInput([password_refused(detected)]).message(flow.lang))
            elif detected:
                flow.data["type"] = detected
        return notes

    async def _advance(self, msg: IncomingMessage, key: str, flow: Flow, notes: list[str]) -> list[Reply]:
        """Ask the first missing field, or the secret once everything else is known."""
        lang = flow.lang
        pending = next((s for s in STEPS if flow.kind == "new" and s.needed(flow.data)), None)
        if pending is not None:
            flow.state = pending.field
            await self.flows.save(key, flow)
            return [TextReply("\n".join([*notes, *([""] if notes else []), pending.prompt(flow.data, lang)]))]
        flow.state = "secret"
        provider = get_provider(flow.data["type"])
        guide = short_guide(provider.type, lang) if provider.type != "custom" else []
        ask = T(zh=f"请发送“{flow.data['name']}”的{provider.secret_name_zh}。它只用于登录检查，加密保存，不会回显。",
                en=f"Send the {provider.secret_name_en} for '{flow.data['name']}'. It is used for the login check, stored encrypted and never shown.")(lang)
        prompt = MarkdownReply(title=T(zh="请输入密码", en="Enter the secret")(lang),
                               text="\n".join([*notes, ask, *(["", *guide] if guide else [])]), expects_secret=True)
        if not msg.private:
            await self.flows.drop(key, flow)
            flow.origin = msg.conversation_id
            await self.flows.save(self.flows.key(msg.sender_staff_id, PRIVATE), flow)
            return [TextReply("\n".join([*notes, T(
                zh=f"为保护{provider.secret_name_zh}，请在与我的单聊中继续：单聊里你发给我的下一条消息将作为{provider.secret_name_zh}（不会显示出来）。不要在群里发送密码。",
                en=f"To keep the {provider.secret_name_en} private, continue in a single chat with me: your next message there is taken as the {provider.secret_name_en} (it is never shown). Do not post passwords in the group.")(lang)])),
                replace(prompt, text="\n".join([ask, *(["", *guide] if guide else [])]), private_to=msg.sender_staff_id)]
        await self.flows.save(key, flow)
        return [prompt]

    async def _secret(self, msg: IncomingMessage, key: str, flow: Flow) -> list[Reply]:
        """The message text is the secret: use it for the live check, keep it nowhere."""
        lang = flow.lang
        secret = SecretStr(msg.text.strip())
        actor = msg.actor()
        await self.flows.drop(key, flow)  # taken by this instance only; stored again below if it goes on
        try:
            if flow.kind == "new":
                result = await self.app.mailboxes.add(dict(flow.data), secret, actor)
            else:
                result = await self.app.mailboxes.edit(flow.data["name"], {}, secret, actor)
        except InvalidInput as exc:
            others = [e.field for e in exc.errors if e.field in STEP_BY_FIELD]
            if others and flow.kind == "new":
                for field in others:
                    flow.data.pop(field, None)
                return await self._advance(msg, key, flow, [exc.message(lang)])
            await self.flows.save(key, flow)
            return [TextReply(exc.message(lang), expects_secret=True)]
        except MailbotError as exc:
            flow.state = "failed"
            await self.flows.save(key, flow)
            return [MarkdownReply(title=T(zh="登录检查失败", en="Login check failed")(lang),
                                  text="\n".join(["❌ " + error_lines(exc, lang)[0], *error_lines(exc, lang)[1:], "", FAILED_CHOICES(lang)]))]
        head = T(zh="✅ 登录检查通过，已保存：", en="✅ Login check passed; saved:")(lang)
        warnings = [f"⚠️ {w.text(lang)}" for w in result.warnings]
        return [TextReply("\n".join([head, summary(result.mailbox, lang), *warnings]))]

    async def _failed(self, msg: IncomingMessage, key: str, flow: Flow, said: str) -> list[Reply]:
        lang = flow.lang
        if said in ("1", "重试", "重新输入", "retry", "again"):
            return await self._advance(msg, key, flow, [])
        if said in ("3",):
            await self.flows.drop(key, flow)
            return [TextReply(CANCELLED(lang))]
        pairs, _ = parse_pairs(msg.text)
        if pairs and flow.kind == "new":
            notes = await self._merge(flow, msg.text, one_shot=False)
            return await self._advance(msg, key, flow, notes)
        if said in ("2", "修改", "修改设置", "edit", "change") and flow.kind == "new":
            flow.state = "amend"
            await self.flows.save(key, flow)
            current = " ".join(f"{k}={v}" for k, v in flow.data.items())
            return [TextReply(T(zh=f"当前设置：{current}\n", en=f"Current settings: {current}\n")(lang) + AMEND(lang))]
        await self.flows.save(key, flow)
        return [TextReply(FAILED_CHOICES(lang))]

    async def _confirm_remove(self, msg: IncomingMessage, key: str, flow: Flow, said: str) -> list[Reply]:
        lang = flow.lang
        await self.flows.drop(key, flow)
        if not YES.match(said):
            return [TextReply(CANCELLED(lang))]
        removed = await self.app.mailboxes.remove(flow.data["name"], msg.actor())
        return [TextReply(T(zh=f"已删除邮箱“{removed.name}”。", en=f"Removed the mailbox '{removed.name}'.")(lang))]
