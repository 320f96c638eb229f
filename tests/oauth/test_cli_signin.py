"""`mailbot mailbox add --oauth` and `mailbot mailbox reauth` in real subprocesses, against the OAuth
emulator and an SMTP server that takes XOAUTH2 only: sign-in, login check, save; nothing secret on disk
or on screen."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from bot.emulator import OAuthEmulator
from tests.oauth.conftest import leaked, token_strings
from tests.support.smtpd import SmtpServer
from tests.support.tls import LocalCA

OUTLOOK = "notice@outlook.com"
GMAIL = "notice@gmail.com"


class Cli:
    """`python -m bot ...` as an asyncio subprocess: the emulator runs on this test's loop."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd = env, cwd

    async def start(self, *args: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *args, env=self.env, cwd=self.cwd, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)

    async def run(self, *args: str) -> tuple[int, str, str]:
        proc = await self.start(*args)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        return proc.returncode or 0, out.decode(), err.decode()


@pytest.fixture
def cli(tmp_path: Path, tls_ca: LocalCA, emu: OAuthEmulator) -> Cli:
    env = {**os.environ, "MAILBOT_DATA_DIR": str(tmp_path / "data"), "SSL_CERT_FILE": str(tls_ca.ca_path),
           "MAILBOT_SMTP_TIMEOUT_S": "3", "LANG": "C.UTF-8", **emu.settings_env()}
    env.pop("MAILBOT_SECRET_KEY", None)
    return Cli(env, tmp_path)


def server_flags(server: SmtpServer) -> list[str]:
    return ["--host", "127.0.0.1", "--port", str(server.port), "--security", "starttls"]


async def read_until(stream: asyncio.StreamReader, needle: str, timeout: float = 30.0) -> str:
    seen = ""
    while needle not in seen:
        line = await asyncio.wait_for(stream.readline(), timeout)
        assert line, f"output ended before {needle!r}: {seen}"
        seen += line.decode()
    return seen


async def test_outlook_device_sign_in_checks_the_login_and_saves(cli: Cli, emu: OAuthEmulator,
                                                                  xoauth_server: Callable[..., SmtpServer],
                                                                  tmp_path: Path) -> None:
    server = xoauth_server()
    proc = await cli.start("mailbox", "add", "--name", "outlook", "--account", OUTLOOK, "--type", "outlook",
                           "--oauth", *server_flags(server), "--lang", "en")
    assert proc.stdout is not None and proc.stderr is not None
    code = await emu.wait_device_code(timeout=30)
    shown = await read_until(proc.stdout, "Waiting for the sign-in")
    assert code in shown and f"{emu.url}/devicelogin" in shown and OUTLOOK in shown
    await asyncio.sleep(1.5)  # the CLI polls at the issuer's interval meanwhile: authorization_pending
    emu.approve(code, OUTLOOK)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    assert "Saved mailbox 'outlook'" in (shown + out.decode()) and "login check passed" in out.decode()
    assert server.logins == [(OUTLOOK, True)]  # XOAUTH2, with the emulator's token for that account
    assert ("urn:ietf:params:oauth:grant-type:device_code", "ms-client", "authorization_pending") in emu.token_requests

    status, shown_json, _ = await cli.run("mailbox", "show", "outlook", "--json")
    mailbox = json.loads(shown_json)
    assert status == 0 and mailbox["auth"] == "oauth2" and mailbox["auth_state"] == "ok" and mailbox["type"] == "outlook"
    _, listed, _ = await cli.run("mailbox", "list", "--json")
    _, audit, _ = await cli.run("audit", "--json")
    tokens = token_strings(emu)
    assert tokens and not leaked([tmp_path / "data"], tokens)
    assert not [t for t in tokens if t in shown + out.decode() + err.decode() + shown_json + listed + audit]

    # another process (a fresh CLI) tests and edits it: it refreshes the access token itself, XOAUTH2 again
    status, out_test, err_test = await cli.run("mailbox", "test", "outlook", "--lang", "en")
    assert status == 0 and "Login check passed" in out_test, err_test
    status, out_edit, err_edit = await cli.run("mailbox", "edit", "outlook", "--name", "outlook-ops", "--lang", "en")
    assert status == 0 and "login check passed" in out_edit, err_edit
    status, shown_json, _ = await cli.run("mailbox", "show", "outlook-ops", "--json")
    assert json.loads(shown_json)["auth"] == "oauth2"
    assert server.logins[-2:] == [(OUTLOOK, True), (OUTLOOK, True)] and emu.refreshes(OUTLOOK) >= 1
    await cli.run("mailbox", "edit", "outlook-ops", "--name", "outlook")

    # reauth: a new sign-in replaces the stored refresh token
    proc = await cli.start("mailbox", "reauth", "outlook", "--lang", "en")
    code = await emu.wait_device_code(timeout=30)
    emu.approve(code, OUTLOOK)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    assert "Signed in again mailbox 'outlook'" in out.decode() or "signed in again" in out.decode().lower()
    assert server.logins[-1] == (OUTLOOK, True)


