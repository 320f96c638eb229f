"""Drive the OAuth emulator with plain HTTP, as any OAuth client would, so its shapes stay honest
before the bot's own client (bot/oauth) relies on them."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import aiosmtplib
import pytest

from bot.emulator import EmulatorError, OAuthEmulator
from bot.emulator.oauth import DEVICE_CODE_GRANT
from tests.support.smtpd import SmtpServer

SMTP_SCOPE = "https://outlook.office.com/SMTP.Send offline_access"
GMAIL_SCOPE = "https://mail.google.com/"
ADMIN = "ops@contoso.com"
GMAIL = "ops@gmail.example"
REDIRECT = "http://127.0.0.1:8765/"

Reply = tuple[int, dict[str, Any]]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def emulator() -> AsyncIterator[OAuthEmulator]:
    """No slow_down: tests that are not about polling pace poll at once."""
    async with OAuthEmulator(interval=0) as emulator:
        yield emulator


async def post(http: aiohttp.ClientSession, url: str, **form: str) -> Reply:
    async with http.post(url, data=form) as response:
        return response.status, await response.json()


# -- Microsoft device code flow ----------------------------------------------------------------


async def device_code(http: aiohttp.ClientSession, emulator: OAuthEmulator, client_id: str = "ms-client",
                      scope: str = SMTP_SCOPE) -> Reply:
    return await post(http, f"{emulator.microsoft_authority}/oauth2/v2.0/devicecode",
                      client_id=client_id, scope=scope)


async def poll(http: aiohttp.ClientSession, emulator: OAuthEmulator, code: str) -> Reply:
    return await post(http, f"{emulator.microsoft_authority}/oauth2/v2.0/token",
                      grant_type=DEVICE_CODE_GRANT, client_id="ms-client", device_code=code)


async def refresh_microsoft(http: aiohttp.ClientSession, emulator: OAuthEmulator, token: str) -> Reply:
    return await post(http, f"{emulator.microsoft_authority}/oauth2/v2.0/token", grant_type="refresh_token",
                      client_id="ms-client", refresh_token=token, scope=SMTP_SCOPE)


async def sign_in_microsoft(http: aiohttp.ClientSession, emulator: OAuthEmulator, account: str = ADMIN,
                            scope: str = SMTP_SCOPE) -> dict[str, Any]:
    _, issued = await device_code(http, emulator, scope=scope)
    emulator.approve(issued["user_code"], account)
    status, tokens = await poll(http, emulator, issued["device_code"])
    assert status == 200, tokens
    return tokens


async def test_device_flow_pending_slow_down_then_tokens(http: aiohttp.ClientSession) -> None:
    async with OAuthEmulator(interval=1) as emulator:
        status, issued = await device_code(http, emulator)
        assert status == 200
        assert re.fullmatch(r"[A-Z0-9]{8}", issued["user_code"])
        assert issued["verification_uri"] == f"{emulator.url}/devicelogin"
        assert (issued["interval"], issued["expires_in"]) == (1, 900)
        assert issued["user_code"] in issued["message"]
        assert await emulator.wait_device_code(1.0) == issued["user_code"]
        assert emulator.pending_codes() == [issued["user_code"]]
        assert emulator.scope_requests == [("microsoft", SMTP_SCOPE)]

        status, body = await poll(http, emulator, issued["device_code"])
        assert (status, body["error"], body["error_codes"]) == (400, "authorization_pending", [70016])
        assert (await poll(http, emulator, issued["device_code"]))[1]["error"] == "slow_down"

        emulator.approve(issued["user_code"], ADMIN)
        assert emulator.pending_codes() == []
        await asyncio.sleep(1.0)
        status, tokens = await poll(http, emulator, issued["device_code"])
        assert status == 200
        assert tokens.keys() == {"token_type", "scope", "expires_in", "ext_expires_in", "access_token",
                                 "refresh_token"}
        assert (tokens["token_type"], tokens["scope"], tokens["expires_in"]) == ("Bearer", SMTP_SCOPE, 3600)
        assert emulator.account_for(tokens["access_token"]) == ADMIN

        # A device code buys tokens once.
        status, body = await poll(http, emulator, issued["device_code"])
        assert (status, body["error"]) == (400, "invalid_grant")
        assert [outcome for *_, outcome in emulator.token_requests] == [
            "authorization_pending", "slow_down", "ok", "invalid_grant"]
        assert {grant for grant, _, _ in emulator.token_requests} == {DEVICE_CODE_GRANT}
        assert not any(tokens["access_token"] in repr(r) for r in emulator.token_requests)


@pytest.mark.parametrize("error", ["authorization_declined", "access_denied"])
async def test_declined(http: aiohttp.ClientSession, emulator: OAuthEmulator, error: Any) -> None:
    _, issued = await device_code(http, emulator)
    emulator.decline(issued["user_code"], error=error)
    status, body = await poll(http, emulator, issued["device_code"])
    assert (status, body["error"]) == (400, error)
    with pytest.raises(EmulatorError, match="no longer pending"):
        emulator.approve(issued["user_code"], ADMIN)


async def test_device_code_expires(http: aiohttp.ClientSession) -> None:
    async with OAuthEmulator(interval=0, device_expires_in=1) as emulator:
        _, by_time = await device_code(http, emulator)
        _, by_hand = await device_code(http, emulator)
        emulator.expire(by_hand["user_code"])
        assert emulator.pending_codes() == [by_time["user_code"]]
        assert (await poll(http, emulator, by_hand["device_code"]))[1]["error"] == "expired_token"
        await asyncio.sleep(1.05)
        assert emulator.pending_codes() == []
        status, body = await poll(http, emulator, by_time["device_code"])
        assert (status, body["error"]) == (400, "expired_token")


async def test_unknown_client_and_unknown_code(http: aiohttp.ClientSession, emulator: OAuthEmulator) -> None:
    status, body = await device_code(http, emulator, client_id="nobody")
    assert (status, body["error"]) == (400, "unauthorized_client")
    assert body["error_description"].startswith("AADSTS700016: Application with identifier 'nobody'")
    assert emulator.scope_requests == []
    status, body = await poll(http, emulator, "no-such-code")
    assert (status, body["error"]) == (400, "bad_verification_code")
    status, body = await device_code(http, emulator, scope="")
    assert (status, body["error"]) == (400, "invalid_request")


async def test_any_tenant_segment(http: aiohttp.ClientSession, emulator: OAuthEmulator) -> None:
    status, _ = await post(http, f"{emulator.url}/contoso.onmicrosoft.com/oauth2/v2.0/devicecode",
                                client_id="ms-client", scope=SMTP_SCOPE)
    assert status == 200
    assert emulator.settings_env(tenant="organizations")["MAILBOT_OAUTH_MICROSOFT_AUTHORITY"] == (
        f"{emulator.url}/organizations")


async def test_no_refresh_token_without_offline_access(http: aiohttp.ClientSession,
                                                       emulator: OAuthEmulator) -> None:
    tokens = await sign_in_microsoft(http, emulator, scope="https://outlook.office.com/SMTP.Send")
    assert "refresh_token" not in tokens


async def test_refresh_rotates_and_burns(http: aiohttp.ClientSession, emulator: OAuthEmulator) -> None:
    first = await sign_in_microsoft(http, emulator)
    status, second = await refresh_microsoft(http, emulator, first["refresh_token"])
    assert status == 200
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert emulator.account_for(second["access_token"]) == ADMIN

    status, body = await refresh_microsoft(http, emulator, first["refresh_token"])
    assert (status, body["error"]) == (400, "invalid_grant")
    assert body["error_description"].startswith("AADSTS70000:")
    assert emulator.burned_reuse == 1
    assert (await refresh_microsoft(http, emulator, second["refresh_token"]))[0] == 200
    assert emulator.refreshes(ADMIN) == 2
    assert emulator.refreshes("someone@else") == 0
    assert [(g, o) for g, _, o in emulator.token_requests[1:]] == [
        ("refresh_token", "ok"), ("refresh_token", "invalid_grant"), ("refresh_token", "ok")]


async def test_refresh_without_rotation(http: aiohttp.ClientSession, emulator: OAuthEmulator) -> None:
    emulator.rotate_refresh = False
    tokens = await sign_in_microsoft(http, emulator)
    for _ in range(2):
        status, body = await refresh_microsoft(http, emulator, tokens["refresh_token"])
        assert status == 200 and "refresh_token" not in body
    assert emulator.burned_reuse == 0


async def test_revoke(http: aiohttp.ClientSession, emulator: OAuthEmulator) -> None:
    tokens = await sign_in_microsoft(http, emulator)
    other = await sign_in_microsoft(http, emulator, account="other@contoso.com")
    emulator.revoke(ADMIN)
    assert emulator.account_for(tokens["access_token"]) is None
    status, body = await refresh_microsoft(http, emulator, tokens["refresh_token"])
    assert (status, body["error"]) == (400, "invalid_grant")
    assert body["error_description"].startswith("AADSTS50173:")
    assert emulator.burned_reuse == 0
    assert emulator.account_for(other["access_token"]) == "other@contoso.com"
    # Signing in again mends it.
    again = await sign_in_microsoft(http, emulator)
    assert emulator.account_for(again["access_token"]) == ADMIN


async def test_access_token_expires(http: aiohttp.ClientSession) -> None:
    async with OAuthEmulator(interval=0, access_ttl_s=1) as emulator:
        tokens = await sign_in_microsoft(http, emulator)
        assert tokens["expires_in"] == 1
        assert emulator.account_for(tokens["access_token"]) == ADMIN
        await asyncio.sleep(1.05)
        assert emulator.account_for(tokens["access_token"]) is None
        status, fresh = await refresh_microsoft(http, emulator, tokens["refresh_token"])
        assert status == 200 and emulator.account_for(fresh["access_token"]) == ADMIN


async def test_id_token_names_the_account(http: aiohttp.ClientSession, emulator: OAuthEmulator) -> None:
    tokens = await sign_in_microsoft(http, emulator, scope=f"openid email {SMTP_SCOPE}")
    payload = tokens["id_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert (claims["preferred_username"], claims["aud"]) == (ADMIN, "ms-client")


async def test_device_login_page(http: aiohttp.ClientSession, emulator: OAuthEmulator) -> None:
    _, issued = await device_code(http, emulator)
    async with http.get(f"{emulator.url}/devicelogin") as response:
        assert response.status == 200 and "user_code" in await response.text()
    form = {"user_code": issued["user_code"].lower(), "account": ADMIN}
    async with http.post(f"{emulator.url}/devicelogin", data=form) as response:
        assert response.status == 200
    assert (await poll(http, emulator, issued["device_code"]))[0] == 200
    async with http.post(f"{emulator.url}/devicelogin", data=form) as response:
        assert response.status == 400


# -- Google authorization code + PKCE ----------------------------------------------------------


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def auth_url(emulator: OAuthEmulator, challenge: str, **extra: str) -> str:
    query = {"client_id": "g-client", "redirect_uri": REDIRECT, "response_type": "code", "scope": GMAIL_SCOPE,
             "state": "st-1", "code_challenge": challenge, "code_challenge_method": "S256",
             "access_type": "offline", "prompt": "consent", **extra}
    return f"{emulator.google_auth_url}?{urlencode(query)}"


async def follow(http: aiohttp.ClientSession, url: str) -> dict[str, str]:
    """GET /auth without following the redirect; the redirect's query."""
    async with http.get(url, allow_redirects=False) as response:
        assert response.status == 302, await response.text()
        location = response.headers["Location"]
    assert location.startswith(REDIRECT)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def redeem(http: aiohttp.ClientSession, emulator: OAuthEmulator, code: str, verifier: str,
                 secret: str = "g-secret", redirect_uri: str = REDIRECT) -> Reply:
    return await post(http, emulator.google_token_url, grant_type="authorization_code", code=code,
                      client_id="g-client", client_secret=secret, redirect_uri=redirect_uri,
                      code_verifier=verifier)


