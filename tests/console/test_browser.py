"""The console in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

One server as `mailbot run` serves it: the relay API with the console mounted, the delivery worker
running, real aiosmtpd sinks. Screenshots of every step go to artifacts/console/.
"""

from __future__ import annotations

import asyncio
import base64
import re
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Locator, Page, async_playwright, expect
from pydantic import SecretStr

from bot.adapters.http import make_app
from bot.app import App, open_app
from bot.audit import Actor
from bot.chat.router import Router
from bot.console.access import Access
from bot.console.app import Services, build_console, mount
from bot.errors import SmtpError
from bot.relay.alerts import LoggingSink
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
    async with serving(tmp_path, **getattr(request, "param", {})) as running:
        yield running


@asynccontextmanager
async def serving(tmp_path: Path, **extra: Any) -> AsyncIterator[Served]:
    """The console as `mailbot run` serves it, with `extra` settings."""
    settings = console_settings(tmp_path / "data", http_port=0, retry_base_s=0.05, relay_poll_s=0.2,
                                relay_stop_grace_s=2.0, **extra)
    async with open_app(settings) as app:
        relay = app.relay
        worker = Worker(relay, settings, LoggingSink(), health=app.health)  # counts sends, as `mailbot run`
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


DESKTOP = {"width": 1280, "height": 800}
GREEN, RED, WHITE = (0x1A, 0x7F, 0x37), (0xD9, 0x2D, 0x20), (0xFF, 0xFF, 0xFF)


async def share_of(page: Page, locator: Locator, rgb: tuple[int, int, int]) -> float:
    """Share of the element's screenshot pixels near colour `rgb`: what the user sees, whatever the fonts."""
    png = base64.b64encode(await locator.screenshot()).decode()
    return float(await page.evaluate("""async ([png, [r, g, b]]) => {
      const img = new Image();
      img.src = `data:image/png;base64,${png}`;
      await img.decode();
      const canvas = new OffscreenCanvas(img.width, img.height);
      const ctx = canvas.getContext("2d");
      ctx.drawImage(img, 0, 0);
      const px = ctx.getImageData(0, 0, img.width, img.height).data;
      let near = 0;
      for (let i = 0; i < px.length; i += 4) near += Math.abs(px[i] - r) + Math.abs(px[i + 1] - g) + Math.abs(px[i + 2] - b) < 60;
      return near / (px.length / 4);
    }""", [png, list(rgb)]))


async def text_lines(locator: Locator) -> int:
    """How many lines the element's text takes (distinct tops of its line boxes)."""
    return int(await locator.evaluate("""(node) => {
      const range = document.createRange();
      range.selectNodeContents(node);
      return new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top))).size;
    }"""))


async def fits(locator: Locator) -> bool:
    """The element's content fits its box: nothing is cut off or pushes a horizontal scrollbar."""
    return bool(await locator.evaluate("(node) => node.scrollWidth <= node.clientWidth + 1"))


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
    await expect(row.locator("td.health .mark.ok")).to_be_visible()
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
    await expect(failed_row.locator(".status-failed")).to_have_text("failed")
    await shot(page, "06-outbox-sent-and-failed")
    await page.click("#lang")  # the Chinese view says status and error in Chinese; the reply stays as sent
    await expect(failed_row.locator(".status-failed")).to_have_text("发送失败")
    await expect(page.locator(f"#ob-table tr[data-id='{sent_id}'] .status-sent")).to_have_text("已发送")
    await expect(failed_row.locator("td.error-text")).to_contain_text("服务器回复：550 5.1.1 mailbox unavailable")
    await expect(failed_row.locator("td.error-text")).not_to_contain_text("Server reply")
    await shot(page, "06b-outbox-failed-zh")
    await failed_row.get_by_role("button", name="重试").click()
    await expect(failed_row).to_have_attribute("data-status", "sent")
    await expect(failed_row.locator(".status-sent")).to_have_text("已发送")
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


