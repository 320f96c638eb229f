"""Our template files use only shapes seen in templates exported by DingTalk's own card platform.

The reference, `official_shapes.json`, is derived by `official_shapes.py` from every exported template in
open-dingtalk/dingtalk-card-examples (sources listed inside it). A key, component, prop, value kind or
enum value we write that no official export has is a risk at import; so is leaving out a key that every
official export has at a level where the editor reads it (wrapper, editorData, schema, node, values).

Known, accepted deviation (reported by `test_known_deviations_are_still_the_only_ones`):
- `widgetInfo` is "" in ours; every official export carries the editor-compiled widget XML there. We
  cannot produce it (the editor compiles it from editorData); an empty one is what LangBot imports.
- Component props: ours carry the props we set plus every prop the editor writes with one fixed value
  (`cards/templates/editor_defaults.json`); props whose official value varies from export to export
  and that we do not need are left out. So prop *presence* is checked one way (ours ⊆ seen), plus
  "every fixed editor default is there".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cards.templates.build import TEMPLATES, path_of
from cards.templates.dsl import EDITOR_DEFAULTS
from tests.cards.official_shapes import field_id, kinds

REF: dict[str, Any] = json.loads(Path(__file__).with_name("official_shapes.json").read_text(encoding="utf-8"))
NAMES = list(TEMPLATES)

Problems = list[str]


def _wrapper(name: str) -> dict[str, Any]:
    return json.loads(path_of(name).read_text(encoding="utf-8"))


def _editor(name: str) -> dict[str, Any]:
    return json.loads(_wrapper(name)["editorData"])


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(n for child in node.get("children", []) for n in _nodes(child))]


def _check_shape(where: str, node: dict[str, Any], shape: dict[str, Any], *, require_always: bool = True,
                 exempt: frozenset[str] = frozenset()) -> Problems:
    """Keys within seen (and covering always), each value's kinds seen, enum-like values seen."""
    problems = []
    seen, always = set(shape["keys"]["seen"]), set(shape["keys"]["always"])
    for key in sorted(set(node) - seen):
        problems.append(f"{where}: key {key!r} never seen officially (seen: {sorted(seen)})")
    if require_always:
        for key in sorted(always - set(node) - exempt):
            problems.append(f"{where}: key {key!r} missing; every official export has it")
    for key, value in node.items():
        if key not in seen:
            continue
        unseen = kinds(value) - set(shape["kinds"].get(key, ()))
        if unseen:
            problems.append(f"{where}: key {key!r} has kind {sorted(unseen)}, official: {shape['kinds'][key]}")
        enum = shape.get("enums", {}).get(key)
        if enum is not None and isinstance(value, (str, bool, int)) and value not in enum:
            problems.append(f"{where}: key {key!r} = {value!r}, official values: {enum}")
    return problems


# -- (a) wrapper and editorData -----------------------------------------------------------------------

def wrapper_problems(name: str) -> Problems:
    return _check_shape(f"{name}: wrapper", _wrapper(name), REF["wrapper"])


def editor_problems(name: str) -> Problems:
    editor = _editor(name)
    problems = _check_shape(f"{name}: editorData", editor, REF["editorData"])
    problems += _check_shape(f"{name}: editorData.schema", editor["schema"], REF["schema"])
    mock = REF["mockData"]
    problems += _check_shape(f"{name}: editorData.mockData", editor["mockData"],
                             {"keys": mock, "kinds": {k: kinds(v) for k, v in editor["mockData"].items()}})
    problems += _check_shape(f"{name}: editorData.extension", editor["extension"], REF["extension"])
    return problems


# -- (b) components and componentsMap -----------------------------------------------------------------

