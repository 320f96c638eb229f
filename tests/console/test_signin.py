"""OAuth2 sign-in from the console in a real Chromium: Outlook.com by device code, Gmail by the
redirect landing on the console's own callback or by a pasted address, a declined sign-in, and
"Sign in again" after the issuer revoked the grant. The OAuth emulator plays Microsoft and Google,
an SMTP server takes XOAUTH2 only with the emulator's tokens; no token ever reaches the page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from bot.emulator import OAuthEmulator
from bot.errors import ReauthNeeded
from tests.console.test_browser import CHROMIUM, Served, open_console, page, serving, shot
from tests.oauth.conftest import oauth_settings, token_strings
from tests.support.smtpd import SmtpServer
from tests.support.tls import LocalCA

__all__ = ["page"]  # the browser fixture, shared with test_browser

OUTLOOK, M365, GMAIL = "notice@outlook.com", "notice@corp.example", "notice@gmail.com"

pytestmark = [pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
              pytest.mark.timeout(120)]


@pytest.fixture
async def emu() -> AsyncIterator[OAuthEmulator]:
    async with OAuthEmulator(interval=1) as emulator:
        yield emulator


@pytest.fixture
async def served(tmp_path: Path, emu: OAuthEmulator) -> AsyncIterator[Served]:
    async with serving(tmp_path, **oauth_settings(emu)) as running:
        yield running


@pytest.fixture
def smtp(smtp_server: Callable[..., SmtpServer], tls_ca: LocalCA, emu: OAuthEmulator) -> SmtpServer:
    """Like smtp.office365.com today: STARTTLS, passwords refused, XOAUTH2 with the account's own token."""
    return smtp_server(security="starttls", password_auth=False,
                       xoauth2=lambda user, token: emu.account_for(token) == user)


async def fill_new_mailbox(page: Page, served: Served, smtp: SmtpServer, name: str, account: str,
                           type_key: str) -> None:
    """English console, Mailboxes view, the add form filled for this test's SMTP server."""
    await open_console(page, served)
    await page.click("#lang")
    await page.click("button.tab[data-view=mailboxes]")
    await page.click("#mb-add-open")
    await page.fill("#add-name", name)
    await page.fill("#add-account", account)
    await page.select_option("#add-type", type_key)
    await page.click("#mb-add summary")
    await page.fill("#add-host", "127.0.0.1")
    await page.fill("#add-port", str(smtp.port))
    await page.select_option("#add-security", "starttls")


async def assert_no_secret(page: Page, emu: OAuthEmulator) -> None:
    html = await page.content()
    secrets = token_strings(emu) | set(emu._devices)  # access and refresh tokens, device codes
    assert secrets and not [s for s in secrets if s in html]
    assert "code_verifier" not in html


async def test_outlook_device_sign_in_through_the_page(served: Served, page: Page, emu: OAuthEmulator,
                                                       smtp: SmtpServer) -> None:
    await fill_new_mailbox(page, served, smtp, "outlook", OUTLOOK, "outlook")
    await expect(page.locator("#add-password")).to_be_hidden()  # Outlook.com: no password route at all
    await expect(page.locator("#add-save")).to_be_hidden()
    await expect(page.locator("#add-signin")).to_have_text("Sign in with Microsoft")
    await page.click("#add-signin")
    code = await emu.wait_device_code()
    panel = page.locator("#signin")
    await expect(panel.locator(".user-code")).to_have_text(code)
    await expect(panel.locator("a.signin-link")).to_have_attribute("href", f"{emu.url}/devicelogin")
    await expect(panel).to_contain_text(OUTLOOK)
    await expect(page.locator("#signin-status")).to_have_text("Waiting for the sign-in…")
    await shot(page, "20-outlook-device-code")
    emu.approve(code, OUTLOOK)
    await expect(panel).to_have_attribute("data-state", "saved", timeout=15_000)
    await expect(page.locator("#signin-status")).to_contain_text("Saved mailbox 'outlook'")
    row = page.locator("#mb-table tr[data-name=outlook]")
    await expect(row.locator("td.state")).to_have_attribute("data-auth", "oauth2")
    await expect(row.locator("td.state .badge.auth")).to_have_text("OAuth2")
    await expect(row.locator("button[data-reauth]")).to_have_text("Sign in again")
    await shot(page, "21-outlook-saved")
    mailbox = await served.app.mailboxes.get("outlook")
    assert mailbox.auth == "oauth2" and mailbox.auth_state == "ok"
    assert smtp.logins == [(OUTLOOK, True)]
    await assert_no_secret(page, emu)


async def test_sign_in_again_after_the_grant_was_revoked(served: Served, page: Page, emu: OAuthEmulator,
                                                         smtp: SmtpServer) -> None:
    await fill_new_mailbox(page, served, smtp, "outlook", OUTLOOK, "outlook")
    await page.click("#add-signin")
    emu.approve(await emu.wait_device_code(), OUTLOOK)
    await expect(page.locator("#signin")).to_have_attribute("data-state", "saved", timeout=15_000)

    emu.revoke(OUTLOOK)  # the password changed at Microsoft: the refresh token is dead
    served.app.mailboxes.forget_token("outlook")
    with pytest.raises(ReauthNeeded):
        await served.app.mailboxes.login(await served.app.mailboxes.get("outlook"))
    await page.click("#mb-refresh")
    row = page.locator("#mb-table tr[data-name=outlook]")
    await expect(row.locator("td.state")).to_have_attribute("data-auth-state", "needs_reauth")
    await expect(row.locator("td.state .auth.needs")).to_have_text("needs sign-in")
    again = row.locator("button[data-reauth]")
    await expect(again).to_have_class("btn primary")  # prominent now
    await shot(page, "22-needs-reauth")

    await again.click()
    code = await emu.wait_device_code()
    await expect(page.locator("#signin .user-code")).to_have_text(code)
    await expect(page.locator("#signin-title")).to_have_text("Sign in again: outlook")
    emu.approve(code, OUTLOOK)
    await expect(page.locator("#signin")).to_have_attribute("data-state", "saved", timeout=15_000)
    await expect(page.locator("#signin-status")).to_contain_text("'outlook' is signed in again")
    await expect(row.locator("td.state")).to_have_attribute("data-auth-state", "ok")
    await expect(row.locator("button[data-reauth]")).to_have_class("btn")
    await shot(page, "23-signed-in-again")
    assert (await served.app.mailboxes.get("outlook")).auth_state == "ok"
    await assert_no_secret(page, emu)