async def test_mailbox_table_at_desktop_width_in_both_languages(served: Served, page: Page,
                                                                  smtp_server: Callable[..., SmtpServer]) -> None:
    """No "null" in the default's actions, short cells on one line, marks drawn, errors in the page's language."""
    await add_mailbox(served.app, "approvals-and-notifications", smtp_server())
    await add_mailbox(served.app, "rejecting", smtp_server(reject_all_logins=True, users={"bot@example.com": "x"}))
    tester = Actor(id="tester", source="test")
    await served.app.mailboxes.test("approvals-and-notifications", tester)
    with pytest.raises(SmtpError):
        await served.app.mailboxes.test("rejecting", tester)
    await page.set_viewport_size(DESKTOP)
    await open_console(page, served)
    await page.click("button.tab[data-view=mailboxes]")
    default = page.locator("#mb-table tr[data-name=approvals-and-notifications]")
    failing = page.locator("#mb-table tr[data-name=rejecting]")
    await expect(default.locator("td.actions")).to_have_text(re.compile("测试"))
    await expect(default.locator("td.actions")).not_to_contain_text("null")
    await expect(failing.locator("td.health")).to_contain_text("登录被拒绝")
    await expect(failing.locator("td.health")).not_to_contain_text("auth_rejected")
    for row in (default, failing):
        for cell in ("td.state", "td[data-type]", "td.health .state-line", "td.health .checked"):
            assert await text_lines(row.locator(cell)) == 1, cell
        assert await fits(row.locator("td.actions"))
    assert await share_of(page, default.locator("td.health .mark.ok"), GREEN) > 0.4
    assert await share_of(page, default.locator("td.health .mark.ok"), WHITE) > 0.05  # the tick
    assert await share_of(page, failing.locator("td.health .mark.bad"), RED) > 0.4
    await expect(page.locator("#mb-table")).not_to_contain_text("✅")
    await shot(page, "12-mailboxes-desktop-zh")

    await page.click("#lang")
    await expect(default.locator("td.state")).to_have_text("enabled")
    await expect(failing.locator("td.health")).to_contain_text("Login rejected")
    assert await text_lines(failing.locator("td.health .checked")) == 1
    await shot(page, "13-mailboxes-desktop-en")


async def test_chat_status_emoji_are_drawn_marks(served: Served, page: Page,
                                                 smtp_server: Callable[..., SmtpServer]) -> None:
    await add_mailbox(served.app, "good", smtp_server())
    await add_mailbox(served.app, "bad", smtp_server(reject_all_logins=True, users={"bot@example.com": "x"}))
    await open_console(page, served)
    await say(page, "测试邮箱 good")
    ok = page.locator("#transcript .msg.bot .mark.ok")
    await expect(ok).to_be_visible()
    await say(page, "测试邮箱 bad")
    bad = page.locator("#transcript .msg.bot .card-title .mark.bad")
    await expect(bad).to_be_visible()
    assert await share_of(page, ok, GREEN) > 0.4 and await share_of(page, bad, RED) > 0.4
    assert not re.search("[✅❌]", await page.locator("#transcript").inner_text())
    await shot(page, "14-chat-marks")


async def test_audit_pages_and_shows_changes_as_lines(served: Served, page: Page,
                                                      smtp_server: Callable[..., SmtpServer]) -> None:
    await add_mailbox(served.app, "ops", smtp_server())
    tester = Actor(id="tester", name="a tester with a long display name", source="test")
    for i in range(1, 61):
        await served.app.mailboxes.set_rate("ops", i, tester)
    await served.app.mailboxes.edit("ops", {"host": "smtp." + "mailrelay" * 6 + ".example.com"}, None, tester,
                                    verify=False)  # 62 entries: add, 60 rate changes, this edit
    await open_console(page, served)
    await page.click("button.tab[data-view=audit]")
    rows = page.locator("#au-table tbody tr")
    await expect(rows).to_have_count(20)  # a phone's page
    assert await fits(page.locator("#au-table").locator("..")) and await fits(page.locator("html"))
    edit = rows.first.locator("td.changes-cell li")
    await expect(edit).to_have_text(re.compile("SMTP 服务器: 127.0.0.1 → smtp.mailrelaymailrelay"))
    await expect(rows.nth(1).locator("td.changes-cell")).to_have_text("每分钟发送上限: 59 → 60")
    await expect(rows.nth(1).locator("td.action")).to_have_text("发送速率")
    await expect(page.locator("#au-prev")).to_be_disabled()
    await expect(page.locator("#au-page")).to_have_text("第 1 页")
    assert await page.evaluate("document.documentElement.scrollHeight") < 3000
    await shot(page, "15-audit-phone-page-1")
    await page.click("#au-next")
    await expect(page.locator("#au-page")).to_have_text("第 2 页")
    await expect(rows.first.locator("td.changes-cell")).to_have_text("每分钟发送上限: 40 → 41")
    await page.click("#au-prev")
    await expect(page.locator("#au-page")).to_have_text("第 1 页")
    await expect(edit).to_have_text(re.compile("127.0.0.1 →"))

    await page.set_viewport_size(DESKTOP)
    await page.click("#lang")
    await expect(edit).to_have_text(re.compile("^SMTP host: 127.0.0.1 →"))
    await expect(rows).to_have_count(50)
    assert await fits(page.locator("#au-table").locator("..")) and await fits(page.locator("html"))
    assert await text_lines(rows.first.locator("td.action")) == 1
    await shot(page, "16-audit-desktop-en")
    await page.click("#au-next")
    await expect(page.locator("#au-page")).to_have_text("Page 2")
    await expect(rows).to_have_count(12)
    await expect(rows.last.locator("td.action")).to_have_text("add")
    await expect(page.locator("#au-next")).to_be_disabled()