async def refresh_google(http: aiohttp.ClientSession, emulator: OAuthEmulator, token: str) -> Reply:
    return await post(http, emulator.google_token_url, grant_type="refresh_token", client_id="g-client",
                      client_secret="g-secret", refresh_token=token)


async def test_google_code_flow(http: aiohttp.ClientSession, emulator: OAuthEmulator) -> None:
    verifier, challenge = pkce()
    redirect = await follow(http, auth_url(emulator, challenge, login_hint=GMAIL))
    assert (redirect["state"], redirect["scope"]) == ("st-1", GMAIL_SCOPE)
    assert emulator.scope_requests == [("google", GMAIL_SCOPE)]

    status, body = await redeem(http, emulator, redirect["code"], "wrong-verifier")
    assert (status, body) == (400, {"error": "invalid_grant", "error_description": "Invalid code verifier."})
    status, body = await redeem(http, emulator, redirect["code"], verifier, redirect_uri="http://127.0.0.1:1/")
    assert (status, body["error"]) == (400, "redirect_uri_mismatch")
    status, body = await redeem(http, emulator, redirect["code"], verifier, secret="wrong")
    assert (status, body["error"]) == (401, "invalid_client")

    status, tokens = await redeem(http, emulator, redirect["code"], verifier)
    assert status == 200
    assert tokens.keys() == {"access_token", "expires_in", "refresh_token", "scope", "token_type"}
    assert (tokens["scope"], tokens["token_type"]) == (GMAIL_SCOPE, "Bearer")
    assert emulator.account_for(tokens["access_token"]) == GMAIL
    status, body = await redeem(http, emulator, redirect["code"], verifier)
    assert (status, body["error"]) == (400, "invalid_grant")

    # Google keeps the refresh token: no new one, the old one goes on working.
    for _ in range(2):
        status, fresh = await refresh_google(http, emulator, tokens["refresh_token"])
        assert status == 200 and "refresh_token" not in fresh
        assert emulator.account_for(fresh["access_token"]) == GMAIL
    assert emulator.refreshes(GMAIL) == 2

    emulator.revoke(GMAIL)
    status, body = await refresh_google(http, emulator, tokens["refresh_token"])
    assert (status, body["error"]) == (400, "invalid_grant")
    assert body["error_description"] == "Token has been expired or revoked."
    assert emulator.account_for(fresh["access_token"]) is None


