"""Template files: import format, in sync with their generator, and consistent with builders and callbacks."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from cards import CARDS, Action
from cards.templates.build import TEMPLATES, main, path_of

TEMPLATE_CARDS = [name for name, spec in CARDS.items() if spec.kind == "template"]
_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


def _editor_data(name: str) -> dict[str, Any]:
    return json.loads(json.loads(path_of(name).read_text(encoding="utf-8"))["editorData"])


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(n for child in node.get("children", []) for n in _nodes(child))]


def _walk_values(value: Any) -> list[Any]:
    """Every dict and string inside a props tree."""
    if isinstance(value, dict):
        return [value, *(v for item in value.values() for v in _walk_values(item))]
    if isinstance(value, list):
        return [v for item in value for v in _walk_values(item)]
    return [value]


def test_every_template_card_has_a_generator_and_a_file() -> None:
    assert set(TEMPLATE_CARDS) == set(TEMPLATES)
    for name in TEMPLATE_CARDS:
        assert CARDS[name].template == path_of(name)
        assert path_of(name).is_file()
    assert {CARDS[n].env_var for n in TEMPLATE_CARDS} == {
        "MAILBOT_CARD_TEMPLATE_MAILBOX_FORM", "MAILBOT_CARD_TEMPLATE_RESULT",
        "MAILBOT_CARD_TEMPLATE_MAILBOX_LIST", "MAILBOT_CARD_TEMPLATE_ALERT"}
    assert CARDS["mailbox_form"].setting == "card_template_mailbox_form"
    assert CARDS["guide"].kind == "standard" and CARDS["guide"].env_var is None


@pytest.mark.parametrize("name", TEMPLATE_CARDS)
def test_file_is_in_the_card_platform_import_format(name: str) -> None:
    wrapper = json.loads(path_of(name).read_text(encoding="utf-8"))
    assert set(wrapper) == {"editorData", "widgetInfo", "type", "mode"}
    assert wrapper["type"] == "im" and wrapper["mode"] == "card" and wrapper["widgetInfo"] == ""
    assert isinstance(wrapper["editorData"], str)  # a JSON string, not a nested object
    editor = json.loads(wrapper["editorData"])
    assert editor["schemaVersion"] == "3.0.0"
    assert {"schema", "mockData", "variableList"} <= set(editor)
    assert [n["componentName"] for n in editor["schema"]["componentsTree"]] == ["Card"]
    declared = {c["componentName"] for c in editor["schema"]["componentsMap"]}
    assert declared == {n["componentName"] for n in _nodes(editor["schema"]["componentsTree"][0])}


def test_committed_files_equal_the_generator_output() -> None:
    for name, define in TEMPLATES.items():
        assert path_of(name).read_text(encoding="utf-8") == define().export(), (
            f"{name}.json is stale: run `python -m cards.templates`")
    assert main(["--check"]) == 0


@pytest.mark.parametrize("name", TEMPLATE_CARDS)
def test_every_reference_in_the_tree_is_a_declared_variable(name: str) -> None:
    editor = _editor_data(name)
    variables = {v["name"]: v for v in editor["variableList"]}
    assert set(variables) == CARDS[name].variables
    loop_fields = {f"{v['name']}[0].{f['name']}" for v in variables.values() if v["type"] == "loopArray"
                   for f in v["schema"]}
    used_global: set[str] = set()
    for value in _walk_values(editor["schema"]["componentsTree"]):
        if isinstance(value, str):
            for ref in _PLACEHOLDER.findall(value):
                if ref.startswith("loop."):
                    assert any(f.endswith("." + ref[5:]) for f in loop_fields), ref
                else:
                    used_global.add(ref)
        elif isinstance(value, dict) and value.get("variable") and value.get("variableType") == "global":
            used_global.add(value["variable"])
        elif isinstance(value, dict) and value.get("variable") and value.get("variableType") == "loop":
            assert value["variable"] in loop_fields, value["variable"]
    assert used_global <= set(variables)
    assert used_global == set(variables), "declared but never shown or sent"


def test_buttons_use_exactly_the_known_actions() -> None:
    found = set()
    for name in TEMPLATE_CARDS:
        for node in _nodes(_editor_data(name)["schema"]["componentsTree"][0]):
            if node["componentName"] == "SingleButton":
                assert node["props"]["actionType"] == "request"
                found.add(node["props"]["actionId"]["content"])
    assert found == {a.value for a in Action}


def test_form_sends_its_values_under_form_with_what_it_edits() -> None:
    forms = [n for n in _nodes(_editor_data("mailbox_form")["schema"]["componentsTree"][0])
             if n["componentName"] == "Form"]
    assert len(forms) == 1
    props = forms[0]["props"]
    assert props["id"] == "form" and props["formSchema"]["variable"] == "form"
    assert props["status"]["variable"] == "form_status"
    assert {p["name"] for p in props["params"]} == {"mode", "mailbox", "version"}
