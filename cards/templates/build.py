"""The four template cards, defined in readable Python; `python -m cards.templates` rewrites the JSON.

Each definition names the variables its builder fills (`cards/<card>.py`), and the editor preview
(mockData) is that builder's own output for sample data, so template and builder cannot drift apart
unnoticed: tests compare builder keys with these variables and the committed files with this output.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.errors import AuthRejected, SmtpNotEnabled
from bot.mailboxes.model import LastCheck, Mailbox
from cards.alert import alert_params
from cards.common import Action, ParamMap
from cards.mailbox_form import mailbox_form_params
from cards.mailbox_list import ROW_FIELDS, mailbox_list_params
from cards.result import result_params
from cards.templates.dsl import (
    Ids,
    Node,
    Template,
    button,
    card,
    cond,
    divider,
    form,
    form_var,
    grid,
    header,
    item_fields,
    loop,
    markdown,
    markdown_var,
    param,
    var,
    visible,
)

DIR = Path(__file__).parent
_JSON_KINDS = frozenset({"form", "loopArray"})


def _shown_if_set(variable: str) -> Node:
    return visible(cond(variable, "isNotEmpty"))


def _shown_if_true(variable: str) -> Node:
    return visible(cond(variable, "equal", "true"))


def _mock(variables: list[Node], params: ParamMap) -> dict[str, Any]:
    """The builder's output as the editor previews it: JSON-typed variables decoded."""
    kinds = {v["name"]: v["type"] for v in variables}
    return {k: json.loads(v) if kinds[k] in _JSON_KINDS else v for k, v in params.items()}


def _sample_mailbox(name: str, *, default: bool = False, enabled: bool = True, ok: bool | None = True) -> Mailbox:
    at = datetime(2026, 11, 29, 9, 30, tzinfo=UTC)
    return Mailbox(
        name=name, type="qq", account=f"{name.lower()}@qq.com", secret_token="sample", host="smtp.qq.com", port=465,
        security="ssl", enabled=enabled, default=default, version=3, created_by="admin", created_at=at,
        updated_by="admin", updated_at=at,
        last_check=None if ok is None else LastCheck(at=at, ok=ok, code=None if ok else "auth_rejected"))


_COMMON = [var("title", "卡片标题 / card title"), var("summary", "会话列表里的摘要 / summary in the chat list")]


def mailbox_form() -> Template:
    ids = Ids("mailbox_form")
    variables = [
        *_COMMON,
        var("intro", "说明：做什么、密码不会再显示 / what to do; the password is never shown again", "markdown"),
        var("notice", "字段错误或登录检查结果，空则隐藏 / field errors or the login check result; hidden when empty",
            "markdown"),
        form_var("form", "表单字段 name/type/account/password/host/port/security / the form's fields"),
        var("form_status", "normal / disabled", private=True),
        var("form_btn_text", "提交按钮文字 / submit button text", private=True),
        var("mode", "add / edit: 随表单回传 / sent back with the form"),
        var("mailbox", "被编辑的邮箱名 / the mailbox being edited"),
        var("version", "打开表单时邮箱的版本，用于发现过期卡片 / the mailbox version when the form was opened"),
    ]
    tree = card(ids, "summary", [
        header(ids, "${title}"),
        markdown(ids, markdown_var("intro")),
        markdown(ids, markdown_var("notice"), _shown_if_set("notice")),
        form(ids, "form", status_var="form_status", button_var="form_btn_text",
             params=[param("mode", "mode"), param("mailbox", "mailbox"), param("version", "version")]),
    ])
    sample = mailbox_form_params("zh", values={"name": "审批通知", "type": "qq", "account": "notice@qq.com"})
    return Template("mailbox_form", tree, variables, _mock(variables, sample))


def result() -> Template:
    ids = Ids("result")
    variables = [
        *_COMMON,
        var("result_md", "结果：已保存/失败原因与解决办法 / outcome: saved, or reason and fix", "markdown"),
        var("guide_md", "服务商的简短指引，空则隐藏 / the provider's short guide; hidden when empty", "markdown"),
        var("mailbox", "邮箱名，按钮回传 / mailbox name, sent by the buttons"),
        var("version", "邮箱版本，按钮回传 / mailbox version, sent by the buttons"),
        var("mode", "add / edit / test"),
        var("show_retry", "true / false"),
        var("retry_text", "“再次测试”按钮文字 / retry button text"),
        var("edit_text", "“修改”按钮文字 / edit button text"),
    ]
    target = [param("mailbox", "mailbox"), param("version", "version")]
    tree = card(ids, "summary", [
        header(ids, "${title}"),
        markdown(ids, markdown_var("result_md")),
        markdown(ids, markdown_var("guide_md"), _shown_if_set("guide_md")),
        grid(ids, [
            button(ids, "${retry_text}", Action.MAILBOX_TEST, target, show=_shown_if_true("show_retry")),
            button(ids, "${edit_text}", Action.MAILBOX_EDIT, [*target, param("mode", "mode")], color="gray"),
        ], direction="horizontal"),
    ])
    failed = AuthRejected("535 Login fail. Please enter your authorization code to login.", provider_type="qq")
    sample = result_params("zh", name="Approvals", mode="edit", error=failed, mailbox=_sample_mailbox("Approvals"))
    return Template("result", tree, variables, _mock(variables, sample))


