"""Data of the mailbox form card: the Form component's fields, the notice above it, and what it edits.

Outlook.com, Microsoft 365 and Gmail can sign in with a browser (OAuth2) instead: their password
may stay empty, and the submit starts that sign-in in the admin's single chat (bot.chat.cards).
The form never carries a secret back: `values` is read only for the public fields, so a password
typed earlier (or a stored one) cannot reappear in card data. `mode`, `mailbox` and `version` ride
along as Form params, so the callback says what the admin was editing and a stale card can be told.

A new mailbox's type may be left empty: the form cannot react to typing, so the submit detects it from
the account's domain and shows the form again with the type chosen and the reason (bot.chat.cards).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from bot.errors import FIELD_LABELS, FieldError
from bot.i18n import Text
from bot.providers import CATALOG, PROVIDER_TYPES
from cards.common import ParamMap, encode, lang_of, public_values

FormMode = Literal["add", "edit"]
FormStatus = Literal["normal", "detecting", "checking", "disabled", "closed"]

FIELDS: tuple[str, ...] = ("name", "type", "account", "password", "host", "port", "security")
PUBLIC_FIELDS: tuple[str, ...] = tuple(f for f in FIELDS if f != "password")
SECRET_FIELD = "password"
# The model and its errors call the secret "secret"; the form calls it "password".
_ERROR_FIELD = {"secret": SECRET_FIELD}

_TITLE = {"add": Text(zh="新建邮箱", en="New mailbox"), "edit": Text(zh="编辑邮箱：{name}", en="Edit mailbox: {name}")}
_INTRO = {
    "add": Text(
        zh="填写后点“保存并测试”：机器人先登录 SMTP 验证，通过后才保存。\n\n"
           "类型可以留空：按账号域名判断后请你确认。密码/授权码只用于登录，加密保存，之后不会显示在卡片或聊天里。"
           "服务器、端口、加密方式只有“自定义 SMTP”需要填。\n\n"
           "Outlook.com 用微软账号在浏览器里登录，不用密码；Microsoft 365 和 Gmail 的密码留空也会改用浏览器登录：登录链接发到单聊。",
        en="Fill in and press 'Save and test': the bot logs in to SMTP first and saves only if that works.\n\n"
           "The type may stay empty: it is detected from the account's domain for you to confirm. "
           "The password / authorization code is used only to log in, stored encrypted, and never shown again in a "
           "card or the chat. Host, port and security are needed for Custom SMTP only.\n\n"
           "Outlook.com signs in with a Microsoft account in a browser, no password; Microsoft 365 and Gmail do too when "
           "the password is left empty: the sign-in link comes in our single chat."),
    "edit": Text(
        zh="修改后点“保存修改”：机器人先用新设置登录 SMTP，通过后才保存。\n\n"
           "密码/授权码留空表示保留原来的；填写的新值加密保存，之后不会再显示。",
        en="Change what you need and press 'Save changes': the bot logs in with the new settings first and saves "
           "only if that works.\n\nLeave the password empty to keep the current one; a new one is stored encrypted "
           "and never shown again."),
}
# status → (form_status the template understands, submit button text by mode)
_STATUS: dict[str, tuple[str, dict[str, Text]]] = {
    "normal": ("normal", {"add": Text(zh="保存并测试", en="Save and test"),
                          "edit": Text(zh="保存修改", en="Save changes")}),
    "detecting": ("disabled", {m: Text(zh="正在判断类型…", en="Detecting the type…") for m in ("add", "edit")}),
    "checking": ("disabled", {m: Text(zh="正在登录检查…", en="Checking the login…") for m in ("add", "edit")}),
    "disabled": ("disabled", {m: Text(zh="已提交", en="Submitted") for m in ("add", "edit")}),
    "closed": ("disabled", {m: Text(zh="已关闭", en="Closed") for m in ("add", "edit")}),
}
_ERRORS_HEAD = Text(zh="**请修改以下内容后重新提交：**", en="**Please fix these and submit again:**")
_FIELD_MARK = " ⚠️"
_OPTIONAL = Text(zh="（仅自定义 SMTP）", en=" (Custom SMTP only)")
_PLACEHOLDERS: dict[str, Text] = {
    "name": Text(zh="例如：审批通知", en="e.g. Approvals"),
    "type": Text(zh="请选择邮箱类型", en="Choose the mailbox type"),
    "account": Text(zh="完整邮箱地址，例如 notice@example.com", en="The full address, e.g. notice@example.com"),
    "host": Text(zh="例如 smtp.example.com", en="e.g. smtp.example.com"),
    "port": Text(zh="例如 465", en="e.g. 465"),
    "security": Text(zh="请选择加密方式", en="Choose the security"),
}
_TYPE_DETECT = Text(zh="留空则按账号域名判断", en="Leave empty to detect it from the account's domain")
_SECRET_PLACEHOLDER = {
    "add": Text(zh="保存后不会再显示（Outlook、Microsoft 365、Gmail 留空则用浏览器登录）",
                en="Not shown again after saving (Outlook, Microsoft 365, Gmail: leave empty to sign in with a browser)"),
    "edit": Text(zh="留空则保留原密码；保存后不会再显示", en="Leave empty to keep the current one; not shown again"),
}
_REQUIRED_MSG = {"TEXT": Text(zh="请填写此项", en="This field is required"),
                 "SELECT": Text(zh="请选择一项", en="Choose one")}
_SECURITY_OPTIONS: tuple[tuple[str, Text], ...] = (
    ("ssl", Text(zh="SSL（常用端口 465）", en="SSL (usually port 465)")),
    ("starttls", Text(zh="STARTTLS（常用端口 587）", en="STARTTLS (usually port 587)")),
    ("none", Text(zh="不加密（不推荐）", en="None (not recommended)")),
)


def type_options(lang: str) -> list[dict[str, str]]:
    """The 11 catalog types, labelled in the admin's language, valued by type key."""
    return [{"value": key, "text": CATALOG[key].name(lang)} for key in PROVIDER_TYPES]


