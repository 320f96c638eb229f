"""Builders: string-only cardParamMaps matching their template's variables, no secret, both languages."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from bot.errors import AuthRejected, ConnectFailed, FieldError, SmtpNotEnabled
from bot.i18n import Text
from bot.mailboxes.model import Caveat
from bot.providers import CATALOG, PROVIDER_TYPES
from cards import CARDS, alert_params, guide_card, mailbox_form_params, mailbox_list_params, result_params
from cards.mailbox_list import MAX_ROWS
from tests.cards.conftest import mailbox

SECRET = "hunter2-Secret-value"
AUTH_FAILED = AuthRejected("535 Login fail", provider_type="qq")


def _form(params: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in json.loads(params["form"])["fields"]}


SCENARIOS: dict[str, list[Callable[[str], dict[str, str]]]] = {
    "mailbox_form": [
        lambda lang: mailbox_form_params(lang),
        lambda lang: mailbox_form_params(lang, values={"name": "A", "type": "custom", "port": 2525}, mode="edit",
                                         mailbox="A", version=4, status="checking",
                                         errors=[FieldError(field="account", problem=Text(zh="错", en="bad"))],
                                         notice="**x**"),
    ],
    "result": [
        lambda lang: result_params(lang, name="A"),
        lambda lang: result_params(lang, name="A", mode="test", error=AUTH_FAILED, mailbox=mailbox("A")),
        lambda lang: result_params(lang, name="A", mode="edit", mailbox=mailbox("A"),
                                   warnings=[Caveat(code="insecure", text=Text(zh="明文", en="clear text"))]),
    ],
    "mailbox_list": [
        lambda lang: mailbox_list_params(lang, []),
        lambda lang: mailbox_list_params(lang, [mailbox("A", default=True), mailbox("B", enabled=False, ok=False)],
                                         confirm_delete="B", notice="done"),
    ],
    "alert": [
        lambda lang: alert_params(lang, mail_id="m1", mailbox="A", recipients=["x@example.com"], subject="Hi",
                                  error=SmtpNotEnabled("550 User has no permission", provider_type="163")),
    ],
}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("name", "index"), [(n, i) for n, builds in SCENARIOS.items() for i in range(len(builds))])
def test_output_is_strings_and_fills_exactly_the_template_variables(name: str, index: int, lang: str) -> None:
    params = SCENARIOS[name][index](lang)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in params.items())
    assert set(params) == CARDS[name].variables  # nothing unknown, nothing required left out


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_text_exists_in_both_languages(name: str) -> None:
    zh, en = SCENARIOS[name][-1]("zh"), SCENARIOS[name][-1]("en")
    assert zh["title"] != en["title"]
    assert zh != en


def test_type_select_offers_every_catalog_type_in_the_admins_language() -> None:
    for lang in ("zh", "en"):
        options = _form(mailbox_form_params(lang))["type"]["options"]
        assert [o["value"] for o in options] == list(PROVIDER_TYPES)
        assert len(options) == len(PROVIDER_TYPES)
        assert [o["text"] for o in options] == [CATALOG[t].name(lang) for t in PROVIDER_TYPES]
    security = _form(mailbox_form_params("en"))["security"]
    assert security["type"] == "SELECT" and [o["value"] for o in security["options"]] == ["ssl", "starttls", "none"]


def test_form_fields_are_named_as_the_callback_expects() -> None:
    fields = _form(mailbox_form_params("zh"))
    assert list(fields) == ["name", "type", "account", "password", "host", "port", "security"]
    # the password may stay empty: Outlook, Microsoft 365 and Gmail sign in with a browser instead; a new
    # mailbox's type too: it is detected from the account's domain on submit
    assert {n for n, f in fields.items() if f["required"]} == {"name", "account"}
    assert "域名" in fields["type"]["placeholder"]
    edit = _form(mailbox_form_params("zh", values={"name": "A"}, mode="edit", mailbox="A", version=1))
    assert {n for n, f in edit.items() if f["required"]} == {"name", "type", "account"}
    assert all("defaultValue" not in f for f in fields.values())


def test_the_form_never_carries_a_secret() -> None:
    values = {"name": "A", "type": "qq", "account": "a@qq.com", "password": SECRET, "secret": SECRET}
    for status in ("normal", "checking", "disabled"):
        params = mailbox_form_params("zh", values=values, mode="edit", mailbox="A", version=1, status=status)
        assert SECRET not in json.dumps(params, ensure_ascii=False)
        assert "defaultValue" not in _form(params)["password"]


def test_prefilled_values_become_defaults_and_a_select_default_is_index_and_value() -> None:
    params = mailbox_form_params("en", values={"name": "A", "type": "gmail", "account": "a@gmail.com", "port": 587,
                                              "security": "starttls", "enabled": True})
    fields = _form(params)
    assert fields["name"]["defaultValue"] == "A"
    assert fields["port"]["defaultValue"] == "587"
    assert fields["type"]["defaultValue"] == {"index": PROVIDER_TYPES.index("gmail"), "value": "gmail"}
    assert fields["security"]["defaultValue"] == {"index": 1, "value": "starttls"}
    assert fields["password"]["label"].startswith("app password")  # the provider's own word once the type is known
    assert "sign in" in fields["password"]["label"]  # Gmail: or a sign-in with Google


def test_outlook_needs_no_password_and_other_types_keep_their_word() -> None:
    outlook = _form(mailbox_form_params("en", values={"type": "outlook"}))["password"]
    assert "Not needed" in outlook["label"] and not outlook["required"]
    assert _form(mailbox_form_params("zh", values={"type": "qq"}))["password"]["label"] == "授权码"


def test_edit_mode_keeps_the_old_secret_when_left_empty_and_says_what_it_edits() -> None:
    params = mailbox_form_params("zh", values={"name": "A"}, mode="edit", mailbox="A", version=7)
    assert not _form(params)["password"]["required"]
    assert "留空" in _form(params)["password"]["placeholder"]
    assert (params["mode"], params["mailbox"], params["version"]) == ("edit", "A", "7")
    assert params["form_btn_text"] == "保存修改"
    assert mailbox_form_params("zh")["version"] == ""


def test_status_decides_whether_the_form_can_be_submitted() -> None:
    assert mailbox_form_params("en")["form_status"] == "normal"
    for status in ("checking", "disabled"):
        assert mailbox_form_params("en", status=status)["form_status"] == "disabled"
    assert mailbox_form_params("en", status="checking")["form_btn_text"] != mailbox_form_params("en")["form_btn_text"]


def test_field_errors_are_listed_and_marked_on_their_fields() -> None:
    errors = [FieldError(field="account", problem=Text(zh="不是邮箱地址", en="not an address"), example="a@b.com"),
              FieldError(field="secret", problem=Text(zh="请填写授权码", en="enter the code"))]
    params = mailbox_form_params("en", values={"account": "nope"}, errors=errors, notice="extra")
    fields = _form(params)
    assert fields["account"]["label"].endswith("⚠️") and fields["password"]["label"].endswith("⚠️")
    assert not fields["name"]["label"].endswith("⚠️")
    assert "not an address" in params["notice"] and "enter the code" in params["notice"]
    assert params["notice"].endswith("extra")
    assert fields["account"]["defaultValue"] == "nope"  # what was typed is kept
    assert mailbox_form_params("en")["notice"] == ""


def test_result_of_a_failed_login_shows_reason_fix_and_the_providers_guide() -> None:
    params = result_params("zh", name="A", mode="test", error=AUTH_FAILED, mailbox=mailbox("A", version=5))
    assert "535 Login fail" in params["result_md"] and AUTH_FAILED.fix is not None
    assert AUTH_FAILED.fix("zh") in params["result_md"]
    assert "smtp.qq.com" in params["guide_md"]
    assert (params["show_retry"], params["version"], params["mode"]) == ("true", "5", "test")


def test_a_failed_add_cannot_be_retried_but_can_be_filled_in_again() -> None:
    params = result_params("en", name="A", mode="add", error=AUTH_FAILED)
    assert params["show_retry"] == "false" and params["edit_text"] == "Fill in again"
    assert "nothing saved" in params["result_md"]


def test_no_guide_when_it_would_not_help() -> None:
    assert result_params("en", name="A", mode="test", error=ConnectFailed("refused", provider_type="qq"))[
        "guide_md"] == ""
    assert result_params("en", name="A", mode="test", error=AuthRejected("535", provider_type="custom"))[
        "guide_md"] == ""
    saved = result_params("en", name="A", mailbox=mailbox("A"))
    assert saved["guide_md"] == "" and saved["show_retry"] == "false" and "a@qq.com" in saved["result_md"]


def test_list_rows_carry_status_and_which_buttons_show() -> None:
    boxes = [mailbox("A", default=True), mailbox("B", enabled=False, ok=False), mailbox("C", ok=None)]
    rows = json.loads(mailbox_list_params("en", boxes, confirm_delete="C")["rows"])
    assert [r["name"] for r in rows] == ["A", "B", "C"]
    assert all(isinstance(v, str) for r in rows for v in r.values())
    assert [(r["enabled"], r["is_default"], r["confirming"]) for r in rows] == [
        ("true", "true", "false"), ("false", "false", "false"), ("true", "false", "true")]
    assert "default" in rows[0]["text"] and "✅" in rows[0]["text"]
    assert "disabled" in rows[1]["text"] and "auth_rejected" in rows[1]["text"]
    assert "not checked" in rows[2]["text"] and "cannot be undone" in rows[2]["text"]
    assert rows[0]["version"] == "2" and rows[0]["delete_text"] == "Delete"


def test_list_escapes_names_and_caps_its_rows() -> None:
    rows = json.loads(mailbox_list_params("en", [mailbox("*bold*")])["rows"])
    assert "\\*bold\\*" in rows[0]["text"] and rows[0]["name"] == "*bold*"
    many = [mailbox(f"M{i}") for i in range(MAX_ROWS + 3)]
    params = mailbox_list_params("zh", many)
    assert len(json.loads(params["rows"])) == MAX_ROWS and str(MAX_ROWS) in params["intro"]
    assert "新建邮箱" in mailbox_list_params("zh", [])["intro"]


def test_alert_names_the_mail_and_offers_a_retry_for_it() -> None:
    error = SmtpNotEnabled("550 User has no permission", provider_type="163")
    recipients = [f"r{i}@example.com" for i in range(8)]
    params = alert_params("en", mail_id="m-42", mailbox="A", recipients=recipients, subject="[x](http://evil)",
                          error=error)
    assert params["mail_id"] == "m-42" and params["show_retry"] == "true"
    assert "r4@example.com" in params["alert_md"] and "r5@example.com" not in params["alert_md"]
    assert "and 3 more" in params["alert_md"]
    assert "\\[x\\](http://evil)" in params["alert_md"]
    assert "smtp.163.com" in params["guide_md"]
    retried = alert_params("en", mail_id="m-42", mailbox="A", recipients=[], subject="", error=error, retry=False,
                           notice="queued")
    assert retried["show_retry"] == "false" and retried["notice"] == "queued"
    assert "(no subject)" in retried["alert_md"]


def test_guide_is_a_standard_card_with_link_buttons_only() -> None:
    card = guide_card("en", "qq")
    assert card["header"]["title"]["text"].startswith("QQ Mail")
    markdown, action = card["contents"]
    assert markdown["type"] == "markdown" and "authorization code" in markdown["text"]
    assert action["type"] == "action" and action["actions"]
    assert {b["actionType"] for b in action["actions"]} == {"openLink"}
    assert action["actions"][0]["url"]["all"] == CATALOG["qq"].help_url
    assert guide_card("zh", "qq")["header"]["title"]["text"] != card["header"]["title"]["text"]
    with pytest.raises(KeyError):
        guide_card("en", "custom")


def test_list_rows_say_oauth2_and_the_reauth_command() -> None:
    from cards.mailbox_list import row_text
    from cards.templates.build import _sample_mailbox
    signed_in = _sample_mailbox("Hotmail").model_copy(update={"auth": "oauth2", "type": "outlook"})
    assert "OAuth2" in row_text(signed_in, 1, "en", confirming=False)
    assert "reauth" not in row_text(signed_in, 1, "en", confirming=False)
    lapsed = signed_in.model_copy(update={"auth_state": "needs_reauth"})
    assert "重新登录 Hotmail" in row_text(lapsed, 1, "zh", confirming=False)
