"""How the console's audit page says a mailbox's pace change: `none` is no pacing, in the page's language."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.audit import AuditEntry
from bot.console.present import audit_entry


def test_rate_none_reads_as_no_pacing() -> None:
    entry = AuditEntry(at=datetime.now(UTC), actor="cli:ops", action="rate", target="own",
                       changes={"rate_per_minute": [30, "none"]})
    assert audit_entry(entry, "zh")["change_lines"] == [
        {"field": "rate_per_minute", "label": "每分钟发送上限", "value": "30 → 不限速"}]
    back = entry.model_copy(update={"changes": {"rate_per_minute": ["none", None]}})
    assert audit_entry(back, "en")["change_lines"][0]["value"] == "no pacing → —"
