"""Alerts for admins: a mail failed for good, or a mailbox's login started failing.

The worker calls an AlertSink; `mailbot run` wires one that posts to DingTalk, local mode logs.
Several instances on one store may raise the same alert (each has its own worker): an alert has an
identity (`Alert.identity`), and the chat sink sends it only after claiming that identity in the
`relay_alerts` table (bot.state.claims), so it goes out once per ALERT_WINDOW_S across instances.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.errors import MailbotError, SmtpError, StorageFailed, smtp_error_from
from bot.guides import short_guide
from bot.guides.matcher import GUIDE_TYPES
from bot.state.claims import Claims
from bot.storage import Storage

log = logging.getLogger("mailbot.relay.alerts")

Kind = Literal["mail_failed", "login_failing", "needs_reauth", "approval_rule", "quota_warning", "quota_reached"]
ALERT_WINDOW_S = 600.0  # one alert of an identity per this many seconds, across instances
ALERTS_KEPT_S = 86_400.0  # claims older than this are pruned


@dataclass(frozen=True)
class Alert:
    kind: Kind
    mailbox: str
    code: str
    reason_zh: str
    reason_en: str
    mail_id: str | None = None
    provider_type: str | None = None
    offers_guide: bool = False
    reply: str | None = None
    attempt: int = 0  # of the mail's delivery attempts, the one that failed (a retried mail failing again alerts again)
    rule: str | None = None  # approval_rule: the notification rule that sent no mail (bot.rules)

    @classmethod
    def of(cls, kind: Kind, mailbox: str, error: MailbotError, mail_id: str | None = None, *,
           attempt: int = 0, provider_type: str | None = None) -> Alert:
        """`provider_type` for errors that do not carry one (a refused sign-in), so the guide is offered."""
        smtp = error if isinstance(error, SmtpError) else None
        return cls(kind=kind, mailbox=mailbox, code=error.code, reason_zh=error.message("zh"),
                   reason_en=error.message("en"), mail_id=mail_id,
                   provider_type=smtp.provider_type if smtp else provider_type,
                   offers_guide=bool(smtp.offers_guide) if smtp else provider_type is not None,
                   reply=smtp.reply if smtp else None, attempt=attempt)

    @property
    def identity(self) -> str:
        """What makes two alerts the same one: a mail's failure (per attempt), a mailbox's failing login."""
        if self.kind == "mail_failed":
            return f"mail_failed|{self.mail_id or self.mailbox}|{self.attempt}"
        if self.kind == "approval_rule":  # one per rule and cause (the reason names the originator, if any)
            return f"approval_rule|{self.rule}|{self.code}|{self.reason_en}"
        return f"{self.kind}|{self.mailbox}"

    def error(self) -> SmtpError:
        """The classified error again, for cards that render reason, fix and guide themselves."""
        return smtp_error_from(self.code, self.reply, self.provider_type)

    def title(self, lang: str = "zh") -> str:
        if self.kind == "mail_failed":
            return f"邮件发送失败：{self.mailbox}" if lang == "zh" else f"Mail failed: {self.mailbox}"
        if self.kind == "approval_rule":
            return f"审批通知规则没有发信：{self.rule}" if lang == "zh" else f"Approval rule sent no mail: {self.rule}"
        if self.kind in ("quota_warning", "quota_reached"):  # a mailbox's daily quota (bot.mailboxes.health)
            near = self.kind == "quota_warning"
            return (f"邮箱今日发信{'接近' if near else '已达'}上限：{self.mailbox}" if lang == "zh"
                    else f"Mailbox {'near' if near else 'at'} its daily quota: {self.mailbox}")
        if self.kind == "needs_reauth":
            return f"邮箱需要重新登录：{self.mailbox}" if lang == "zh" else f"Mailbox needs a new sign-in: {self.mailbox}"
        return f"邮箱登录失败：{self.mailbox}" if lang == "zh" else f"Mailbox login failing: {self.mailbox}"

    def markdown(self, lang: str = "zh") -> str:
        """Reason and fix (both are in the classified message); a pointer to the provider's guide."""
        lines = [f"### {self.title(lang)}"]
        if self.mail_id:
            lines.append(("邮件 ID：" if lang == "zh" else "Mail ID: ") + f"`{self.mail_id}`")
        lines.append(self.reason_zh if lang == "zh" else self.reason_en)
        if self.offers_guide and self.provider_type in GUIDE_TYPES:
            lines.append("\n".join(short_guide(self.provider_type, lang)))
        if self.mail_id:
            lines.append(f"修复后发送“重试 {self.mail_id}”。" if lang == "zh"
                         else f"After fixing it, send 'retry {self.mail_id}'.")
        return "\n\n".join(lines)


class AlertSink(Protocol):
    async def alert(self, event: Alert) -> None: ...


class LoggingSink:
    """Local mode: a warning in the log (the shell shows stderr)."""

    def __init__(self) -> None:
        self.events: list[Alert] = []

    async def alert(self, event: Alert) -> None:
        self.events.append(event)
        log.warning("%s [%s] %s", event.title("en"), event.code, event.reason_en.replace("\n", " | "))


class NotifySink:
    """Hands the alert to a chat notifier (e.g. Runtime.alert: a card or markdown) and logs it too.

    With `storage`, an alert is handed over only by the instance that claims its identity first
    (any instance on that store): the others log it and stop. A store that cannot say sends it
    anyway (a duplicate beats a lost alert)."""

    def __init__(self, notify: Callable[[Alert], Awaitable[None]], storage: Storage | None = None) -> None:
        self._notify = notify
        self._log = LoggingSink()
        self._claims = (Claims(storage, "relay_alerts", keep_s=ALERTS_KEPT_S, window_s=ALERT_WINDOW_S)
                        if storage is not None else None)

    async def alert(self, event: Alert) -> None:
        await self._log.alert(event)
        if self._claims is not None:
            try:
                if not await self._claims.claim(event.identity):
                    log.info("alert %s was sent by another instance", event.identity)
                    return
            except StorageFailed as exc:
                log.warning("could not claim alert %s (%s); sending it anyway", event.identity, exc.code)
        try:
            await self._notify(event)
        except Exception:  # noqa: BLE001 - an alert channel outage must not stop delivery
            log.exception("could not deliver alert to chat")
