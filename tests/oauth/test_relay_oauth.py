"""OAuth2 mailboxes in the relay, end to end: mail goes out with XOAUTH2; an expired access token is
refreshed (and the rotated refresh token stored); a revoked sign-in holds mail as `retrying` with one
alert, and `reauth` sends it. Two instances never spend one rotating refresh token."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.adapters.relay_component import RelayComponent
from bot.app import App, open_app
from bot.emulator import OAuthEmulator
from bot.errors import ReauthNeeded
from bot.mailboxes.signin import SignIn
from bot.relay.alerts import LoggingSink
from bot.secrets import generate_key
from tests.oauth.conftest import leaked, oauth_settings, token_strings
from tests.relay.conftest import ADMIN, relay_settings
from tests.support.smtpd import SmtpServer

ACCOUNT = "notice@corp.example"


async def sign_in(app: App, emu: OAuthEmulator, *, reauth: str | None = None, server: SmtpServer | None = None,
                  name: str = "m365") -> Any:
    """What an admin does: start, type the code at Microsoft's page, wait for the bot."""
    data = None if reauth else {"name": name, "type": "microsoft365", "account": ACCOUNT, "host": "127.0.0.1",
                                "port": server.port if server else 0, "security": "starttls"}
    signin: SignIn = await app.signins.begin(data, reauth=reauth)
    assert signin.device is not None
    finishing = asyncio.create_task(app.signins.finish(signin, ADMIN))
    emu.approve(await emu.wait_device_code(timeout=30), ACCOUNT)
    return await finishing


async def test_mail_through_an_oauth_mailbox_refresh_revoke_hold_and_reauth(
        tmp_path: Path, emu: OAuthEmulator, xoauth_server: Callable[..., SmtpServer]) -> None:
    emu.access_ttl_s = 2  # access tokens expire under the test's eyes
    server = xoauth_server()
    # idle connections close after 0.5 s, so each phase logs in anew
    settings = relay_settings(tmp_path / "data", relay_idle_s=0.5, **oauth_settings(emu))
    async with open_app(settings) as app:
        saved = await sign_in(app, emu, server=server)
        assert saved.mailbox.auth == "oauth2"
        sink = LoggingSink()
        component = RelayComponent(app, sink)
        token = await component.relay.tokens.create("ci")
        await component.start()
        url = f"http://127.0.0.1:{component.port}"
        try:
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
                async def post(subject: str) -> str:
                    async with http.post(url + "/v1/mails", json={"to": ["a@example.com"], "subject": subject,
                                                                 "text": "hi"}) as resp:
                        assert resp.status == 202
                        return (await resp.json())["id"]

                async def status(mail_id: str, *wanted: str, timeout: float = 15.0) -> dict[str, Any]:
                    deadline = time.monotonic() + timeout
                    while True:
                        async with http.get(f"{url}/v1/mails/{mail_id}") as resp:
                            view = await resp.json()
                        if view["status"] in wanted or time.monotonic() > deadline:
                            return view
                        await asyncio.sleep(0.05)

                first = await post("first")
                assert (await status(first, "sent"))["status"] == "sent"
                await asyncio.sleep(2.2)  # the access token has expired: the next login refreshes it
                second = await post("second")
                assert (await status(second, "sent"))["status"] == "sent"
                assert emu.refreshes(ACCOUNT) >= 1
                assert (await app.mailboxes.get("m365")).version == saved.mailbox.version  # rotation is no edit

                emu.revoke(ACCOUNT)  # the admin changed the password: refresh token and access tokens are dead
                await asyncio.sleep(2.2)
                held = [await post(f"held {i}") for i in range(3)]
                for mail_id in held:
                    view = await status(mail_id, "retrying")
                    assert view["status"] == "retrying" and view["last_error"].startswith("needs_reauth:"), view
                    assert view["attempts"] == 0
                mailbox = await app.mailboxes.get("m365")
                assert mailbox.auth_state == "needs_reauth" and mailbox.public()["auth_state"] == "needs_reauth"
                await asyncio.sleep(0.5)
                alerts = [e for e in sink.events if e.kind == "needs_reauth"]
                assert len(alerts) == 1, sink.events
                assert "mailbot mailbox reauth m365" in alerts[0].reason_en and alerts[0].offers_guide
                assert "Authenticated SMTP" in alerts[0].markdown("en") or "SMTP" in alerts[0].markdown("en")

                await sign_in(app, emu, reauth="m365")
                for mail_id in held:
                    assert (await status(mail_id, "sent", timeout=10))["status"] == "sent"
                assert (await app.mailboxes.get("m365")).auth_state == "ok"
                subjects = [str(m.message["Subject"]) for m in server.messages]
                assert subjects.count("first") == 1 and sorted(subjects[2:]) == ["held 0", "held 1", "held 2"]
        finally:
            await component.stop()
    tokens = token_strings(emu)
    assert not leaked([tmp_path / "data"], tokens)
    assert not [t for t in tokens for e in sink.events if t in e.reason_en + e.reason_zh + e.markdown("en")]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_two_instances_refreshing_at_once_spend_the_refresh_token_once(
        tmp_path: Path, emu: OAuthEmulator, xoauth_server: Callable[..., SmtpServer], backend: str,
        request: pytest.FixtureRequest) -> None:
    emu.access_ttl_s = 1
    server = xoauth_server()
    store: dict[str, Any] = {}
    if backend == "postgresql":
        store = {"database_url": request.getfixturevalue("postgres_url"), "secret_key": generate_key()}
    settings = relay_settings(tmp_path / "data", **oauth_settings(emu), **store)
    other = settings.model_copy(update={"data_dir": tmp_path / "data2"}) if store else settings  # PG: its own dir
    async with open_app(settings) as first, open_app(other) as second:
        await sign_in(first, emu, server=server)
        await asyncio.sleep(1.1)
        for _ in range(3):  # three rounds of both instances refreshing at the same moment
            mailboxes = [await app.mailboxes.get("m365") for app in (first, second)]
            logins = await asyncio.gather(*[app.mailboxes.login(m) for app, m in zip((first, second), mailboxes)])
            assert all(emu.account_for(login.secret.get_secret_value()) == ACCOUNT for login in logins)
            await asyncio.sleep(1.1)
        assert emu.burned_reuse == 0 and emu.refreshes(ACCOUNT) == 6
        assert (await first.mailboxes.get("m365")).auth_state == "ok"


async def test_a_login_test_after_the_sign_in_was_revoked_asks_for_a_new_sign_in(
        tmp_path: Path, emu: OAuthEmulator, xoauth_server: Callable[..., SmtpServer]) -> None:
    """The cached access token is refused by the server: refreshed once, and the refused refresh turns
    the mailbox needs_reauth (not 'wrong password')."""
    server = xoauth_server()
    async with open_app(relay_settings(tmp_path / "data", **oauth_settings(emu))) as app:
        await sign_in(app, emu, server=server)
        await app.mailboxes.test("m365", ADMIN)
        emu.revoke(ACCOUNT)
        with pytest.raises(ReauthNeeded) as refused:
            await app.mailboxes.test("m365", ADMIN)
        assert "mailbot mailbox reauth m365" in refused.value.message("en")
        assert (await app.mailboxes.get("m365")).auth_state == "needs_reauth"
