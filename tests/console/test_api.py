"""The console API over the real services: chat through the Router, mailboxes, audit, outbox."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable

import pytest
from pydantic import SecretStr

from bot.app import App
from bot.audit import Actor
from bot.errors import RecipientRejected, SmtpError
from bot.relay.models import MailRequest
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


async def test_audit_pages_newest_first_and_pages_hold_while_entries_arrive(make_client: MakeClient, app: App) -> None:
    for i in range(120):
        await app.audit.record(TESTER, "rate", f"box{i:03}", {"rate_per_minute": [None, i + 1]})
    client = await make_client()
    first = await (await client.get("/console/api/audit")).json()
    assert len(first["entries"]) == 50 and first["entries"][0]["target"] == "box119"
    await app.audit.record(TESTER, "rate", "late", {})  # a new entry must not shift the older pages
    seen = [e["target"] for e in first["entries"]]
    cursor = first["next"]
    while cursor is not None:
        page = await (await client.get(f"/console/api/audit?limit=50&before={cursor}")).json()
        seen += [e["target"] for e in page["entries"]]
        cursor = page["next"]
    assert seen == [f"box{i:03}" for i in reversed(range(120))]
    newest = await (await client.get("/console/api/audit?limit=1")).json()
    assert [e["target"] for e in newest["entries"]] == ["late"]


async def test_audit_limit_is_bounded_with_a_clear_422(make_client: MakeClient) -> None:
    client = await make_client()
    assert (await client.get("/console/api/audit?limit=200")).status == 200
    for query in ("limit=201", "limit=0", "limit=abc", "limit=" + "9" * 5000, "before=-1", "before=0"):
        resp = await client.get(f"/console/api/audit?{query}", headers={"X-Console-Lang": "en"})
        assert resp.status == 422, query
        assert "from 1 to" in (await resp.json())["message"]
    zh = await client.get("/console/api/audit?limit=500")
    assert "1–200 之间的整数" in (await zh.json())["message"]


async def test_audit_changes_are_readable_lines_in_the_page_language(make_client: MakeClient, app: App,
                                                                     smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server()
    await add_mailbox(app, "a", server.port)
    await app.mailboxes.set_rate("a", 30, TESTER)
    await app.mailboxes.test("a", TESTER)
    client = await make_client()
    zh = (await (await client.get("/console/api/audit")).json())["entries"]
    en = (await (await client.get("/console/api/audit", headers={"X-Console-Lang": "en"})).json())["entries"]
    assert zh[0]["action_text"] == "测试登录" and zh[0]["change_lines"] == []  # nothing but empty values and ok
    assert (zh[1]["action"], zh[1]["action_text"], en[1]["action_text"]) == ("rate", "发送速率", "rate")
    assert zh[1]["change_lines"] == [{"field": "rate_per_minute", "label": "每分钟发送上限", "value": "— → 30"}]
    added = {line["field"]: (line["label"], line["value"]) for line in en[2]["change_lines"]}
    assert added["port"] == ("Port", str(server.port)) and added["verified"] == ("Login verified", "no")
    assert added["type"] == ("Type", "Custom SMTP")


async def test_api_errors_are_json_in_the_page_language(make_client: MakeClient) -> None:
    client = await make_client()
    headers = await csrf_headers(client)
    cases = [("post", "/console/api/chat/admin", {"data": "not json"}, 400, "JSON"),
             ("post", "/console/api/chat/admin", {"json": {"text": ""}}, 400, "admin"),
             ("post", "/console/api/chat/nowhere", {"json": {"text": "hi"}}, 404, "nowhere"),
             ("post", "/console/api/mailboxes/a/explode", {}, 404, "explode"),
             ("post", "/console/api/outbox/x/retry", {}, 503, None)]
    for method, path, body, status, mentions in cases:
        for lang, script in (("zh", re.compile("[\u4e00-\u9fff]")), ("en", re.compile("^[ -~]+$"))):
            resp = await getattr(client, method)(path, headers={**headers, "X-Console-Lang": lang}, **body)
            message = (await resp.json())["message"]
            assert resp.status == status and script.search(message), (path, lang, message)
            assert mentions is None or mentions in message
    denied = await client.post("/console/api/mailboxes/a/test", headers={"Origin": headers["Origin"]})
    assert denied.status == 403 and "CSRF" in (await denied.json())["message"]
    assert re.search("[\u4e00-\u9fff]", (await denied.json())["message"])


async def test_stored_smtp_errors_are_said_in_the_page_language(make_client: MakeClient, app: App,
                                                                smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server(reject_all_logins=True, users={"bot@example.com": "other"})
    await add_mailbox(app, "a", server.port)
    with pytest.raises(SmtpError):
        await app.mailboxes.test("a", TESTER)
    relay = RelayService(app.storage, app.mailboxes, max_mail_bytes=1 << 20)
    record, _ = await relay.submit(MailRequest(to=["x@example.com"], subject="hello", text="hi"))
    exc = RecipientRejected("550 5.1.1 no such user", provider_type="custom")
    record.last_error, record.error_code = f"{exc.code}: {exc.message('en')}", exc.code  # as the worker stores it
    await relay.outbox.failed(record)
    client = await make_client(relay=relay)
    for lang, login, recipient in (("zh", "登录被拒绝", "服务器拒绝了收件人地址"),
                                   ("en", "Login rejected", "The server rejected a recipient address")):
        boxes = (await (await client.get("/console/api/mailboxes", headers={"X-Console-Lang": lang})).json())["mailboxes"]
        check = boxes[0]["last_check"]
        assert check["code"] == "auth_rejected" and check["message"].startswith(login)
        assert boxes[0]["type_name"] == {"zh": "自定义 SMTP", "en": "Custom SMTP"}[lang]
        mail = (await (await client.get(f"/console/api/outbox?lang={lang}")).json())["mails"][0]
        assert mail["error_code"] == "recipient_rejected" and mail["error"].startswith(recipient)
        assert mail["error"].endswith("550 5.1.1 no such user") and mail["last_error"] == record.last_error


async def test_favicon_is_served_also_before_login(make_client: MakeClient) -> None:
    client = await make_client()
    index = await (await client.get("/console/")).text()
    href = re.search(r'<link rel="icon" href="([^"]+)"', index)
    assert href is not None
    locked = await make_client(token="a-long-console-token")
    login = await (await locked.get("/console/login")).text()
    assert href.group(0) in login
    for resp in (await client.get(f"/console/{href.group(1)}"), await client.get("/favicon.ico"),
                 await locked.get(f"/console/{href.group(1)}", allow_redirects=False)):
        assert resp.status == 200 and resp.content_type == "image/svg+xml"
        assert (await resp.text()).startswith("<svg")
    assert (await locked.get("/console/static/app.css", allow_redirects=False)).status == 200  # a styled login page