async def test_declined_or_expired_sign_in_saves_nothing(cli: Cli, emu: OAuthEmulator,
                                                         xoauth_server: Callable[..., SmtpServer]) -> None:
    server = xoauth_server()
    for end in ("decline", "expire"):
        proc = await cli.start("mailbox", "add", "--name", "m365", "--account", "notice@corp.example", "--type",
                               "microsoft365", "--oauth", *server_flags(server), "--lang", "en")
        code = await emu.wait_device_code(timeout=30)
        getattr(emu, end)(code)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 1 and "did not finish" in err.decode() and "Start the sign-in again" in err.decode()
    status, _, err = await cli.run("mailbox", "show", "m365")
    assert status != 0 and "no mailbox named" in err.lower()
    assert server.logins == []


async def test_sign_in_for_a_type_without_oauth_or_without_a_client_id_says_what_to_do(cli: Cli) -> None:
    status, _, err = await cli.run("mailbox", "add", "--name", "q", "--account", "me@qq.com", "--oauth", "--lang", "en")
    assert status == 2 and "has no OAuth2 sign-in" in err and "gmail, outlook, microsoft365" in err
    cli.env.pop("MAILBOT_OAUTH_MICROSOFT_CLIENT_ID")
    status, _, err = await cli.run("mailbox", "add", "--name", "o", "--account", OUTLOOK, "--oauth", "--lang", "en")
    assert status == 1 and "MAILBOT_OAUTH_MICROSOFT_CLIENT_ID" in err


async def test_a_wrong_account_signed_in_is_refused_by_the_login_check(cli: Cli, emu: OAuthEmulator,
                                                                        xoauth_server: Callable[..., SmtpServer]) -> None:
    server = xoauth_server()
    proc = await cli.start("mailbox", "add", "--name", "o", "--account", OUTLOOK, "--type", "outlook", "--oauth",
                           *server_flags(server), "--lang", "en")
    emu.approve(await emu.wait_device_code(timeout=30), "someone.else@outlook.com")
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 1
    assert "refused the OAuth2 login" in err.decode() and "signed in as this mailbox" in err.decode()
    assert "The mailbox was not saved" in err.decode()


async def test_gmail_sign_in_by_pasting_the_redirect_address(cli: Cli, emu: OAuthEmulator,
                                                             xoauth_server: Callable[..., SmtpServer]) -> None:
    server = xoauth_server()
    proc = await cli.start("mailbox", "add", "--name", "gmail", "--account", GMAIL, "--type", "gmail", "--oauth",
                           *server_flags(server), "--lang", "en")
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    shown = await read_until(proc.stdout, "paste the address here")
    url = next(line for line in shown.splitlines() if line.startswith(emu.google_auth_url))
    redirected = await emu.consent(url, GMAIL)
    proc.stdin.write(b"not an address\n")  # a bad paste is explained and asked again
    await proc.stdin.drain()
    said = await read_until(proc.stderr, "code=")
    assert "paste the whole address" in said
    proc.stdin.write(redirected.encode() + b"\n")
    await proc.stdin.drain()
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    assert "Saved mailbox 'gmail'" in out.decode() and server.logins == [(GMAIL, True)]
    assert redirected.split("code=")[1].split("&")[0] not in out.decode() + err.decode()


async def test_gmail_redirect_lands_on_the_terminals_loopback_listener(cli: Cli, emu: OAuthEmulator,
                                                                       xoauth_server: Callable[..., SmtpServer]) -> None:
    server = xoauth_server()
    proc = await cli.start("mailbox", "add", "--name", "gmail", "--account", GMAIL, "--type", "gmail", "--oauth",
                           *server_flags(server), "--lang", "en")
    assert proc.stdout is not None
    shown = await read_until(proc.stdout, "paste the address here")
    url = next(line for line in shown.splitlines() if line.startswith(emu.google_auth_url))
    emu.google_next_account = GMAIL
    async with aiohttp.ClientSession() as browser, browser.get(url) as page:  # follows the 302 to 127.0.0.1
        assert page.status == 200 and "Sign-in received" in await page.text()
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    assert "Saved mailbox 'gmail'" in out.decode()


async def test_ctrl_c_while_waiting_cancels_cleanly(cli: Cli, emu: OAuthEmulator,
                                                    xoauth_server: Callable[..., SmtpServer]) -> None:
    server = xoauth_server()
    proc = await cli.start("mailbox", "add", "--name", "o", "--account", OUTLOOK, "--type", "outlook", "--oauth",
                           *server_flags(server), "--lang", "en")
    assert proc.stdout is not None
    await emu.wait_device_code(timeout=30)
    await read_until(proc.stdout, "Waiting for the sign-in")
    proc.send_signal(2)  # SIGINT
    _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 130 and "nothing was saved" in err.decode() and "Traceback" not in err.decode()
    status, _, _ = await cli.run("mailbox", "show", "o")
    assert status != 0
