"""Card data → HTML: what DingTalk's client draws from a template and its cardParamMap, drawn here.

One small renderer per card of `cards/`, reading the same variables the template binds. Buttons and
forms carry `data-action` (the template's actionId) and `data-params` (the callback params the
template would send); the page turns a press into DingTalk's callback payload unchanged. A card
without a renderer shows its markdown fallback. The secret field is always an empty password input.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from html import escape
from typing import Any

from bot.console.markdown import plain_html, to_html
from cards.common import Action

Params = Mapping[str, str]
SUBMIT_ACTION = "form"  # a Form submit's actionIds is ["form"], as DingTalk sends it
SECRET_FIELD = "password"


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _json(value: str, default: Any) -> Any:
    try:
        return json.loads(value) if value else default
    except ValueError:
        return default


def _md(value: str | None, css: str = "card-md") -> str:
    return f'<div class="{css}">{to_html(value)}</div>' if value else ""


def _header(params: Params) -> str:
    return f'<header class="card-title">{plain_html(params.get("title", ""))}</header>'


def button(label: str, action: str, params: Mapping[str, Any], *, primary: bool = False,
           danger: bool = False) -> str:
    css = "btn" + (" primary" if primary else "") + (" danger" if danger else "")
    return (f'<button type="button" class="{css}" data-action="{_attr(action)}" '
            f'data-params="{_attr(json.dumps(dict(params), ensure_ascii=False))}">{plain_html(label)}</button>')


def _field(card_id: str, field: Mapping[str, Any], disabled: bool) -> str:
    name = str(field.get("name", ""))
    ident = f"{card_id}-{name}"
    label = escape(str(field.get("label", name)))
    required = " required" if field.get("required") else ""
    off = " disabled" if disabled else ""
    placeholder = _attr(field.get("placeholder", ""))
    default = field.get("defaultValue")
    if field.get("type") == "SELECT":
        chosen = default.get("value") if isinstance(default, dict) else default
        options = [f'<option value="">{escape(str(field.get("placeholder", "")))}</option>']
        options += [f'<option value="{_attr(o.get("value", ""))}"{" selected" if o.get("value") == chosen else ""}>'
                    f'{escape(str(o.get("text", o.get("value", ""))))}</option>' for o in field.get("options", [])]
        control = f'<select id="{_attr(ident)}" name="{_attr(name)}" data-kind="select"{required}{off}>{"".join(options)}</select>'
    elif name == SECRET_FIELD:  # never a value: the secret is not rendered back, ever
        control = (f'<input id="{_attr(ident)}" name="{_attr(name)}" type="password" autocomplete="new-password" '
                   f'placeholder="{placeholder}"{required}{off}>')
    else:
        value = "" if default is None else str(default)
        control = (f'<input id="{_attr(ident)}" name="{_attr(name)}" type="text" value="{_attr(value)}" '
                   f'placeholder="{placeholder}" autocomplete="off"{required}{off}>')
    return f'<div class="field"><label for="{_attr(ident)}">{label}</label>{control}</div>'


def mailbox_form(card_id: str, params: Params) -> str:
    """The Form component: fields from `form`, the submit button, mode/mailbox/version as callback params."""
    fields = _json(params.get("form", ""), {}).get("fields", [])
    disabled = params.get("form_status") == "disabled"
    extra = {k: params.get(k, "") for k in ("mode", "mailbox", "version")}
    body = "".join(_field(card_id, f, disabled) for f in fields if not f.get("hidden"))
    submit = (f'<button type="submit" class="btn primary"{" disabled" if disabled else ""}>'
              f'{escape(params.get("form_btn_text", ""))}</button>')
    return (_header(params) + _md(params.get("intro")) + _md(params.get("notice"), "card-md notice")
            + f'<form class="card-form" data-action="{SUBMIT_ACTION}" '
              f'data-params="{_attr(json.dumps(extra, ensure_ascii=False))}" novalidate>{body}{submit}</form>')


def result(card_id: str, params: Params) -> str:
    target = {"mailbox": params.get("mailbox", ""), "version": params.get("version", "")}
    buttons = []
    if params.get("show_retry") == "true":
        buttons.append(button(params.get("retry_text", ""), Action.MAILBOX_TEST, target, primary=True))
    if params.get("edit_text"):
        buttons.append(button(params["edit_text"], Action.MAILBOX_EDIT, {**target, "mode": params.get("mode", "")}))
    return (_header(params) + _md(params.get("result_md")) + _md(params.get("guide_md"), "card-md guide")
            + f'<div class="card-actions">{"".join(buttons)}</div>')


def _row(row: Mapping[str, str]) -> str:
    target = {"mailbox": row.get("name", ""), "version": row.get("version", "")}
    if row.get("confirming") == "true":
        buttons = [button(row.get("confirm_text", ""), Action.MAILBOX_DELETE, target, danger=True),
                   button(row.get("cancel_text", ""), Action.MAILBOX_DELETE_CANCEL, target)]
    else:
        buttons = [button(row.get("test_text", ""), Action.MAILBOX_TEST, target)]
        if row.get("enabled") == "true":
            buttons.append(button(row.get("disable_text", ""), Action.MAILBOX_DISABLE, target))
        else:
            buttons.append(button(row.get("enable_text", ""), Action.MAILBOX_ENABLE, target))
        if row.get("is_default") != "true":
            buttons.append(button(row.get("default_text", ""), Action.MAILBOX_SET_DEFAULT, target))
        buttons.append(button(row.get("delete_text", ""), Action.MAILBOX_DELETE_ASK, target, danger=True))
    return f'<li class="card-row">{_md(row.get("text"))}<div class="card-actions">{"".join(buttons)}</div></li>'


def mailbox_list(card_id: str, params: Params) -> str:
    rows = _json(params.get("rows", ""), [])
    return (_header(params) + _md(params.get("intro")) + _md(params.get("notice"), "card-md notice")
            + f'<ul class="card-rows">{"".join(_row(r) for r in rows)}</ul>')


def alert(card_id: str, params: Params) -> str:
    buttons = ""
    if params.get("show_retry") == "true":
        target = {"mail_id": params.get("mail_id", ""), "mailbox": params.get("mailbox", "")}
        buttons = button(params.get("retry_text", ""), Action.MAIL_RETRY, target, primary=True)
    return (_header(params) + _md(params.get("alert_md")) + _md(params.get("guide_md"), "card-md guide")
            + _md(params.get("notice"), "card-md notice") + f'<div class="card-actions">{buttons}</div>')


def guide(card_id: str, params: Params) -> str:
    """A StandardCard (display only) sent whole as `cardData` (a JSON string, as DingTalk's send API takes it)."""
    return standard_card(_json(params.get("cardData", ""), {}))


def standard_card(card: Mapping[str, Any]) -> str:
    """Header, markdown blocks, and openLink buttons as links (only http/https)."""
    title = card.get("header", {}).get("title", {}).get("text", "")
    parts = [f'<header class="card-title">{plain_html(str(title))}</header>']
    for block in card.get("contents", []):
        if block.get("type") == "markdown":
            parts.append(_md(str(block.get("text", ""))))
        elif block.get("type") == "action":
            links = [f'<a class="btn{" primary" if a.get("status") == "primary" else ""}" '
                     f'href="{_attr(a.get("url", {}).get("all", ""))}" target="_blank" rel="noopener noreferrer">'
                     f'{escape(str(a.get("label", {}).get("text", "")))}</a>'
                     for a in block.get("actions", []) if str(a.get("url", {}).get("all", "")).startswith("http")]
            parts.append(f'<div class="card-actions">{"".join(links)}</div>')
    return "".join(parts)


RENDERERS: dict[str, Callable[[str, Params], str]] = {
    "mailbox_form": mailbox_form,
    "result": result,
    "mailbox_list": mailbox_list,
    "alert": alert,
    "guide": guide,
}


def render_card(card: str, params: Params, *, card_id: str, fallback_markdown: str) -> str:
    """The card's HTML body; unknown cards (no template here) show the markdown fallback."""
    renderer = RENDERERS.get(card)
    body = renderer(card_id, params) if renderer else _md(fallback_markdown)
    return f'<div class="card" data-card="{_attr(card)}">{body}</div>'
