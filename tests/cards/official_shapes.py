"""Derive a compact shape reference from card templates exported by DingTalk's own card platform.

    python -m tests.cards.official_shapes <mirror-dir | export.json ...> [--repo owner/name] [-o out.json]

A mirror dir is a git directory of open-dingtalk/dingtalk-card-examples (work tree not needed): every
distinct version of every exported template (`*.json` whose wrapper has `editorData`) in its whole
history is read, each recorded with the newest commit that holds it. Plain file paths are read as-is.

The result (`official_shapes.json`, next to this file) says, per structure, which keys were present in
*every* instance ("always") and which were seen at all ("seen"), and which value kinds each key had:
a dict with a string `type` has that type as its kind (dynamicString, dynamicVisible, variableValue...),
any other dict "dict", a list "list" plus "list:<kind>" per item, a scalar its Python type name.
`test_official_shapes.py` checks the generated templates against it.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("official_shapes.json")

# String values worth listing exactly (they select behaviour), wherever they occur as a key.
ENUM_KEYS = frozenset({"valueType", "variableType", "valueVariableType", "op", "actionType", "urlType",
                       "direction", "childGravity", "varType", "editorVarType", "extendType"})
VARIABLE_ENUM_KEYS = ENUM_KEYS | {"type"}
# Button colours the editor compiles into widgetInfo: `'normal_blue'`, `'disabled_gray'`... (HTML-escaped).
_WIDGET_COLOR = re.compile(r"(?:'|&#039;)normal_([a-z]+)(?:'|&#039;)")


def kind(value: Any) -> str:
    if isinstance(value, dict):
        return value["type"] if isinstance(value.get("type"), str) else "dict"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def kinds(value: Any) -> set[str]:
    """`kind` plus the kinds of a list's items."""
    out = {kind(value)}
    if isinstance(value, list):
        out |= {f"list:{kind(item)}" for item in value}
    return out


def field_id(parent: dict[str, Any], name: str) -> str:
    """How the editor names a variable's field: `rows[0].name` under a loopArray, `a.b` under an object."""
    return f"{parent['id']}{'[0]' if parent['type'] == 'loopArray' else ''}.{name}"


class Keys:
    """Which keys a family of dicts had: in every instance, and at all."""

    def __init__(self) -> None:
        self.always: set[str] | None = None
        self.seen: set[str] = set()
        self.count = 0

    def add(self, keys: Iterable[str]) -> None:
        keys = set(keys)
        self.always = keys if self.always is None else self.always & keys
        self.seen |= keys
        self.count += 1

    def dump(self) -> dict[str, Any]:
        return {"always": sorted(self.always or ()), "seen": sorted(self.seen)}


class Shape:
    """Keys of a family of dicts, each key's value kinds, and the values of enum-like keys."""

    def __init__(self) -> None:
        self.keys = Keys()
        self.kinds: dict[str, set[str]] = defaultdict(set)
        self.enums: dict[str, set[str]] = defaultdict(set)

    def add(self, node: dict[str, Any], enum_keys: frozenset[str] = ENUM_KEYS) -> None:
        self.keys.add(node)
        for key, value in node.items():
            self.kinds[key] |= kinds(value)
            if key in enum_keys and isinstance(value, (str, bool, int)):
                self.enums[key].add(json.dumps(value, ensure_ascii=False))

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {"keys": self.keys.dump(),
                               "kinds": {k: sorted(v) for k, v in sorted(self.kinds.items())}}
        if self.enums:
            out["enums"] = {k: sorted(json.loads(x) for x in v) for k, v in sorted(self.enums.items())}
        return out


