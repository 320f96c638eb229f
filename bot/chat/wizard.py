"""Multi-step chat flows ("新建邮箱", remove confirmation, new secret) as an explicit state machine.

A flow is a small JSON document kept by the flows service (bot.state.flows), keyed by user +
conversation, so it survives a restart and every instance on the store sees it; each step is a
compare-and-set there (a step another instance took first raises Superseded, and that one answers).
Steps are data (`STEPS`): each names the field it fills, its prompt and its parser, which validates
with the registry's model and raises InvalidInput to re-ask with the reason.

The secret is never part of the state: it is only ever the text of the message that answers the
secret step, used at once for the login check and then dropped. In a group the secret step moves to
the user's single chat (key `user|@private`), so nobody types a secret where others read it.

Types that sign in with OAuth2 (Outlook.com always; Microsoft 365 and Gmail when the admin picks it)
take the "signin" step instead of the secret, in the single chat too: Microsoft's device code is
shown and a background wait (bot.chat.signin) reports the outcome when the admin has signed in;
Google's consent link is shown and the address the browser lands on is pasted back, handled like a
secret (never stored, never echoed). The flow keeps only the sign-in's id.

When the account is known and no type was given, the type step proposes the provider the registry
detects (a known public domain, else the domain's MX, with the reason) as its default: "yes" takes it,
anything else overrides it. The lookup runs once per account when the type step is entered (DNS bounded
at ~2 s by the service; None: the plain type question) and is kept in the flow as `proposal`, so a
re-ask, a resume or another instance shows it again without asking DNS.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from pydantic import SecretStr

from bot.app import App
from bot.audit import Actor
from bot.chat.messages import IncomingMessage, MarkdownReply, Reply, TextReply
from bot.chat.signin import Background
from bot.chat.text import CANCELLED, ERROR, T, compact, normalize, parse_pairs, unquote
from bot.errors import FieldError, InvalidInput, MailbotError, NotFound, OAuthError, SignInEnded, SmtpError
from bot.guides import GUIDE_TYPES, short_guide
from bot.i18n import Text
from bot.mailboxes.model import oauth_route_of, parse_spec
from bot.mailboxes.signin import SignIn
from bot.providers import CATALOG, PROVIDER_TYPES, detect_type, get_provider
from bot.state.flows import PRIVATE, Flow, Flows, Superseded

log = logging.getLogger("mailbot.chat")

YES = re.compile(r"^(是|是的|对|好|好的|确认|确定|可以|ok|okay|yes|y|sure|confirm|1)$")
NO = re.compile(r"^(否|不|不是|no|n)$")
CANCEL = re.compile(r"^(取消|算了|退出|放弃|cancel|quit|exit|abort|stop)$")
_PLACEHOLDER = {"name": "x", "account": "someone@example.com"}
SPEC_FIELDS = ("name", "type", "account", "host", "port", "security")
# States whose next message may be a secret (a password, or a pasted address carrying a sign-in code):
# only a bare command word is read as a command there, and a late one after expiry is dropped unread.
SECRET_STATES = frozenset({"secret", "signin"})
PASSWORD = re.compile(r"^(1|密码|授权码|口令|应用专用密码|password|app ?password|pass)$")
SIGN_IN = re.compile(r"^(2|登录|登陆|授权登录|登录授权|oauth2?|sign ?in|signin|login|log ?in|browser|浏览器|microsoft|google|微软|谷歌)"
                     r"(?:(?:with|用)?(?:microsoft|google|微软|谷歌))?$")


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
    return parse_type(value, _proposed_type(data))


def _auth_error(value: str) -> InvalidInput:
    return InvalidInput([FieldError(field="auth", problem=T(
        zh=f"没看懂“{value}”：回复 1 用密码，2 用浏览器登录", en=f"'{value}' is not a choice: reply 1 for the password, 2 to sign in"),
        example="2")])


async def _parse_auth(app: App, value: str, data: dict[str, Any]) -> Any:
    """Password or OAuth2 sign-in; a sign-in only for types that have one."""
    said = compact(unquote(value))
    if PASSWORD.match(said):
        return "password"
    if not SIGN_IN.match(said):
        raise _auth_error(value)
    if data.get("type"):
        oauth_route_of(data["type"])  # InvalidInput naming the types that can sign in
    return "oauth2"


def _asks_auth(data: dict[str, Any]) -> bool:
    """Microsoft 365 and Gmail take a password or a sign-in: the admin chooses (unless they said)."""
    route = get_provider(data["type"]).oauth if data.get("type") else None
    return route is not None and route.password_too and "auth" not in data


def signs_in(data: dict[str, Any]) -> bool:
    """This mailbox is registered by an OAuth2 sign-in instead of a password."""
    route = get_provider(data["type"]).oauth
    return route is not None and (not route.password_too or data.get("auth") == "oauth2")


def spec_of(data: dict[str, Any]) -> dict[str, Any]:
    """The mailbox fields of a flow's data, without the dialog's own keys (auth choice, proposal, sign-in)."""
    return {k: v for k, v in data.items() if k in SPEC_FIELDS}


def _proposal(data: dict[str, Any]) -> dict[str, Any] | None:
    """The detection stored for the current account (None: not looked up yet, or for another account)."""
    proposal = data.get("proposal")
    return proposal if proposal and proposal.get("account") == data.get("account") else None


def _proposed_type(data: dict[str, Any]) -> str | None:
    """The type the type step offers as its default: the stored detection, else the catalog's public domains."""
    proposal = _proposal(data)
    if proposal is not None:
        return proposal.get("type")
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
    proposal = _proposal(data)
    if proposed and proposal and proposal.get("mx"):  # found through DNS: say where the domain's mail goes
        reason = Text.model_validate(proposal["reason"])
        head = T(zh=f"{reason.zh}（{proposed}）。直接回复“是”使用它，或回复其他类型的编号/名称：",
                 en=f"{reason.en} ({proposed}). Reply 'yes' to use it, or another type's number/name:")(lang)
    elif proposed:
        head = T(zh=f"根据账号域名，类型应为 {get_provider(proposed).name_zh}（{proposed}）。回复“是”确认，或回复其他类型的编号/名称：",
                 en=f"From the account's domain the type is {get_provider(proposed).name_en} ({proposed}). Reply 'yes' to confirm, or another type's number/name:")(lang)
    else:
        head = T(zh="请选择邮箱类型（回复编号、类型名或别名）：", en="Choose the mailbox type (reply with a number, key or name):")(lang)
    return "\n".join([head, *lines])


