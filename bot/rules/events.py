"""ApprovalEvents: a DingTalk approval event in, at most one mail per matching rule out.

DingTalk pushes events over Stream, may push one again (a late ACK, or after a `LATER`) and spreads
them over every connection of the app, i.e. over every `mailbot run` instance. So each event is
claimed by its `eventId` in the shared store (`approval_events`, bot.state.claims) before anything
is done, and each mail is enqueued with the idempotency key `approval:<eventId>:<rule>`: a
redelivered or doubly delivered event sends one mail per rule, whichever instance gets it. The claim
is a lease (EVENT_LEASE_S): an instance that died between the claim and the enqueue leaves the event
to a later redelivery, and the idempotency key keeps that from sending a mail twice.

What the admin must fix (a missing app permission, an originator without e-mail, a broken template,
a removed mailbox) sends no mail: it is audited and raised as one alert naming the rule and the fix.
What may pass by itself (the store or DingTalk unreachable) gives the claim back and asks DingTalk to
push the event again later.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from bot.audit import Actor, AuditLog
from bot.errors import Conflict, InvalidInput, NotFound, StorageFailed
from bot.relay.alerts import Alert, AlertSink
from bot.relay.models import MailRequest
from bot.relay.service import RelayService
from bot.rules.model import EVENT_TYPE, ApprovalEvent, DingTalkUser, ProcessInstance, Rule
from bot.rules.service import RuleService
from bot.state.claims import Claims
from bot.storage import Storage

log = logging.getLogger("mailbot.rules")

SYSTEM = Actor(id="mailbot", source="system")
EVENTS_KEPT_S = 7 * 86_400.0  # DingTalk's redeliveries come within hours; a week of event ids is plenty
EVENT_LEASE_S = 300.0  # an event claimed longer ago than this (its instance died?) is acted on again


class DirectoryRefused(Exception):
    """DingTalk answered, and the answer needs the admin: `permission` missing, or no such record."""

    def __init__(self, what: Literal["instance", "user"], code: str, message: str, *, permission: bool) -> None:
        super().__init__(f"{what}: {code} {message}")
        self.what = what
        self.code = code
        self.message = message
        self.permission = permission


class DirectoryUnavailable(Exception):
    """DingTalk could not answer now (network, timeout, 5xx, throttling): the event is tried later."""


class Directory(Protocol):
    """DingTalk's workflow and contacts APIs, as the DingTalk adapter provides them."""

    async def instance(self, instance_id: str) -> ProcessInstance: ...

    async def user(self, user_id: str) -> DingTalkUser: ...


