"""API bad input: every error status in the issue, with a reason per field."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from typing import Any

import pytest

MAIL: dict[str, Any] = {"to": ["alice@example.com"], "subject": "Hi", "text": "Hello"}


async def test_401_missing_or_bad_token(smtp_server: Any, relay_factory: Any) -> None:
    async with relay_factory(smtp_server()) as relay:
        async with relay.http.post(relay.url + "/v1/mails", json=MAIL) as resp:
            assert resp.status == 401 and (await resp.json())["error"] == "unauthorized"
        status, body = await relay.post(MAIL, token="mbt_wrong")
        assert status == 401
        status, _ = await relay.get("/v1/mails", token="mbt_wrong")
        assert status == 401


async def test_a_token_revoked_by_another_process_is_refused_at_once(smtp_server: Any, relay_factory: Any) -> None:
    async with relay_factory(smtp_server(), relay_poll_s=30.0) as relay:  # lookups cached 30 s, if any were
        token = await relay.component.relay.tokens.create("wf")
        assert (await relay.post(MAIL, token=token))[0] == 202
        data_dir = relay.app.settings.data_dir
        cli = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "token", "revoke", "wf", env={**os.environ, "MAILBOT_DATA_DIR": str(data_dir)},
            stdout=asyncio.subprocess.DEVNULL)
        assert await cli.wait() == 0
        status, body = await relay.post(MAIL, token=token)  # no waiting for a cache to expire
        assert status == 401 and body["error"] == "unauthorized"
        assert (await relay.post(MAIL))[0] == 202  # other tokens keep working


async def test_403_mailbox_outside_scope(smtp_server: Any, relay_factory: Any) -> None:
    async with relay_factory(smtp_server()) as relay:
        scoped = await relay.component.relay.tokens.create("scoped", ["other"])
        status, body = await relay.post({**MAIL, "mailbox": "ops"}, token=scoped)
        assert status == 403 and body["error"] == "permission_denied"
        status, _ = await relay.post(MAIL, token=scoped)  # the default mailbox is ops: also outside
        assert status == 403
        # a mail sent with another token is invisible to the scoped one
        _, sent = await relay.post(MAIL)
        assert (await relay.get(f"/v1/mails/{sent['id']}", token=scoped))[0] == 404


async def test_404_unknown_or_disabled_mailbox(smtp_server: Any, relay_factory: Any) -> None:
    from tests.relay.conftest import ADMIN

    async with relay_factory(smtp_server()) as relay:
        status, body = await relay.post({**MAIL, "mailbox": "nope"})
        assert status == 404 and body["error"] == "not_found"
        await relay.app.mailboxes.set_enabled("ops", False, ADMIN)
        status, _ = await relay.post({**MAIL, "mailbox": "ops"})
        assert status == 404
        assert (await relay.get("/v1/mails/unknown-id"))[0] == 404


async def test_409_idempotency_key_reused_with_other_body(smtp_server: Any, relay_factory: Any) -> None:
    async with relay_factory(smtp_server()) as relay:
        first = await relay.post({**MAIL, "idempotency_key": "k1"})
        again = await relay.post({**MAIL, "idempotency_key": "k1"})
        assert first[0] == again[0] == 202 and first[1]["id"] == again[1]["id"]
        status, body = await relay.post({**MAIL, "text": "changed", "idempotency_key": "k1"})
        assert status == 409 and body["error"] == "conflict"


async def test_413_over_size_limit(smtp_server: Any, relay_factory: Any) -> None:
    async with relay_factory(smtp_server(), max_mail_bytes=1000) as relay:
        att = {"filename": "a.bin", "content_type": "application/octet-stream",
               "content_base64": base64.b64encode(b"x" * 1500).decode()}
        status, body = await relay.post({**MAIL, "attachments": [att]})
        assert status == 413 and body["error"] == "too_large"
        status, _ = await relay.post({**MAIL, "text": "y" * 5000})  # a raw body over twice the limit
        assert status == 413


@pytest.mark.parametrize("patch, field", [
    ({"subject": "Hi\r\nBcc: evil@example.com"}, "subject"),
    ({"from_name": "Bot\nX-Evil: 1"}, "from_name"),
    ({"to": ["alice@example.com\r\nBcc: evil@example.com"]}, "to.0"),
    ({"reply_to": "a@example.com\nX: y"}, "reply_to.0"),
    ({"to": ["not-an-address"]}, "to.0"),
    ({"cc": ["a@"]}, "cc.0"),
    ({"bcc": ["@example.com"]}, "bcc.0"),
    ({"to": []}, "to"),
    ({"text": None}, "text"),
    ({"subject": None}, "subject"),
    ({"text": None, "template": {"subject": "Hi {{ name }}", "text": "Dear {{ name }}"}}, "variables"),
    ({"text": None, "template": "missing-template"}, "template"),
    ({"attachments": [{"filename": "a\r\n.txt", "content_base64": "eA=="}]}, "attachments.0.filename"),
    ({"attachments": [{"filename": "a.txt", "content_base64": "%%%"}]}, "attachments.0.content_base64"),
    ({"surprise": 1}, "surprise"),
])
async def test_422_invalid_body(smtp_server: Any, relay_factory: Any, patch: dict[str, Any], field: str) -> None:
    async with relay_factory(smtp_server()) as relay:
        body = {k: v for k, v in {**MAIL, **patch}.items() if v is not None}
        status, answer = await relay.post(body)
        assert status == 422 and answer["error"] == "invalid_input"
        assert field in answer["fields"], answer


async def test_422_not_json(smtp_server: Any, relay_factory: Any) -> None:
    async with relay_factory(smtp_server()) as relay:
        async with relay.http.post(relay.url + "/v1/mails", data=b"{nope",
                                   headers={"Authorization": f"Bearer {relay.token}"}) as resp:
            assert resp.status == 422


async def test_template_stored_and_inline_render(smtp_server: Any, relay_factory: Any) -> None:
    from bot.relay.models import InlineTemplate

    server = smtp_server()
    async with relay_factory(server) as relay:
        await relay.component.relay.templates.add("approval", InlineTemplate(
            subject="Approve {{ item }}", text="Hi {{ name }}", html="<p>Hi {{ name }}</p>"))
        _, body = await relay.post({"to": ["a@example.com"], "template": "approval",
                                    "variables": {"item": "PO-1", "name": "<b>Bob</b>"}})
        view = await relay.wait_status(body["id"], "sent")
        assert view["subject"] == "Approve PO-1"
        [msg] = await server.wait_for_messages_async(1)
        html = msg.message.get_body(("html",)).get_content()
        text = msg.message.get_body(("plain",)).get_content()
        assert "&lt;b&gt;Bob&lt;/b&gt;" in html and "<b>Bob</b>" in text


async def test_template_sandbox_blocks_unsafe_attribute(smtp_server: Any, relay_factory: Any) -> None:
    async with relay_factory(smtp_server()) as relay:
        status, answer = await relay.post({"to": ["a@example.com"], "template": {
            "subject": "x", "text": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}})
        assert status == 422
