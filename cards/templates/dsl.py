"""Readable Python for DingTalk card-platform templates, written out in the platform's import format.

The shapes follow templates exported by the card platform itself (open-dingtalk/dingtalk-card-examples:
`表单组件的使用与更新`, `循环渲染容器之交互组件的使用与服务端更新`, `多 Tab 页`, `审批模板`): a `Card` root,
`CardHeaderV2`, `Markdown`, `Form`, `Loop`, `Grid`, `SingleButton`, `Divider`. The functions here set the
props that carry meaning; every other prop the editor writes with one fixed value in all official exports
comes from `editor_defaults.json` (made by `python -m tests.cards.official_shapes <mirror> --defaults …`),
so a generated template carries the same props as one the editor exported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any, Literal

Node = dict[str, Any]
Scope = Literal["global", "loop"]

SCHEMA_VERSION = "3.0.0"
EDITOR_DEFAULTS: dict[str, Node] = json.loads(
    Path(__file__).with_name("editor_defaults.json").read_text(encoding="utf-8"))


# -- values bound to variables ---------------------------------------------------------------------

def text(content: str) -> Node:
    """A string prop; `${var}` / `${loop.field}` inside it are filled from card data."""
    return {"i18n": False, "type": "dynamicString", "content": content}


def markdown_var(variable: str, scope: Scope = "global") -> Node:
    return {"type": "dynamicMarkdown", "valueType": "variable", "value": "", "variable": variable,
            "variableType": scope}


def select_var(variable: str, default: str) -> Node:
    return {"type": "dynamicSelect", "valueType": "variable", "value": default, "variable": variable,
            "variableType": "global"}


def select_fixed(value: str) -> Node:
    return {"type": "dynamicSelect", "valueType": "fixed", "value": value, "variable": "", "variableType": "global"}


def cond(variable: str, op: str, value: str = "", scope: Scope = "global") -> Node:
    """One visibility condition; ops seen in platform exports: equal, notEqual, isNotEmpty, isEmpty."""
    return {"value": value, "op": op, "variable": variable, "variableType": scope, "type": "variable",
            "valueType": "fixed", "valueVariableType": "global"}


def visible(*conditions: Node) -> Node:
    """Shown always, or only when every condition holds."""
    return {"type": "dynamicVisible", "value": True, "valueType": "condition" if conditions else "fixed",
            "condition": {"op": "and", "conditions": list(conditions)}}


def param(name: str, variable: str, scope: Scope = "global") -> Node:
    """A callback param whose value is a variable (or a loop item's field) at click time."""
    return {"type": "variable", "variable": variable, "value": "", "name": name, "variableType": scope}


# -- variables (the template's `variableList`) -----------------------------------------------------

def var(name: str, description: str, kind: str = "string", *, private: bool = False,
        schema: list[Node] | None = None) -> Node:
    node: Node = {"name": name, "private": private, "type": kind, "id": name, "description": description,
                  "editorVarType": "variables"}
    if schema is not None:
        node["schema"] = schema
    return node


def item_fields(prefix: str, fields: dict[str, str], *, private: bool = False) -> list[Node]:
    """Fields of a loopArray item, declared as the platform does (`rows[0].name`)."""
    return [{"id": f"{prefix}[0].{name}", "type": kind, "name": name, "private": private,
             "editorVarType": "variables", "disabled": True} for name, kind in fields.items()]


def form_var(name: str, description: str) -> Node:
    """The Form component's variable: `{"fields": [...]}` exactly as in the platform's form example."""
    prefix = f"{name}.fields"
    fields = item_fields(prefix, {"name": "string", "label": "string", "type": "string", "hidden": "boolean",
                                  "required": "boolean", "requiredMsg": "string", "readOnly": "boolean",
                                  "placeholder": "string", "defaultValue": "string"}, private=True)
    fields.append({"id": f"{prefix}[0].options", "type": "loopArray", "name": "options", "private": True,
                   "editorVarType": "variables", "disabled": True,
                   "schema": item_fields(f"{prefix}[0].options", {"value": "string", "text": "string"},
                                         private=True)})
    return var(name, description, "form", private=True,
               schema=[{"id": prefix, "type": "loopArray", "name": "fields", "private": True,
                        "editorVarType": "variables", "disabled": True, "schema": fields}])


# -- components ------------------------------------------------------------------------------------

_SPECIAL_MAP = {"Form": {"devMode": "lowCode", "componentName": "Form"}}


class Ids:
    """Stable node ids, so regenerating a template gives byte-identical files."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._next = count(1)

    def __call__(self) -> str:
        return f"node_{self._prefix}_{next(self._next)}"


def _node(component: str, node_id: str, title: str, props: Node, children: list[Node] | None = None) -> Node:
    props = {**EDITOR_DEFAULTS.get(component, {}), **props}
    node: Node = {"componentName": component, "id": node_id, "props": props, "title": title, "hidden": False,
                  "isLocked": False, "condition": True, "conditionGroup": ""}
    if children is not None:
        node["children"] = children
    return node


def _margins(left: int = 12, right: int = 12, top: int = 8, bottom: int = 0) -> Node:
    return {"marginLeft": left, "marginRight": right, "marginTop": top, "marginBottom": bottom}


def card(ids: Ids, summary_var: str, children: list[Node]) -> Node:
    """The root: `summary_var` is what the chat list shows for the card."""
    props = {
        "url": {"type": "dynamicLink", "value": "", "valueType": "fixed", "variable": ""},
        "actionType": "url",
        "urlType": "all",
        "autoFoldConfig": {"needFold": False, "heightLimit": 480,
                           "foldStatusLocalDataKey": "_cardFoldStatusLocalDataKey"},
        "summaryContent": {"variable": summary_var, "variableType": "global", "type": "variableValue"},
    }
    root = _node("Card", ids(), "", props, children)
    root.update({"fileName": "mailbot", "dataSource": {"list": []}, "state": {}, "lifeCycles": {},
                 "methods": {}})
    return root


def header(ids: Ids, title: str) -> Node:
    return _node("CardHeaderV2", ids(), "卡片头部", {"title": text(title)})


def markdown(ids: Ids, content: Node, show: Node | None = None, *, top: int = 8) -> Node:
    return _node("Markdown", ids(), "Markdown 内容",
                 {"mdVer": 0, "content": content, "visible": show or visible(), "innerOffset": 0,
                  **_margins(top=top)})


def divider(ids: Ids) -> Node:
    return _node("Divider", ids(), "分割线", {"direction": "horizontal", "visible": visible(), "innerOffset": 0,
                                            **_margins(top=12, bottom=4)})


def grid(ids: Ids, children: list[Node], *, direction: str = "vertical", show: Node | None = None) -> Node:
    props = {"direction": direction, "isAutoHeight": True, "isAutoWidth": False, "isFixedWidth": False,
             "childGravity": "leftCenter" if direction == "horizontal" else "leftTop", "hasBackground": False,
             "visible": show or visible(), **_margins(left=0, right=0, top=0)}
    return _node("Grid", ids(), "布局容器", props, children)


def loop(ids: Ids, variable: str, children: list[Node]) -> Node:
    """Repeats its children once per item of a loopArray variable; children read `${loop.field}`."""
    props = {"listData": {"type": "variableValue", "variableType": "global", "variable": variable},
             "direction": "vertical", "visible": visible(), "childDivider": True, "childGap": True,
             "childGapSize": 4, **_margins(left=0, right=0, top=4)}
    return _node("Loop", ids(), "循环渲染容器", props, children)


def button(ids: Ids, label: str, action_id: str, params: list[Node], *, color: str = "blue",
           show: Node | None = None) -> Node:
    """A button that calls back over Stream with `action_id` and `params`."""
    props = {"text": text(label), "status": select_fixed("normal"), "color": select_fixed(color),
             "actionType": "request", "actionId": text(action_id),
             "params": [{**p, "id": str(i)} for i, p in enumerate(params, 1)],
             "successToast": text(""), "failureToast": text(""), "visible": show or visible(),
             "innerOffset": 0, **_margins(left=12, right=0, top=8, bottom=8)}
    return _node("SingleButton", ids(), "单个按钮", props)


def form(ids: Ids, variable: str, *, status_var: str, button_var: str, params: list[Node]) -> Node:
    """The Form component: fields come from `variable`; submit sends `params.<id>` = {field: value}."""
    props = {"id": variable, "submitText": text(f"${{{button_var}}}"),
             "formSchema": {"variable": variable, "variableType": "global", "type": "variableValue"},
             "params": [{**p, "id": str(i)} for i, p in enumerate(params, 1)],
             "status": select_var(status_var, "normal"), "visible": visible(), "actionType": "request"}
    return _node("Form", ids(), "表单", props)


# -- the template and its export ---------------------------------------------------------------------

@dataclass(frozen=True)
class Template:
    """One card template: its component tree, its variables, and sample data for the editor preview."""

    name: str
    tree: Node
    variables: list[Node]
    mock: dict[str, Any] = field(default_factory=dict)

    @property
    def variable_names(self) -> frozenset[str]:
        return frozenset(v["name"] for v in self.variables)

    def editor_data(self) -> Node:
        return {
            "schemaVersion": SCHEMA_VERSION,
            "schema": {"version": "1.0.0", "componentsMap": _components_map(self.tree),
                       "componentsTree": [self.tree], "i18n": {}},
            "mockData": {"cardData": self.mock, "cardPrivateData": {}, "localData": {}, "richTextData": {}},
            "editVersion": 0,
            "customWidgetInfo": "",
            "useCustomWidgetInfo": False,
            "variableList": self.variables,
            "formList": [],
            "expList": [],
            "localList": [],
            "hsfList": [],
            "lwpList": [],
            "extension": {"extendType": "NORMAL", "fileTypeList": []},
        }

    def export(self) -> str:
        """The file the card platform imports (More → Import): editorData is a JSON *string*."""
        wrapper = {"editorData": json.dumps(self.editor_data(), ensure_ascii=False, separators=(",", ":")),
                   "widgetInfo": "", "type": "im", "mode": "card"}
        return json.dumps(wrapper, ensure_ascii=False, indent=2) + "\n"


def _components_map(tree: Node) -> list[Node]:
    names: list[str] = []

    def walk(node: Node) -> None:
        if node["componentName"] not in names:
            names.append(node["componentName"])
        for child in node.get("children", []):
            walk(child)

    walk(tree)
    return [_SPECIAL_MAP.get(n) or {"package": "@ali/dxComponent", "version": "1.0.0", "exportName": n,
                                    "main": "./src/index.tsx", "destructuring": False, "subName": "",
                                    "componentName": n}
            for n in names]