def component_problems(name: str) -> Problems:
    schema = _editor(name)["schema"]
    problems = []
    tree = [n for root in schema["componentsTree"] for n in _nodes(root)]
    for node in tree:
        if node["componentName"] not in REF["components"]:
            problems.append(f"{name}: node {node['id']}: component {node['componentName']!r} "
                            "never seen in an official export")
    for root in schema["componentsTree"]:
        component = REF["components"].get(root["componentName"])
        if component is not None and not component["root"]:
            problems.append(f"{name}: node {root['id']}: {root['componentName']!r} is never a root officially")
    official_map = REF["componentsMap"]["entries"]
    for entry in schema["componentsMap"]:
        component = entry.get("componentName")
        normalised = {k: "<componentName>" if v == component else v for k, v in entry.items()}
        if normalised not in official_map.get(component, []):
            problems.append(f"{name}: componentsMap entry for {component!r} is {entry}; "
                            f"official: {official_map.get(component)}")
    if REF["componentsMap"]["matches_tree"]:
        mapped = [e.get("componentName") for e in schema["componentsMap"]]
        used = {n["componentName"] for n in tree}
        if sorted(mapped) != sorted(used):
            problems.append(f"{name}: componentsMap lists {sorted(mapped)}, the tree uses {sorted(used)} "
                            "(official exports list each used component exactly once)")
    return problems


# -- (c) props and their values -----------------------------------------------------------------------

def _value_problems(where: str, value: Any, path: str) -> Problems:
    """Same walk as the extractor: every dict inside a prop checked against the shape at its place."""
    problems: Problems = []
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict):
                item_path = f"{path}[]:{next(iter(kinds(item)))}"
                problems += _dict_problems(f"{where}[{i}]", item, item_path)
    elif isinstance(value, dict):
        own = next(iter(kinds(value)))
        problems += _dict_problems(where, value, own if own != "dict" else path)
    return problems


def _dict_problems(where: str, node: dict[str, Any], path: str) -> Problems:
    shape = REF["values"].get(path)
    if shape is None:
        return [f"{where}: a value shaped {path!r} never seen officially"]
    problems = _check_shape(f"{where} ({path})", node, shape)
    for key, child in node.items():
        problems += _value_problems(f"{where}.{key}", child, f"{path}.{key}")
    return problems


def prop_problems(name: str) -> Problems:
    problems = []
    for node in _nodes(_editor(name)["schema"]["componentsTree"][0]):
        component = node["componentName"]
        official = REF["components"].get(component)
        if official is None:
            continue  # reported by component_problems
        for prop, value in node["props"].items():
            where = f"{name}: node {node['id']} ({component}) prop {prop!r}"
            if prop not in official["props"]:
                problems.append(f"{where}: never seen on {component} officially")
                continue
            unseen = kinds(value) - set(official["props"][prop])
            if unseen:
                problems.append(f"{where}: kind {sorted(unseen)}, official: {official['props'][prop]}")
            problems += _value_problems(where, value, prop)
            if isinstance(value, dict) and value.get("type") == "dynamicSelect" and value.get("valueType") == "fixed":
                allowed = set(REF["select_values"].get(f"{component}.{prop}", []))
                if prop == "color":
                    allowed |= set(REF["widget_colors"])
                if value["value"] not in allowed:
                    problems.append(f"{where}: value {value['value']!r}, official: {sorted(allowed)}")
    return problems


# -- (d) variables ------------------------------------------------------------------------------------

def variable_problems(name: str) -> Problems:
    problems = []

    def fields(parent: dict[str, Any]) -> None:
        for field in parent.get("schema", []):
            where = f"{name}: variable field {field.get('id')!r}"
            problems.extend(_check_shape(where, field, REF["variable_fields"]))
            if field.get("id") != field_id(parent, field["name"]):
                problems.append(f"{where}: id should be {field_id(parent, field['name'])!r} as the editor names it")
            fields(field)

    for var in _editor(name)["variableList"]:
        problems += _check_shape(f"{name}: variable {var.get('name')!r}", var, REF["variables"])
        if var.get("id") != var.get("name"):
            problems.append(f"{name}: variable {var.get('name')!r}: id {var.get('id')!r} differs from its name")
        fields(var)
    return problems


# -- (e) node-level keys ------------------------------------------------------------------------------

def node_problems(name: str) -> Problems:
    problems = []
    root = _editor(name)["schema"]["componentsTree"][0]
    for node in _nodes(root):
        component = node["componentName"]
        official = REF["components"].get(component)
        where = f"{name}: node {node.get('id')} ({component})"
        if node is root:
            keys = official["node_keys"] if official else REF["nodes"]["keys"]
            problems += _check_shape(where, node, {"keys": keys, "kinds": {k: kinds(v) for k, v in node.items()}})
        else:
            problems += _check_shape(where, node, {"keys": REF["nodes"]["keys"],
                                                   "kinds": {k: kinds(v) for k, v in node.items()}})
            if official and "children" in node and "children" not in official["node_keys"]["seen"]:
                problems.append(f"{where}: has children; {component} never has children officially")
        meta = {k: v for k, v in node.items() if k not in ("props", "children")}
        problems += _check_shape(where, meta, REF["nodes"]["values"], require_always=False)
    return problems


