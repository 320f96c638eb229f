"""Stored values as the console shows them, in the page's language.

The relay and the login check store an error as a code plus its English text. For a classified
SMTP error the code and the server's reply are enough to say it again in Chinese, so the console
rebuilds it rather than showing the English text in the Chinese view. Audit changes become one
readable line per field instead of raw JSON.
"""

from __future__ import annotations

import json
from typing import Any

from bot.audit import AuditEntry
from bot.chat.rules import when_text
from bot.errors import FIELD_LABELS, smtp_codes, smtp_error_from
from bot.i18n import Text
from bot.mailboxes.health import MailboxHealth
from bot.mailboxes.model import UNPACED, Mailbox
from bot.providers import CATALOG
from bot.relay.models import MailRecord
from bot.rules import Rule

_REPLY_MARKERS = ("\nServer reply: ", "\nDetails: ")  # how SmtpError.message("en") appends the reply
ACTIONS: dict[str, Text] = {
    "add": Text(zh="新增", en="add"), "edit": Text(zh="修改", en="edit"), "remove": Text(zh="删除", en="remove"),
    "enable": Text(zh="启用", en="enable"), "disable": Text(zh="停用", en="disable"),
    "default": Text(zh="设为默认", en="make default"), "rate": Text(zh="发送速率", en="rate"),
    "quota": Text(zh="每日上限", en="daily quota"),
    "test": Text(zh="测试登录", en="login test"), "token_create": Text(zh="创建令牌", en="create token"),
    "token_revoke": Text(zh="吊销令牌", en="revoke token"),
    "rule_add": Text(zh="新增规则", en="add rule"), "rule_remove": Text(zh="删除规则", en="remove rule"),
    "rule_enable": Text(zh="启用规则", en="enable rule"), "rule_disable": Text(zh="停用规则", en="disable rule"),
}
CHANGE_LABELS: dict[str, Text] = {
    **FIELD_LABELS, "enabled": Text(zh="启用", en="Enabled"), "verified": Text(zh="登录已验证", en="Login verified"),
    "was_default": Text(zh="原为默认", en="Was default"), "previous": Text(zh="原默认邮箱", en="Previous default"),
    "to": Text(zh="收件人", en="To"), "reason": Text(zh="原因", en="Reason"),
    "mailboxes": Text(zh="邮箱", en="Mailboxes"), "message_id": Text(zh="Message-ID", en="Message-ID"),
    "process_code": Text(zh="审批流程", en="Process code"), "on": Text(zh="时机", en="On"),
    "result": Text(zh="审批结果", en="Result"), "mailbox": Text(zh="邮箱", en="Mailbox"),
    "template": Text(zh="模板", en="Template"),
}
PAIR_ACTIONS = frozenset({"edit", "enable", "disable", "rate", "quota", "rule_enable", "rule_disable"})  # their changes are {field: [old, new]}
_YES, _NO, _CHANGED = Text(zh="是", en="yes"), Text(zh="否", en="no"), Text(zh="已更改", en="changed")
_UNPACED = Text(zh="不限速", en="no pacing")


SMTP_CODES = smtp_codes()  # what smtp_error_from can rebuild


def error_text(code: str | None, stored: str | None, provider_type: str | None, lang: str) -> str | None:
    """A stored error in `lang`: rebuilt from its code and the server's reply when it is a known
    SMTP error, else the stored text as it is (no translation exists for it)."""
    if not stored or code not in SMTP_CODES:
        return stored
    reply = next((stored.split(m, 1)[1] for m in _REPLY_MARKERS if m in stored), None)
    return smtp_error_from(code, reply, provider_type).message(lang)


def mailbox(m: Mailbox, lang: str, health: MailboxHealth | None = None) -> dict[str, Any]:
    """The mailbox's public fields, its type's name and a failed last check's `message` in `lang`;
    with its `health` (HealthService.status) when given."""
    provider = CATALOG.get(m.type)
    data = {**m.public(), "type_name": provider.name(lang) if provider else m.type}
    if m.last_check is not None and not m.last_check.ok:
        data["last_check"]["message"] = error_text(m.last_check.code, m.last_check.reason, m.type, lang)
    if health is not None:
        data["health"] = mailbox_health(health, lang)
    return data


def mailbox_health(health: MailboxHealth, lang: str) -> dict[str, Any]:
    """What `mailbot mailbox health --json` prints for it, plus whether its last check failed, the
    lines the chat's 邮箱状态 shows, and the `guide` its reason's fix points to ([] when none)."""
    return {**health.to_json(lang), "check_ok": health.check_ok, "lines": health.lines(lang),
            "guide": health.guide(lang)}


def rule(r: Rule, lang: str) -> dict[str, Any]:
    """The rule's stored fields plus when it fires, said as the chat says it."""
    return {**r.public(), "when_text": when_text(r, lang)}


def provider_types() -> list[dict[str, Any]]:
    """The add form's type choices: names in both languages, who signs in (`oauth`: microsoft,
    google or null) and whether a password works (Outlook.com refuses passwords)."""
    return [{"type": p.type, "name": {"zh": p.name("zh"), "en": p.name("en")},
             "oauth": p.oauth.issuer if p.oauth else None,
             "password": not p.basic_auth_disabled and (p.oauth is None or p.oauth.password_too)}
            for p in CATALOG.values()]


def mail(record: MailRecord, provider_type: str | None, lang: str) -> dict[str, Any]:
    """The API's view of a mail plus its error code and the error said in `lang`."""
    return {**record.view(), "error_code": record.error_code,
            "error": error_text(record.error_code, record.last_error, provider_type, lang)}


def _value(value: Any, lang: str, key: str = "") -> str:
    if key == "type" and isinstance(value, str) and value in CATALOG:
        return CATALOG[value].name(lang)
    if key == "rate_per_minute" and value == UNPACED:  # `mailbot mailbox rate NAME none`
        return _UNPACED(lang)
    if isinstance(value, bool):
        return (_YES if value else _NO)(lang)
    if value is None or value == "" or value == []:
        return "—"
    if value == "(changed)":  # how the audit log scrubs a secret
        return _CHANGED(lang)
    if isinstance(value, list):
        return ", ".join(_value(v, lang, key) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def audit_entry(entry: AuditEntry, lang: str) -> dict[str, Any]:
    """The entry as stored, plus the action's name and one `{label, value}` line per change
    (none for an empty value, nor for `ok`, which the result column shows)."""
    lines = []
    for key, value in entry.changes.items():
        label = CHANGE_LABELS.get(key)
        if entry.action in PAIR_ACTIONS and isinstance(value, list) and len(value) == 2:
            text = f"{_value(value[0], lang, key)} → {_value(value[1], lang, key)}"
        elif value is None or key == "ok":
            continue
        else:
            text = _value(value, lang, key)
        lines.append({"field": key, "label": label(lang) if label else key, "value": text})
    action = ACTIONS.get(entry.action)
    return {**entry.model_dump(mode="json"), "action_text": action(lang) if action else entry.action,
            "change_lines": lines}
