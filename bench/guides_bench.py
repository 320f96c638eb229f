"""Time `bot.guides.answer` over the eval set and print p50/p99 in milliseconds (target: p99 < 2 ms).

Run from the repo root: `.venv/bin/python bench/guides_bench.py [PATH] [--rounds N]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.guides import answer  # noqa: E402
from bot.guides.eval import DEFAULT_EVAL_SET, load_items  # noqa: E402
from bot.guides.matcher import _fix_typo, match  # noqa: E402

TARGET_P99_MS = 2.0


def percentile(sorted_ms: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return sorted_ms[min(len(sorted_ms) - 1, int(q * len(sorted_ms)))]


def _time(texts: list[str], rounds: int, *, asked_before: bool = False) -> list[float]:
    """Milliseconds per answer() call, ascending; unless `asked_before`, each question is new to the matcher."""
    timings: list[float] = []
    for _ in range(rounds):
        for text in texts:
            if not asked_before:
                match.cache_clear()
            start = time.perf_counter()
            answer(text)
            timings.append((time.perf_counter() - start) * 1000)
    return sorted(timings)


def _line(label: str, timings: list[float]) -> str:
    return (f"{label}: p50 {percentile(timings, 0.50):.3f} ms  p99 {percentile(timings, 0.99):.3f} ms  "
            f"mean {statistics.fmean(timings):.3f} ms  max {timings[-1]:.3f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", nargs="?", default=str(DEFAULT_EVAL_SET))
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    texts = [item.text for item in load_items(Path(args.path))]
    answer("")  # build the lookup tables outside the timing
    _fix_typo.cache_clear()
    cold = _time(texts, 1)  # every word seen for the first time
    warm = _time(texts, args.rounds)
    repeated = _time(texts, args.rounds, asked_before=True)
    print(f"questions: {len(texts)}; cold = first pass, warm = {args.rounds} more rounds, each question new "
          "to the matcher's cache; repeated = the same questions asked again (cache hits)")
    print(_line("cold", cold))
    print(_line("warm", warm))
    print(_line("repeated", repeated))
    return 0 if max(percentile(cold, 0.99), percentile(warm, 0.99)) < TARGET_P99_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
