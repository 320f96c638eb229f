"""Card flows: which card an intent delivers, and what a press or submit on a card does.

Template cards exist only where their template id is configured (cards/README.md); elsewhere the
chat falls back to the wizard and markdown and says so once. A callback is trusted only when its
`userId` is an admin, acts once (a record per card, kept by bot.state.card_records, tracks whether a
check is running or done and moves by compare-and-set, so of two instances handling one submit only
one checks; buttons carry the mailbox version they were drawn from), and the secret typed into a form is used
for the login check only: it is never written back into card data, a message, a log or the audit.

A new Outlook.com mailbox, or a Microsoft 365 / Gmail one submitted without a password, signs in with
OAuth2 instead: the form closes and the chat wizard's sign-in continues in the admin's single chat
(the link and code are chat messages there; card data never holds a code, token or verifier).

A new mailbox submitted without a type, whose domain is not a known public one, has its type detected
after the ACK (MailboxService.propose_type: the domain's MX, at most ~2 s): the form comes back with the
type chosen and the reason as its notice, and the admin saves it with a second submit, or picks another
type. Nothing is saved on a type the admin has not seen. The secret is not kept between the two submits
(card data never holds one), so the notice asks for it again; DNS that does not answer leaves the type to
choose, as the form said before detection existed.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pydantic import SecretStr

from bot.app import App
from bot.audit import Actor
from bot.chat.messages import CardReply, CardUpdate, IncomingMessage, MarkdownReply, Reply, TextReply
from bot.chat.text import T
from bot.chat.wizard import Wizard
from bot.errors import Conflict, InvalidInput, MailbotError, NotFound
from bot.mailboxes import Mailbox
from bot.providers import CATALOG
from bot.relay.alerts import Alert
from bot.state.admins import KnownAdmins
from bot.state.card_records import CardRecord, CardRecords
from cards import (
    CARDS,
    Action,
    CardAction,
    alert_params,
    mailbox_form_params,
    mailbox_list_params,
    outcome_markdown,
    parse_callback,
    result_params,
)
from cards.common import guide_markdown, md

CARD_SOURCES = frozenset({"dingtalk", "console"})
SELF_RENDERED = frozenset({"console"})  # front ends that draw cards themselves need no template id

NOT_CONFIGURED = T(
    zh="（卡片模板未配置：{env} 未设置，先用文字对话完成。配置方法见 cards/README.md。）",
    en="(Card template not configured: {env} is not set, so this continues as a text dialog. See cards/README.md.)",
)
ONLY_ADMINS = T(zh="只有管理员可以操作：钉钉组织管理员，或 MAILBOT_ADMINS 中的成员。",
                en="Only admins can do this: DingTalk organisation admins or the members listed in MAILBOT_ADMINS.")
UNREADABLE = T(zh="无法读取这次操作（{why}），请重新发送命令获取新卡片。",
               en="This action could not be read ({why}); send the command again for a fresh card.")
UNKNOWN_CARD = T(zh="这张卡片已失效，请重新发送命令获取新卡片。", en="This card has expired; send the command again for a fresh card.")
CHECKING = T(zh="正在验证登录，请稍候……", en="Checking the login, please wait…")
STILL_CHECKING = T(zh="上一次提交还在验证中，请稍候。", en="The previous submit is still being checked; please wait.")
ALREADY_SAVED = T(zh="这张表单已提交并保存，不会重复保存。", en="This form was already submitted and saved; it is not saved twice.")
TESTING = T(zh="正在测试“{name}”……", en="Testing '{name}'…")
STALE = T(zh="⚠️ 这张卡片已过期：邮箱“{name}”在此之后被修改过，未执行操作。下面是最新状态。",
          en="⚠️ This card was out of date: the mailbox '{name}' changed since, so nothing was done. Below is its current state.")
GONE = T(zh="邮箱“{name}”已不存在。", en="The mailbox '{name}' no longer exists.")
DONE = {
    Action.MAILBOX_ENABLE: T(zh="已启用“{name}”。", en="Enabled '{name}'."),
    Action.MAILBOX_DISABLE: T(zh="已停用“{name}”。", en="Disabled '{name}'."),
    Action.MAILBOX_SET_DEFAULT: T(zh="已将“{name}”设为默认邮箱。", en="'{name}' is now the default mailbox."),
    Action.MAILBOX_DELETE: T(zh="已删除“{name}”。", en="Removed '{name}'."),
}
# What replaces the form when DingTalk cannot show it: the same job by text.
FORM_BY_TEXT = {
    "add": T(zh="表单卡片没能显示。可以用文字登记：发送“新建邮箱 名称=… 账号=…”（可加 类型=…），再按提示发送密码/授权码。",
             en="The form card could not be shown. Register by text instead: send 'new mailbox name=… account=…' "
                "(type=… optional), then send the password / authorization code when asked."),
    "edit": T(zh="表单卡片没能显示。可以用文字修改：发送“修改邮箱 {name} 端口=…”之类的设置，或“修改邮箱 {name} 密码”更换密码。",
              en="The form card could not be shown. Edit by text instead: send e.g. 'edit mailbox {name} port=…', "
                 "or 'edit mailbox {name} password' to change the secret."),
}
FORM_SENT = T(zh="已在单聊中发给你一张邮箱表单，请在那里填写（密码不会出现在群里）。",
              en="I sent you a mailbox form in our single chat; fill it in there (the password never shows in the group).")
RETRIED = T(zh="已重新排队邮件 {id}，发送“发送记录”查看状态。", en="Mail {id} is queued again; send 'outbox' to follow it.")
FORM_CLOSED = T(zh="这张表单已取消或已被新的表单取代，不会再保存。需要时请重新发送“新建邮箱”。",
                en="This form was cancelled or replaced by a newer one; it saves nothing. Send 'new mailbox' for a fresh one.")
EDIT_SENT = T(zh="已发送“{name}”的编辑表单。", en="Sent the edit form for '{name}'.")
DETECTING = T(zh="正在按账号域名判断邮箱类型……", en="Detecting the type from the account's domain…")
PROPOSED = T(zh="🔎 {reason}。类型已预选为“{name}”：确认无误（或改选其他类型）后再提交一次。",
             en="🔎 {reason}. The type is set to '{name}': check it (or pick another type) and submit again.")
SECRET_AGAIN = T(zh="密码/授权码不会保留在卡片里，提交前请再填一次。",
                 en="The password / authorization code is never kept in the card: type it again before you submit.")
SIGNIN_SENT = T(zh="🔑 这个邮箱用浏览器登录授权，不用密码：登录链接已发到你与我的单聊，请在那里完成登录。",
                en="🔑 This mailbox signs in with a browser instead of a password: the sign-in link is in our single chat; "
                   "finish it there.")


@dataclass
class CallbackResult:
    """`ack` is applied at once through the callback's ACK; `later` runs after it (slow work)."""

    ack: CardUpdate | None = None
    later: Callable[[], Awaitable[list[Reply]]] | None = None
    user_id: str = ""
    extra: list[Reply] = field(default_factory=list)


