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
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.audit import Actor
from bot.display import pad, width
from bot.errors import MailbotError
from bot.i18n import locale_lang

log = logging.getLogger("mailbot")


def cli_actor() -> Actor:
    """Who runs the CLI, as the audit log names them."""
    return Actor(id=getpass.getuser(), source="cli")


def cli_lang() -> str:
    """CLI messages follow the locale: zh for a Chinese locale, en otherwise."""
    return locale_lang()


def print_json(data: Any) -> None:
    """One JSON document; Chinese stays readable (no \\u escapes)."""
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as aligned text columns; widths count a CJK character as two, so Chinese names line up."""
    widths = [max(width(row[i]) for row in rows if i < len(row)) for i in range(max(map(len, rows), default=0))]
    return ["  ".join(pad(cell, widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)).rstrip()
            for row in rows]


def human(value: Any) -> str:
    """A value as a person reads it, not as Python prints it: '-' for nothing, yes/no, UTC times, lists
    and nested fields joined."""
    if value is None or value == "" or value == [] or value == {}:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S} UTC"
    if isinstance(value, dict):
        return ", ".join(f"{key}: {human(item)}" for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(human(item) for item in value)
    return str(value)


def print_fields(fields: dict[str, Any]) -> None:
    """`show` output: one `key  value` line per field, values made human."""
    for line in table([[key, human(value)] for key, value in fields.items()]):
        print(line)


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
    except BrokenPipeError:  # `mailbot ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


__all__ = ["cli_lang", "fail", "human", "print_fields", "print_json", "run", "table"]