async def test_a_declined_sign_in_says_so_and_saves_nothing(served: Served, page: Page, emu: OAuthEmulator,
                                                            smtp: SmtpServer) -> None:
    await fill_new_mailbox(page, served, smtp, "m365", M365, "microsoft365")
    await expect(page.locator("#add-password")).to_be_visible()  # Microsoft 365: password or sign-in
    await expect(page.locator("#add-signin")).to_have_text("Sign in with Microsoft")
    await page.click("#add-signin")
    emu.decline(await emu.wait_device_code())
    panel = page.locator("#signin")
    await expect(panel).to_have_attribute("data-state", "failed", timeout=15_000)
    await expect(panel.locator(".problem")).to_contain_text("did not finish")
    await expect(panel.locator(".problem")).to_contain_text("Start the sign-in again")
    await expect(panel.locator(".user-code")).to_have_count(0)  # the code is gone with the sign-in
    await shot(page, "24-declined")
    assert await served.app.mailboxes.find("m365") is None and smtp.logins == []


async def test_gmail_redirect_lands_on_the_console(served: Served, page: Page, emu: OAuthEmulator,
                                                   smtp: SmtpServer) -> None:
    await fill_new_mailbox(page, served, smtp, "gmail", GMAIL, "gmail")
    await expect(page.locator("#add-password")).to_be_visible()  # an app password still works
    await expect(page.locator("#add-signin")).to_have_text("Sign in with Google")
    await page.click("#add-signin")
    link = page.locator("#signin a.signin-link")
    href = await link.get_attribute("href")
    assert href is not None and href.startswith(emu.google_auth_url)
    assert f"redirect_uri=http%3A%2F%2F127.0.0.1%3A{served.url.rsplit(':', 1)[1]}%2Fconsole%2Foauth%2Fcallback" in href
    await expect(link).to_have_attribute("target", "_blank")
    await shot(page, "25-gmail-consent-link")

    async with page.context.expect_page() as opened:
        await link.click()  # Google (the emulator) answers 302 to the console's callback
    result = await opened.value
    await expect(result.locator("#signin-result")).to_have_attribute("data-state", "saved", timeout=15_000)
    await expect(result.locator("#signin-result")).to_contain_text("'gmail'")
    assert result.url.startswith(served.url + "/console/oauth/callback?")
    await shot(result, "26-gmail-callback-result")
    await expect(page.locator("#signin")).to_have_attribute("data-state", "saved", timeout=15_000)  # the first tab too
    await result.click("a.btn")
    await expect(result.locator("#mb-table tr[data-name=gmail] td.state")).to_have_attribute("data-auth", "oauth2")
    assert (await served.app.mailboxes.get("gmail")).auth == "oauth2"
    assert smtp.logins == [(GMAIL, True)]
    for shown in (page, result):
        await assert_no_secret(shown, emu)


async def test_gmail_by_pasting_the_redirect_address(served: Served, page: Page, emu: OAuthEmulator,
                                                     smtp: SmtpServer) -> None:
    await fill_new_mailbox(page, served, smtp, "gmail", GMAIL, "gmail")
    await page.click("#add-signin")
    href = await page.locator("#signin a.signin-link").get_attribute("href")
    assert href is not None
    redirected = await emu.consent(href, GMAIL)  # what a browser behind a tunnel shows in its address bar
    await page.fill("#signin-pasted", "not an address")
    await page.click("#signin-paste button[type=submit]")
    await expect(page.locator("#signin-status")).to_contain_text("paste the whole address")
    await expect(page.locator("#signin")).to_have_attribute("data-state", "waiting")
    await page.fill("#signin-pasted", redirected)
    await page.click("#signin-paste button[type=submit]")
    await expect(page.locator("#signin")).to_have_attribute("data-state", "saved", timeout=15_000)
    await expect(page.locator("#signin-status")).to_contain_text("Saved mailbox 'gmail'")
    await shot(page, "27-gmail-pasted")
    assert (await served.app.mailboxes.get("gmail")).auth == "oauth2"
    await assert_no_secret(page, emu)


async def test_a_sign_in_started_in_the_console_chat_tells_its_outcome_without_a_reload(
        served: Served, page: Page, emu: OAuthEmulator, smtp: SmtpServer) -> None:
    await open_console(page, served)
    await page.fill("#message", f"新建邮箱 名称=outlook 账号={OUTLOOK} 类型=outlook 服务器=127.0.0.1 "
                                f"端口={smtp.port} 加密=starttls")
    await page.press("#message", "Enter")
    code = await emu.wait_device_code()
    await expect(page.locator("#transcript")).to_contain_text(code)
    emu.approve(code, OUTLOOK)
    await expect(page.locator("#transcript li.msg.bot").last).to_contain_text("已保存", timeout=15_000)
    assert (await served.app.mailboxes.get("outlook")).auth == "oauth2"
    await assert_no_secret(page, emu)
