"""Finished mail is forgotten after MAILBOT_RELAY_KEEP_DAYS; mail still to send never is."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import open_app
from bot.errors import Conflict, NotFound
from bot.relay.models import MailRequest
from bot.relay.outbox import now
from bot.relay.service import RelayService
from tests.relay.conftest import add_mailbox, relay_settings

MAIL: dict[str, Any] = {"to": ["alice@example.com"], "subject": "Approval", "text": "Please approve."}


async def _age(relay: RelayService, mail_id: str, status: str, days: float) -> None:
    """Make a stored record look as if it finished `days` ago (what a long-running relay holds)."""
    table = relay.outbox.mails
    doc = await table.get(mail_id)
    assert doc is not None
    when = (now() - timedelta(days=days)).isoformat()
    doc.update(status=status, queued_at=when, sent_at=when if status == "sent" else None)
    await table.put(mail_id, doc)
    if status in ("sent", "failed"):
        await relay.outbox.queue.delete(mail_id)


async def test_prune_forgets_old_finished_mail_and_its_idempotency_key(tmp_path: Path, smtp_server: Any) -> None:
    async with open_app(relay_settings(tmp_path / "data")) as app:
        await add_mailbox(app, "ops", smtp_server())
        before_restart = RelayService(app.storage, app.mailboxes, max_mail_bytes=1 << 20)
        ids = {}
        for name in ("old_sent", "old_failed", "old_retrying", "recent_sent", "failed_lately"):
            record, _ = await before_restart.submit(MailRequest.parse({**MAIL, "idempotency_key": name}))
            ids[name] = record.id
        relay = RelayService(app.storage, app.mailboxes, max_mail_bytes=1 << 20)  # a later run of the relay
        await _age(relay, ids["old_sent"], "sent", 40)
        await _age(relay, ids["old_failed"], "failed", 40)
        await _age(relay, ids["old_retrying"], "retrying", 40)
        await _age(relay, ids["recent_sent"], "sent", 5)
        await _age(relay, ids["failed_lately"], "failed", 40)  # queued 40 days ago, retried for long,
        doc = await relay.outbox.mails.get(ids["failed_lately"])  # and gave up only yesterday
        assert doc is not None
        await relay.outbox.mails.put(ids["failed_lately"], {**doc, "failed_at": (now() - timedelta(days=1)).isoformat()})

        assert await relay.prune(keep_days=30) == 2
        for name in ("old_sent", "old_failed"):
            with pytest.raises(NotFound):
                await relay.get(ids[name])
            assert not await relay.outbox.has_content(ids[name])
        assert (await relay.get(ids["old_retrying"])).status == "retrying"  # still to send: kept
        assert await relay.outbox.has_content(ids["old_retrying"])
        assert (await relay.get(ids["recent_sent"])).status == "sent"
        assert (await relay.get(ids["failed_lately"])).status == "failed"  # its retry button still works
        # The forgotten key is free again; a kept one still answers with its first mail.
        again, fresh = await relay.submit(MailRequest.parse({**MAIL, "subject": "new", "idempotency_key": "old_sent"}))
        assert fresh and again.id != ids["old_sent"]
        with pytest.raises(Conflict):
            await relay.submit(MailRequest.parse({**MAIL, "subject": "new", "idempotency_key": "recent_sent"}))
        assert await relay.prune(keep_days=30) == 0


async def test_failed_mail_whose_content_is_gone_says_so_on_retry(tmp_path: Path, smtp_server: Any) -> None:
    """A crash between a prune's two steps leaves a record without content: retry explains, not hangs."""
    async with open_app(relay_settings(tmp_path / "data")) as app:
        await add_mailbox(app, "ops", smtp_server())
        relay = RelayService(app.storage, app.mailboxes, max_mail_bytes=1 << 20)
        record, _ = await relay.submit(MailRequest.parse(MAIL))
        await _age(relay, record.id, "failed", 1)
        await relay.outbox.content.delete(record.id)
        with pytest.raises(Conflict) as refused:
            await relay.retry(record.id)
        assert "retention" in refused.value.message("en") and "post the mail again" in refused.value.message("en")
        assert (await relay.get(record.id)).status == "failed"


async def test_the_running_relay_prunes_by_itself(smtp_server: Any, relay_factory: Any) -> None:
    server = smtp_server(data_replies=[None, "554 5.7.1 rejected"])
    async with relay_factory(server, relay_keep_days=1.5 / 86400) as relay:  # keep 1.5 s
        _, sent = await relay.post({**MAIL, "idempotency_key": "k1"})
        assert (await relay.wait_status(sent["id"], "sent"))["status"] == "sent"
        _, failed = await relay.post(MAIL)
        assert (await relay.wait_status(failed["id"], "failed"))["status"] == "failed"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            statuses = [(await relay.get(f"/v1/mails/{m['id']}"))[0] for m in (sent, failed)]
            if statuses == [404, 404]:
                break
            await asyncio.sleep(0.1)
        assert statuses == [404, 404]
        status, listed = await relay.get("/v1/mails")
        assert status == 200 and listed["mails"] == []
        status, again = await relay.post({**MAIL, "subject": "another", "idempotency_key": "k1"})
        assert status == 202 and again["id"] != sent["id"]