def _fixed(text: Text) -> Callable[[dict[str, Any], str], str]:
    return lambda data, lang: text(lang)


def _auth_prompt(data: dict[str, Any], lang: str) -> str:
    provider = get_provider(data["type"])
    issuer = T(zh="谷歌", en="Google") if provider.oauth and provider.oauth.issuer == "google" else T(zh="微软", en="Microsoft")
    return T(zh=f"{provider.name_zh}可以用{provider.secret_name_zh}，也可以用{issuer.zh}账号在浏览器里登录授权（推荐，不用保存密码）。\n"
                f"回复 1 用{provider.secret_name_zh}，2 用{issuer.zh}登录：",
             en=f"{provider.name_en} takes the {provider.secret_name_en}, or a sign-in with {issuer.en} in a browser "
                f"(recommended: no password is kept).\nReply 1 for the {provider.secret_name_en}, 2 to sign in with {issuer.en}:")(lang)


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
    Step("auth", _auth_prompt, _parse_auth, _asks_auth),
)
STEP_BY_FIELD = {step.field: step for step in STEPS}
FAILED_CHOICES = T(zh="回复 1 重新输入，2 修改设置（如 端口=587 加密=starttls），3 取消。",
                   en="Reply 1 to enter it again, 2 to change settings (e.g. port=587 security=starttls), 3 to cancel.")


