"""`mailbot send`: enqueue one mail through the same RelayService as the API.

The running `mailbot run` picks it up within MAILBOT_RELAY_POLL_S.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.app import open_app
from bot.cli.common import print_json
from bot.config import load_settings
from bot.relay.models import MailRequest


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("send", help="queue a mail for the relay to deliver")
    parser.add_argument("--mailbox", help="mailbox name (default: the default mailbox)")
    parser.add_argument("--to", action="append", required=True, help="recipient (repeatable)")
    parser.add_argument("--cc", action="append", default=[])
    parser.add_argument("--bcc", action="append", default=[])
    parser.add_argument("--subject")
    parser.add_argument("--text")
    parser.add_argument("--html-file", type=Path)
    parser.add_argument("--from-name")
    parser.add_argument("--reply-to")
    parser.add_argument("--template", help="stored template name")
    parser.add_argument("--var", action="append", default=[], metavar="KEY=VALUE", help="template variable")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=_send)


async def _send(args: argparse.Namespace) -> int:
    request = MailRequest.parse({
        "mailbox": args.mailbox, "to": args.to, "cc": args.cc, "bcc": args.bcc, "subject": args.subject,
        "text": args.text, "html": args.html_file.read_text(encoding="utf-8") if args.html_file else None,
        "from_name": args.from_name, "reply_to": args.reply_to, "template": args.template,
        "variables": dict(v.partition("=")[::2] for v in args.var),
    })
    async with open_app(load_settings()) as app:
        record, _ = await app.relay.submit(request)
    if args.json:
        print_json({"id": record.id, "status": record.status, "message_id": record.message_id})
    else:
        print(f"{record.id} queued")
    return 0
