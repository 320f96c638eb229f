"""Data of the result card: saved / tested OK, or failed with the classified reason, fix and guide.

Buttons act on a stored mailbox: "test again" re-runs the login check with the stored secret, "edit"
opens the pre-filled form. A failed *add* stored nothing (and the secret is gone), so it offers
only "edit", which opens a new form; the form card itself is the better place to show that failure.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.errors import MailbotError
from bot.i18n import Text
from bot.mailboxes.model import Caveat, Mailbox
from cards.common import Mode, OUTCOME_TITLES, ParamMap, flag, guide_markdown, lang_of, outcome_markdown

_RETRY = Text(zh="再次测试", en="Test again")
# Whether the mailbox is stored decides what "edit" opens: its pre-filled form, or a new one.
_EDIT = {True: Text(zh="修改设置", en="Edit settings"), False: Text(zh="重新填写", en="Fill in again")}


def result_params(
    lang: str,
    *,
    name: str,
    mode: Mode = "add",
    error: MailbotError | None = None,
    mailbox: Mailbox | None = None,
    warnings: Sequence[Caveat] = (),
) -> ParamMap:
    """cardParamMap of the result card for mailbox `name` after an add, edit or test."""
    lang = lang_of(lang)
    stored = mode != "add" or error is None
    headline = OUTCOME_TITLES[(mode, error is None)](lang)
    return {
        "title": f"{headline} · {name}",
        "summary": f"{headline} · {name}",
        "result_md": outcome_markdown(lang, mode=mode, error=error, mailbox=mailbox, warnings=warnings),
        "guide_md": guide_markdown(error, lang),
        "mailbox": name,
        "version": "" if mailbox is None else str(mailbox.version),
        "mode": mode,
        "show_retry": flag(stored and error is not None),
        "retry_text": _RETRY(lang),
        "edit_text": _EDIT[stored](lang),
    }