# ---- the machine -------------------------------------------------------------------------------

def error_lines(exc: MailbotError, lang: str, type_key: str | None = None) -> list[str]:
    """The classified reason and fix, plus the provider's short guide when it helps (a failed
    sign-in of `type_key`: its guide explains the sign-in and the app registration)."""
    lines = [exc.message(lang)]
    if isinstance(exc, SmtpError) and exc.offers_guide and exc.provider_type in CATALOG and exc.provider_type != "custom":
        lines += ["", T(zh="获取方法：", en="How to get it:")(lang), *short_guide(exc.provider_type, lang)]
    elif isinstance(exc, OAuthError) and type_key in GUIDE_TYPES:
        lines += ["", T(zh="怎么办：", en="How to set it up:")(lang), *short_guide(type_key, lang)]
    return lines


def summary(mailbox: Any, lang: str) -> str:
    default = T(zh="（默认）", en=" (default)")(lang) if mailbox.default else ""
    return (f"{mailbox.name}{default}: {get_provider(mailbox.type).name(lang)} · {mailbox.account} · "
            f"{mailbox.host}:{mailbox.port} {mailbox.security}")


FLOW_TITLES = {"new": T(zh="新建邮箱", en="new mailbox"), "edit_secret": T(zh="修改邮箱 {name} 密码", en="edit mailbox {name} password"),
               "remove": T(zh="删除邮箱 {name}", en="remove mailbox {name}"),
               "reauth": T(zh="重新登录 {name}", en="reauth {name}")}
SAVED = T(zh="✅ 登录检查通过，已保存：", en="✅ Login check passed; saved:")
SIGNED_IN_AGAIN = T(zh="✅ 重新登录成功，登录检查通过：", en="✅ Signed in again; login check passed:")
SIGNIN_FAILED = T(zh="登录没有完成", en="Sign-in not completed")
SIGNIN_PRIVATE = T(zh="为保护登录信息，登录链接和代码已在与我的单聊中发给你，请在那里继续。不要在群里转发它们。",
                   en="To keep the sign-in private, I sent the link and code to our single chat; continue there. "
                      "Do not forward them to the group.")
SIGNIN_WAITING = T(zh="还在等你登录（发送“取消”可停止）：", en="Still waiting for you to sign in (send 'cancel' to stop):")
SIGNIN_PASTE = T(zh="请粘贴浏览器跳转到的完整地址（含 code=），或发送“取消”。",
                 en="Paste the whole address the browser was sent to (it contains code=), or send 'cancel'.")
