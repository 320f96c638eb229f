"""Relay counters in Prometheus text format (no client library: a handful of numbers)."""

from __future__ import annotations

from dataclasses import dataclass, field

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400)


@dataclass
class Metrics:
    """Counters since start. `accepted` counts every mail this process takes on, whoever queued it
    (the API here, `mailbot send`, an earlier run, a retry), so it is never below sent + failed."""

    accepted: int = 0
    sent: int = 0
    failed: int = 0
    retries: int = 0
    latency_counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    latency_sum: float = 0.0

    def observe_latency(self, seconds: float) -> None:
        self.latency_sum += seconds
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.latency_counts[i] += 1

    def render(self, queued: int) -> str:
        lines = [
            "# HELP mailbot_mails_queued Mails waiting to be sent (queued, retrying or sending).",
            "# TYPE mailbot_mails_queued gauge",
            f"mailbot_mails_queued {queued}",
        ]
        for name, value, help_ in (("accepted", self.accepted, "Mails queued for delivery since start: accepted here, "
                                    "found queued by `mailbot send` or an earlier run, or retried."),
                                   ("sent", self.sent, "Mails sent since start."),
                                   ("failed", self.failed, "Mails that failed for good since start."),
                                   ("retries", self.retries, "Temporary failures scheduled for retry.")):
            lines += [f"# HELP mailbot_mails_{name}_total {help_}", f"# TYPE mailbot_mails_{name}_total counter",
                      f"mailbot_mails_{name}_total {value}"]
        lines += ["# HELP mailbot_delivery_latency_seconds From acceptance to the server's 250.",
                  "# TYPE mailbot_delivery_latency_seconds histogram"]
        for bound, count in zip(BUCKETS, self.latency_counts):
            lines.append(f'mailbot_delivery_latency_seconds_bucket{{le="{bound}"}} {count}')
        lines += [f'mailbot_delivery_latency_seconds_bucket{{le="+Inf"}} {self.sent}',
                  f"mailbot_delivery_latency_seconds_sum {self.latency_sum:.6f}",
                  f"mailbot_delivery_latency_seconds_count {self.sent}"]
        return "\n".join(lines) + "\n"
