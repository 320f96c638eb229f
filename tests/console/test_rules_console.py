"""The console's approval rules (issue 15): the JSON routes over RuleService (session, login and CSRF
like the others; a 422 names each bad field in the page's language) and, in a real Chromium, the Rules
view: the table, the add form with errors under their fields, enable/disable and remove."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from pydantic import SecretStr

from bot.app import App
from bot.audit import Actor
from bot.relay.models import InlineTemplate
from tests.console.conftest import Client, csrf_headers, origin
from tests.console.test_browser import CHROMIUM, DESKTOP, Served, open_console, page, serving, shot

__all__ = ["page"]  # the browser fixture, shared with test_browser

SEED = Actor(id="seed", source="test")
RULE = {"name": "报销通过", "process_code": "PROC-EXPENSE-1", "on": "finish", "result": "agree", "mailbox": "ops",
        "template": "approved", "to": "originator,finance@example.com"}


async def seed(app: App) -> None:
    """What a rule names must exist: a mailbox and a relay template."""
    await app.mailboxes.add({"name": "ops", "account": "ops@example.com", "host": "127.0.0.1", "port": 2525,
                             "security": "none"}, SecretStr("pw"), SEED, verify=False)
    await app.relay.templates.add("approved", InlineTemplate(subject="审批{{ result }}：{{ title }}", text="{{ url }}"))


async def test_add_list_switch_remove_over_json(app: App, make_client: Callable[..., Awaitable[Client]]) -> None:
    await seed(app)
    client = await make_client()
    headers = await csrf_headers(client)
    empty = await (await client.get("/console/api/rules")).json()
    assert empty == {"rules": [], "mailboxes": ["ops"], "templates": ["approved"]}

    added = await client.post("/console/api/rules", json=RULE, headers=headers)
    assert added.status == 200, await added.text()
    rule = (await added.json())["rule"]
    assert (rule["to"], rule["enabled"], rule["when_text"]) == (["originator", "finance@example.com"], True,
                                                                "finish/agree（审批通过时）")
    assert rule["created_by"].startswith("console:")

    listed = await client.get("/console/api/rules", headers={"X-Console-Lang": "en"})
    (shown,) = (await listed.json())["rules"]
    assert shown["name"] == "报销通过" and shown["when_text"] == "finish/agree (when approved)"

    off = await client.post("/console/api/rules/报销通过/disable", headers=headers)
    assert off.status == 200 and (await off.json())["rule"]["enabled"] is False
    assert not (await app.rules.get("报销通过")).enabled
    assert (await client.post("/console/api/rules/报销通过/enable", headers=headers)).status == 200
    assert (await client.post("/console/api/rules/报销通过/frobnicate", headers=headers)).status in (404, 405)

    gone = await client.delete("/console/api/rules/报销通过", headers=headers)
    assert gone.status == 200 and await app.rules.list() == []
    again = await client.delete("/console/api/rules/报销通过", headers={**headers, "X-Console-Lang": "en"})
    assert again.status == 404 and "no notification rule named" in (await again.json())["message"]
    actions = [e.action for e in await app.audit.entries() if e.action.startswith("rule_")]
    assert actions == ["rule_add", "rule_disable", "rule_enable", "rule_remove"]
    audit = await (await client.get("/console/api/audit", headers={"X-Console-Lang": "en"})).json()
    assert [e["action_text"] for e in audit["entries"][:2]] == ["remove rule", "enable rule"]


async def test_bad_input_is_a_422_per_field_in_the_page_language(
        app: App, make_client: Callable[..., Awaitable[Client]]) -> None:
    await seed(app)
    client = await make_client()
    headers = await csrf_headers(client)
    bad = {**RULE, "on": "approve", "to": "originator,nobody", "process_code": ""}
    zh = await client.post("/console/api/rules", json=bad, headers=headers)
    assert zh.status == 422
    fields = {f["field"]: f for f in (await zh.json())["fields"]}
    assert set(fields) == {"process_code", "on", "to"}
    assert fields["on"]["problem"] == "“approve”无效，必须是 start、finish 或 terminate" and fields["on"]["example"] == "finish"
    en = await client.post("/console/api/rules", json={**RULE, "mailbox": "nope", "template": "gone"},
                           headers={**headers, "X-Console-Lang": "en"})
    assert en.status == 422
    problems = {f["field"]: f["problem"] for f in (await en.json())["fields"]}
    assert problems["mailbox"].startswith("there is no mailbox named 'nope'")
    assert problems["template"].startswith("there is no template named 'gone'")
    assert (await client.post("/console/api/rules", data="[1]", headers={**headers, "Content-Type": "application/json"})
            ).status == 400
    assert await app.rules.list() == []


async def test_rule_routes_need_csrf_and_login(app: App, make_client: Callable[..., Awaitable[Client]]) -> None:
    await seed(app)
    client = await make_client()
    headers = await csrf_headers(client)
    assert (await client.post("/console/api/rules", json=RULE, headers={"Origin": origin(client)})).status == 403
    assert (await client.post("/console/api/rules", json=RULE, headers={**headers, "Origin": "http://evil.example"})
            ).status == 403
    assert await app.rules.list() == []
    await app.rules.add(RULE, SEED)
    assert (await client.delete("/console/api/rules/报销通过", headers={"Origin": origin(client)})).status == 403
    assert (await client.post("/console/api/rules/报销通过/disable", headers={"Origin": origin(client)})).status == 403
    locked = await make_client(token="console-token-long-enough")
    assert (await locked.get("/console/api/rules")).status == 401
    assert (await app.rules.get("报销通过")).enabled


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async with serving(tmp_path) as running:
        await seed(running.app)
        yield running


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
@pytest.mark.timeout(120)
async def test_rules_view_adds_with_errors_under_fields_switches_and_removes(served: Served, page: Page) -> None:
    await page.set_viewport_size(DESKTOP)
    await open_console(page, served)
    await page.click("button.tab[data-view=rules]")
    await expect(page.locator("#ru-status")).to_have_text("还没有通知规则。")
    await page.click("#ru-add-open")
    await page.fill("#rule-name", "报销通过")
    await page.fill("#rule-process_code", "PROC-EXPENSE-1")
    await page.select_option("#rule-on", "start")
    await page.select_option("#rule-result", "agree")
    await page.fill("#rule-mailbox", "ops")
    await page.fill("#rule-template", "approved")
    await page.fill("#rule-to", "originator,nobody")
    await page.click("#rule-save")
    await expect(page.locator("#rule-to-error")).to_contain_text("“nobody”既不是 originator 也不是有效的邮件地址")
    await expect(page.locator("#rule-to")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#rule-name-error")).to_be_empty()
    await expect(page.locator("#ru-status")).to_have_text("规则没有保存，请按提示修改。")
    await shot(page, "40-rules-errors-zh")

    await page.click("#lang")  # the same problems in English after the next save
    await page.click("#rule-save")
    await expect(page.locator("#rule-to-error")).to_contain_text("'nobody' is neither originator nor a valid e-mail")
    await page.fill("#rule-to", "originator,finance@example.com")
    await page.click("#rule-save")  # the fields are fine now; a result goes with finish only
    await expect(page.locator("#rule-result-error")).to_contain_text("finish only")
    await expect(page.locator("#rule-to-error")).to_be_empty()
    await expect(page.locator("#rule-to")).not_to_have_attribute("aria-invalid", "true")
    await page.select_option("#rule-on", "finish")
    await page.click("#rule-save")
    await expect(page.locator("#ru-status")).to_have_text("Added rule '报销通过'.")
    await expect(page.locator("#ru-add")).to_be_hidden()
    row = page.locator("#ru-table tr[data-name='报销通过']")
    await expect(row.locator("td[data-when]")).to_have_text("finish/agree (when approved)")
    await expect(row).to_contain_text("PROC-EXPENSE-1")
    await expect(row).to_contain_text("originator, finance@example.com")
    await expect(row.locator("td.state")).to_have_text("enabled")
    await shot(page, "41-rules-en")

    await row.get_by_role("button", name="Disable").click()
    await expect(row.locator("td.state")).to_have_attribute("data-enabled", "false")
    assert not (await served.app.rules.get("报销通过")).enabled
    await row.get_by_role("button", name="Enable").click()
    await expect(row.locator("td.state")).to_have_attribute("data-enabled", "true")
    await row.get_by_role("button", name="Delete").click()
    await row.get_by_role("button", name="Confirm delete").click()
    await expect(page.locator("#ru-status")).to_have_text("No notification rules yet.")
    assert await served.app.rules.list() == []
