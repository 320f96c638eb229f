"""kill -9 of one of two `mailbot run` processes in the middle of delivering 1,500 mails: every mail
arrives, the only duplicates are mails the killed instance held (claimed, leased) when it died, at
most twice each, and the survivor sends the dead instance's mail once its lease has run out, with
the Message-ID stored at acceptance."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import aiohttp
import pytest

from bot.relay.worker import BACKLOG
from tests.multi.conftest import poll, queue_empty

MAILS = 1500
LEASE_S = 5.0


@pytest.mark.timeout(150)
async def test_kill_9_mid_delivery_loses_nothing_and_duplicates_only_what_was_in_flight(
        postgres_url: str, deploy: Any, timed_smtp: Any) -> None:
    server = timed_smtp(delay_s=0.02)  # slowed a little: delivery takes a few seconds
    deployment = deploy(postgres_url, MAILBOT_RELAY_LEASE_S=str(LEASE_S))
    await deployment.add_mailbox("ops", server)
    token = await deployment.create_token("ci")
    survivor, victim = await deployment.start(2, token=token)

    gate = asyncio.Semaphore(16)  # a few clients at a time
    killed = asyncio.Event()
    ids: dict[int, str] = {}

    async def post(i: int) -> None:
        """Half to each instance; one refused or cut off by the kill is posted again to the survivor
        with the same idempotency key, as a client would (it was accepted once or not at all)."""
        body = {"to": ["x@example.com"], "subject": f"m{i}", "text": "hi", "idempotency_key": f"k{i}"}
        async with gate:
            target = victim if i % 2 and not killed.is_set() else survivor
            try:
                status, answer, _ = await target.post(body)
            except aiohttp.ClientError:
                assert target is victim and killed.is_set()
                give_up = time.monotonic() + 20
                # The dead instance may have reserved the key without storing the mail: 409 "being
                # accepted" until the reservation is RESERVED_S old, then the survivor takes it over.
                status, answer, _ = await survivor.post(body)
                while status == 409 and "being accepted" in answer["message"] and time.monotonic() < give_up:
                    await asyncio.sleep(0.5)
                    status, answer, _ = await survivor.post(body)
        assert status == 202, answer
        ids[i] = answer["id"]

    async def mid_delivery() -> bool:
        return server.count() >= MAILS // 3 and (await victim.metrics())["mailbot_mails_sent_total"] > 0

    posting = asyncio.ensure_future(asyncio.gather(*(post(i) for i in range(MAILS))))
    try:
        await poll(mid_delivery, 60, "a third of the mail delivered, some by the instance to kill")
        killed.set()
        await victim.kill()
        killed_at = time.time()
        delivered_before = server.count()
        # What it held when it died, read at once (the survivor takes each over when its lease ends).
        held = {row["key"]: row["lease"] for row in await deployment.query(
            "SELECT key, lease FROM mailbot_docs WHERE tbl = 'outbox_queue' AND lease > 0 AND value->>'owner' LIKE $1",
            f"%-{victim.pid}-%")}
        await posting
    finally:
        if not posting.done():
            posting.cancel()
            await asyncio.gather(posting, return_exceptions=True)
    assert delivered_before < MAILS and len(set(ids.values())) == MAILS
    assert held, "the killed instance held no mail: nothing was tested"

    await poll(lambda: queue_empty(deployment), 60, "every mail to be sent and recorded")
    records = {row["key"]: (row["status"], row["message_id"]) for row in await deployment.query(
        "SELECT key, value->>'status' AS status, value->>'message_id' AS message_id "
        "FROM mailbot_docs WHERE tbl = 'outbox_mails'")}
    assert len(records) == MAILS and {status for status, _ in records.values()} == {"sent"}

    timeline = server.timeline()
    received = Counter(str(m.message["Message-ID"]) for _, m in timeline)
    stored = {message_id: mail_id for mail_id, (_, message_id) in records.items()}
    assert set(received) == set(stored)  # every mail, under the Message-ID stored when it was accepted
    duplicates = {message_id: n for message_id, n in received.items() if n > 1}
    resent = [at - killed_at for at, m in timeline if received[str(m.message["Message-ID"])] > 1 and at > killed_at]
    print(f"\n{MAILS} mails; killed after {delivered_before} delivered, holding {len(held)} (BACKLOG {BACKLOG}); "
          f"the last arrived {max(at for at, _ in timeline) - killed_at:.1f} s after the kill; {len(duplicates)} "
          f"duplicates, sent again {min(resent, default=0):.1f}-{max(resent, default=0):.1f} s after the kill")
    assert max(received.values()) <= 2
    assert len(duplicates) <= len(held) <= BACKLOG
    assert {stored[message_id] for message_id in duplicates} <= set(held)  # only mail the dead instance held

    # The dead instance's mail went out again only once its lease had run out (none of it was taken
    # while the lease lived); what it sent in its last moments arrived right at the kill.
    for at, message in timeline:
        mail_id = stored[str(message.message["Message-ID"])]
        if mail_id in held and at > killed_at + 0.5:
            assert at >= held[mail_id] - 0.1, (mail_id, at - killed_at, held[mail_id] - killed_at)
    assert (await survivor.metrics())["mailbot_mails_sent_total"] >= len(held)  # all of it, again
    assert await survivor.stop() == 0