def security_options(lang: str) -> list[dict[str, str]]:
    return [{"value": key, "text": label(lang)} for key, label in _SECURITY_OPTIONS]


_SIGN_IN_INSTEAD = Text(zh="（留空则用浏览器登录）", en=" (leave empty to sign in with a browser)")
_SIGN_IN_ONLY = Text(zh="无需填写：用浏览器登录", en="Not needed: sign in with a browser")


def _secret_label(type_key: str, lang: str) -> str:
    """The provider's own word ("授权码", "app password") once the type is known; for a type that
    signs in with OAuth2, that the field may stay empty."""
    provider = CATALOG.get(type_key)
    if provider is None or provider.type == "custom":
        return FIELD_LABELS[SECRET_FIELD](lang)
    if provider.oauth is not None:
        return provider.secret_name(lang) + _SIGN_IN_INSTEAD(lang) if provider.oauth.password_too else _SIGN_IN_ONLY(lang)
    return provider.secret_name(lang)


def _field(name: str, label: str, kind: str, *, required: bool, placeholder: str, lang: str,
           value: str, options: list[dict[str, str]] | None = None) -> dict[str, Any]:
    field: dict[str, Any] = {"name": name, "label": label, "type": kind, "required": required,
                             "placeholder": placeholder}
    if required:
        field["requiredMsg"] = _REQUIRED_MSG[kind](lang)
    if options is not None:
        field["options"] = options
        keys = [o["value"] for o in options]
        if value in keys:  # a SELECT's default is {index, value}, as the platform's form example sets it
            field["defaultValue"] = {"index": keys.index(value), "value": value}
    elif value:
        field["defaultValue"] = value
    return field


def form_fields(lang: str, values: Mapping[str, Any] | None = None, *, mode: FormMode = "add",
                invalid: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The Form's field list; the secret field is always empty (required only when adding)."""
    lang = lang_of(lang)
    shown = public_values(values, PUBLIC_FIELDS)
    labels = {f: FIELD_LABELS[f](lang) for f in PUBLIC_FIELDS}
    labels[SECRET_FIELD] = _secret_label(shown["type"], lang)
    for custom_only in ("host", "port", "security"):
        labels[custom_only] += _OPTIONAL(lang)
    labels = {f: label + (_FIELD_MARK if f in invalid else "") for f, label in labels.items()}
    placeholders = {f: t(lang) for f, t in _PLACEHOLDERS.items()} | {SECRET_FIELD: _SECRET_PLACEHOLDER[mode](lang)}
    if mode == "add":
        placeholders["type"] = _TYPE_DETECT(lang)
    # The secret is never required by the form itself: Outlook, Microsoft 365 and Gmail may sign in
    # instead, and a missing password of another type comes back as a field error on submit. A new
    # mailbox's type neither: the submit proposes one from the account's domain.
    required = {"name": True, "type": mode == "edit", "account": True}
    options = {"type": type_options(lang), "security": security_options(lang)}
    return [
        _field(f, labels[f], "SELECT" if f in options else "TEXT", required=required.get(f, False),
               placeholder=placeholders[f], lang=lang, value=shown.get(f, ""), options=options.get(f))
        for f in FIELDS
    ]


def errors_markdown(errors: Sequence[FieldError], lang: str) -> str:
    if not errors:
        return ""
    return "\n".join([_ERRORS_HEAD(lang), *(f"- {e.message(lang)}" for e in errors)])


def mailbox_form_params(
    lang: str,
    *,
    values: Mapping[str, Any] | None = None,
    errors: Sequence[FieldError] = (),
    notice: str = "",
    mode: FormMode = "add",
    mailbox: str | None = None,
    version: int | None = None,
    status: FormStatus = "normal",
) -> ParamMap:
    """cardParamMap of the mailbox form.

    `values` pre-fills the public fields (a stored mailbox's `public()` or what was just typed);
    `errors` mark fields and list what to fix; `notice` is extra markdown above the form (e.g. a
    failed login check from `outcome_markdown`). `mailbox`/`version` say what an edit form edits.
    """
    lang = lang_of(lang)
    invalid = frozenset(_ERROR_FIELD.get(e.field, e.field) for e in errors)
    form_status, button_texts = _STATUS[status]
    name = mailbox or public_values(values, ("name",))["name"]
    title = _TITLE[mode].format(name=name)(lang)
    return {
        "title": title,
        "summary": title,
        "intro": _INTRO[mode](lang),
        "notice": "\n\n".join(part for part in (errors_markdown(errors, lang), notice) if part),
        "form": encode({"fields": form_fields(lang, values, mode=mode, invalid=invalid)}),
        "form_status": form_status,
        "form_btn_text": button_texts[mode](lang),
        "mode": mode,
        "mailbox": mailbox or "",
        "version": "" if version is None else str(version),
    }