CHECKS = {"wrapper": wrapper_problems, "editorData": editor_problems, "components": component_problems,
          "props": prop_problems, "variables": variable_problems, "nodes": node_problems}


@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize("name", NAMES)
def test_template_matches_official_shapes(name: str, check: str) -> None:
    problems = CHECKS[check](name)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", NAMES)
def test_every_node_carries_the_editors_fixed_props(name: str) -> None:
    """What the editor always writes with one value is written too (ours may override the value)."""
    missing = [f"{node['id']} ({node['componentName']}): {sorted(set(defaults) - set(node['props']))}"
               for node in _nodes(_editor(name)["schema"]["componentsTree"][0])
               if not set(defaults := EDITOR_DEFAULTS.get(node["componentName"], {})) <= set(node["props"])]
    assert not missing, "\n".join(missing)


def test_editor_defaults_are_what_the_official_exports_fix() -> None:
    """Each default is a prop the reference has seen on that component, with a kind it has there."""
    for component, props in EDITOR_DEFAULTS.items():
        official = REF["components"][component]["props"]
        for prop, value in props.items():
            assert prop in official and kinds(value) <= set(official[prop]), (component, prop)


def test_reference_covers_the_official_examples() -> None:
    """The reference was built from the real exports, including the ones our shapes were modelled on."""
    paths = {s["path"] for s in REF["sources"] if s["repo"] == "open-dingtalk/dingtalk-card-examples"}
    for example in ("表单组件的使用与更新", "循环渲染容器之交互组件的使用与服务端更新", "审批模板"):
        assert f"examples/{example}/{example}.json" in paths
    assert "app/card_templates/多 Tab 页.json" in paths
    assert all(s["commit"] and len(s["commit"]) == 40 for s in REF["sources"])


def test_known_deviations_are_still_the_only_ones() -> None:
    """widgetInfo: official exports always carry the compiled widget; ours leave it empty (see module doc)."""
    assert "widgetInfo" not in REF["wrapper"].get("enums", {}), "an official export with empty widgetInfo exists"
    assert {_wrapper(n)["widgetInfo"] for n in NAMES} == {""}


@pytest.mark.parametrize("mutate, expected", [
    (lambda e: e["schema"]["componentsTree"][0]["children"][0]["props"].update(bogusProp=1),
     "prop 'bogusProp': never seen on CardHeaderV2"),
    (lambda e: e["schema"]["componentsTree"][0]["children"][1]["props"]["visible"].update(valueType="always"),
     "'valueType' = 'always'"),
    (lambda e: e["schema"]["componentsTree"][0]["children"][1]["props"].update(
        content={"type": "dynamicText", "value": ""}), "'dynamicText' never seen officially"),
    (lambda e: e["schema"]["componentsTree"][0]["children"][0].update(componentName="FancyHeader"),
     "component 'FancyHeader' never seen"),
    (lambda e: e["schema"].update(version="2.0.0"), "'version' = '2.0.0'"),
    (lambda e: e["schema"]["componentsMap"][0].pop("main"), "componentsMap entry for"),
    (lambda e: e["variableList"][0].update(type="text"), "'type' = 'text'"),
    (lambda e: e["schema"]["componentsTree"][0]["children"][0].pop("isLocked"), "key 'isLocked' missing"),
])
def test_the_checks_can_fail(monkeypatch: pytest.MonkeyPatch, mutate: Any, expected: str) -> None:
    """Each check catches a deliberately broken copy of a real template, naming where."""
    editor = _editor("result")
    mutate(editor)
    broken = {**_wrapper("result"), "editorData": json.dumps(editor, ensure_ascii=False)}
    monkeypatch.setattr(__name__ + "._wrapper", lambda name: broken)
    problems = [p for check in CHECKS.values() for p in check("result")]
    assert any(expected in p and p.startswith("result: ") for p in problems), problems
