"""What several `mailbot run` processes on one PostgreSQL share besides the mail: a token revoked
with the CLI is refused by every instance from the next request on, and a mailbox's rate holds for
all of them together (also when one stops and the other sends the rest)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.multi.conftest import poll, queue_empty

MAIL = {"to": ["x@example.com"], "subject": "hi", "text": "hi"}


async def test_a_token_revoked_with_the_cli_is_refused_by_every_instance(
        postgres_url: str, deploy: Any, timed_smtp: Any) -> None:
    server = timed_smtp()
    deployment = deploy(postgres_url)
    await deployment.add_mailbox("ops", server)
    token, other = await deployment.create_token("ci"), await deployment.create_token("other")
    instances = await deployment.start(2, token=token)
    ids = []
    for instance in instances:  # each has used (and indexed) the token
        status, body, _ = await instance.post(MAIL)
        assert status == 202, body
        ids.append(body["id"])

    await deployment.cli("token", "revoke", "ci")
    for instance, mail_id in zip(instances, ids):
        status, body, _ = await instance.post(MAIL)
        assert status == 401 and body["error"] == "unauthorized", body
        status, body = await instance.get(f"/v1/mails/{mail_id}")
        assert status == 401, body
        status, body, _ = await instance.post(MAIL, token=other)  # the other token still works
        assert status == 202, body
    await poll(lambda: queue_empty(deployment), 30, "the mail to be sent")
    assert len(server.messages) == 4
    assert [await instance.stop() for instance in instances] == [0, 0]


async def test_a_mailbox_rate_holds_across_instances(postgres_url: str, deploy: Any, timed_smtp: Any) -> None:
    server = timed_smtp()
    deployment = deploy(postgres_url)
    await deployment.add_mailbox("ops", server)
    await deployment.cli("mailbox", "rate", "ops", "60")  # one a second; the burst is one second's share: 1
    token = await deployment.create_token("ci")
    instances = await deployment.start(2, token=token)

    async def post(i: int) -> None:
        status, body, _ = await instances[i % 2].post({**MAIL, "subject": f"m{i}"})
        assert status == 202, body

    await asyncio.gather(*(post(i) for i in range(8)))
    # Which instance claims a due mail is a race. So that both surely take slots from the shared pace,
    # the one that sent more of the first three stops (SIGTERM: mail waiting for its turn goes back to
    # the queue at once) and the other sends the rest, in the pace the first one's reservations left.
    await poll(lambda: server.count() >= 3, 15, "three paced mails to be sent")
    counts = [(await instance.metrics())["mailbot_mails_sent_total"] for instance in instances]
    busier = counts.index(max(counts))
    assert await instances[busier].stop() == 0
    other = instances[1 - busier]
    await poll(lambda: queue_empty(deployment), 30, "the 8 paced mails to be sent")
    times = sorted(at for at, _ in server.timeline())
    gaps = [b - a for a, b in zip(times, times[1:])]
    by_other = (await other.metrics())["mailbot_mails_sent_total"]
    print(f"\nsent before the stop: {counts}; then by the other: {by_other}; gaps between arrivals: "
          f"{', '.join(f'{g:.2f}' for g in gaps)} s")
    assert len(times) == 8
    assert 8 - by_other >= 2 and by_other >= 3, (counts, by_other)  # both took slots from the one pace
    # Starts are paced; an arrival also carries its connection's set-up (a new one, or one reused), so
    # the bounds are generous: no gap under 0.75 s, and 7 gaps of about a second.
    assert min(gaps) >= 0.75 and times[-1] - times[0] >= 7 * 0.95, gaps
    assert await other.stop() == 0
