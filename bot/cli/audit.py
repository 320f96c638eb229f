"""`mailbot audit`: who changed which mailbox and when."""

from __future__ import annotations

import argparse

from bot.app import open_app
from bot.cli.common import print_json
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
    for e in entries:
        status = "" if e.ok else " FAILED"
        print(f"{e.at:%Y-%m-%d %H:%M:%S} {e.actor:<24} {e.action:<8} {e.target}{status} {e.changes or ''}")
    return 0
