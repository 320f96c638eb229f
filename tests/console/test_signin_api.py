"""The console's sign-in routes over HTTP: what the JSON holds (no secret), the callback's guard
(the state is its proof; no session cookie comes along Google's redirect), CSRF on the rest."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from yarl import URL

from bot.app import App, open_app
from bot.emulator import OAuthEmulator
from tests.console.conftest import Client, console_settings, csrf_headers, origin
from tests.oauth.conftest import oauth_settings, token_strings
from tests.support.smtpd import SmtpServer

GMAIL = "notice@gmail.com"


@pytest.fixture
async def emu() -> AsyncIterator[OAuthEmulator]:
    async with OAuthEmulator(interval=1) as emulator:
        yield emulator


@pytest.fixture
async def app(tmp_path: Path, emu: OAuthEmulator) -> AsyncIterator[App]:
    async with open_app(console_settings(tmp_path / "data", **oauth_settings(emu))) as opened:
        yield opened


def gmail_fields(smtp: SmtpServer) -> dict[str, Any]:
    return {"name": "gmail", "account": GMAIL, "type": "gmail", "host": "127.0.0.1", "port": smtp.port,
            "security": "none"}


async def test_device_sign_in_json_shows_the_code_to_type_and_nothing_secret(
        make_client: Callable[..., Awaitable[Client]], emu: OAuthEmulator) -> None:
    client = await make_client()
    headers = await csrf_headers(client)
    resp = await client.post("/console/api/signins", headers=headers,
                             json={"name": "o", "account": "notice@outlook.com", "type": "outlook"})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    user_code = await emu.wait_device_code()
    assert body["state"] == "waiting" and body["signin"]["user_code"] == user_code
    status = await client.get(f"/console/api/signins/{body['id']}")
    text = await status.text()
    assert status.status == 200 and (await status.json())["state"] == "waiting"
    assert not [code for code in emu._devices if code in text + str(body)]  # the device code stays server-side
    cancelled = await client.delete(f"/console/api/signins/{body['id']}", headers=headers)
    assert cancelled.status == 200
    after = await client.get(f"/console/api/signins/{body['id']}", headers={"X-Console-Lang": "en"})
    assert (await after.json())["state"] == "cancelled"


async def test_sign_in_routes_need_the_csrf_token_and_the_console_origin(
        make_client: Callable[..., Awaitable[Client]]) -> None:
    client = await make_client()
    fields = {"name": "o", "account": "notice@outlook.com", "type": "outlook"}
    headers = await csrf_headers(client)  # a session now, but no CSRF token on the POST below
    assert (await client.post("/console/api/signins", json=fields, headers={"Origin": origin(client)})).status == 403
    headers = {**headers, "Origin": "http://evil.example"}
    assert (await client.post("/console/api/signins", json=fields, headers=headers)).status == 403


async def test_errors_before_any_sign_in_are_json_in_the_pages_language(
        make_client: Callable[..., Awaitable[Client]]) -> None:
    client = await make_client()
    headers = {**(await csrf_headers(client)), "X-Console-Lang": "en"}
    resp = await client.post("/console/api/signins", headers=headers,
                             json={"name": "q", "account": "me@qq.com", "type": "qq"})
    assert resp.status == 422 and "has no OAuth2 sign-in" in (await resp.json())["message"]
    resp = await client.get("/console/api/signins/nope", headers=headers)
    assert resp.status == 404 and "ended or expired" in (await resp.json())["message"]


async def test_callback_finishes_the_sign_in_without_a_session_when_the_state_matches(
        make_client: Callable[..., Awaitable[Client]], emu: OAuthEmulator,
        smtp_server: Callable[..., SmtpServer], app: App) -> None:
    smtp = smtp_server(password_auth=False, xoauth2=lambda user, token: emu.account_for(token) == user)
    client = await make_client(token="console-token-long-enough")  # login required: no session below
    unknown = await client.get("/console/oauth/callback?state=guess&code=4/0Ax", allow_redirects=False,
                               headers={"Accept-Language": "en-US,en;q=0.9"})
    assert unknown.status == 400 and "ended or expired" in await unknown.text()

    # The page that started it had logged in; the sign-in's state is all the callback gets.
    login = await client.post("/console/login", data={"token": "console-token-long-enough"},
                              headers={"Origin": origin(client)}, allow_redirects=False)
    assert login.status == 303
    headers = await csrf_headers(client)
    begun = await (await client.post("/console/api/signins", headers=headers, json=gmail_fields(smtp))).json()
    view = begun["signin"]
    assert view["redirect_uri"] == f"http://127.0.0.1:{client.port}/console/oauth/callback"
    redirected = URL(await emu.consent(view["url"], GMAIL))
    client.session.cookie_jar.clear()  # a cross-site redirect carries no SameSite=Strict cookie
    page = await client.get(redirected.path_qs, allow_redirects=False, headers={"Accept-Language": "en-GB"})
    text = await page.text()
    assert page.status == 200 and "Mailbox 'gmail' is signed in and saved" in text, text
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    assert not [t for t in token_strings(emu) if t in text]
    assert (await app.mailboxes.get("gmail")).auth == "oauth2"
    again = await client.get(redirected.path_qs, allow_redirects=False)  # the code is spent, the sign-in over
    assert again.status == 400


async def test_callback_is_still_loopback_only_without_a_token(make_client: Callable[..., Awaitable[Client]]) -> None:
    client = await make_client()
    resp = await client.get("/console/oauth/callback?state=x", headers={"Host": "rebound.example"})
    assert resp.status == 403