class Collector:
    def __init__(self) -> None:
        self.sources: list[dict[str, Any]] = []
        self.wrapper = Shape()
        self.editor = Shape()
        self.schema = Shape()
        self.mock = Keys()
        self.extension = Shape()
        self.components_map: dict[str, set[str]] = defaultdict(set)
        self.map_matches_tree = True
        self.nodes = Keys()
        self.node_values = Shape()
        self.by_component: dict[str, dict[str, Any]] = {}
        self.values: dict[str, Shape] = defaultdict(Shape)
        self.select_values: dict[str, set[str]] = defaultdict(set)
        self.variables = Shape()
        self.fields = Shape()
        self.field_ids = {"follow_rule": 0, "total": 0}
        self.widget_colors: set[str] = set()

    # -- one export -----------------------------------------------------------------------------

    def add(self, source: dict[str, Any], wrapper: dict[str, Any]) -> None:
        self.sources.append(source)
        self.wrapper.add(wrapper, frozenset({"type", "mode"}))
        if wrapper.get("widgetInfo") == "":
            self.wrapper.enums["widgetInfo"].add('""')
        self.widget_colors |= set(_WIDGET_COLOR.findall(wrapper.get("widgetInfo", "")))
        editor = json.loads(wrapper["editorData"])
        self.editor.add(editor, frozenset({"schemaVersion", "editVersion", "customWidgetInfo",
                                           "useCustomWidgetInfo"}))
        schema = editor["schema"]
        self.schema.add(schema, frozenset({"version"}))
        self.mock.add(editor.get("mockData", {}))
        self.extension.add(editor.get("extension", {}))
        for entry in schema["componentsMap"]:
            name = entry["componentName"]
            self.components_map[name].add(json.dumps({k: "<componentName>" if v == name else v
                                                      for k, v in entry.items()}, sort_keys=True))
        used: set[str] = set()
        for root in schema["componentsTree"]:
            self._node(root, used, is_root=True)
        if used != {e["componentName"] for e in schema["componentsMap"]}:
            self.map_matches_tree = False
        for var in editor.get("variableList", []):
            self.variables.add(var, VARIABLE_ENUM_KEYS)
            self._fields(var)

    def _fields(self, parent: dict[str, Any]) -> None:
        for field in parent.get("schema", []):
            self.fields.add(field, VARIABLE_ENUM_KEYS)
            self.field_ids["total"] += 1
            self.field_ids["follow_rule"] += field.get("id") == field_id(parent, field["name"])
            self._fields(field)

    def _node(self, node: dict[str, Any], used: set[str], *, is_root: bool = False) -> None:
        name = node["componentName"]
        used.add(name)
        comp = self.by_component.setdefault(name, {"nodes": 0, "root": False, "keys": Keys(),
                                                   "prop_keys": Keys(), "props": defaultdict(set)})
        comp["nodes"] += 1
        comp["root"] |= is_root
        comp["keys"].add(node)
        comp["prop_keys"].add(node.get("props", {}))
        if not is_root:
            self.nodes.add(node)
        self.node_values.add({k: v for k, v in node.items() if k not in ("props", "children")},
                             frozenset({"hidden", "isLocked", "condition", "conditionGroup"}))
        for prop, value in node.get("props", {}).items():
            comp["props"][prop] |= kinds(value)
            self._value(value, prop)
            if kind(value) == "dynamicSelect" and value.get("valueType") == "fixed":
                self.select_values[f"{name}.{prop}"].add(json.dumps(value.get("value"), ensure_ascii=False))
        for child in node.get("children", []):
            self._node(child, used)

    def _value(self, value: Any, path: str) -> None:
        """Record the shape of every dict inside a prop value, keyed by where it sits.

        A dict with a `type` is keyed by that type (its schema), except list items, whose `type`
        ("variable", "fixed"...) only means something in their context: `params[]:variable`.
        """
        if isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    item_path = f"{path}[]:{kind(item)}"
                    self.values[item_path].add(item)
                    self._children(item, item_path)
            return
        if isinstance(value, dict):
            own = kind(value)
            key = own if own != "dict" else path
            self.values[key].add(value)
            self._children(value, key)

    def _children(self, node: dict[str, Any], path: str) -> None:
        for key, child in node.items():
            self._value(child, f"{path}.{key}")

    # -- the reference ----------------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        return {
            "about": "Shapes seen in DingTalk card-platform exports; regenerate with "
                     "`python -m tests.cards.official_shapes <mirror-dir>`",
            "sources": sorted(self.sources, key=lambda s: (s["repo"] or "", s["path"], s["commit"] or "")),
            "wrapper": self.wrapper.dump(),
            "editorData": self.editor.dump(),
            "schema": self.schema.dump(),
            "mockData": self.mock.dump(),
            "extension": self.extension.dump(),
            "componentsMap": {"matches_tree": self.map_matches_tree,
                              "entries": {n: sorted(json.loads(e) for e in es)
                                          for n, es in sorted(self.components_map.items())}},
            "nodes": {"keys": self.nodes.dump(), "values": self.node_values.dump()},
            "components": {
                name: {"nodes": c["nodes"], "root": c["root"], "node_keys": c["keys"].dump(),
                       "props": {p: sorted(k) for p, k in sorted(c["props"].items())},
                       "props_always": c["prop_keys"].dump()["always"]}
                for name, c in sorted(self.by_component.items())},
            "values": {path: shape.dump() for path, shape in sorted(self.values.items())},
            "select_values": {k: sorted(json.loads(x) for x in v) for k, v in sorted(self.select_values.items())},
            "widget_colors": sorted(self.widget_colors),
            "variables": self.variables.dump(),
            "variable_fields": self.fields.dump(),
            "variable_field_ids": self.field_ids,
        }


# -- reading exports ---------------------------------------------------------------------------------

