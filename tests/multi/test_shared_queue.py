"""Two `mailbot run` processes on one PostgreSQL share the outbox: every mail posted to either is
sent once, and both send some."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.multi.conftest import poll, queue_empty

MAILS = 120


async def test_two_instances_share_the_mail_and_send_each_once(postgres_url: str, deploy: Any, timed_smtp: Any) -> None:
    server = timed_smtp()
    deployment = deploy(postgres_url)
    await deployment.add_mailbox("ops", server)
    token = await deployment.create_token("ci")
    a, b = await deployment.start(2, token=token)

    gate = asyncio.Semaphore(8)  # a few clients at a time

    async def post(i: int) -> str:
        async with gate:
            status, body, _ = await (a, b)[i % 2].post({"to": ["x@example.com"], "subject": f"m{i}", "text": "hi"})
        assert status == 202, body
        return str(body["id"])

    ids = await asyncio.gather(*(post(i) for i in range(MAILS)))
    await poll(lambda: queue_empty(deployment), 30, "the queue to empty")

    subjects = sorted(str(m.message["Subject"]) for m in server.messages)
    assert subjects == sorted(f"m{i}" for i in range(MAILS))  # each once
    sent = [(await instance.metrics())["mailbot_mails_sent_total"] for instance in (a, b)]
    print(f"sent by each instance: {sent}")
    assert sum(sent) == MAILS and min(sent) > 0, sent
    for i, mail_id in enumerate(ids):
        status, view = await (b, a)[i % 2].get(f"/v1/mails/{mail_id}")  # either instance answers for any mail
        assert status == 200 and view["status"] == "sent", view
    assert [await instance.stop() for instance in (a, b)] == [0, 0]
