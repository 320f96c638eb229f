"""Policy as data, the shared pace, the chat-facing service functions, and mailbox changes after enqueue."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from bot.relay.policy import RetryPolicy
from bot.relay.outbox import Outbox, slots
from bot.storage import SqliteStorage
from tests.relay.conftest import ADMIN

MAIL: dict[str, Any] = {"to": ["alice@example.com"], "subject": "Hi", "text": "Hello"}


def test_retry_policy_backoff_jitter_and_limits() -> None:
    policy = RetryPolicy(base_s=10, factor=2, cap_s=100, max_attempts=4, max_age_s=1000, jitter=0.5)
    rng = random.Random(1)
    for attempts, full in ((1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)):
        delay = policy.delay(attempts, rng)
        assert full * 0.5 <= delay <= full
    assert not policy.gives_up(3, 10)
    assert policy.gives_up(4, 10)  # attempt budget
    assert policy.gives_up(1, 990, next_delay_s=20)  # the next try would be past the max age


def test_pace_allows_a_burst_of_one_seconds_share_then_spaces_send_starts() -> None:
    times, next_at = slots(0.0, 0.3, 4, at=100.0)  # 200/min: a burst of 3 (one second's share), then 1 per 0.3 s
    assert times[:3] == pytest.approx([99.4, 99.7, 100.0]) and times[3] == pytest.approx(100.3)
    assert next_at == pytest.approx(100.6)
    later, _ = slots(next_at, 0.3, 1, at=100.1)  # a reservation made elsewhere holds
    assert later == pytest.approx([100.6])


def test_slow_provider_pace_has_no_burst() -> None:
    times, next_at = slots(0.0, 1.5, 2, at=50.0)  # 40/min: strict spacing
    assert times == pytest.approx([50.0, 51.5]) and next_at == pytest.approx(53.0)


async def test_two_processes_reserve_distinct_send_times(tmp_path: Any) -> None:
    """The pace lives in the store: reservations made at once by two processes never share a time."""
    first, second = SqliteStorage(tmp_path), SqliteStorage(tmp_path)
    a, b = Outbox(first), Outbox(second)
    got = await asyncio.gather(*[(a if i % 2 else b).take_slots("ops", 2.0, 1) for i in range(20)])
    starts = sorted(t for batch in got for t in batch)
    assert all(later - earlier == pytest.approx(2.0) for earlier, later in zip(starts, starts[1:]))
    await first.close()
    await second.close()


async def test_recent_retry_and_send_test_for_chat(smtp_server: Any, relay_factory: Any) -> None:
    server = smtp_server(data_replies=["550 5.1.1 no such user"])
    async with relay_factory(server) as relay:
        service = relay.component.relay
        records = await service.send_test(3, "ops@example.com")
        assert len({r.message_id for r in records}) == 3
        for record in records:
            await relay.wait_status(record.id, "sent", "failed")
        failed = await service.recent(status="failed")
        assert len(failed) == 1 and failed[0].error_code
        again = await service.retry(failed[0].id)
        assert again.status == "queued" and again.message_id == failed[0].message_id
        assert (await relay.wait_status(again.id, "sent"))["status"] == "sent"
        assert [r.status for r in await service.recent(limit=10)] == ["sent"] * 3
        assert len({m.message["Message-ID"] for m in server.messages}) == 3


async def test_mailbox_disabled_before_a_retry_fails_with_alert(smtp_server: Any, relay_factory: Any) -> None:
    server = smtp_server(data_replies=["451 4.3.0 later"])
    # the retry comes >= 0.25 s later, after the worker's 0.2 s mailbox cache has expired
    async with relay_factory(server, retry_base_s=0.5) as relay:
        mail_id = (await relay.post(MAIL))[1]["id"]
        assert (await relay.wait_status(mail_id, "retrying"))["status"] == "retrying"
        await relay.app.mailboxes.set_enabled("ops", False, ADMIN)
        view = await relay.wait_status(mail_id, "sent", "failed")
        assert view["status"] == "failed" and view["last_error"].startswith("not_found")
        assert [e.kind for e in await relay.alerts(1)] == ["mail_failed"]