class Cards:
    def __init__(self, app: App, wizard: Wizard) -> None:
        self.app = app
        self.wizard = wizard
        self.records = CardRecords(app.storage)
        self.admins = KnownAdmins(app.storage)
        self._said: set[str] = set()

    # -- delivering ---------------------------------------------------------------------------

    def template_id(self, card: str) -> str | None:
        setting = CARDS[card].setting
        return getattr(self.app.settings, setting) if setting else None

    def available(self, card: str, msg: IncomingMessage) -> bool:
        return msg.source in SELF_RENDERED or (msg.source in CARD_SOURCES and bool(self.template_id(card)))

    def fallback_note(self, card: str, msg: IncomingMessage, lang: str) -> list[Reply]:
        """Said once per card kind and process, only where cards could be shown at all."""
        if msg.source not in CARD_SOURCES or card in self._said:
            return []
        self._said.add(card)
        return [TextReply(NOT_CONFIGURED(lang).format(env=CARDS[card].env_var))]

    async def _deliver(self, card: str, params: dict[str, str], fallback: MarkdownReply, record: CardRecord,
                       private_to: str | None = None) -> CardReply:
        out_track_id = f"mailbot-{card}-{uuid.uuid4().hex}"
        await self.records.add(out_track_id, record)
        return CardReply(card=card, params=params, out_track_id=out_track_id, fallback=fallback, private_to=private_to,
                         lang=record.lang)

    async def form_card(self, owner: str, source: str, lang: str, mailbox: Mailbox | None = None,
                        private_to: str | None = None) -> CardReply:
        """The mailbox form, pre-filled (secret empty) when it edits `mailbox`."""
        record = CardRecord(card="mailbox_form", lang=lang, owner=owner, source=source,
                            mode="edit" if mailbox else "add", mailbox=mailbox.name if mailbox else None,
                            version=mailbox.version if mailbox else None)
        params = mailbox_form_params(lang, values=mailbox.public() if mailbox else None, mode=record.mode,
                                     mailbox=record.mailbox, version=record.version)
        fallback = MarkdownReply(title=params["title"], text=FORM_BY_TEXT[record.mode](lang).format(name=mailbox.name if mailbox else ""))
        card = await self._deliver("mailbox_form", params, fallback, record, private_to)
        await self.records.set_open_form(owner, card.out_track_id)  # any older form of theirs is superseded
        return card

    async def form(self, msg: IncomingMessage, lang: str, mailbox: Mailbox | None = None) -> list[Reply]:
        """From a group the form goes to the admin's single chat, so the secret stays private.
        An older open form of the admin's is closed first: only the newest form can save."""
        closed = await self.close_forms(msg.sender_staff_id, lang)
        if msg.private:
            return [*closed, await self.form_card(msg.sender_staff_id, msg.source, lang, mailbox)]
        card = await self.form_card(msg.sender_staff_id, msg.source, lang, mailbox, private_to=msg.sender_staff_id)
        return [*closed, card, TextReply(FORM_SENT(lang))]

    async def close_forms(self, owner: str, lang: str) -> list[Reply]:
        """Close the owner's open form card (取消, or a newer form): it is disabled and refuses a later submit."""
        track = await self.records.open_form(owner)
        if track is None:
            return []
        await self.records.clear_open_form(owner, track)
        record = await self.records.get(track)
        if record is None or record.state != "open":  # saved, or a check is running: that outcome stands
            return []
        if not await self.records.move(track, record, "closed"):  # a submit got there first: its outcome stands
            return []
        return [CardUpdate(out_track_id=track, params=mailbox_form_params(
            record.lang, mode=record.mode, mailbox=record.mailbox, version=record.version, status="closed",
            notice=FORM_CLOSED(record.lang)))]

    async def _is_current_form(self, owner: str, track: str) -> bool:
        current = await self.records.open_form(owner)
        return current is None or current == track  # None: a form delivered before forms were tracked

    async def result(self, msg: IncomingMessage, lang: str, name: str, error: MailbotError | None) -> list[Reply]:
        """A test's outcome as a result card, with retry and edit buttons."""
        mailbox = await self.app.mailboxes.find(name)
        params = result_params(lang, name=name, mode="test", error=error, mailbox=mailbox)
        record = CardRecord(card="result", lang=lang, owner=msg.sender_staff_id, source=msg.source, mailbox=name,
                            version=mailbox.version if mailbox else None)
        fallback = MarkdownReply(title=params["title"], text=params["result_md"])
        return [await self._deliver("result", params, fallback, record)]

    async def alert(self, event: Alert, lang: str = "zh") -> list[Reply]:
        """A failed mail as an alert card (with a retry button) for each of MAILBOT_ADMINS; [] when the
        alert template is not set or the alert is not about one mail (the caller sends markdown)."""
        admins = sorted(self.app.settings.admin_ids)
        if not event.mail_id and event.kind == "login_failing" and self.template_id("result") and admins:
            return await self._health_alert(event, admins, lang)
        if not event.mail_id or not self.template_id("alert") or not admins:
            return []
        mail = await self.app.relay.get(event.mail_id)
        params = alert_params(lang, mail_id=mail.id, mailbox=event.mailbox, recipients=mail.to, subject=mail.subject,
                              error=event.error())
        fallback = MarkdownReply(title=event.title(lang), text=event.markdown(lang))
        return [await self._deliver("alert", params, fallback,
                                    CardRecord(card="alert", lang=lang, owner=admin, mailbox=event.mailbox), admin)
                for admin in admins]

    async def _health_alert(self, event: Alert, admins: list[str], lang: str) -> list[Reply]:
        """A mailbox the health check found failing (bot.mailboxes.health): the result card with the
        classified reason, the provider's guide, and the test-again and edit buttons, for each admin."""
        mailbox = await self.app.mailboxes.find(event.mailbox)
        params = result_params(lang, name=event.mailbox, mode="test", error=event.error(), mailbox=mailbox)
        fallback = MarkdownReply(title=event.title(lang), text=event.markdown(lang))
        return [await self._deliver("result", params, fallback,
                                    CardRecord(card="result", lang=lang, owner=admin, mailbox=event.mailbox,
                                               version=mailbox.version if mailbox else None), admin)
                for admin in admins]

    async def mailbox_list(self, msg: IncomingMessage, lang: str) -> list[Reply]:
        mailboxes = await self.app.mailboxes.list()
        params = mailbox_list_params(lang, mailboxes)
        record = CardRecord(card="mailbox_list", lang=lang, owner=msg.sender_staff_id, source=msg.source)
        return [await self._deliver("mailbox_list", params, MarkdownReply(title=params["title"], text=params["intro"]),
                                    record)]

    # -- admins -------------------------------------------------------------------------------

    async def remember_admin(self, msg: IncomingMessage) -> None:
        """Callbacks carry no admin flag, so the org admins seen in chat are remembered."""
        if msg.is_admin and msg.sender_staff_id:
            await self.admins.remember(msg.sender_staff_id, msg.source)

    async def is_admin(self, user_id: str) -> bool:
        return bool(user_id) and (user_id in self.app.settings.admin_ids or user_id in await self.admins.ids())

    # -- callbacks ----------------------------------------------------------------------------

    async def handle(self, data: dict[str, Any]) -> CallbackResult:
        """One callback frame's `data` → what to show at once and what to do after."""
        action = parse_callback(data)
        record = await self.records.get(action.out_track_id)
        lang = record.lang if record else "zh"
        result = CallbackResult(user_id=action.user_id)
        if action.error is not None or record is None:
            text = UNREADABLE(lang).format(why=action.error) if action.error else UNKNOWN_CARD(lang)
            result.ack = self._notice(action.out_track_id, record, text)
            return result
        if not await self.is_admin(action.user_id):
            result.ack = self._notice(action.out_track_id, record, ONLY_ADMINS(lang))
            return result
        actor = Actor(id=action.user_id, source=record.source)
        if record.card == "mailbox_form" and action.is_form_submit:
            return await self._submit(action, record, actor, result)
        return await self._press(action, record, actor, result)

    def _notice(self, out_track_id: str, record: CardRecord | None, text: str) -> CardUpdate | None:
        """Say something on the card. A card we no longer remember (expired) is told too: three of the
        four templates have a `notice`, and the result card has none to show it in."""
        if record is not None and "notice" not in CARDS[record.card].variables:
            return None
        return CardUpdate(out_track_id=out_track_id, params={"notice": text}) if out_track_id else None

    async def _submit(self, action: CardAction, record: CardRecord, actor: Actor,
                      result: CallbackResult) -> CallbackResult:
        lang, track = record.lang, action.out_track_id
        values = dict(action.form)

        def form(**kwargs: Any) -> CardUpdate:
            return CardUpdate(out_track_id=track, params=mailbox_form_params(
                lang, values=values, mode=record.mode, mailbox=record.mailbox, version=record.version, **kwargs))

        def settled(state: str) -> CallbackResult:
            """A form another press, callback or instance already moved on: answer as it left it."""
            status, notice = {"done": ("disabled", ALREADY_SAVED), "checking": ("checking", STILL_CHECKING),
                              "closed": ("closed", FORM_CLOSED)}[state]
            result.ack = form(status=status, notice=notice(lang))
            return result

        if record.state == "open" and not await self._is_current_form(record.owner, track):
            await self.records.move(track, record, "closed")  # superseded by a newer form of the same admin
            return settled("closed")
        if record.state != "open":
            return settled(record.state)
        secret = action.secret
        if record.mode == "add" and _signs_in(values, secret):
            # The form closes and the chat sign-in starts in the admin's single chat, after the ACK
            # (the issuer is asked for a device code or a consent address).
            try:
                self.app.mailboxes.validate_oauth(values)
            except InvalidInput as exc:
                result.ack = form(errors=exc.errors)
                return result
            if not await self.records.move(track, record, "closed"):  # another press or instance took it
                latest = await self.records.get(track)
                return settled(latest.state if latest is not None and latest.state != "open" else "closed")
            result.ack = form(status="closed", notice=SIGNIN_SENT(lang))
            result.later = lambda: self.wizard.start_from_form(actor.id, record.source, values, lang, actor)
            return result
        try:
            self.app.mailboxes.validate(values, secret if record.mode == "add" or secret else SecretStr("unchanged"))
        except InvalidInput as exc:
            if record.mode == "add" and _type_undecided(values, exc):  # DNS may take ~2 s: after the ACK
                result.ack = form(status="detecting", notice=DETECTING(lang))
                result.later = partial(self._propose, values, exc, secret, form, lang)
                return result
            result.ack = form(errors=exc.errors)
            return result
        if not await self.records.move(track, record, "checking"):  # one check per submit, whichever instance
            latest = await self.records.get(track)
            return settled(latest.state if latest is not None and latest.state != "open" else "checking")
        result.ack = form(status="checking", notice=CHECKING(lang))

        async def check() -> list[Reply]:
            try:
                if record.mode == "add":
                    saved = await self.app.mailboxes.add(values, secret, actor)
                else:
                    assert record.mailbox is not None
                    saved = await self.app.mailboxes.edit(record.mailbox, values, secret, actor,
                                                          expected_version=record.version)
            except InvalidInput as exc:
                await self.records.move(track, record, "open")
                return [form(errors=exc.errors)]
            except MailbotError as exc:
                await self.records.move(track, record, "open")
                notice = "\n\n".join(p for p in (outcome_markdown(lang, mode=record.mode, error=exc),
                                                 guide_markdown(exc, lang)) if p)
                return [form(notice=notice)]
            await self.records.move(track, record, "done")
            values.update(saved.mailbox.public())
            return [form(status="disabled", notice=outcome_markdown(lang, mode=record.mode, mailbox=saved.mailbox,
                                                                   warnings=saved.warnings))]

        result.later = check
        return result

    async def _propose(self, values: dict[str, Any], invalid: InvalidInput, secret: SecretStr | None,
                       form: Callable[..., CardUpdate], lang: str) -> list[Reply]:
        """The form again, with the detected type chosen and why (the record stays open: the next submit
        saves); no detection leaves the type error as it was."""
        detection = await self.app.mailboxes.propose_type(values)
        if detection is None:
            return [form(errors=invalid.errors)]
        values["type"] = detection.type
        notes = [PROPOSED(lang).format(reason=detection.reason(lang), name=CATALOG[detection.type].name(lang))]
        if secret is not None and secret.get_secret_value().strip():
            notes.append(SECRET_AGAIN(lang))
        # The type and the secret are judged again on the next submit, for the chosen type.
        return [form(errors=[e for e in invalid.errors if e.field not in ("type", "secret")], notice="\n\n".join(notes))]

    async def _list_update(self, track: str, lang: str, notice: str = "", confirm: str | None = None) -> CardUpdate:
        params = mailbox_list_params(lang, await self.app.mailboxes.list(), confirm_delete=confirm, notice=notice)
        return CardUpdate(out_track_id=track, params=params)

    async def _press(self, action: CardAction, record: CardRecord, actor: Actor,
                     result: CallbackResult) -> CallbackResult:
        lang, track = record.lang, action.out_track_id
        name = action.params.get("mailbox", "")
        version = int(action.params["version"]) if action.params.get("version", "").isdigit() else None
        kind = action.action
        on_list = record.card == "mailbox_list"
        try:
            if kind == Action.MAILBOX_DELETE_ASK and on_list:
                result.ack = await self._list_update(track, lang, confirm=name)
            elif kind == Action.MAILBOX_DELETE_CANCEL and on_list:
                result.ack = await self._list_update(track, lang)
            elif kind in DONE:
                service = self.app.mailboxes
                if kind == Action.MAILBOX_DELETE:
                    await service.remove(name, actor, expected_version=version)
                elif kind == Action.MAILBOX_SET_DEFAULT:
                    await service.set_default(name, actor, expected_version=version)
                else:
                    await service.set_enabled(name, kind == Action.MAILBOX_ENABLE, actor, expected_version=version)
                result.ack = await self._outcome(record, track, name, DONE[kind](lang).format(name=name))
            elif kind == Action.MAILBOX_TEST:
                result.ack = self._notice(track, record, TESTING(lang).format(name=name))
                result.later = lambda: self._test(record, track, name, actor)
            elif kind == Action.MAIL_RETRY:
                mail_id = action.params.get("mail_id", "")
                try:
                    await self.app.relay.retry(mail_id)
                except MailbotError as exc:
                    result.ack = self._notice(track, record, exc.message(lang))
                else:
                    result.ack = CardUpdate(out_track_id=track, params={
                        "notice": RETRIED(lang).format(id=mail_id), "show_retry": "false"})
            elif kind == Action.MAILBOX_EDIT:
                mailbox = await self.app.mailboxes.get(name)
                result.extra.append(await self.form_card(actor.id, record.source, lang, mailbox, private_to=actor.id))
                result.ack = self._notice(track, record, EDIT_SENT(lang).format(name=name))
            else:
                result.ack = self._notice(track, record, UNKNOWN_CARD(lang))
        except Conflict:
            result.ack = await self._outcome(record, track, name, STALE(lang).format(name=name))
        except NotFound:
            result.ack = await self._outcome(record, track, name, GONE(lang).format(name=name))
        return result

    async def _outcome(self, record: CardRecord, track: str, name: str, notice: str) -> CardUpdate | None:
        if record.card == "mailbox_list":
            return await self._list_update(track, record.lang, notice=notice)
        return self._notice(track, record, notice)

    async def _test(self, record: CardRecord, track: str, name: str, actor: Actor) -> list[Reply]:
        lang = record.lang
        error: MailbotError | None = None
        mailbox: Mailbox | None = None
        try:
            mailbox = await self.app.mailboxes.test(name, actor)
        except MailbotError as exc:
            error = exc
            mailbox = await self.app.mailboxes.find(name)
        if record.card == "result":
            return [CardUpdate(out_track_id=track, params=result_params(lang, name=name, mode="test", error=error,
                                                                       mailbox=mailbox))]
        notice = "\n\n".join(p for p in (f"**{md(name)}**", outcome_markdown(lang, mode="test", error=error, mailbox=mailbox),
                                         guide_markdown(error, lang)) if p)
        return [await self._list_update(track, lang, notice=notice)]


def _type_undecided(values: dict[str, str], invalid: InvalidInput) -> bool:
    """No type, no server, and the account's domain is no known public one: the type is to be detected."""
    return not values.get("type") and not values.get("host") and any(e.field == "type" for e in invalid.errors)


def _signs_in(values: dict[str, str], secret: SecretStr | None) -> bool:
    """A form for a type that signs in with OAuth2: always (Outlook.com), or when no password was typed."""
    provider = CATALOG.get(values.get("type", ""))
    route = provider.oauth if provider is not None else None
    return route is not None and (not route.password_too or secret is None or not secret.get_secret_value().strip())
