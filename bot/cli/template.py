"""`mailbot template add|list|show|remove`: stored jinja2 mail templates, from a file.

The file is JSON `{"subject", "text", "html"}`; or a plain body (`.html` → html, else text)
with `--subject`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bot.app import open_app
from bot.cli.common import fail, print_json, table
from bot.config import load_settings
from bot.relay.models import InlineTemplate


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("template", help="manage relay mail templates (jinja2)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add or replace a template from a file")
    add.add_argument("name", metavar="NAME")
    add.add_argument("file", metavar="FILE", type=Path, help="JSON {subject,text,html}, or a .txt/.html body")
    add.add_argument("--subject", help="subject template (for a plain body file)")
    add.set_defaults(func=_add)
    lst = actions.add_parser("list", help="list templates")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_list)
    show = actions.add_parser("show", help="show a template")
    show.add_argument("name", metavar="NAME")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_show)
    remove = actions.add_parser("remove", help="remove a template")
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(func=_remove)


def _load(args: argparse.Namespace) -> InlineTemplate | None:
    source = args.file.read_text(encoding="utf-8")
    if args.file.suffix == ".json":
        data = json.loads(source)
        if args.subject:
            data["subject"] = args.subject
        return InlineTemplate.model_validate(data)
    if not args.subject:
        return None
    part = "html" if args.file.suffix in (".html", ".htm") else "text"
    return InlineTemplate.model_validate({"subject": args.subject, part: source})


async def _add(args: argparse.Namespace) -> int:
    template = _load(args)
    if template is None:
        return fail("--subject is required for a plain body file", 2)
    async with open_app(load_settings()) as app:
        await app.relay.templates.add(args.name, template)
    print(f"saved template {args.name}")
    return 0


async def _list(args: argparse.Namespace) -> int:
    async with open_app(load_settings()) as app:
        docs = await app.relay.templates.list()
    if args.json:
        print_json(docs)
    else:
        for line in table([[d["name"], "+".join(p for p in ("text", "html") if d.get(p)), d["subject"]] for d in docs]):
            print(line)
    return 0


async def _show(args: argparse.Namespace) -> int:
    async with open_app(load_settings()) as app:
        doc = await app.relay.templates.show(args.name)
    if args.json:
        print_json(doc)
    else:
        print(f"subject: {doc['subject']}")
        for part in ("text", "html"):
            if doc.get(part):
                print(f"--- {part} ---\n{doc[part]}")
    return 0


async def _remove(args: argparse.Namespace) -> int:
    async with open_app(load_settings()) as app:
        await app.relay.templates.remove(args.name)
    print(f"removed template {args.name}")
    return 0
