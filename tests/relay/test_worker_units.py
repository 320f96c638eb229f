"""Policy as data, pacing, the chat-facing service functions, and mailbox changes after enqueue."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from typing import Any

import pytest

from bot.relay.policy import RetryPolicy
from bot.relay.worker import Lane
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


async def test_lane_paces_send_starts() -> None:
    lane = Lane(size=2, interval_s=0.3)  # 200/min: a burst of 3 (one second's share), then 1 per 0.3 s
    t0 = time.monotonic()
    for _ in range(4):
        await lane.pace()
    assert time.monotonic() - t0 >= 0.3  # the 4th start waited (a lower bound only)


async def test_slow_provider_lane_has_no_burst() -> None:
    lane = Lane(size=1, interval_s=0.15)
    lane.interval_s = 1.5  # 40/min: strict spacing; check the reservation, not the clock
    await lane.pace()
    first = lane.next_at
    task = asyncio.create_task(lane.pace())
    await asyncio.sleep(0)
    assert lane.next_at - first == pytest.approx(1.5)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_a_wait_for_the_pace_ends_when_the_worker_stops() -> None:
    lane, stop = Lane(size=1, interval_s=60.0), asyncio.Event()  # 1/min
    assert await lane.pace(stop)  # the first is due at once
    waiting = asyncio.create_task(lane.pace(stop))
    await asyncio.sleep(0.05)
    t0 = time.monotonic()
    stop.set()
    assert await asyncio.wait_for(waiting, 1) is False and time.monotonic() - t0 < 0.5
    assert await Lane(size=1, interval_s=0.0).pace() is True  # unpaced: never waits


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
