"""Accuracy of the matcher on a labelled set: positives must hit their type, negatives must get none."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, computed_field

from bot.guides.matcher import match

# The labelled set lives with the tests of the source tree; found from the package, so any working directory works.
DEFAULT_EVAL_SET = Path(__file__).resolve().parents[2] / "tests" / "guides" / "eval_set.jsonl"
TARGET = 0.95


class EvalItem(BaseModel):
    """One labelled phrasing; `type` None means no guide should be given."""

    model_config = ConfigDict(frozen=True)
    text: str
    type: str | None
    note: str | None = None


class Miss(BaseModel):
    """A phrasing the matcher got wrong, with what it said instead."""

    model_config = ConfigDict(frozen=True)
    text: str
    expected: str | None
    got: str | None
    kind: str


class EvalReport(BaseModel):
    """Counts per side; the accuracies and the pass/fail verdict are part of the JSON dump."""

    positives: int
    positives_correct: int
    negatives: int
    negatives_correct: int
    misses: list[Miss]

    @staticmethod
    def _ratio(correct: int, total: int) -> float:
        return correct / total if total else 1.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def positive_accuracy(self) -> float:
        return self._ratio(self.positives_correct, self.positives)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def negative_accuracy(self) -> float:
        return self._ratio(self.negatives_correct, self.negatives)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        return self.positive_accuracy >= TARGET and self.negative_accuracy >= TARGET

    def lines(self) -> list[str]:
        """Human-readable summary, misses last."""
        out = [
            f"positives: {self.positive_accuracy:.1%} ({self.positives_correct}/{self.positives})",
            f"negatives: {self.negative_accuracy:.1%} ({self.negatives_correct}/{self.negatives})",
            f"target: {TARGET:.0%} each -> {'PASS' if self.passed else 'FAIL'}",
        ]
        out += [f"miss: {m.text!r} expected={m.expected} got={m.got} ({m.kind})" for m in self.misses]
        return out


def load_items(path: Path = DEFAULT_EVAL_SET) -> list[EvalItem]:
    """Read a JSONL eval set, skipping blank lines."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [EvalItem.model_validate(json.loads(line)) for line in lines if line.strip()]


def evaluate(items: list[EvalItem]) -> EvalReport:
    """Run the matcher over every item and count hits on each side."""
    misses: list[Miss] = []
    pos = neg = pos_ok = neg_ok = 0
    for item in items:
        result = match(item.text)
        ok = result.type == item.type
        if item.type is None:
            neg, neg_ok = neg + 1, neg_ok + ok
        else:
            pos, pos_ok = pos + 1, pos_ok + ok
        if not ok:
            misses.append(Miss(text=item.text, expected=item.type, got=result.type, kind=result.kind))
    return EvalReport(positives=pos, positives_correct=pos_ok, negatives=neg, negatives_correct=neg_ok, misses=misses)
