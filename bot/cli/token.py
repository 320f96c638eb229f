"""`mailbot token create|list|revoke`: API tokens for workflows. The token is printed once."""

from __future__ import annotations

import argparse

from bot.app import open_app
from bot.cli.common import cli_actor, human, print_json, table
from bot.config import load_settings
from bot.relay.tokens import TokenStore


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("token", help="create, list and revoke relay API tokens")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a token (printed once; only its hash is stored)")
    create.add_argument("name", metavar="NAME")
    create.add_argument("--mailbox", action="append", default=[], help="limit the token to this mailbox (repeatable)")
    create.add_argument("--json", action="store_true")
    create.set_defaults(func=_create)
    lst = actions.add_parser("list", help="list tokens (names and scopes, never the tokens)")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_list)
    revoke = actions.add_parser("revoke", help="revoke a token")
    revoke.add_argument("name", metavar="NAME")
    revoke.set_defaults(func=_revoke)


async def _create(args: argparse.Namespace) -> int:
    async with open_app(load_settings()) as app:
        for name in args.mailbox:
            await app.mailboxes.get(name)  # a typo in the scope fails now, not at the first POST
        token = await TokenStore(app.storage, app.audit).create(args.name, args.mailbox, cli_actor())
    if args.json:
        print_json({"name": args.name, "token": token})
    else:
        print(token)
    return 0


async def _list(args: argparse.Namespace) -> int:
    async with open_app(load_settings()) as app:
        tokens = await TokenStore(app.storage).list()
    rows = [{"name": t.name, "mailboxes": t.get("mailboxes") or [], "created_at": t.get("created_at")} for t in tokens]
    if args.json:
        print_json(rows)
    else:
        for line in table([[r["name"], ", ".join(r["mailboxes"]) or "(all mailboxes)", human(r["created_at"])]
                           for r in rows]):
            print(line)
    return 0


async def _revoke(args: argparse.Namespace) -> int:
    async with open_app(load_settings()) as app:
        await TokenStore(app.storage, app.audit).revoke(args.name, cli_actor())
    print(f"revoked {args.name}")
    return 0
