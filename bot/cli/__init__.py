"""`mailbot` command line: one module per command group, each adds its subcommands here.

Every command reads MAILBOT_DATA_DIR through Settings; `--json` prints one JSON document on stdout;
errors exit non-zero with the reason on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot.cli import common

COMMAND_MODULES = ("providers", "mailbox", "secrets", "audit", "guide", "run", "shell", "token", "template", "send", "outbox",
                   "store", "detect", "rule")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mailbot", description="DingTalk mailbox registry and mail relay bot")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"bot.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return common.run(args)


if __name__ == "__main__":
    sys.exit(main())
