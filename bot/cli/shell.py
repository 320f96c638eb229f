"""`mailbot shell`: chat with the bot in the terminal (or from a pipe) as a local admin."""

from __future__ import annotations

import argparse

from bot.adapters.shell import ShellAdapter
from bot.app import open_app
from bot.chat.router import Router
from bot.config import load_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("shell", help="chat with the bot locally: reads lines from stdin until EOF")
    parser.set_defaults(func=shell)


async def shell(args: argparse.Namespace) -> int:
    async with open_app(load_settings()) as app:
        router = Router(app)
        shell = ShellAdapter(router.handle)
        router.pushes["shell"] = shell.push  # a sign-in that ends later prints its outcome
        try:
            await shell.run()
        finally:
            await router.close()
    return 0
