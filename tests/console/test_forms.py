"""Form cards in the console: 取消 closes the open form, a newer form replaces it, neither saves later."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from bot.app import App
from tests.console.conftest import Client, csrf_headers
from tests.support.smtpd import SmtpServer

MakeClient = Callable[..., Awaitable[Client]]


async def _say(client: Client, text: str) -> list[dict[str, Any]]:
    resp = await client.post("/console/api/chat/admin", json={"text": text}, headers=await csrf_headers(client))
    return list((await resp.json())["entries"])


async def _submit(client: Client, card_id: str, port: int, name: str) -> list[dict[str, Any]]:
    form = {"name": name, "type": "custom", "account": "bot@example.com", "password": "pw-123456",
            "host": "127.0.0.1", "port": str(port), "security": "none"}
    payload = {"outTrackId": card_id, "userId": "console-admin",
               "content": json.dumps({"cardPrivateData": {"actionIds": ["form"], "params": {"form": form}}})}
    resp = await client.post("/console/api/cards/callback", json=payload, headers=await csrf_headers(client))
    return list((await resp.json())["entries"])


async def test_cancel_closes_the_open_form_and_a_later_submit_saves_nothing(
        make_client: MakeClient, app: App, smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server(users={"bot@example.com": "pw-123456"})
    client = await make_client()
    [card] = [e for e in await _say(client, "新建邮箱") if e["kind"] == "card"]
    cancelled = await _say(client, "取消")
    [closed] = [e for e in cancelled if e["kind"] == "card_update"]
    assert closed["card_id"] == card["card_id"] and "已关闭" in closed["html"] and "disabled" in closed["html"]
    assert "已取消" in cancelled[-1]["html"]
    late = await _submit(client, card["card_id"], server.port, "stale")
    assert any("已取消或已被新的表单取代" in e["html"] for e in late)
    assert await app.mailboxes.list() == []
    assert "没有进行中的操作" in (await _say(client, "取消"))[-1]["html"]


async def test_a_newer_form_replaces_the_older_one(make_client: MakeClient, app: App,
                                                   smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server(users={"bot@example.com": "pw-123456"})
    client = await make_client()
    [old] = [e for e in await _say(client, "新建邮箱") if e["kind"] == "card"]
    second = await _say(client, "新建邮箱")
    [update] = [e for e in second if e["kind"] == "card_update"]
    [new] = [e for e in second if e["kind"] == "card"]
    assert update["card_id"] == old["card_id"] and "已关闭" in update["html"]
    assert any("已取消或已被新的表单取代" in e["html"] for e in await _submit(client, old["card_id"], server.port, "a"))
    assert await app.mailboxes.list() == []
    await _submit(client, new["card_id"], server.port, "b")
    assert [m.name for m in await app.mailboxes.list()] == ["b"]


async def test_console_chat_bounds_the_line_and_the_body(make_client: MakeClient) -> None:
    """An over-long line is shown cut and answered 'too long'; a body past 64 KB is a 413 before any parsing."""
    from bot.chat.router import MAX_MESSAGE_CHARS

    client = await make_client()
    entries = await _say(client, "名" * (MAX_MESSAGE_CHARS + 1))
    assert entries[0]["html"].endswith("…") and len(entries[0]["html"]) < MAX_MESSAGE_CHARS + 50
    assert "消息太长" in entries[1]["html"]
    resp = await client.post("/console/api/chat/admin", json={"text": "名" * 40_000},
                             headers=await csrf_headers(client))
    assert resp.status == 413 and "64 KB" in (await resp.json())["message"]