def _git(git_dir: Path, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(git_dir), "-c", "core.quotepath=off", *args],
                          check=True, capture_output=True, text=True).stdout


def _as_export(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("editorData"), str) else None


def from_git(git_dir: Path, repo: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Every distinct exported-template blob in the history, with the newest commit holding it."""
    head = _git(git_dir, "rev-parse", "HEAD").strip()
    commits = [head, *(c for c in _git(git_dir, "rev-list", "--all").split() if c != head)]
    seen: set[str] = set()
    for commit in commits:
        for line in _git(git_dir, "ls-tree", "-r", "-z", commit).split("\0"):
            if not line.endswith(".json"):
                continue
            meta, path = line.split("\t", 1)
            blob = meta.split()[2]
            if blob in seen:
                continue
            seen.add(blob)
            wrapper = _as_export(_git(git_dir, "cat-file", "blob", blob))
            if wrapper is not None:
                yield {"repo": repo, "path": path, "commit": commit, "blob": blob}, wrapper


def from_files(paths: list[Path]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for path in paths:
        wrapper = _as_export(path.read_text(encoding="utf-8"))
        if wrapper is not None:
            yield {"repo": None, "path": str(path), "commit": None, "blob": None}, wrapper


def _git_dir(path: Path) -> Path | None:
    for candidate in (path, path / "repo", path / ".git"):
        if (candidate / "objects").is_dir() and (candidate / "HEAD").is_file():
            return candidate
    return None


def build(inputs: list[Path], repo: str | None = None) -> dict[str, Any]:
    collector = Collector()
    for source, wrapper in _exports(inputs, repo):
        collector.add(source, wrapper)
    if not collector.sources:
        raise SystemExit("no exported card templates found")
    return collector.dump()


def _exports(inputs: list[Path], repo: str | None = None) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for path in inputs:
        git_dir = _git_dir(path) if path.is_dir() else None
        if git_dir is not None:
            name = repo or next((p.name.replace("+", "/", 1) for p in (git_dir, *git_dir.parents)
                                 if "+" in p.name), str(path))
            yield from from_git(git_dir, name)
        else:
            yield from from_files(sorted(path.rglob("*.json")) if path.is_dir() else [path])


def editor_defaults(inputs: list[Path], repo: str | None = None) -> dict[str, dict[str, Any]]:
    """Per component, the props every official export that has them writes with one and the same value.

    These are the editor's own defaults; `cards/templates/dsl.py` writes them under the props it sets,
    so a generated template carries what an exported one does. Props whose value varies are left out.
    """
    values: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))

    def walk(node: dict[str, Any]) -> None:
        for key, value in node.get("props", {}).items():
            values[node["componentName"]][key].add(json.dumps(value, ensure_ascii=False, sort_keys=True))
        for child in node.get("children", []):
            walk(child)

    for _, wrapper in _exports(inputs, repo):
        for root in json.loads(wrapper["editorData"])["schema"]["componentsTree"]:
            walk(root)
    return {component: {key: json.loads(next(iter(seen))) for key, seen in sorted(props.items()) if len(seen) == 1}
            for component, props in sorted(values.items())}


def render(value: Any, depth: int = 0) -> str:
    """Sorted JSON, one dict key per line, lists of scalars (and small flat dicts) on one line."""
    flat = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if not isinstance(value, (dict, list)) or len(flat) <= 100 or (
            isinstance(value, list) and not any(isinstance(v, (dict, list)) for v in value)):
        return flat
    pad, inner = " " * depth, " " * (depth + 1)
    if isinstance(value, list):
        return "[\n" + ",\n".join(inner + render(v, depth + 1) for v in value) + "\n" + pad + "]"
    items = (f"{inner}{json.dumps(k, ensure_ascii=False)}: {render(v, depth + 1)}" for k, v in sorted(value.items()))
    return "{\n" + ",\n".join(items) + "\n" + pad + "}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", type=Path, help="git mirror dirs, export files or folders")
    parser.add_argument("--repo", help="owner/name to record for a mirror (default: from its dir name)")
    parser.add_argument("-o", "--out", type=Path, default=OUT)
    parser.add_argument("--defaults", type=Path, metavar="FILE",
                        help="write the editor's constant prop values instead (cards/templates/editor_defaults.json)")
    args = parser.parse_args(argv)
    if args.defaults:
        defaults = editor_defaults(args.inputs, args.repo)
        args.defaults.write_text(json.dumps(defaults, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                                 encoding="utf-8")
        print(f"{args.defaults}: constant props of {len(defaults)} components")
        return 0
    reference = build(args.inputs, args.repo)
    args.out.write_text(render(reference) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(reference['sources'])} exports, {len(reference['components'])} components")
    return 0


if __name__ == "__main__":
    sys.exit(main())
