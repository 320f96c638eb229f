"""Data of the mailbox list card: one Loop row per mailbox, with its status and its buttons.

The template repeats a row for each item of `rows` (the platform's Loop component), so there is
no fixed row limit in the template; `MAX_ROWS` only keeps the card a readable size. Which buttons a
row shows is decided here and sent as "true"/"false" flags the template's conditions compare with.
Deleting takes two presses: `mailbox_delete_ask` re-renders the row with `confirm_delete` set to it,
which swaps its buttons for "confirm delete" / "cancel".
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.i18n import Text
from bot.mailboxes.model import Mailbox
from cards.common import ParamMap, encode, flag, lang_of, md, provider_name

MAX_ROWS = 20

_TITLE = Text(zh="邮箱列表", en="Mailboxes")
_COUNT = Text(zh="共 {n} 个邮箱。按钮只对管理员有效。", en="{n} mailbox(es). The buttons work for admins only.")
_MORE = Text(zh="只显示前 {shown} 个；完整列表请发送“邮箱列表”文字命令查看。",
             en="Showing the first {shown}; send the text command 'list mailboxes' for all of them.")
_EMPTY = Text(zh="还没有邮箱。发送“新建邮箱”添加一个。", en="No mailboxes yet. Send 'new mailbox' to add one.")
_ENABLED = Text(zh="已启用", en="enabled")
_DISABLED = Text(zh="已停用", en="disabled")
_DEFAULT = Text(zh="默认", en="default")
_NEVER = Text(zh="未检查", en="not checked yet")
_OAUTH = Text(zh="浏览器登录（OAuth2）", en="browser sign-in (OAuth2)")
_NEEDS_REAUTH = Text(zh="⚠️ 需要重新登录：发送“重新登录 {name}”", en="⚠️ needs sign-in: send 'reauth {name}'")
_CHECKED = Text(zh="上次检查 {at} {mark}", en="last check {at} {mark}")
_CONFIRM = Text(zh="⚠️ 确定删除“{name}”？删除后无法恢复，使用它的流程将无法发信。",
                en="⚠️ Delete '{name}'? This cannot be undone, and workflows using it will stop sending.")
LABELS: dict[str, Text] = {
    "test_text": Text(zh="测试", en="Test"),
    "enable_text": Text(zh="启用", en="Enable"),
    "disable_text": Text(zh="停用", en="Disable"),
    "default_text": Text(zh="设为默认", en="Make default"),
    "delete_text": Text(zh="删除", en="Delete"),
    "confirm_text": Text(zh="确认删除", en="Confirm delete"),
    "cancel_text": Text(zh="取消", en="Cancel"),
}
ROW_FIELDS: tuple[str, ...] = ("name", "version", "text", "enabled", "is_default", "confirming", *LABELS)


def _check(m: Mailbox, lang: str) -> str:
    if m.last_check is None:
        return _NEVER(lang)
    mark = "✅" if m.last_check.ok else f"❌ {m.last_check.code or ''}".rstrip()
    return _CHECKED.format(at=f"{m.last_check.at:%Y-%m-%d %H:%M}", mark=mark)(lang)


def row_text(m: Mailbox, index: int, lang: str, *, confirming: bool) -> str:
    """The row's markdown: name and default badge, type and account (and OAuth2 sign-in), enabled
    state and last check, and the reauth command when its sign-in is no longer valid."""
    auth = f" · {_OAUTH(lang)}" if m.auth == "oauth2" else ""
    lines = [f"**{index}. {md(m.name)}**" + (f" · {_DEFAULT(lang)}" if m.default else ""),
             f"{provider_name(m.type, lang)} · {md(m.account)}{auth}",
             f"{(_ENABLED if m.enabled else _DISABLED)(lang)} · {_check(m, lang)}"]
    if m.auth == "oauth2" and m.auth_state == "needs_reauth":
        lines.append(_NEEDS_REAUTH.format(name=md(m.name))(lang))
    if confirming:
        lines.append(_CONFIRM.format(name=md(m.name))(lang))
    return "\n\n".join(lines)


def mailbox_rows(lang: str, mailboxes: Sequence[Mailbox], *, confirm_delete: str | None = None) -> list[dict[str, str]]:
    lang = lang_of(lang)
    labels = {key: label(lang) for key, label in LABELS.items()}
    return [
        {"name": m.name, "version": str(m.version),
         "text": row_text(m, i, lang, confirming=m.name == confirm_delete),
         "enabled": flag(m.enabled), "is_default": flag(m.default), "confirming": flag(m.name == confirm_delete),
         **labels}
        for i, m in enumerate(mailboxes[:MAX_ROWS], 1)
    ]


def mailbox_list_params(
    lang: str,
    mailboxes: Sequence[Mailbox],
    *,
    confirm_delete: str | None = None,
    notice: str = "",
) -> ParamMap:
    """cardParamMap of the list card; `notice` reports the last button's outcome above the rows."""
    lang = lang_of(lang)
    intro = [_COUNT.format(n=len(mailboxes))(lang) if mailboxes else _EMPTY(lang)]
    if len(mailboxes) > MAX_ROWS:
        intro.append(_MORE.format(shown=MAX_ROWS)(lang))
    return {
        "title": _TITLE(lang),
        "summary": _TITLE(lang),
        "intro": "\n\n".join(intro),
        "notice": notice,
        "rows": encode(mailbox_rows(lang, mailboxes, confirm_delete=confirm_delete)),
    }
