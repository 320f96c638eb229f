"""What every card builder shares: string-only param maps, markdown escaping, the outcome text.

DingTalk takes `cardParamMap` values as strings only, so structured values are JSON-encoded here
once. Anything a user or a mail server wrote is escaped before it lands in card markdown, so a
subject like `**urgent**` or a reply with `[links](…)` shows as typed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, Literal

from bot.errors import MailbotError, SmtpError
from bot.guides import GUIDE_TYPES, short_guide
from bot.i18n import Text
from bot.mailboxes.model import Caveat, Mailbox
from bot.providers import CATALOG

ParamMap = dict[str, str]

_MD_SPECIAL = re.compile(r"([\\`*\[\]<>])")


class Action(StrEnum):
    """actionIds set on the template buttons; the callback handler dispatches on these."""

    MAILBOX_TEST = "mailbox_test"
    MAILBOX_EDIT = "mailbox_edit"
    MAILBOX_ENABLE = "mailbox_enable"
    MAILBOX_DISABLE = "mailbox_disable"
    MAILBOX_SET_DEFAULT = "mailbox_set_default"
    MAILBOX_DELETE_ASK = "mailbox_delete_ask"
    MAILBOX_DELETE = "mailbox_delete"
    MAILBOX_DELETE_CANCEL = "mailbox_delete_cancel"
    MAIL_RETRY = "mail_retry"


def lang_of(lang: str) -> str:
    """Anything but "en" is Chinese, the project default."""
    return "en" if lang == "en" else "zh"


def encode(value: Any) -> str:
    """One cardParamMap value: strings as they are, everything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def flag(value: bool) -> str:
    """Booleans as the strings the templates' visibility conditions compare with."""
    return "true" if value else "false"


def md(text: object) -> str:
    """Escape user- or server-supplied text for DingTalk markdown."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def bullets(lines: Sequence[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


Mode = Literal["add", "edit", "test"]

# (mode, ok) → headline: a failed add or edit saved nothing, a failed test changed nothing.
OUTCOME_TITLES: dict[tuple[str, bool], Text] = {
    ("add", True): Text(zh="✅ 已保存并通过登录检查", en="✅ Saved, login verified"),
    ("edit", True): Text(zh="✅ 已修改并通过登录检查", en="✅ Changed, login verified"),
    ("test", True): Text(zh="✅ 登录成功", en="✅ Login works"),
    ("add", False): Text(zh="❌ 登录检查未通过，没有保存", en="❌ Login check failed, nothing saved"),
    ("edit", False): Text(zh="❌ 登录检查未通过，修改没有保存", en="❌ Login check failed, changes not saved"),
    ("test", False): Text(zh="❌ 登录失败", en="❌ Login failed"),
}
_REASON = Text(zh="**原因：**", en="**Reason:** ")
_FIX = Text(zh="**怎么办：**", en="**What to do:** ")
_REPLY = Text(zh="**服务器回复：**", en="**Server reply:** ")
_DETAILS = Text(zh="**详情：**", en="**Details:** ")
_WARNING = Text(zh="⚠️ ", en="⚠️ ")
_GUIDE = Text(zh="**获取方法（{provider}）：**", en="**How to get it ({provider}):**")
_SERVER = Text(zh="服务器", en="Server")
_ACCOUNT = Text(zh="账号", en="Account")
_TYPE = Text(zh="类型", en="Type")


def provider_name(type_key: str, lang: str) -> str:
    provider = CATALOG.get(type_key)
    return provider.name(lang) if provider else type_key


def mailbox_lines(mailbox: Mailbox, lang: str) -> list[str]:
    """The non-secret facts of a saved mailbox, one per line."""
    return [
        f"{_TYPE(lang)}: {provider_name(mailbox.type, lang)}",
        f"{_ACCOUNT(lang)}: {md(mailbox.account)}",
        f"{_SERVER(lang)}: {md(mailbox.host)}:{mailbox.port} {mailbox.security}",
    ]


def error_markdown(error: MailbotError, lang: str) -> str:
    """Classified reason, fix and (for SMTP errors) what the server said, as markdown."""
    lines = [_REASON(lang) + error.cause(lang)]
    if error.fix is not None:
        lines.append(_FIX(lang) + error.fix(lang))
    if isinstance(error, SmtpError) and error.reply:
        lines.append((_REPLY if error.from_server else _DETAILS)(lang) + md(error.reply))
    return "\n\n".join(lines)


def guide_markdown(error: MailbotError | None, lang: str) -> str:
    """The provider's short guide when the error says it helps; "" otherwise."""
    if not isinstance(error, SmtpError) or not error.offers_guide or error.provider_type not in GUIDE_TYPES:
        return ""
    heading = _GUIDE.format(provider=provider_name(error.provider_type, lang))(lang)
    return heading + "\n" + bullets(short_guide(error.provider_type, lang))


def outcome_markdown(
    lang: str,
    *,
    mode: Mode = "add",
    error: MailbotError | None = None,
    mailbox: Mailbox | None = None,
    warnings: Sequence[Caveat] = (),
) -> str:
    """Succeeded (with the mailbox's facts and warnings) or failed (reason and fix), for any card."""
    lang = lang_of(lang)
    title = OUTCOME_TITLES[(mode, error is None)](lang)
    if error is not None:
        return f"**{title}**\n\n{error_markdown(error, lang)}"
    parts = [f"**{title}**"]
    if mailbox is not None:
        parts.append(bullets(mailbox_lines(mailbox, lang)))
    parts += [_WARNING(lang) + w.text(lang) for w in warnings]
    return "\n\n".join(parts)


def public_values(values: Mapping[str, Any] | None, fields: Sequence[str]) -> dict[str, str]:
    """Only the listed (non-secret) fields, as strings; None and missing become ""."""
    values = values or {}
    return {f: "" if values.get(f) is None else str(values[f]) for f in fields}
