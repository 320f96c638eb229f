"""Every invalid field is named, explained and given a valid example, in zh and en."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bot.errors import InvalidInput
from bot.mailboxes.model import check_secret, parse_spec, resolve


def _errors(data: dict[str, object]) -> dict[str, InvalidInput]:
    with pytest.raises(InvalidInput) as info:
        resolve(parse_spec(data))
    return {e.field: e for e in info.value.errors}  # type: ignore[misc]


BASE = {"name": "通知", "account": "notice@qq.com"}


@pytest.mark.parametrize(
    ("field", "value", "example"),
    [
        ("name", "", "审批通知"),
        ("name", "x" * 65, "审批通知"),
        ("name", "bad\nname", "审批通知"),
        ("name", "..", "审批通知"),  # a console address cannot carry it: browsers resolve dot segments
        ("name", ".", "审批通知"),
        ("type", "yahoo", "qq"),
        ("account", "not-an-address", "notice@example.com"),
        ("account", "someone@dingtalk.com", "notice@yourcompany.com"),
        ("host", "smtp..bad host", "smtp.example.com"),
        ("port", "99999", "465"),
        ("port", "abc", "465"),
        ("security", "tls13", "ssl"),
    ],
)
def test_each_invalid_field_is_named_with_a_fix(field: str, value: str, example: str) -> None:
    errors = _errors({**BASE, field: value})
    assert field in errors
    error = errors[field]
    zh, en = error.message("zh"), error.message("en")  # type: ignore[attr-defined]
    assert f"({field})" in zh and f"({field})" in en
    assert example in zh and example in en
    assert zh != en


def test_all_bad_fields_are_reported_together() -> None:
    errors = _errors({"name": "", "account": "nope", "port": "0"})
    assert {"name", "account", "port"} <= set(errors)


def test_missing_required_fields() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_spec({})
    assert {e.field for e in info.value.errors} == {"name", "account"}


def test_type_detected_from_domain_and_server_from_catalog() -> None:
    resolved = resolve(parse_spec({"name": "a", "account": "zhang@vip.qq.com"}))
    assert (resolved.type, resolved.host, resolved.port, resolved.security) == ("qq", "smtp.qq.com", 465, "ssl")
    assert resolve(parse_spec({"name": "a", "account": "x@foxmail.com"})).type == "qq"
    assert resolve(parse_spec({"name": "a", "account": "x@126.com"})).host == "smtp.126.com"


def test_type_contradicting_domain_is_warned_not_rejected() -> None:
    resolved = resolve(parse_spec({"name": "a", "account": "x@163.com", "type": "qq"}))
    assert resolved.type == "qq"
    assert [w.code for w in resolved.warnings] == ["type_domain_mismatch"]


def test_unknown_domain_without_type_asks_for_the_type() -> None:
    errors = _errors({"name": "a", "account": "x@corp.example"})
    assert "type" in errors


def test_custom_requires_host_port_and_security() -> None:
    errors = _errors({"name": "a", "account": "x@corp.example", "type": "custom"})
    assert {"host", "port", "security"} <= set(errors)


def test_plaintext_warned_unless_loopback() -> None:
    remote = resolve(parse_spec({**BASE, "type": "custom", "host": "mail.corp.example", "port": 25, "security": "none"}))
    local = resolve(parse_spec({**BASE, "type": "custom", "host": "127.0.0.1", "port": 25, "security": "none"}))
    assert "insecure" in [w.code for w in remote.warnings]
    assert "insecure" not in [w.code for w in local.warnings]


def test_choosing_the_alternative_security_picks_the_alternative_port() -> None:
    resolved = resolve(parse_spec({"name": "a", "account": "x@gmail.com", "security": "starttls"}))
    assert (resolved.port, resolved.security) == (587, "starttls")


def test_outlook_is_warned_that_passwords_no_longer_work() -> None:
    resolved = resolve(parse_spec({"name": "a", "account": "x@hotmail.com"}))
    assert resolved.type == "outlook"
    assert "basic_auth_disabled" in [w.code for w in resolved.warnings]


def test_secret_rules() -> None:
    with pytest.raises(InvalidInput) as info:
        check_secret(SecretStr("   "), "qq")
    assert "授权码" in info.value.message("zh")
    assert check_secret(SecretStr("abcd efgh ijkl mnop"), "gmail").get_secret_value() == "abcdefghijklmnop"


def test_a_name_with_dots_and_slashes_is_still_a_name() -> None:
    assert parse_spec({**BASE, "name": "审批/采购.v2"}).name == "审批/采购.v2"
