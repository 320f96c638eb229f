"""End to end through the real relay on a full store (max_page_count on the outbox tables' own
connections, see tests.storage.faults): 507 within 2 s, /healthz 503 naming the store, accepted mail
kept and delivered, and writing works again once there is room, with no restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from bot.relay.outbox import Outbox
from bot.storage import Table
from tests.storage.faults import allow_writes, deny_writes, fill, uncap

T = TypeVar("T")
MAIL: dict[str, Any] = {"to": ["alice@example.com"], "subject": "Hi", "text": "Hello"}
TEMPORARY = "451 4.3.0 Try again later"


async def timed(call: Awaitable[T]) -> tuple[T, float]:
    started = time.monotonic()
    result = await call
    return result, time.monotonic() - started


async def healthz(relay: Any) -> tuple[int, Any]:
    async with relay.http.get(relay.url + "/healthz") as resp:
        return resp.status, await resp.json()


async def fill_outbox(outbox: Outbox) -> dict[Table, int]:
    """Full to the last byte: the outbox's tables share one file, so filler rows in the content table
    (nothing reads them by those keys) fill them all."""
    return {outbox.content: await fill(outbox.content)}


async def test_a_full_store_answers_507_and_503_and_recovers_without_a_restart(
        smtp_server: Any, relay_factory: Any) -> None:
    server = smtp_server(data_replies=[TEMPORARY])  # the first mail retries, after 3-6 s
    async with relay_factory(server, retry_base_s=6.0) as relay:
        outbox = relay.component.relay.outbox
        status, before = await relay.post({**MAIL, "subject": "accepted before"})
        assert status == 202
        assert (await relay.wait_status(before["id"], "retrying"))["status"] == "retrying"
        caps = await fill_outbox(outbox)
        records = await outbox.mails.items()

        (status, body), took = await timed(relay.post({**MAIL, "subject": "during", "idempotency_key": "k1"}))
        assert status == 507 and took < 2.0, (status, body, took)
        assert body["error"] == "storage_failed" and body["temporary"] is True
        assert "disk is full" in body["message"] and "MAILBOT_DATA_DIR" in body["fix"]
        assert await outbox.mails.items() == records and await outbox.queue.count() == 1  # nothing landed
        (status, health), took = await timed(healthz(relay))
        assert status == 503 and took < 2.0
        assert health["status"] == "failing" and health["store"] == "sqlite" and health["error"] == "storage_failed"
        assert "outbox_content" in health["tables"]
        status, kept = await relay.get(f"/v1/mails/{before['id']}")  # reads go on
        assert status == 200 and kept["status"] == "retrying"
        assert [m["id"] for m in (await relay.get("/v1/mails"))[1]["mails"]] == [before["id"]]

        for table, old in caps.items():
            await uncap(table, old)
        deadline = time.monotonic() + 5.0
        while (status := (await healthz(relay))[0]) != 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)  # no mail posted meanwhile: /healthz's own probe finds the room
        assert status == 200
        status, after = await relay.post({**MAIL, "subject": "during", "idempotency_key": "k1"})
        assert status == 202  # the client's retry of the refused mail: its key had not landed either
        assert (await relay.wait_status(after["id"], "sent"))["status"] == "sent"
        assert (await relay.wait_status(before["id"], "sent", timeout=15.0))["status"] == "sent"
        assert {m.message["Subject"] for m in server.messages} == {"accepted before", "during"}
        assert (await healthz(relay))[0] == 200


async def test_the_relay_stops_promptly_while_the_store_is_failing(smtp_server: Any, relay_factory: Any) -> None:
    """The hang this replaces: sqlitedict's writer thread died on the full disk, every later call and
    SIGTERM's stop waited on it. Here a mail is sent while its record cannot be written, then stop."""
    server = smtp_server(data_replies=[TEMPORARY])
    async with relay_factory(server, retry_base_s=1.0, relay_stop_grace_s=5.0) as relay:
        outbox = relay.component.relay.outbox
        status, body = await relay.post(MAIL)
        assert status == 202
        await relay.wait_status(body["id"], "retrying")
        await deny_writes(outbox.mails)
        assert (await relay.post(MAIL))[0] == 507
        await server.wait_for_messages_async(1, timeout=10.0)  # the retry went out; its record cannot land
        _, took = await timed(relay.component.stop())
        assert took < 2.0, f"stop took {took:.2f} s"
        kept = await outbox.mails.get(body["id"])  # still to send on disk: it goes out again after restart
        assert kept is not None and kept["status"] == "retrying"


async def test_a_mail_sent_while_its_record_cannot_land_is_sent_once(smtp_server: Any, relay_factory: Any) -> None:
    """The send succeeded but 'sent' cannot be written: it is not sent again at every rescan, and its
    record lands once the store can write again."""
    server = smtp_server(data_replies=[TEMPORARY])
    async with relay_factory(server, retry_base_s=1.0) as relay:  # rescans every 0.2 s
        outbox = relay.component.relay.outbox
        status, body = await relay.post(MAIL)
        await relay.wait_status(body["id"], "retrying")
        await deny_writes(outbox.mails)
        await server.wait_for_messages_async(1, timeout=10.0)  # the retry went out; its record cannot land
        await asyncio.sleep(1.5)  # several polls of the queue
        assert len(server.messages) == 1
        await allow_writes(outbox.mails)
        assert (await relay.wait_status(body["id"], "sent", timeout=10.0))["status"] == "sent"
        await asyncio.sleep(0.5)
        assert len(server.messages) == 1


async def test_mail_claimed_just_before_the_store_failed_is_sent_once_it_recovers(
        smtp_server: Any, relay_factory: Any) -> None:
    """The worker claimed a mail, then the store failed before the mail reached a sender (here: its
    mailbox's pace cannot be written). It goes back to the queue and is sent when the store writes
    again; before, it stayed claimed, its lease renewed for good, and it was never sent."""
    server = smtp_server()
    async with relay_factory(server, relay_lease_s=6.0) as relay:  # renewed every 2 s
        outbox = relay.component.relay.outbox
        await deny_writes(outbox.pace)
        status, body = await relay.post(MAIL)
        assert status == 202
        await asyncio.sleep(1.0)  # several polls: claimed, refused its send time, given back
        assert not server.messages
        await allow_writes(outbox.pace)
        assert (await relay.wait_status(body["id"], "sent", timeout=10.0))["status"] == "sent"
        assert len(server.messages) == 1
