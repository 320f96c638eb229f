"""The console's add form proposes the type from the account's domain: `GET /console/api/detect` over the
registry's detection, and in a real Chromium the type preselected with the reason under the field; our
own DNS server on loopback answers the MX queries (MAILBOT_DNS_SERVER)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Page, expect

from bot.app import open_app
from tests.console.conftest import Client, console_root, console_settings
from tests.console.test_browser import CHROMIUM, Served, open_console, page, serving, shot
from tests.support.dns import DnsServer

__all__ = ["page"]  # the browser fixture, shared with test_browser

ZONES = {"acme.cn": [(5, "mxbiz1.qq.com")], "contoso.com": [(0, "contoso-com.mail.protection.outlook.com")]}


@pytest.fixture
def dns() -> Iterator[DnsServer]:
    with DnsServer(ZONES, ttl=60) as server:
        yield server


@pytest.fixture
async def client(tmp_path: Path, dns: DnsServer) -> AsyncIterator[Client]:
    async with open_app(console_settings(tmp_path / "data", dns_server=dns.address)) as app:
        async with TestClient(TestServer(console_root(app), host="127.0.0.1")) as test_client:
            yield test_client


async def test_detect_answers_the_type_and_why_in_the_page_language(client: Client, dns: DnsServer) -> None:
    resp = await client.get("/console/api/detect", params={"account": "ops@acme.cn"}, headers={"X-Console-Lang": "en"})
    assert resp.status == 200
    detection = (await resp.json())["detection"]
    assert (detection["type"], detection["host"], detection["port"]) == ("exmail", "smtp.exmail.qq.com", 465)
    assert detection["reason"] == "acme.cn receives mail at mxbiz1.qq.com: Tencent Exmail"
    zh = (await (await client.get("/console/api/detect", params={"account": "ops@acme.cn"})).json())["detection"]
    assert zh["reason"] == "acme.cn 的邮件由 mxbiz1.qq.com 接收：腾讯企业邮箱" and dns.query_count == 1  # cached
    for unknown in ("ops@nowhere.example", "not-an-address", "", "a@" + "x" * 300 + ".cn"):
        resp = await client.get("/console/api/detect", params={"account": unknown})
        assert resp.status == 200 and (await resp.json()) == {"detection": None}


async def test_detect_gives_up_on_dns_that_does_not_answer(client: Client, dns: DnsServer) -> None:
    dns.delay_s = 10.0
    started = time.monotonic()
    resp = await client.get("/console/api/detect", params={"account": "ops@contoso.com"})
    assert (await resp.json()) == {"detection": None} and time.monotonic() - started < 5


async def test_detect_needs_the_console_login(tmp_path: Path, dns: DnsServer) -> None:
    async with open_app(console_settings(tmp_path / "data", dns_server=dns.address)) as app:
        async with TestClient(TestServer(console_root(app, token="console-token-long-enough"),
                                         host="127.0.0.1")) as anonymous:
            resp = await anonymous.get("/console/api/detect", params={"account": "ops@acme.cn"})
            assert resp.status == 401 and dns.query_count == 0


@pytest.fixture
async def served(tmp_path: Path, dns: DnsServer) -> AsyncIterator[Served]:
    async with serving(tmp_path, dns_server=dns.address) as running:
        yield running


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
@pytest.mark.timeout(120)
async def test_the_add_form_preselects_the_detected_type_with_the_reason(served: Served, page: Page,
                                                                         dns: DnsServer) -> None:
    await open_console(page, served)
    await page.click("#lang")  # English
    await page.click("button.tab[data-view=mailboxes]")
    await page.click("#mb-add-open")
    await expect(page.locator("#add-type")).to_have_value("")
    await expect(page.locator("#add-type option").first).to_have_text("(detect from the domain)")
    await page.fill("#add-name", "ops")
    await page.fill("#add-account", "ops@acme.cn")
    await page.press("#add-account", "Tab")  # the account is entered: one lookup, not one per keystroke
    await expect(page.locator("#add-type")).to_have_value("exmail")
    reason = page.locator("#add-type-reason")
    await expect(reason).to_have_text("acme.cn receives mail at mxbiz1.qq.com: Tencent Exmail")
    await expect(reason).to_be_visible()
    assert dns.query_count == 1
    await shot(page, "12-add-form-detected-type")

    await page.select_option("#add-type", "aliyun_enterprise")  # the admin overrides: the choice stands
    await expect(reason).to_have_text("")
    await page.fill("#add-account", "ops2@acme.cn")
    await page.press("#add-account", "Tab")
    await expect(page.locator("#add-type")).to_have_value("aliyun_enterprise")

    await page.select_option("#add-type", "")  # back to detection: Microsoft 365 leads to its sign-in
    await page.fill("#add-account", "ops@contoso.com")
    await page.press("#add-account", "Tab")
    await expect(page.locator("#add-type")).to_have_value("microsoft365")
    await expect(reason).to_contain_text("contoso-com.mail.protection.outlook.com: Microsoft 365")
    await expect(page.locator("#add-signin")).to_have_text("Sign in with Microsoft")
    await expect(page.locator("#add-password")).to_be_visible()  # or a password, as for Microsoft 365 always

    dns.delay_s = 10.0  # DNS that does not answer: the type stays to choose, the form is not held
    await page.fill("#add-account", "ops@slow.example")
    await page.press("#add-account", "Tab")
    await expect(page.locator("#add-type")).to_have_value("")
    await expect(reason).to_have_text("")
    await page.select_option("#add-type", "exmail")  # the admin can choose at once, during the lookup
    await page.wait_for_timeout(2500)
    await expect(page.locator("#add-type")).to_have_value("exmail")
    await shot(page, "13-add-form-type-chosen")
