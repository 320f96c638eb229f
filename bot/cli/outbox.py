"""`mailbot outbox list|show|retry`: what the relay holds, and a second chance for failed mail."""

from __future__ import annotations

import argparse

from bot.app import open_app
from bot.cli.common import print_fields, print_json, table
from bot.config import load_settings
from bot.display import shorten
from bot.relay.models import STATUSES

RECIPIENT_COLUMNS = 50  # a list of 100 recipients stays one readable line: "a@x.com, b@x.com +98 more"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("outbox", help="list relay mails, show one, retry a failed one")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    lst = actions.add_parser("list", help="recent mails, newest first")
    lst.add_argument("--status", choices=STATUSES)
    lst.add_argument("--limit", type=int, default=20)
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_list)
    show = actions.add_parser("show", help="one mail")
    show.add_argument("id", metavar="ID")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_show)
    retry = actions.add_parser("retry", help="send a failed mail again (same Message-ID)")
    retry.add_argument("id", metavar="ID")
    retry.set_defaults(func=_retry)


async def _list(args: argparse.Namespace) -> int:
    async with open_app(load_settings()) as app:
        mails = await app.relay.recent(status=args.status, limit=args.limit)
    if args.json:
        print_json([m.view() for m in mails])
    else:
        rows = [[m.id, m.status, m.mailbox, shorten(m.to, RECIPIENT_COLUMNS),
                 m.subject + (f"  [{m.error_code}]" if m.error_code else "")] for m in mails]
        for line in table(rows):
            print(line)
    return 0


async def _show(args: argparse.Namespace) -> int:
    async with open_app(load_settings()) as app:
        mail = await app.relay.get(args.id)
    if args.json:
        print_json(mail.view())
    else:
        print_fields(mail.model_dump(include=set(mail.view())))
    return 0


async def _retry(args: argparse.Namespace) -> int:
    async with open_app(load_settings()) as app:
        mail = await app.relay.retry(args.id)
    print(f"{mail.id} {mail.status}")
    return 0