def mailbox_list() -> Template:
    ids = Ids("mailbox_list")
    row_kinds = {f: "string" for f in ROW_FIELDS}
    variables = [
        *_COMMON,
        var("intro", "数量与提示 / count and hints", "markdown"),
        var("notice", "上一个按钮的结果，空则隐藏 / outcome of the last button; hidden when empty", "markdown"),
        var("rows", "每个邮箱一行 / one row per mailbox", "loopArray", schema=item_fields("rows", row_kinds)),
    ]

    def row(field: str) -> str:
        return f"rows[0].{field}"

    idle = cond(row("confirming"), "equal", "false", "loop")
    target = [param("mailbox", row("name"), "loop"), param("version", row("version"), "loop")]
    buttons = [
        ("test_text", Action.MAILBOX_TEST, "blue", [idle]),
        ("enable_text", Action.MAILBOX_ENABLE, "blue", [idle, cond(row("enabled"), "equal", "false", "loop")]),
        ("disable_text", Action.MAILBOX_DISABLE, "gray", [idle, cond(row("enabled"), "equal", "true", "loop")]),
        ("default_text", Action.MAILBOX_SET_DEFAULT, "gray", [idle, cond(row("is_default"), "equal", "false", "loop")]),
        ("delete_text", Action.MAILBOX_DELETE_ASK, "gray", [idle]),
        ("confirm_text", Action.MAILBOX_DELETE, "red", [cond(row("confirming"), "equal", "true", "loop")]),
        ("cancel_text", Action.MAILBOX_DELETE_CANCEL, "gray", [cond(row("confirming"), "equal", "true", "loop")]),
    ]
    tree = card(ids, "summary", [
        header(ids, "${title}"),
        markdown(ids, markdown_var("intro")),
        markdown(ids, markdown_var("notice"), _shown_if_set("notice")),
        divider(ids),
        loop(ids, "rows", [
            markdown(ids, markdown_var(row("text"), "loop")),
            grid(ids, [button(ids, f"${{loop.{label}}}", action, target, color=color, show=visible(*conditions))
                       for label, action, color, conditions in buttons], direction="horizontal"),
        ]),
    ])
    boxes = [_sample_mailbox("Approvals", default=True), _sample_mailbox("Reports", enabled=False, ok=False),
             _sample_mailbox("Alerts", ok=None)]
    sample = mailbox_list_params("zh", boxes, confirm_delete="Alerts")
    return Template("mailbox_list", tree, variables, _mock(variables, sample))


def alert() -> Template:
    ids = Ids("alert")
    variables = [
        *_COMMON,
        var("alert_md", "邮箱、收件人、主题、原因、解决办法 / mailbox, recipients, subject, reason, fix", "markdown"),
        var("guide_md", "服务商的简短指引，空则隐藏 / the provider's short guide; hidden when empty", "markdown"),
        var("notice", "重试后的结果，空则隐藏 / outcome of a retry; hidden when empty", "markdown"),
        var("mail_id", "邮件 id，重试按钮回传 / mail id, sent by the retry button"),
        var("mailbox", "发件邮箱名 / sending mailbox"),
        var("show_retry", "true / false"),
        var("retry_text", "“重新发送”按钮文字 / retry button text"),
    ]
    tree = card(ids, "summary", [
        header(ids, "${title}"),
        markdown(ids, markdown_var("alert_md")),
        markdown(ids, markdown_var("guide_md"), _shown_if_set("guide_md")),
        markdown(ids, markdown_var("notice"), _shown_if_set("notice")),
        button(ids, "${retry_text}", Action.MAIL_RETRY, [param("mail_id", "mail_id"), param("mailbox", "mailbox")],
               show=_shown_if_true("show_retry")),
    ])
    failed = SmtpNotEnabled("550 User has no permission", provider_type="163")
    sample = alert_params("zh", mail_id="m-20261129-0001", mailbox="审批通知", recipients=["a@example.com"],
                          subject="报销审批：张三 1200 元", error=failed)
    return Template("alert", tree, variables, _mock(variables, sample))


TEMPLATES: dict[str, Callable[[], Template]] = {
    "mailbox_form": mailbox_form,
    "result": result,
    "mailbox_list": mailbox_list,
    "alert": alert,
}


def path_of(name: str) -> Path:
    return DIR / f"{name}.json"


def main(argv: list[str] | None = None) -> int:
    """Rewrite every template file; `--check` only reports files that differ (exit 1)."""
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    stale = []
    for name, define in TEMPLATES.items():
        text = define().export()
        if path_of(name).exists() and path_of(name).read_text(encoding="utf-8") == text:
            continue
        stale.append(name)
        if not check:
            path_of(name).write_text(text, encoding="utf-8")
    verb = "differ" if check else "rewritten"
    print(f"{verb}: {', '.join(stale)}" if stale else "all templates up to date")
    return 1 if check and stale else 0
