"""Two claims or two retries of one mail at the same moment: it is sent once."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.errors import Conflict
from bot.relay.models import MailRequest

MAIL = {"to": ["a@example.com"], "subject": "Hi", "text": "Hello"}


async def test_two_claims_of_one_queued_mail_give_it_to_one_sender(smtp_server: Any, relay_factory: Any) -> None:
    async with relay_factory(smtp_server()) as relay:
        service = relay.component.relay
        await relay.component.worker.stop()  # nobody else claims it
        record, _ = await service.submit(MailRequest.model_validate(MAIL))
        first, second = await asyncio.gather(service.outbox.claim(10), service.outbox.claim(10))
        assert [[mail_id for mail_id, _ in claimed] for claimed in (first, second)].count([record.id]) == 1


async def test_two_retries_at_once_queue_the_mail_once(smtp_server: Any, relay_factory: Any) -> None:
    server = smtp_server(data_replies=["550 5.1.1 mailbox unavailable"])
    async with relay_factory(server) as relay:
        _, body = await relay.post(MAIL)
        await relay.wait_status(body["id"], "failed")
        results = await asyncio.gather(relay.component.relay.retry(body["id"]),
                                       relay.component.relay.retry(body["id"]), return_exceptions=True)
        assert sum(isinstance(r, Conflict) for r in results) == 1
        assert (await relay.wait_status(body["id"], "sent"))["status"] == "sent"
        await asyncio.sleep(0.5)  # a second queueing would have gone out by now
        assert len(server.messages) == 1
