"""Data of the delivery-failure alert: which mail failed, why, what to do, and a retry button.

The relay sends it to admins when a mail gives up; the retry button carries the mail id, so the
handler can requeue exactly that mail. Subject and recipients come from workflow input: escaped.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.errors import MailbotError
from bot.i18n import Text
from cards.common import ParamMap, error_markdown, flag, guide_markdown, lang_of, md

MAX_RECIPIENTS = 5

_TITLE = Text(zh="❌ 邮件发送失败", en="❌ Mail not delivered")
_SUMMARY = Text(zh="邮件发送失败：{subject}", en="Mail not delivered: {subject}")
_MAILBOX = Text(zh="发件邮箱：", en="Mailbox: ")
_TO = Text(zh="收件人：", en="To: ")
_SUBJECT = Text(zh="主题：", en="Subject: ")
_MORE = Text(zh="等 {n} 人", en="and {n} more")
_NO_SUBJECT = Text(zh="（无主题）", en="(no subject)")
_RETRY = Text(zh="重新发送", en="Send again")


def recipients_text(recipients: Sequence[str], lang: str) -> str:
    shown = ", ".join(md(r) for r in recipients[:MAX_RECIPIENTS])
    hidden = len(recipients) - MAX_RECIPIENTS
    return f"{shown} {_MORE.format(n=hidden)(lang)}" if hidden > 0 else shown


def alert_params(
    lang: str,
    *,
    mail_id: str,
    mailbox: str,
    recipients: Sequence[str],
    subject: str,
    error: MailbotError,
    retry: bool = True,
    notice: str = "",
) -> ParamMap:
    """cardParamMap of the alert; after a retry press, `retry=False` and a `notice` say what happened."""
    lang = lang_of(lang)
    subject = subject.strip() or _NO_SUBJECT(lang)
    facts = [f"**{_MAILBOX(lang)}**{md(mailbox)}", f"**{_TO(lang)}**{recipients_text(recipients, lang)}",
             f"**{_SUBJECT(lang)}**{md(subject)}"]
    return {
        "title": _TITLE(lang),
        "summary": _SUMMARY.format(subject=subject)(lang),
        "alert_md": "\n\n".join([*facts, error_markdown(error, lang)]),
        "guide_md": guide_markdown(error, lang),
        "notice": notice,
        "mail_id": mail_id,
        "mailbox": mailbox,
        "show_retry": flag(retry),
        "retry_text": _RETRY(lang),
    }
