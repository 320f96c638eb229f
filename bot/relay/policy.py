"""Retry policy as data: which failures retry, after how long, and when to give up."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter on the upper half: base * factor**(n-1), capped."""

    base_s: float = 10.0
    factor: float = 2.0
    cap_s: float = 3600.0
    max_attempts: int = 8
    max_age_s: float = 86400.0
    jitter: float = 0.5  # the delay is drawn from [d * (1 - jitter), d]

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the `attempts`-th failed attempt (1-based)."""
        d = min(self.cap_s, self.base_s * self.factor ** max(0, attempts - 1))
        r = (rng or random).random()
        return d * (1 - self.jitter * r)

    def gives_up(self, attempts: int, age_s: float, next_delay_s: float = 0.0) -> bool:
        """True when another attempt would exceed the attempt count or the mail's max age."""
        return attempts >= self.max_attempts or age_s + next_delay_s > self.max_age_s

    @classmethod
    def from_settings(cls, settings: object) -> RetryPolicy:
        return cls(base_s=settings.retry_base_s, max_attempts=settings.retry_max_attempts,  # type: ignore[attr-defined]
                   max_age_s=settings.retry_max_age_s)  # type: ignore[attr-defined]
