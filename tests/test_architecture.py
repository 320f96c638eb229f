"""The arrows of issue 13, read from the source with `ast`: adapters (DingTalk, shell, HTTP, console,
CLI) → router → handlers → services → storage, no import cycle between modules of `bot/`, and no
table opened outside a service.

Every import counts, at module level or inside a function (a lazy import is still a dependency);
only those under `if TYPE_CHECKING:` do not (they never run). `from pkg import name` depends on the
module `pkg.name` when there is one, else on `pkg` itself.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOT = ROOT / "bot"

# The modules that may open tables (`storage.table(...)`, `storage.queue(...)`): the storage backends
# and the services. Anything else asks a service.
TABLE_OPENERS = frozenset({
    "bot.audit",
    "bot.secrets",
    "bot.mailboxes.service",
    "bot.mailboxes.health",
    "bot.mailboxes.signin",
    "bot.relay.outbox",
    "bot.relay.templates",
    "bot.relay.tokens",
    "bot.rules.service",
    "bot.state.admins",
    "bot.state.card_records",
    "bot.state.claims",
    "bot.state.flows",
})
OPENER_METHODS = frozenset({"table", "queue"})

# Layers, lowest first: a module may import its own layer or lower ones, never a higher one.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("bot.errors", "bot.i18n", "bot.config", "bot.display", "bot.providers", "bot.storage"),
    ("bot.guides", "bot.smtp", "bot.oauth", "bot.secrets", "bot.audit", "bot.mailboxes", "bot.state",
     "bot.relay", "bot.rules", "bot.app"),
    ("bot.chat",),
    ("bot.adapters", "bot.console", "bot.emulator"),
    ("bot.cli", "bot.__main__"),
)
# Known places where a lower layer reaches up, each with its reason; anything new fails.
UPWARD_ALLOWED = frozenset({
})


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(BOT.rglob("*.py"))}


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of import nodes under `if TYPE_CHECKING:`."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                skipped |= {id(n) for n in ast.walk(inner)}
    return skipped


def imports(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The modules of `bot` that `name` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skipped = _type_checking_only(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = alias.name
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target:
                    yield target
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                if f"{source}.{alias.name}" in known:
                    yield f"{source}.{alias.name}"
                elif source in known:
                    yield source


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: {t for t in imports(name, path, known) if t != name} for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def layer(name: str) -> int:
    for rank, prefixes in enumerate(LAYERS):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return rank
    raise AssertionError(f"{name} is in no layer: add it to LAYERS in {__file__}")


def test_no_import_cycle_between_modules() -> None:
    found = cycles(graph())
    assert found == [], "import cycles:\n" + "\n".join(" ↔ ".join(c) for c in found)


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_imports_point_down_the_layers() -> None:
    upward = sorted((src, dst) for src, targets in graph().items() for dst in targets
                    if layer(dst) > layer(src) and (src, dst) not in UPWARD_ALLOWED)
    assert upward == [], "imports that point up a layer:\n" + "\n".join(f"{s} → {d}" for s, d in upward)


def test_only_services_open_tables() -> None:
    opened = []
    for name, path in modules().items():
        if name in TABLE_OPENERS or name == "bot.storage" or name.startswith("bot.storage."):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in OPENER_METHODS:
                opened.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    assert opened == [], "tables opened outside a service:\n" + "\n".join(opened)


def test_every_listed_table_opener_exists() -> None:
    known = modules()
    assert sorted(TABLE_OPENERS - set(known)) == []