async def test_google_next_account_and_consent(http: aiohttp.ClientSession, emulator: OAuthEmulator) -> None:
    verifier, challenge = pkce()
    emulator.google_next_account = "someone-else@gmail.example"
    redirect = await follow(http, auth_url(emulator, challenge, login_hint=GMAIL))
    assert emulator.google_next_account is None
    _, tokens = await redeem(http, emulator, redirect["code"], verifier)
    assert emulator.account_for(tokens["access_token"]) == "someone-else@gmail.example"

    location = await emulator.consent(auth_url(emulator, challenge), GMAIL)
    code = parse_qs(urlsplit(location).query)["code"][0]
    _, tokens = await redeem(http, emulator, code, verifier)
    assert emulator.account_for(tokens["access_token"]) == GMAIL
    with pytest.raises(EmulatorError):
        await emulator.consent("http://127.0.0.1:1/o/oauth2/v2/auth?client_id=g-client", GMAIL)


async def test_google_refresh_token_needs_offline_and_consent(http: aiohttp.ClientSession,
                                                              emulator: OAuthEmulator) -> None:
    verifier, challenge = pkce()

    async def tokens(**extra: str) -> dict[str, Any]:
        location = await emulator.consent(auth_url(emulator, challenge, **extra), GMAIL)
        code = parse_qs(urlsplit(location).query)["code"][0]
        return (await redeem(http, emulator, code, verifier))[1]

    assert "refresh_token" not in await tokens(access_type="online")
    assert "refresh_token" not in await tokens(prompt="")  # consented already
    assert "refresh_token" in await tokens()


