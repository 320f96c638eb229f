"""The labelled set is varied enough to mean something, and the matcher meets the targets on it."""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

from bot.guides import answer
from bot.guides.eval import TARGET, evaluate, load_items
from bot.guides.matcher import GUIDE_TYPES

EVAL_SET = Path(__file__).with_name("eval_set.jsonl")
CJK = re.compile(r"[\u3400-\u9fff]")


def test_eval_set_shape() -> None:
    items = load_items(EVAL_SET)
    assert len(items) >= 150
    assert len({i.text for i in items}) == len(items), "duplicate phrasing"
    negatives = [i for i in items if i.type is None]
    positives = [i for i in items if i.type is not None]
    assert len(negatives) >= 30
    assert {i.type for i in positives} == set(GUIDE_TYPES)
    assert min(Counter(i.type for i in positives).values()) >= 10
    for group in (positives, negatives):
        assert any(CJK.search(i.text) for i in group) and any(not CJK.search(i.text) for i in group)
    notes = {i.note for i in items}
    assert {"command", "off-topic", "unsupported provider", "error reply", "typo"} <= notes


def test_eval_targets() -> None:
    report = evaluate(load_items(EVAL_SET))
    assert report.positive_accuracy >= TARGET, report.lines()
    assert report.negative_accuracy >= TARGET, report.lines()


def test_answer_is_fast() -> None:
    """The target is p99 < 2 ms (see bench/guides_bench.py); this only catches gross regressions."""
    texts = [i.text for i in load_items(EVAL_SET)]
    answer(texts[0])
    timings = []
    for text in texts:
        start = time.perf_counter()
        answer(text)
        timings.append(time.perf_counter() - start)
    timings.sort()
    assert timings[int(len(timings) * 0.99)] < 0.02
