"""The console API over the real services: chat through the Router, mailboxes, audit, outbox."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from pydantic import SecretStr

from bot.app import App
from bot.audit import Actor
from bot.relay.service import RelayService
from tests.console.conftest import Client, csrf_headers
from tests.support.smtpd import SmtpServer

MakeClient = Callable[..., Awaitable[Client]]
TESTER = Actor(id="tester", source="test")


async def add_mailbox(app: App, name: str, port: int) -> None:
    await app.mailboxes.add({"name": name, "type": "custom", "account": "bot@example.com", "host": "127.0.0.1",
                             "port": port, "security": "none"}, SecretStr("pw-123456"), TESTER, verify=False)


async def test_guide_question_through_the_router(make_client: MakeClient) -> None:
    client = await make_client()
    headers = await csrf_headers(client)
    resp = await client.post("/console/api/chat/member", json={"text": "怎么获取QQ邮箱授权码"}, headers=headers)
    entries = (await resp.json())["entries"]
    assert [e["from"] for e in entries] == ["user", "bot"]
    assert "smtp.qq.com" in entries[1]["html"] and "<ol>" in entries[1]["html"]
    history = (await (await client.get("/console/api/chat/member")).json())["entries"]
    assert [e["id"] for e in history] == [e["id"] for e in entries]


async def test_member_is_refused_admin_commands_and_group_speaker_counts(make_client: MakeClient) -> None:
    client = await make_client()
    headers = await csrf_headers(client)
    member = await client.post("/console/api/chat/member", json={"text": "new mailbox"}, headers=headers)
    admin = await client.post("/console/api/chat/group", json={"text": "new mailbox", "persona": "admin"},
                              headers=headers)
    refused, started = (await member.json())["entries"][1]["html"], (await admin.json())["entries"][1]["html"]
    assert refused != started
    bad = await client.post("/console/api/chat/nowhere", json={"text": "hi"}, headers=headers)
    assert bad.status == 404


async def test_wizard_secret_is_masked_and_never_stored(make_client: MakeClient, smtp_server: Callable[..., SmtpServer],
                                                        app: App) -> None:
    server = smtp_server()
    client = await make_client()
    headers = await csrf_headers(client)
    say = f"new mailbox name=ops account=bot@example.com type=custom host=127.0.0.1 port={server.port} security=none"
    first = await (await client.post("/console/api/chat/admin", json={"text": say}, headers=headers)).json()
    assert first["expects_secret"] is True
    resp = await client.post("/console/api/chat/admin", json={"text": "TOPSECRET-123"}, headers=headers)
    body = await resp.json()
    assert body["entries"][0]["html"] == "••••••" and body["expects_secret"] is False
    history = await (await client.get("/console/api/chat/admin")).text()
    assert "TOPSECRET" not in history
    assert [m.name for m in await app.mailboxes.list()] == ["ops"]


async def test_mailbox_actions_and_audit(make_client: MakeClient, app: App,
                                         smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server()
    await add_mailbox(app, "a", server.port)
    await add_mailbox(app, "b", server.port)
    client = await make_client()
    headers = await csrf_headers(client)
    listed = (await (await client.get("/console/api/mailboxes")).json())["mailboxes"]
    assert [(m["name"], m["default"], m["enabled"]) for m in listed] == [("a", True, True), ("b", False, True)]
    assert all("secret_token" not in m for m in listed)
    test = await (await client.post("/console/api/mailboxes/a/test", headers=headers)).json()
    assert test["ok"] is True and test["mailbox"]["last_check"]["ok"] is True
    assert (await client.post("/console/api/mailboxes/b/default", headers=headers)).status == 200
    assert (await client.post("/console/api/mailboxes/a/disable", headers=headers)).status == 200
    assert (await client.delete("/console/api/mailboxes/b", headers=headers)).status == 200
    missing = await client.delete("/console/api/mailboxes/b", headers={**headers, "X-Console-Lang": "en"})
    assert missing.status == 404 and "no mailbox named 'b'" in (await missing.json())["message"]
    assert (await client.post("/console/api/mailboxes/a/explode", headers=headers)).status == 404
    audit = (await (await client.get("/console/api/audit")).json())["entries"]
    assert [e["action"] for e in audit][:4] == ["remove", "disable", "default", "test"]
    assert all(e["actor"].startswith("console:") for e in audit[:4])


async def test_failed_login_test_is_an_answer_not_an_error(make_client: MakeClient, app: App,
                                                           smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server(reject_all_logins=True, users={"bot@example.com": "other"})
    await add_mailbox(app, "a", server.port)
    client = await make_client()
    resp = await client.post("/console/api/mailboxes/a/test", headers=await csrf_headers(client))
    body = await resp.json()
    assert resp.status == 200 and body["ok"] is False and body["message"]


async def test_outbox_degrades_without_relay(make_client: MakeClient) -> None:
    client = await make_client()
    assert await (await client.get("/console/api/outbox")).json() == {"running": False, "mails": []}
    events = await client.get("/console/api/outbox/events")
    assert events.headers["Content-Type"] == "text/event-stream"
    assert (await events.text()).startswith('event: outbox\ndata: {"running":false')
    retry = await client.post("/console/api/outbox/x/retry", headers=await csrf_headers(client))
    assert retry.status == 503


async def test_outbox_lists_streams_and_retries_failed_mail(make_client: MakeClient, app: App,
                                                            smtp_server: Callable[..., SmtpServer]) -> None:
    from bot.relay.models import MailRequest

    await add_mailbox(app, "a", smtp_server().port)
    relay = RelayService(app.storage, app.mailboxes, max_mail_bytes=1 << 20)
    record, _ = await relay.submit(MailRequest(to=["x@example.com"], subject="hello", text="hi"))
    client = await make_client(relay=relay)
    mails = (await (await client.get("/console/api/outbox")).json())["mails"]
    assert [(m["id"], m["status"]) for m in mails] == [(record.id, "queued")]
    async with client.get("/console/api/outbox/events") as events:
        first = await events.content.readuntil(b"\n\n")
        assert json.loads(first.decode().split("data: ", 1)[1])["mails"][0]["status"] == "queued"
        record.last_error = "550 no such user"
        await relay.outbox.failed(record)
        second = await events.content.readuntil(b"\n\n")
        assert json.loads(second.decode().split("data: ", 1)[1])["mails"][0]["status"] == "failed"
    headers = await csrf_headers(client)
    retried = await client.post(f"/console/api/outbox/{record.id}/retry", headers=headers)
    assert retried.status == 200 and (await retried.json())["mail"]["status"] == "queued"
    again = await client.post(f"/console/api/outbox/{record.id}/retry", headers=headers)
    assert again.status == 409


async def test_card_callback_goes_to_the_card_handler(make_client: MakeClient) -> None:
    """A press on a card the bot never sent is answered by the handler, not by the console."""
    client = await make_client()
    payload = {"outTrackId": "c1", "userId": "console-admin",
               "content": json.dumps({"cardPrivateData": {"actionIds": ["mailbox_test"], "params": {"mailbox": "a"}}})}
    resp = await client.post("/console/api/cards/callback", json=payload, headers=await csrf_headers(client))
    assert resp.status == 200 and isinstance((await resp.json())["entries"], list)
    bad = await client.post("/console/api/cards/callback", data="[1]", headers=await csrf_headers(client))
    assert bad.status == 400
