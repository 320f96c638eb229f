"""`mailbot audit`: who changed which mailbox and when."""

from __future__ import annotations

import argparse
from typing import Any

from bot.app import open_app
from bot.cli.common import human, print_json, table
from bot.config import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("audit", help="show the audit log")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--limit", type=int, default=None, help="only the last N entries")
    parser.set_defaults(func=_run)


async def _run(args: argparse.Namespace) -> int:
    async with open_app(load_settings()) as app:
        entries = await app.audit.entries(args.limit)
    if args.json:
        print_json([e.model_dump(mode="json") for e in entries])
        return 0
    rows = [[f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.action, e.target + ("" if e.ok else " FAILED"),
             _changes(e.changes)] for e in entries]
    for line in table(rows):
        print(line)
    return 0


def _changes(changes: dict[str, Any]) -> str:
    """`field: old → new` for a change pair, `field: value` otherwise."""
    return "; ".join(f"{k}: {human(v[0])} → {human(v[1])}" if isinstance(v, list) and len(v) == 2
                     else f"{k}: {human(v)}" for k, v in changes.items())
