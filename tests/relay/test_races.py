"""Two claims or two retries of one mail at the same moment: it is sent once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot.app import open_app
from bot.errors import Conflict
from bot.relay.models import MailRequest
from tests.relay.conftest import add_mailbox, relay_settings

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


async def test_one_idempotency_key_posted_to_two_instances_at_once_queues_one_mail(
        tmp_path: Path, smtp_server: Any) -> None:
    """A client that timed out on one instance retries on another while the first still works: both
    answer with the same mail, and it is queued once (the key is taken by compare-and-set)."""
    data = tmp_path / "data"
    async with open_app(relay_settings(data)) as one, open_app(relay_settings(data)) as two:
        await add_mailbox(one, "ops", smtp_server())
        request = MailRequest.model_validate({**MAIL, "idempotency_key": "po-7"})
        for _ in range(5):  # several rounds: the two submits interleave differently
            request = request.model_copy(update={"idempotency_key": f"{request.idempotency_key}-x"})
            (first, new_a), (second, new_b) = await asyncio.gather(one.relay.submit(request),
                                                                   two.relay.submit(request))
            assert first.id == second.id and [new_a, new_b].count(True) == 1
        assert len(await one.relay.recent(limit=50)) == 5
