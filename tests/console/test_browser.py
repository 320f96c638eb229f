"""The console in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

One server as `mailbot run` serves it: the relay API with the console mounted, the delivery worker
running, real aiosmtpd sinks. Screenshots of every step go to artifacts/console/.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Page, async_playwright, expect

from bot.adapters.http import make_app
from bot.app import App, open_app
from bot.chat.router import Router
from bot.console.access import Access
from bot.console.app import Services, build_console, mount
from bot.relay.alerts import LoggingSink
from bot.relay.service import relay_service
from bot.relay.worker import Worker
from tests.console.conftest import console_settings
from tests.relay.conftest import add_mailbox, set_rate
from tests.support.smtpd import SmtpServer

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "console"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                                              "(apt-get install chromium)"),
              pytest.mark.timeout(120)]


@dataclass
class Served:
    app: App
    url: str
    token: str


CARD_TEMPLATES = {f"card_template_{c}": f"{c}.schema" for c in ("mailbox_form", "result", "mailbox_list", "alert")}


@pytest.fixture
async def served(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Served]:
    """`@pytest.mark.parametrize("served", [{...settings}], indirect=True)` adds settings (card template ids)."""
    extra = getattr(request, "param", {})
    settings = console_settings(tmp_path / "data", http_port=0, retry_base_s=0.05, relay_poll_s=0.2,
                                relay_stop_grace_s=2.0, **extra)
    async with open_app(settings) as app:
        relay = relay_service(app)
        worker = Worker(relay, settings, LoggingSink())
        root = make_app(relay)
        mount(root, build_console(Services(app, Router(app), relay), Access(None)))
        runner = web.AppRunner(root, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        await worker.start()
        port = runner.addresses[0][1]
        try:
            yield Served(app, f"http://127.0.0.1:{port}", await relay.tokens.create("ci"))
        finally:
            await runner.cleanup()
            await worker.stop()


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[Page]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), args=ARGS, headless=True,
            viewport={"width": 390, "height": 844})  # a phone-width window
        try:
            yield context.pages[0] if context.pages else await context.new_page()
        finally:
            await context.close()


async def shot(page: Page, name: str) -> None:
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def say(page: Page, text: str) -> None:
    await page.fill("#message", text)
    await page.press("#message", "Enter")


async def open_console(page: Page, served: Served) -> None:
    await page.goto(served.url + "/")
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")


async def test_guide_and_registration_by_chat(served: Served, page: Page,
                                              smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server(users={"bot@example.com": "app-pass-123"})
    await open_console(page, served)
    await page.select_option("#conversation", "member")
    await say(page, "怎么获取QQ邮箱授权码")
    reply = page.locator("#transcript .msg.bot").last
    await expect(reply).to_contain_text("smtp.qq.com")
    await expect(reply.locator("li").first).to_be_visible()
    await shot(page, "01-qq-guide")

    await page.select_option("#conversation", "admin")
    await say(page, f"new mailbox name=approvals account=bot@example.com type=custom host=127.0.0.1 "
                    f"port={server.port} security=none")
    await expect(page.locator("#message")).to_have_attribute("type", "password")
    await shot(page, "02-wizard-asks-secret")
    await say(page, "app-pass-123")
    await expect(page.locator("#transcript .msg.mine").last).to_have_text(re.compile("••••••"))
    await expect(page.locator("#transcript")).not_to_contain_text("app-pass-123")
    await expect(page.locator("#transcript .msg.bot").last).to_contain_text("approvals")
    await shot(page, "03-mailbox-saved")

    await page.click("button.tab[data-view=mailboxes]")
    row = page.locator("#mb-table tr[data-name=approvals]")
    await expect(row).to_contain_text("bot@example.com")
    await expect(row).to_contain_text("✅")
    await shot(page, "04-mailboxes-list")
    await row.get_by_role("button", name="Delete").or_(row.get_by_role("button", name="删除")).click()
    await row.get_by_role("button", name=re.compile("Confirm delete|确认删除")).press("Enter")
    await expect(page.locator("#mb-table tr[data-name=approvals]")).to_have_count(0)
    await shot(page, "05-mailbox-deleted")
    assert await served.app.mailboxes.find("approvals") is None


async def test_outbox_live_sent_and_retry_of_a_failed_mail(served: Served, page: Page,
                                                           smtp_server: Callable[..., SmtpServer]) -> None:
    good, flaky = smtp_server(), smtp_server(data_replies=["550 5.1.1 mailbox unavailable"])
    await add_mailbox(served.app, "ops", good)
    await add_mailbox(served.app, "flaky", flaky)
    for name in ("ops", "flaky"):
        await set_rate(served.app.storage, name, 100000)
    await open_console(page, served)
    await page.click("#lang")  # English UI
    await page.click("button.tab[data-view=outbox]")
    await expect(page.locator("#ob-status")).to_have_text("No mail yet.")

    headers = {"Authorization": f"Bearer {served.token}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(served.url + "/v1/mails", headers=headers,
                             json={"mailbox": "ops", "to": ["a@example.com"], "subject": "Approval #1",
                                   "text": "approved"}) as resp:
            assert resp.status == 202
            sent_id = (await resp.json())["id"]
        async with http.post(served.url + "/v1/mails", headers=headers,
                             json={"mailbox": "flaky", "to": ["b@example.com"], "subject": "Approval #2",
                                   "text": "approved"}) as resp:
            failed_id = (await resp.json())["id"]

    await expect(page.locator(f"#ob-table tr[data-id='{sent_id}']")).to_have_attribute("data-status", "sent")
    failed_row = page.locator(f"#ob-table tr[data-id='{failed_id}']")
    await expect(failed_row).to_have_attribute("data-status", "failed")
    await expect(failed_row).to_contain_text("550")
    await shot(page, "06-outbox-sent-and-failed")
    await failed_row.get_by_role("button", name="Retry").click()
    await expect(failed_row).to_have_attribute("data-status", "sent")
    await shot(page, "07-outbox-retried-sent")
    assert len(good.messages) == 1 and len(flaky.messages) == 1

    await page.click("button.tab[data-view=audit]")
    await expect(page.locator("#au-table tbody tr").first).to_be_visible()
    await shot(page, "08-audit")


@pytest.mark.parametrize("served", [CARD_TEMPLATES], indirect=True)
async def test_register_through_the_card_form(served: Served, page: Page,
                                              smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server(users={"bot@example.com": "app-pass-123"})
    await open_console(page, served)
    await page.click("#lang")
    await say(page, "new mailbox")
    form = page.locator("#transcript form.card-form").last
    await expect(form.locator("input[name=password]")).to_have_attribute("type", "password")
    await form.locator("input[name=name]").fill("cardbox")
    await form.locator("select[name=type]").select_option("custom")
    await form.locator("input[name=account]").fill("bot@example.com")
    await form.locator("input[name=password]").fill("app-pass-123")
    await form.locator("input[name=host]").fill("127.0.0.1")
    await form.locator("input[name=port]").fill(str(server.port))
    await form.locator("select[name=security]").select_option("none")
    await shot(page, "09-card-form-filled")
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#transcript")).to_contain_text("Saved, login verified")
    html = await page.locator("#transcript").inner_html()
    assert "app-pass-123" not in html
    await shot(page, "10-card-form-result")
    await page.click("button.tab[data-view=mailboxes]")
    await expect(page.locator("#mb-table tr[data-name=cardbox]")).to_contain_text("bot@example.com")
    await shot(page, "11-card-mailbox-listed")