async def test_google_deny(http: aiohttp.ClientSession, emulator: OAuthEmulator) -> None:
    _, challenge = pkce()
    emulator.google_deny_next = True
    assert await follow(http, auth_url(emulator, challenge, login_hint=GMAIL)) == {
        "error": "access_denied", "state": "st-1"}
    assert "code" in await follow(http, auth_url(emulator, challenge, login_hint=GMAIL))


@pytest.mark.parametrize("bad", [{"client_id": "nobody"}, {"redirect_uri": "https://evil.example/"},
                                 {"code_challenge_method": "plain"}, {"response_type": "token"}, {"scope": ""}])
async def test_google_auth_refusals(http: aiohttp.ClientSession, emulator: OAuthEmulator,
                                    bad: dict[str, str]) -> None:
    _, challenge = pkce()
    async with http.get(auth_url(emulator, challenge, login_hint=GMAIL, **bad), allow_redirects=False) as r:
        assert r.status == 400


async def test_google_unknown_client_and_grant(http: aiohttp.ClientSession, emulator: OAuthEmulator) -> None:
    status, body = await post(http, emulator.google_token_url, grant_type="refresh_token", client_id="nobody",
                              client_secret="x", refresh_token="1//x")
    assert (status, body["error"]) == (401, "invalid_client")
    status, body = await post(http, emulator.google_token_url, grant_type="password", client_id="g-client",
                              client_secret="g-secret")
    assert (status, body["error"]) == (400, "unsupported_grant_type")