class NoMail(Exception):
    """One rule sends nothing for this event: `code` for the audit, the reason and its fix for the alert."""

    def __init__(self, code: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.code = code
        self.zh = zh
        self.en = en


INSTANCE_PERMISSION = (
    "钉钉拒绝读取审批实例（{code}）：应用缺少“审批实例读权限”（Workflow.Instance.Read）。"
    "请在开发者后台 → 应用 → 权限管理中开通；开通后的审批会照常发信。",
    "DingTalk refused to read the approval instance ({code}): the app lacks the Workflow.Instance.Read "
    "permission. Add it in the developer console (your app → Permissions); approvals after that send mail as usual.")
INSTANCE_REFUSED = (
    "钉钉没有返回审批实例 {instance}（{code}：{message}）。",
    "DingTalk did not return the approval instance {instance} ({code}: {message}).")
USER_PERMISSION = (
    "钉钉拒绝读取发起人 {user} 的信息（{code}）：应用缺少通讯录“成员信息读权限”（读取邮箱还需“邮箱等个人信息”字段权限）。"
    "请在开发者后台 → 应用 → 权限管理中开通，或把规则的收件人改为固定地址。",
    "DingTalk refused to read the originator {user} ({code}): the app lacks the contact permission to read member "
    "details (and the e-mail field). Add it in the developer console (your app → Permissions), or give the rule "
    "fixed recipients instead.")
USER_REFUSED = (
    "钉钉没有返回发起人 {user} 的信息（{code}：{message}）。",
    "DingTalk did not return the originator {user} ({code}: {message}).")
NO_EMAIL = (
    "发起人 {name}（{user}）在钉钉通讯录里没有企业邮箱或个人邮箱。请在通讯录里为其填写邮箱，或把规则的收件人改为固定地址。",
    "The originator {name} ({user}) has neither an organisation nor a personal e-mail in DingTalk's contacts. "
    "Fill one in there, or give the rule fixed recipients instead.")
TEMPLATE_BROKEN = (
    "模板“{template}”没能生成邮件：{detail}。用 `mailbot template add {template} 文件` 修正模板（可用变量见 README）。",
    "The template '{template}' could not make the mail: {detail}. Fix it with `mailbot template add {template} FILE` "
    "(the variables are listed in the README).")
MAIL_REFUSED = (
    "邮件没有通过检查：{detail}。请修正规则的收件人或发起人在通讯录里的邮箱。",
    "The mail did not pass the checks: {detail}. Fix the rule's recipients or the originator's e-mail in the contacts.")
MAILBOX_GONE = (
    "邮箱“{mailbox}”不存在或已停用：{detail}。请启用它，或删除这条规则后用别的邮箱重新添加。",
    "The mailbox '{mailbox}' does not exist or is disabled: {detail}. Enable it, or remove the rule and add it "
    "again with another mailbox.")


def _time(api_value: str | None, event_ms: int | None) -> str | None:
    """The instance's time as DingTalk's API gives it, else the event's epoch milliseconds in UTC."""
    if api_value:
        return api_value
    if event_ms:
        return datetime.fromtimestamp(event_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%MZ")
    return None


class ApprovalEvents:
    """Turns approval events into relay mail by the rules; `on_event` is what the Stream adapter calls."""

    def __init__(self, rules: RuleService, relay: RelayService, directory: Directory, alerts: AlertSink,
                 audit: AuditLog, storage: Storage) -> None:
        self.rules = rules
        self.relay = relay
        self.directory = directory
        self.alerts = alerts
        self.audit = audit
        self.seen = Claims(storage, "approval_events", keep_s=EVENTS_KEPT_S, window_s=EVENT_LEASE_S)

    async def on_event(self, event_type: str, event_id: str, data: dict[str, Any]) -> bool:
        """True when the event is dealt with (ACK SUCCESS: done, not ours, a duplicate, or an alert
        raised); False to have DingTalk push it again later (ACK LATER: the store or DingTalk was down)."""
        if event_type != EVENT_TYPE:
            return True
        try:
            event = ApprovalEvent.model_validate(data)
        except ValidationError:
            log.warning("ignored a malformed %s event %s", event_type, event_id)
            return True
        try:
            rules = await self.rules.matching(event)
            if not rules:
                return True
            key = event_id or f"{event.process_instance_id}:{event.type}:{event.result or ''}"
            if not await self.seen.claim(key):
                log.info("approval event %s was handled already", key)
                return True
        except StorageFailed as exc:
            log.warning("cannot take approval event %s now (%s): DingTalk will push it again", event_id, exc.code)
            return False
        try:
            await self._act(key, event, rules)
        except (StorageFailed, DirectoryUnavailable) as exc:
            log.warning("approval event %s waits (%s): DingTalk will push it again", key, exc)
            with suppress(StorageFailed):
                await self.seen.release(key)
            return False
        return True

    async def _act(self, key: str, event: ApprovalEvent, rules: list[Rule]) -> None:
        try:
            instance = await self.directory.instance(event.process_instance_id)
        except DirectoryRefused as exc:
            text = INSTANCE_PERMISSION if exc.permission else INSTANCE_REFUSED
            fields = dict(code=exc.code, message=exc.message, instance=event.process_instance_id)
            for rule in rules:
                await self._no_mail(key, event, rule, NoMail(
                    "permission_denied" if exc.permission else "instance_refused",
                    text[0].format(**fields), text[1].format(**fields)))
            return
        originator_id = instance.originator_user_id or event.staff_id or ""
        user: DingTalkUser | None = None
        refused: DirectoryRefused | None = None
        if originator_id:
            try:
                user = await self.directory.user(originator_id)
            except DirectoryRefused as exc:  # only rules that mail the originator need them
                refused = exc
        variables = self._variables(event, instance, originator_id, user)
        for rule in rules:
            try:
                to = self._recipients(rule, originator_id, user, refused)
                await self._submit(key, rule, to, variables)
            except NoMail as reason:
                await self._no_mail(key, event, rule, reason)

    @staticmethod
    def _variables(event: ApprovalEvent, instance: ProcessInstance, originator_id: str,
                   user: DingTalkUser | None) -> dict[str, Any]:
        """The template variables the README lists: the instance's values first, the event's as fallback."""
        return {
            "title": instance.title or event.title or "",
            "result": instance.result or event.result or "",
            "originator": (user.name if user and user.name else originator_id),
            "originator_email": user.address if user else None,
            "url": event.url or "",
            "form": instance.form,
            "create_time": _time(instance.create_time, event.create_time),
            "finish_time": _time(instance.finish_time, event.finish_time),
            "process_code": event.process_code,
            "instance_id": event.process_instance_id,
        }

    @staticmethod
    def _recipients(rule: Rule, originator_id: str, user: DingTalkUser | None,
                    refused: DirectoryRefused | None) -> list[str]:
        if not rule.to_originator:
            return rule.addresses
        if refused is not None:
            text = USER_PERMISSION if refused.permission else USER_REFUSED
            fields = dict(user=originator_id, code=refused.code, message=refused.message)
            raise NoMail("permission_denied" if refused.permission else "user_refused",
                         text[0].format(**fields), text[1].format(**fields))
        address = user.address if user else None
        if address is None:
            name = (user.name if user else None) or originator_id or "?"
            raise NoMail("no_email", NO_EMAIL[0].format(name=name, user=originator_id or "?"),
                         NO_EMAIL[1].format(name=name, user=originator_id or "?"))
        return [address, *[a for a in rule.addresses if a != address]]

    async def _submit(self, key: str, rule: Rule, to: list[str], variables: dict[str, Any]) -> None:
        request = MailRequest(mailbox=rule.mailbox, to=to, template=rule.template, variables=variables,
                              idempotency_key=f"approval:{key}:{rule.name}"[:200])
        try:
            record, fresh = await self.relay.submit(request)
        except NotFound as exc:  # the mailbox went away or was disabled after the rule was made
            raise NoMail("mailbox_missing", MAILBOX_GONE[0].format(mailbox=rule.mailbox, detail=exc.cause.zh),
                         MAILBOX_GONE[1].format(mailbox=rule.mailbox, detail=exc.cause.en)) from None
        except InvalidInput as exc:  # a template that does not render or was removed; an unusable address
            detail_zh = "；".join(e.message("zh") for e in exc.errors)
            detail_en = "; ".join(e.message("en") for e in exc.errors)
            if any(e.field.split(".")[0] in ("to", "cc", "bcc", "reply_to") for e in exc.errors):
                raise NoMail("mail_refused", MAIL_REFUSED[0].format(detail=detail_zh),
                             MAIL_REFUSED[1].format(detail=detail_en)) from None
            raise NoMail("template_failed", TEMPLATE_BROKEN[0].format(template=rule.template, detail=detail_zh),
                         TEMPLATE_BROKEN[1].format(template=rule.template, detail=detail_en)) from None
        except Conflict as exc:  # the key was used with another body: the mail for this event and rule exists
            log.warning("approval mail for %s by rule %s was enqueued before (%s)", key, rule.name, exc.code)
            return
        log.info("approval event %s → rule %s → mail %s%s", key, rule.name, record.id, "" if fresh else " (again)")

    async def _no_mail(self, key: str, event: ApprovalEvent, rule: Rule, reason: NoMail) -> None:
        """Audited first (the durable record), then one alert naming the rule and the fix."""
        await self.audit.record(SYSTEM, "rule_no_mail", rule.name, {
            "event_id": key, "instance_id": event.process_instance_id, "reason": reason.code, "detail": reason.en},
            ok=False)
        await self.alerts.alert(Alert(kind="approval_rule", mailbox=rule.mailbox, code=reason.code,
                                      reason_zh=reason.zh, reason_en=reason.en, rule=rule.name))
