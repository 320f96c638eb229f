"""Text measured as a terminal shows it: a CJK character takes two columns."""

from __future__ import annotations

from bot.cli.common import table
from bot.display import shorten, width


def test_tables_pad_by_display_width() -> None:
    assert width("审批通知") == 8 and width("ops") == 3
    rows = table([["审批通知", "custom"], ["ops", "custom"]])
    assert [width(row[:row.index("custom")]) for row in rows] == [10, 10]


def test_a_long_list_is_shortened_by_display_width() -> None:
    people = ["张三@例子.中国", "李四@例子.中国"]  # 20 characters joined, but 30 columns on screen
    assert shorten(people, 30) == "张三@例子.中国, 李四@例子.中国"
    assert shorten(people, 25) == "张三@例子.中国 +1 more"
    assert shorten(["a@x.com", "b@x.com", *(f"{i}@x.com" for i in range(98))], 26) == "a@x.com, b@x.com +98 more"
    assert shorten(["a-very-long-address@example.com", "b@x.com"], 10) == "a-very-long-address@example.com +1 more"
