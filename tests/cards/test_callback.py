"""Callback payloads in DingTalk's shape (`data` of topic /v1.0/card/instances/callback)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cards import Action, parse_callback

SECRET = "abcdefghijklmnop"


def frame(private: dict[str, Any] | str, **extra: Any) -> dict[str, Any]:
    """`data` as DingTalk sends it: content and extension are JSON strings."""
    content = private if isinstance(private, str) else json.dumps({"cardPrivateData": private})
    return {"outTrackId": "track-1", "userId": "alice", "userIdType": 1, "corpId": "corp", "spaceType": "IM",
            "spaceId": "space", "type": "actionCallback", "extension": "{}", "content": content, **extra}


FORM_VALUES = {"name": "审批通知", "type": {"index": 5, "value": "qq"}, "account": "notice@qq.com",
               "password": SECRET, "host": "", "port": "", "security": {"index": 0, "value": "ssl"}}


def test_form_submit_with_nested_values_and_select_dicts() -> None:
    action = parse_callback(frame({"actionIds": ["form"], "params": {
        "form": FORM_VALUES, "current_form": {"fields": []}, "mode": "edit", "mailbox": "审批通知", "version": "3"}}))
    assert action.error is None and action.is_form_submit
    assert (action.out_track_id, action.user_id, action.corp_id) == ("track-1", "alice", "corp")
    assert (action.space_type, action.space_id) == ("IM", "space")
    assert action.form == {"name": "审批通知", "type": "qq", "account": "notice@qq.com", "host": "", "port": "",
                           "security": "ssl"}
    assert action.params == {"mode": "edit", "mailbox": "审批通知", "version": "3"}
    assert action.secret is not None and action.secret.get_secret_value() == SECRET


def test_a_form_submit_with_every_field_left_empty_is_still_a_submit() -> None:
    """DingTalk leaves empty fields out of params.form; the handler then reports what is missing."""
    action = parse_callback(frame({"actionIds": ["form"], "params": {"form": {}, "mode": "add"}}))
    assert action.is_form_submit and action.form == {} and action.secret is None
    pressed = parse_callback(frame({"actionIds": ["mailbox_test"], "params": {"mailbox": "A", "form": {"name": "x"}}}))
    assert not pressed.is_form_submit


def test_flat_params_are_read_as_form_values_too() -> None:
    action = parse_callback(frame({"params": {"name": "A", "type": "gmail", "account": "a@gmail.com",
                                              "password": SECRET, "port": 587, "mode": "add"}}))
    assert action.is_form_submit
    assert action.form == {"name": "A", "type": "gmail", "account": "a@gmail.com", "port": "587"}
    assert action.secret is not None and action.secret.get_secret_value() == SECRET
    assert "password" not in action.params


def test_nested_values_win_over_flat_ones() -> None:
    action = parse_callback(frame({"params": {"name": "flat", "form": {"name": "nested"}}}))
    assert action.form["name"] == "nested"


def test_the_secret_is_in_no_printable_or_serialised_part() -> None:
    action = parse_callback(frame({"params": {"form": FORM_VALUES, "secret": SECRET}}))
    for text in (repr(action), str(action), action.model_dump_json(), json.dumps(action.params), str(action.form)):
        assert SECRET not in text


def test_an_empty_secret_means_none() -> None:
    action = parse_callback(frame({"params": {"form": {**FORM_VALUES, "password": ""}}}))
    assert action.secret is None and action.is_form_submit


def test_button_press_gives_its_action_and_params() -> None:
    action = parse_callback(frame({"actionIds": ["mailbox_disable"], "params": {"mailbox": "A", "version": 3}}))
    assert action.action == Action.MAILBOX_DISABLE
    assert action.params == {"mailbox": "A", "version": "3"}
    assert not action.is_form_submit and action.form == {}


def test_content_may_arrive_already_decoded() -> None:
    data = frame({})
    data["content"] = {"cardPrivateData": {"actionIds": ["mail_retry"], "params": {"mail_id": "m-1"}}}
    data["extension"] = {"k": "v"}
    action = parse_callback(data)
    assert action.error is None and action.action == "mail_retry" and action.params == {"mail_id": "m-1"}


def test_a_form_value_given_as_a_json_string_is_decoded() -> None:
    form = json.dumps({"name": "A", "type": {"index": 1, "value": "dingtalk"}})
    action = parse_callback(frame({"params": {"form": form}}))
    assert action.form == {"name": "A", "type": "dingtalk"}


@pytest.mark.parametrize(("data", "problem"), [
    (frame("{not json"), "content is not valid JSON"),
    (frame("[1, 2]"), "content is not a JSON object"),
    (frame({}, extension="{oops"), "extension is not valid JSON"),
    (frame({"actionIds": "mailbox_test"}), "actionIds is not a list"),
    (frame({"params": {"form": "{broken"}}), "params.form is not valid JSON"),
    (frame({}, content=""), "content is missing"),
    (frame(json.dumps({"cardPrivateData": "nope"})), "cardPrivateData is not valid JSON"),
])
def test_malformed_payloads_give_a_clear_error_not_a_crash(data: dict[str, Any], problem: str) -> None:
    action = parse_callback(data)
    assert action.error is not None and problem in action.error
    assert action.out_track_id == "track-1" and action.user_id == "alice"
    assert not action.is_form_submit and action.action == ""


@pytest.mark.parametrize("data", [None, "text", [1], 42])
def test_data_that_is_not_an_object_is_an_error(data: Any) -> None:
    action = parse_callback(data)
    assert action.error == "callback data is not a JSON object"
