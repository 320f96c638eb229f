"""Access: loopback needs nothing, elsewhere a token and a login; origin and CSRF on every change."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from pydantic import SecretStr

from bot.console.access import COOKIE, ConsoleRefused, check_bind
from tests.console.conftest import Client, csrf_headers, origin

MakeClient = Callable[..., Awaitable[Client]]


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_loopback_needs_no_token(host: str) -> None:
    check_bind(host, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.internal"])
def test_non_loopback_without_token_refuses_with_reason(host: str) -> None:
    with pytest.raises(ConsoleRefused) as caught:
        check_bind(host, None)
    assert "MAILBOT_CONSOLE_TOKEN" in caught.value.message("en") and host in caught.value.message("en")
    check_bind(host, SecretStr("a-long-token"))
    with pytest.raises(ConsoleRefused):
        check_bind(host, SecretStr("  "))


async def test_root_redirects_to_console_and_page_sets_strict_httponly_cookie(make_client: MakeClient) -> None:
    client = await make_client()
    resp = await client.get("/", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/console/"
    resp = await client.get("/console/")
    assert resp.status == 200 and "<title>mailbot console</title>" in await resp.text()
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith(COOKIE) and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    for asset in ("app.js", "app.css"):
        assert (await client.get(f"/console/static/{asset}")).status == 200


async def test_state_change_needs_csrf_token_and_same_origin(make_client: MakeClient) -> None:
    client = await make_client()
    headers = await csrf_headers(client)
    body = {"text": "help", "persona": "admin"}
    assert (await client.post("/console/api/chat/admin", json=body, headers={"Origin": origin(client)})).status == 403
    wrong = {**headers, "X-CSRF-Token": "nope"}
    assert (await client.post("/console/api/chat/admin", json=body, headers=wrong)).status == 403
    evil = {**headers, "Origin": "http://evil.example"}
    assert (await client.post("/console/api/chat/admin", json=body, headers=evil)).status == 403
    no_origin = {"X-CSRF-Token": headers["X-CSRF-Token"]}
    assert (await client.post("/console/api/chat/admin", json=body, headers=no_origin)).status == 403
    cross_site = {**headers, "Sec-Fetch-Site": "cross-site"}
    assert (await client.post("/console/api/chat/admin", json=body, headers=cross_site)).status == 403
    assert (await client.post("/console/api/chat/admin", json=body, headers=headers)).status == 200


async def test_a_post_without_a_session_is_refused(make_client: MakeClient) -> None:
    client = await make_client()
    resp = await client.post("/console/api/chat/admin", json={"text": "help"}, headers={"Origin": origin(client)})
    assert resp.status == 401


async def test_tokenless_console_refuses_non_loopback_host_header(make_client: MakeClient) -> None:
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 still sends Host: evil.example."""
    client = await make_client()
    assert (await client.get("/console/api/session", headers={"Host": "evil.example"})).status == 403
    assert (await client.get("/console/api/session", headers={"Host": "localhost:1"})).status == 200


async def test_token_mode_requires_login_then_cookie(make_client: MakeClient) -> None:
    client = await make_client(token="t0ken-abcdef")
    resp = await client.get("/console/", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/console/login"
    assert (await client.get("/console/api/session")).status == 401
    login = await client.get("/console/login")
    assert login.status == 200 and 'type="password"' in await login.text()
    bad = await client.post("/console/login", data={"token": "wrong"}, headers={"Origin": origin(client)})
    assert bad.status == 401
    cross = await client.post("/console/login", data={"token": "t0ken-abcdef"},
                              headers={"Origin": "http://evil.example"}, allow_redirects=False)
    assert cross.status == 403
    good = await client.post("/console/login", data={"token": "t0ken-abcdef"}, headers={"Origin": origin(client)},
                             allow_redirects=False)
    assert good.status == 303
    cookie = good.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert (await client.get("/console/api/session")).status == 200
    assert (await client.get("/console/", headers={"Host": "console.example.org"})).status == 200