SIGNIN_GONE = T(zh="这次登录已经结束（或机器人重启过），未保存任何内容。回复 1 重新开始登录，3 取消。",
                en="That sign-in has ended (or the bot restarted); nothing was saved. Reply 1 to start the sign-in again, 3 to cancel.")
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
        self.background = Background()

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
        if flow.state == "signin":
            return (SIGNIN_WAITING if self._device_wait(flow) else SIGNIN_PASTE)(lang)
        if flow.state == "failed":
            return FAILED_CHOICES(lang)
        if flow.state == "confirm_remove":
            return CONFIRM_REMOVE(lang)
        return AMEND(lang)

    async def resume(self, key: str, flow: Flow, lang: str) -> list[Reply]:
        """A flow an earlier run left open: say so and ask again, rather than take this message as its value
        (it may have been meant for something else; at the secret step it is dropped unread). A sign-in
        that ended meanwhile (its device code was polled by the run that stopped) is over, and the admin
        may start it again; one still open goes on (`signing_in`)."""
        if flow.state == "signin":
            flow.state = "failed"
            flow.data.pop("signin", None)
            await self.flows.save(key, flow)
            return [TextReply(SIGNIN_GONE(lang))]
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
        """A new password; an OAuth2 mailbox has none to type, so it signs in again instead."""
        mailbox = await self.app.mailboxes.get(name)
        if mailbox.auth == "oauth2":
            return await self.start_reauth(msg, name, lang)
        flow = Flow(kind="edit_secret", state="", lang=lang, data={"name": mailbox.name, "type": mailbox.type},
                    touched=0, origin=msg.conversation_id)
        return await self._advance(msg, self.flows.key(msg.sender_staff_id, msg.conversation_id), flow, [])

    async def start_reauth(self, msg: IncomingMessage, name: str, lang: str) -> list[Reply]:
        """`重新登录 NAME`: the same sign-in as for a new mailbox, for an existing one."""
        mailbox = await self.app.mailboxes.get(name)
        oauth_route_of(mailbox.type)  # a type without a sign-in says which types have one
        flow = Flow(kind="reauth", state="", lang=lang, data={"name": mailbox.name, "type": mailbox.type},
                    touched=0, origin=msg.conversation_id)
        return await self._advance(msg, self.flows.key(msg.sender_staff_id, msg.conversation_id), flow, [])

    async def start_from_form(self, user: str, source: str, data: dict[str, Any], lang: str,
                              actor: Actor) -> list[Reply]:
        """A form card asked to sign in: the same flow, in the admin's single chat."""
        flow = Flow(kind="new", state="", lang=lang, data={**{k: v for k, v in data.items() if k in SPEC_FIELDS and v},
                                                          "auth": "oauth2"}, touched=0, origin=PRIVATE)
        msg = IncomingMessage(text="", sender_id=user, sender_staff_id=user, sender_nick=actor.name,
                              is_admin=True, conversation_id=PRIVATE, conversation_type="single", source=source)
        return await self._advance(msg, self.flows.key(user, PRIVATE), flow, [])

    async def signing_in(self, flow: Flow) -> bool:
        """The flow waits for a sign-in that is still open in the store (any instance or run may go on)."""
        if flow.state != "signin":
            return False
        try:
            await self.app.signins.get(flow.data.get("signin", ""))
        except SignInEnded:
            return False
        return True

    async def abandon(self, flow: Flow) -> None:
        """The flow is cancelled or replaced: a sign-in it waits for ends too (on every instance: the
        one polling a device sign-in stops when it sees the sign-in gone)."""
        signin_id = flow.data.get("signin")
        if flow.state == "signin" and signin_id:
            self.background.cancel(signin_id)
            await self.app.signins.cancel(signin_id)

    async def close(self) -> None:
        """Shutdown: sign-in waits end (nothing is saved without the admin's sign-in completing here)."""
        await self.background.close()

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
        if flow.state == "signin":
            return await self._signin_message(msg, key, flow)
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
            for field in ("host", "port", "security", "auth"):
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
            if detected:
                flow.data["type"] = detected
        return notes

    async def _advance(self, msg: IncomingMessage, key: str, flow: Flow, notes: list[str]) -> list[Reply]:
        """Ask the first missing field, or the secret once everything else is known."""
        lang = flow.lang
        pending = next((s for s in STEPS if flow.kind == "new" and s.needed(flow.data)), None)
        if pending is not None and pending.field == "type":
            await self._propose(flow)
        else:
            flow.data.pop("proposal", None)  # the type is settled: the detection has served
        if pending is not None:
            flow.state = pending.field
            await self.flows.save(key, flow)
            return [TextReply("\n".join([*notes, *([""] if notes else []), pending.prompt(flow.data, lang)]))]
        if flow.kind in ("new", "reauth") and signs_in(flow.data):
            return await self._begin_signin(msg, key, flow, notes)
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

    async def _propose(self, flow: Flow) -> None:
        """Detect the type of the flow's account once, on entering the type step (≤ ~2 s, DNS trouble is
        None): kept in the flow with its reason, so re-asking never looks it up again."""
        account = flow.data.get("account")
        if not account or _proposal(flow.data) is not None:
            return
        detection = await self.app.mailboxes.propose_type(spec_of(flow.data))
        flow.data["proposal"] = {"account": account} if detection is None else {
            "account": account, "type": detection.type, "reason": detection.reason.model_dump(),
            "mx": list(detection.mx)}

    async def _secret(self, msg: IncomingMessage, key: str, flow: Flow) -> list[Reply]:
        """The message text is the secret: use it for the live check, keep it nowhere."""
        lang = flow.lang
        secret = SecretStr(msg.text.strip())
        actor = msg.actor()
        await self.flows.drop(key, flow)  # taken by this instance only; stored again below if it goes on
        try:
            if flow.kind == "new":
                result = await self.app.mailboxes.add(spec_of(flow.data), secret, actor)
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
        return [self._saved(result, False, lang)]

    # -- OAuth2 sign-in -------------------------------------------------------------------------

    @staticmethod
    def _signin_data(flow: Flow) -> tuple[dict[str, Any] | None, str | None]:
        """What `SignIns.begin` takes: a new mailbox's fields, or the name of the one signed in again."""
        if flow.kind == "reauth":
            return None, flow.data["name"]
        return spec_of(flow.data), None

    def takes_secret(self, flow: Flow) -> bool:
        """The next message may be a secret: a password, or an address carrying a sign-in code."""
        return flow.state == "secret" or (flow.state == "signin" and not self._device_wait(flow))

    @staticmethod
    def _device_wait(flow: Flow) -> bool:
        """The open sign-in is a device code some instance is waiting for (else: a paste is expected)."""
        return flow.data.get("signin_flow") == "device"

    async def _begin_signin(self, msg: IncomingMessage, key: str, flow: Flow, notes: list[str]) -> list[Reply]:
        """Start the issuer's sign-in and show where to sign in, in the admin's single chat only."""
        lang = flow.lang
        data, reauth = self._signin_data(flow)
        try:
            signin = await self.app.signins.begin(data, reauth=reauth)
        except InvalidInput as exc:
            others = [e.field for e in exc.errors if e.field in STEP_BY_FIELD]
            if others and flow.kind == "new":
                for field in others:
                    flow.data.pop(field, None)
                return await self._advance(msg, key, flow, [*notes, exc.message(lang)])
            await self.flows.drop(key, flow)
            return [TextReply(exc.message(lang))]
        except MailbotError as exc:  # no client id configured, the issuer unreachable
            flow.state = "failed"
            await self.flows.save(key, flow)
            return [self._failure(exc, flow.data.get("type"), lang, choices=True)]
        flow.state = "signin"
        flow.data["signin"] = signin.id
        flow.data["signin_flow"] = "device" if signin.device is not None else "code"
        if signin.device is not None:  # the dialog lives as long as the code, even when that is longer than idle
            flow.data["wait_until"] = signin.device.expires_at
        user = msg.sender_staff_id
        how = TextReply("\n".join([*notes, signin.instructions(lang)]), expects_secret=signin.code is not None)
        try:
            if msg.private:
                await self.flows.save(key, flow)
                replies: list[Reply] = [how]
            else:
                await self.flows.drop(key, flow)
                flow.origin = msg.conversation_id
                key = self.flows.key(user, PRIVATE)
                await self.flows.save(key, flow)
                replies = [TextReply("\n".join([*notes, SIGNIN_PRIVATE(lang)])),
                           replace(how, text=signin.instructions(lang), private_to=user)]
        except BaseException:
            await asyncio.shield(self.app.signins.cancel(signin.id))
            raise
        if signin.device is not None:
            self.background.spawn(signin.id, self._wait_device(signin, key, user, msg.source, lang, msg.actor()))
        return replies

    async def _wait_device(self, signin: SignIn, key: str, user: str, source: str, lang: str, actor: Actor) -> None:
        """In the background: wait for the admin's sign-in at Microsoft, check and save, then say how it went."""
        replies: list[TextReply | MarkdownReply]
        try:
            result = await self.app.signins.finish(signin, actor)
        except SignInEnded:  # cancelled, or a new dialog began, on another instance: nothing to say
            return
        except MailbotError as exc:
            replies = [await self._signin_failed(key, signin.id, signin.type, exc, lang)]
        except Exception:
            log.exception("sign-in %s failed unexpectedly", signin.id[:6])
            await self._end_flow(key, signin.id)
            replies = [TextReply(ERROR(lang))]
        else:
            await self._end_flow(key, signin.id)
            replies = [self._saved(result, signin.reauth is not None, lang)]
        await self.background.push(source, user, replies)

    async def _own_flow(self, key: str, signin_id: str) -> Flow | None:
        """The flow at `key` if it still waits for this sign-in (not cancelled or replaced meanwhile)."""
        flow = await self.flows.get(key)
        if flow is None or flow.state != "signin" or flow.data.get("signin") != signin_id:
            return None
        return flow

    async def _end_flow(self, key: str, signin_id: str) -> None:
        flow = await self._own_flow(key, signin_id)
        if flow is not None:
            try:
                await self.flows.drop(key, flow)
            except Superseded:
                pass  # another step got there first: it stands

    async def _signin_failed(self, key: str, signin_id: str, type_key: str, exc: MailbotError,
                             lang: str) -> MarkdownReply:
        """The flow waits for 1 (sign in again), 2 (change settings) or 3 (cancel), as after a failed password."""
        flow = await self._own_flow(key, signin_id)
        if flow is not None:
            flow.state = "failed"
            flow.data.pop("signin", None)
            try:
                await self.flows.save(key, flow)
            except Superseded:
                flow = None
        return self._failure(exc, type_key, lang, choices=flow is not None)

    @staticmethod
    def _failure(exc: MailbotError, type_key: str | None, lang: str, *, choices: bool) -> MarkdownReply:
        lines = error_lines(exc, lang, type_key)
        return MarkdownReply(title=SIGNIN_FAILED(lang), text="\n".join(
            ["❌ " + lines[0], *lines[1:], *(["", FAILED_CHOICES(lang)] if choices else [])]))

    @staticmethod
    def _saved(result: Any, reauth: bool, lang: str) -> TextReply:
        warnings = [f"⚠️ {w.text(lang)}" for w in result.warnings]
        return TextReply("\n".join([(SIGNED_IN_AGAIN if reauth else SAVED)(lang), summary(result.mailbox, lang), *warnings]))

    async def _signin_message(self, msg: IncomingMessage, key: str, flow: Flow) -> list[Reply]:
        """A message while a sign-in is open: a device sign-in says it still waits; for Google the text is
        the pasted address (it carries a one-time code: used at once, never stored or echoed)."""
        lang = flow.lang
        try:
            signin = await self.app.signins.get(flow.data.get("signin", ""))
        except NotFound:  # finished, cancelled or expired
            flow.state = "failed"
            flow.data.pop("signin", None)
            await self.flows.save(key, flow)
            return [TextReply(SIGNIN_GONE(lang))]
        if signin.device is not None:
            await self.flows.save(key, flow)
            return [TextReply("\n".join([SIGNIN_WAITING(lang), signin.instructions(lang)]))]
        await self.flows.drop(key, flow)  # taken by this instance only; stored again below if it goes on
        try:
            result = await self.app.signins.finish(signin, msg.actor(), msg.text.strip())
        except InvalidInput as exc:
            await self.flows.save(key, flow)
            return [TextReply("\n".join([exc.message(lang), SIGNIN_PASTE(lang)]), expects_secret=True)]
        except MailbotError as exc:
            flow.state = "failed"
            flow.data.pop("signin", None)
            await self.flows.save(key, flow)
            return [self._failure(exc, signin.type, lang, choices=True)]
        return [self._saved(result, signin.reauth is not None, lang)]

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
