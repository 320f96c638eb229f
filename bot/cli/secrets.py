"""`mailbot secrets keygen|rotate`: make a key, re-encrypt every stored secret with a new one."""

from __future__ import annotations

import argparse
import sys

from bot.app import open_app
from bot.config import load_settings
from bot.secrets import generate_key, write_key_file


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("secrets", help="manage the key that encrypts stored passwords")
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("keygen", help="print a new key for MAILBOT_SECRET_KEY").set_defaults(func=_keygen)
    actions.add_parser("rotate", help="re-encrypt every stored secret with a new key").set_defaults(func=_rotate)


def _keygen(args: argparse.Namespace) -> int:
    print(generate_key())
    return 0


async def _rotate(args: argparse.Namespace) -> int:
    """Crash-safe order: the key file first holds new+old, then secrets move, then only new."""
    async with open_app(load_settings()) as app:
        new_box = app.box.rotated()
        if app.box.key_file is not None:
            write_key_file(app.box.key_file, new_box.key_list())
        else:
            print("New key (set MAILBOT_SECRET_KEY to it before the next start):", file=sys.stderr)
            print(new_box.primary_key)
        count = await app.mailboxes.reseal_all(new_box)
        final = new_box.only_primary()
        await final.store_check(app.storage)
        if app.box.key_file is not None:
            write_key_file(app.box.key_file, [final.primary_key.encode()])
    print(f"Re-encrypted {count} secret(s) with the new key.", file=sys.stderr)
    return 0
