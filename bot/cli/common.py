"""What every CLI command shares: running async handlers, printing JSON, reporting errors."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import inspect
import json
import logging
import os
import sys
from typing import Any

from bot.audit import Actor
from bot.errors import MailbotError

log = logging.getLogger("mailbot")


def cli_actor() -> Actor:
    """Who runs the CLI, as the audit log names them."""
    return Actor(id=getpass.getuser(), source="cli")


def cli_lang() -> str:
    """CLI messages follow the locale: zh for a Chinese locale, en otherwise."""
    locale = os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG") or ""
    return "zh" if locale.lower().startswith("zh") else "en"


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def fail(message: str, code: int = 1) -> int:
    print(message, file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    """Call the command's handler (sync or async) and turn MailbotError into exit code + stderr."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        result = args.func(args)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except MailbotError as exc:
        return fail(exc.message(getattr(args, "lang", None) or cli_lang()), exc.exit_code)
    except KeyboardInterrupt:
        return fail("interrupted", 130)


__all__ = ["cli_lang", "fail", "print_json", "run"]