async def test_settings_env(emulator: OAuthEmulator) -> None:
    assert emulator.settings_env() == {
        "MAILBOT_OAUTH_MICROSOFT_AUTHORITY": f"{emulator.url}/common",
        "MAILBOT_OAUTH_MICROSOFT_CLIENT_ID": "ms-client",
        "MAILBOT_OAUTH_GOOGLE_AUTH_URL": f"{emulator.url}/o/oauth2/v2/auth",
        "MAILBOT_OAUTH_GOOGLE_TOKEN_URL": f"{emulator.url}/token",
        "MAILBOT_OAUTH_GOOGLE_CLIENT_ID": "g-client",
        "MAILBOT_OAUTH_GOOGLE_CLIENT_SECRET": "g-secret",
    }


# -- end to end: emulator tokens on the XOAUTH2 test server ------------------------------------


async def test_smtp_server_accepts_only_live_emulator_tokens(http: aiohttp.ClientSession,
                                                             emulator: OAuthEmulator) -> None:
    tokens = await sign_in_microsoft(http, emulator)
    other = await sign_in_microsoft(http, emulator, account="other@contoso.com")

    async def login(user: str, token: str) -> int:
        async with aiosmtplib.SMTP(hostname=server.host, port=server.port, timeout=2.0) as client:
            try:
                return (await client.auth_xoauth2(user, token)).code
            except aiosmtplib.SMTPAuthenticationError as exc:
                return exc.code

    async with SmtpServer(xoauth2=lambda user, token: emulator.account_for(token) == user,
                          password_auth=False) as server:
        assert await login(ADMIN, tokens["access_token"]) == 235
        assert await login(ADMIN, other["access_token"]) == 535
        emulator.revoke(ADMIN)
        assert await login(ADMIN, tokens["access_token"]) == 535
    assert server.logins == [(ADMIN, True), (ADMIN, False), (ADMIN, False)]