async def test_errors_the_page_shows_are_in_its_language(served: Served, page: Page,
                                                         smtp_server: Callable[..., SmtpServer]) -> None:
    await add_mailbox(served.app, "rejecting", smtp_server(reject_all_logins=True, users={"bot@example.com": "x"}))
    await open_console(page, served)
    await page.click("button.tab[data-view=mailboxes]")
    status, test = page.locator("#mb-status"), page.locator("#mb-table tr[data-name=rejecting] button", has_text="测试")
    await page.route("**/api/mailboxes/*/test", lambda route: route.abort())  # mailbot stopped meanwhile
    await test.click()
    await expect(status).to_have_text(re.compile("无法连接到 mailbot"))
    await page.unroute("**/api/mailboxes/*/test")
    await page.route("**/api/mailboxes/*/test", lambda route: route.fulfill(status=502, body="Bad Gateway"))  # a proxy
    await test.click()
    await expect(status).to_have_text(re.compile("服务器返回 HTTP 502"))
    await page.unroute("**/api/mailboxes/*/test")
    await test.click()
    await expect(status).to_have_text(re.compile("^rejecting: 登录被拒绝"))
    await page.click("#lang")
    await page.locator("#mb-table tr[data-name=rejecting] button", has_text="Test").click()
    await expect(status).to_have_text(re.compile("^rejecting: Login rejected"))


