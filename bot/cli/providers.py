"""`mailbot providers`: the catalog as a table or JSON."""

from __future__ import annotations

import argparse

from bot.cli.common import cli_lang, print_json, table
from bot.providers import CATALOG


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("providers", help="list the supported mailbox types and their SMTP settings")
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.json:
        print_json([p.model_dump(mode="json") for p in CATALOG.values()])
        return 0
    lang = cli_lang()
    rows = [[p.type, p.name(lang), f"{p.host}:{p.port} {p.security}" if p.host else "(host/port/security required)"]
            for p in CATALOG.values()]
    for line in table(rows):
        print(line)
    return 0
