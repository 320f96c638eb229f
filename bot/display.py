"""Text as a terminal or chat shows it: a CJK character takes two columns, a combining mark none."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def width(text: str) -> int:
    """Columns `text` takes on screen (unicodedata.east_asian_width W/F count 2)."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, columns: int) -> str:
    """`text` padded with spaces to `columns` display columns (never cut)."""
    return text + " " * max(0, columns - width(text))


def shorten(items: Sequence[str], columns: int, more: str = "+{n} more") -> str:
    """Items joined by ', ' within `columns`, the rest counted: 'a@x.com, b@x.com +98 more'.

    The first item is always shown, so the line says who it is about even when that item is long.
    """
    shown: list[str] = []
    for i, item in enumerate(items):
        rest = len(items) - i - 1
        tail = (" " + more.format(n=rest)) if rest else ""
        if shown and width(", ".join([*shown, item]) + tail) > columns:
            break
        shown.append(item)
    left = len(items) - len(shown)
    return ", ".join(shown) + (" " + more.format(n=left) if left else "")