async def test_mailbox_health_and_daily_quota(served: Served, page: Page, smtp_server: Callable[..., SmtpServer]) -> None:
    """An unhealthy mailbox with its reason and fix, each mailbox's mails today against its quota (an
    estimate marked), and the quota set from the page: a bad value refused under the field, then saved."""
    tester = Actor(id="tester", source="test")
    await add_mailbox(served.app, "ops", smtp_server())
    refusing = smtp_server(reject_all_logins=True, users={"bot@qq.com": "another-code"})
    await served.app.mailboxes.add({"name": "qq", "type": "qq", "account": "bot@qq.com", "host": "127.0.0.1",
                                    "port": refusing.port, "security": "none"}, SecretStr("abcdefghijklmnop"), tester,
                                   verify=False)
    with pytest.raises(SmtpError):
        await served.app.mailboxes.test("qq", tester)  # refused: unhealthy, with the reason and its fix
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    await served.app.mailboxes.add({"name": "down", "type": "custom", "account": "bot@example.com",
                                    "host": "127.0.0.1", "port": port, "security": "none"}, SecretStr("pw"), tester,
                                   verify=False)
    with pytest.raises(SmtpError):
        await served.app.mailboxes.test("down", tester)  # cannot connect once: not yet unhealthy, but said
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {served.token}"}) as http:
        async with http.post(served.url + "/v1/mails", json={"mailbox": "ops", "to": ["a@example.com"],
                                                             "subject": "Approval #1", "text": "approved"}) as resp:
            assert resp.status == 202
            mail_id = (await resp.json())["id"]
        for _ in range(200):
            async with http.get(f"{served.url}/v1/mails/{mail_id}") as resp:
                if (await resp.json())["status"] == "sent":
                    break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the mail was not sent")

    await page.set_viewport_size(DESKTOP)
    await open_console(page, served)
    await page.click("#lang")  # English
    await page.click("button.tab[data-view=mailboxes]")
    qq, ops = page.locator("#mb-table tr[data-name=qq]"), page.locator("#mb-table tr[data-name=ops]")
    health = qq.locator("td.health")
    await expect(health).to_have_attribute("data-state", "unhealthy")
    await expect(health.locator(".state-line")).to_have_text("unhealthy")
    await expect(health.locator(".detail")).to_contain_text("Login rejected")
    await expect(health.locator(".fix")).to_contain_text("Fix: Use the full e-mail address")
    await expect(health.locator(".fix")).to_contain_text("see the guide below")
    guide = health.locator(".reason details.guide-box")  # the guide the fix points to, folded under it
    await expect(guide.locator("summary")).to_have_text("Guide")
    await expect(guide.locator("ol.guide li").first).to_be_hidden()
    await guide.locator("summary").click()
    await expect(guide.locator("ol.guide li")).to_have_count(4)
    await expect(guide.locator("ol.guide li").first).to_contain_text("Where: ")
    await expect(guide.locator("ol.guide li").nth(2)).to_contain_text("smtp.qq.com")
    await expect(page.locator("#mb-table tr:not([data-name=qq]) details.guide-box")).to_have_count(0)
    await expect(health.locator(".checked")).to_contain_text("(failed)")
    await expect(health.locator(".sent")).to_have_text("Last sent: never")
    await expect(qq.locator("td.quota .today")).to_have_text("0 / 500 (estimate)")
    await expect(qq.locator("td.quota .hint")).to_have_text("provider's default")
    assert await share_of(page, health.locator(".mark.bad"), RED) > 0.3  # a red disc (its edge blends at a fractional x)
    await expect(ops.locator("td.health .state-line")).to_have_text("healthy")
    await expect(ops.locator("td.health .sent")).not_to_contain_text("never")
    await expect(ops.locator("td.quota .today")).to_have_text("1 (no limit)")
    down = page.locator("#mb-table tr[data-name=down] td.health")
    await expect(down.locator(".state-line")).to_have_text("healthy")
    await expect(down.locator(".checked")).to_contain_text("(failed)")
    await expect(down.locator(".test-failed")).to_contain_text("Cannot reach the SMTP server")
    await expect(page.locator("#mb-table")).not_to_contain_text(re.compile("null|undefined|NaN"))
    assert await fits(page.locator("#mb-table").locator(".."))  # every column on screen, actions too
    await shot(page, "17-mailbox-health-en")

    await ops.get_by_role("button", name="Set quota").click()
    quota = ops.get_by_label("Mails a day")
    await expect(quota).to_be_focused()
    for typed, problem in (("lots", "whole number"), ("20000000", "1–10000000")):
        await quota.fill(typed)
        await quota.press("Enter")
        await expect(ops.locator(".quota-form .field-error")).to_contain_text(problem)
        await expect(quota).to_have_attribute("aria-invalid", "true")
    await shot(page, "18-quota-refused")
    assert (await served.app.mailboxes.get("ops")).quota_per_day is None
    await quota.fill("250")
    await ops.get_by_role("button", name="Save").click()
    await expect(page.locator("#mb-status")).to_have_text("'ops' sends at most 250 mails a day.")
    await expect(ops.locator("td.quota .today")).to_have_text("1 / 250")
    await expect(ops.locator("td.quota .hint")).to_have_text("set for this mailbox")
    assert (await served.app.mailboxes.get("ops")).quota_per_day == 250

    await page.click("#lang")  # 中文
    await expect(health.locator(".state-line")).to_have_text("异常")
    await expect(health.locator(".detail")).to_contain_text("登录被拒绝")
    await expect(health.locator(".fix")).to_contain_text("解决：")
    await expect(guide.locator("summary")).to_have_text("指引")  # as the fix says: 按下方指引
    await expect(guide.locator("ol.guide li").first).to_be_visible()  # still open after the list was drawn again
    await expect(guide.locator("ol.guide li").first).to_contain_text("去哪里：")
    await expect(qq.locator("td.quota .today")).to_have_text("0 / 500（估计值）")
    await qq.get_by_role("button", name="设置上限").click()
    await qq.get_by_label("每日上限（封）").fill("1000")
    await qq.get_by_role("button", name="保存").click()
    await expect(qq.locator("td.quota .today")).to_have_text("0 / 1000")
    await qq.get_by_role("button", name="设置上限").click()
    await qq.get_by_role("button", name="恢复默认").click()
    await expect(page.locator("#mb-status")).to_have_text("“qq”恢复服务商默认：每天最多 500 封（估计值）。")
    await expect(qq.locator("td.quota .today")).to_have_text("0 / 500（估计值）")
    await expect(qq.locator("td.quota .hint")).to_have_text("服务商默认")
    assert (await served.app.mailboxes.get("qq")).quota_per_day is None
    await shot(page, "19-mailbox-health-zh")

    await page.set_viewport_size({"width": 390, "height": 844})  # a phone: each row a block of labelled lines
    await expect(health.locator(".fix")).to_be_visible()
    await expect(guide.locator("ol.guide li").nth(2)).to_be_visible()
    assert await fits(page.locator("html")) and await fits(page.locator("#mb-table").locator(".."))
    state_box, fix_box = await health.locator(".state-line").bounding_box(), await health.locator(".fix").bounding_box()
    assert state_box and fix_box and fix_box["y"] > state_box["y"]  # the reason under the state, not beside it
    await shot(page, "20-mailbox-health-phone")
