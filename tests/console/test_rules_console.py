"""The console's approval rules (issue 15): the JSON routes over RuleService (session, login and CSRF
like the others; a 422 names each bad field in the page's language) and, in a real Chromium, the Rules
view: the table, the add form with errors under their fields, enable/disable and remove."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

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


# Names the rule validator takes (no whitespace or control characters) that a URL path does not carry as
# they are: a slash, a percent sign, query and fragment marks, Chinese, and the dot segments.
ODD_NAMES = ["审批/采购#1", "a/b", "/lead", "trail/", "50%", "%2F", "%E5%AE", "why?", "#1", "?a=1#b", "通知", ".", "..",
             "a/../b", "./x", "%2e%2e"]
ODD_IDS = ["slash-and-hash", "slash", "leading-slash", "trailing-slash", "percent", "encoded-slash-text",
           "percent-escape-text", "question", "hash", "query-and-fragment", "chinese", "dot", "dot-dot", "dot-dot-inside",
           "dot-slash", "encoded-dots-text"]


@pytest.mark.parametrize("name", ODD_NAMES, ids=ODD_IDS)
async def test_any_rule_name_is_switched_and_removed_by_json_body(
        app: App, make_client: Callable[..., Awaitable[Client]], name: str) -> None:
    """What the page sends: POST /console/api/rules/{enable|disable|remove} with {"name": NAME}."""
    await seed(app)
    await app.rules.add({**RULE, "name": "other"}, SEED)  # a neighbour that must stay as it is
    await app.rules.add({**RULE, "name": name}, SEED)
    client = await make_client()
    headers = await csrf_headers(client)
    off = await client.post("/console/api/rules/disable", json={"name": name}, headers=headers)
    assert off.status == 200, await off.text()
    assert (await off.json())["rule"]["name"] == name and not (await app.rules.get(name)).enabled
    on = await client.post("/console/api/rules/enable", json={"name": name}, headers=headers)
    assert on.status == 200 and (await app.rules.get(name)).enabled
    gone = await client.post("/console/api/rules/remove", json={"name": name}, headers=headers)
    assert gone.status == 200 and (await gone.json())["rule"]["name"] == name
    assert [r.name for r in await app.rules.list()] == ["other"] and (await app.rules.get("other")).enabled
    again = await client.post("/console/api/rules/remove", json={"name": name}, headers={**headers, "X-Console-Lang": "en"})
    assert again.status == 404 and f"no notification rule named '{name}'" in (await again.json())["message"]
    audited = [(e.action, e.target) for e in await app.audit.entries() if e.action in ("rule_enable", "rule_disable",
                                                                                       "rule_remove")]
    assert audited == [("rule_disable", name), ("rule_enable", name), ("rule_remove", name)]


@pytest.mark.parametrize("name", [n for n in ODD_NAMES if n not in (".", "..")],
                         ids=[i for n, i in zip(ODD_NAMES, ODD_IDS) if n not in (".", "..")])
async def test_path_routes_take_a_percent_encoded_name(
        app: App, make_client: Callable[..., Awaitable[Client]], name: str) -> None:
    """The routes with the name in the path stay, and take every name but the bare dot segments percent-encoded
    (aiohttp matches `{name}` before decoding, so an encoded `/` stays inside the segment)."""
    await seed(app)
    await app.rules.add({**RULE, "name": name}, SEED)
    client = await make_client()
    headers = await csrf_headers(client)
    path = "/console/api/rules/" + quote(name, safe="")
    off = await client.post(path + "/disable", headers=headers)
    assert off.status == 200 and (await off.json())["rule"]["name"] == name and not (await app.rules.get(name)).enabled
    assert (await client.post(path + "/enable", headers=headers)).status == 200 and (await app.rules.get(name)).enabled
    gone = await client.delete(path, headers=headers)
    assert gone.status == 200 and await app.rules.list() == []


async def test_body_routes_need_a_name_csrf_and_a_known_action(
        app: App, make_client: Callable[..., Awaitable[Client]]) -> None:
    await seed(app)
    await app.rules.add(RULE, SEED)
    client = await make_client()
    headers = {**await csrf_headers(client), "X-Console-Lang": "en"}
    for body in ({}, {"name": ""}, {"name": 7}, {"name": None}, {"name": ["报销通过"]}):
        resp = await client.post("/console/api/rules/disable", json=body, headers=headers)
        assert resp.status == 422, body
        [field] = (await resp.json())["fields"]
        assert field["field"] == "name" and field["problem"] == "required, the rule's name"
    assert (await client.post("/console/api/rules/disable", data="[1]", headers=headers)).status == 400
    assert (await client.post("/console/api/rules/frobnicate", json={"name": "报销通过"}, headers=headers)
            ).status in (404, 405)
    assert (await client.post("/console/api/rules/remove", json={"name": "报销通过"},
                              headers={"Origin": origin(client)})).status == 403
    locked = await make_client(token="console-token-long-enough")
    assert (await locked.post("/console/api/rules/disable", json={"name": "报销通过"},
                              headers={"Origin": origin(locked)})).status == 401
    rule = await app.rules.get("报销通过")
    assert rule.enabled and rule.version == 1 and [e.action for e in await app.audit.entries()] == ["add", "rule_add"]


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


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
@pytest.mark.timeout(120)
async def test_rules_view_disables_and_removes_rules_with_odd_names(served: Served, page: Page) -> None:
    """A rule named with a slash and a hash, and one named `..`, switched and removed by clicking."""
    names = ["审批/采购#1", ".."]
    for name in names:
        await served.app.rules.add({**RULE, "name": name}, SEED)
    await served.app.rules.add({**RULE, "name": "采购"}, SEED)  # a neighbour (and what `..` would resolve to)
    await page.set_viewport_size(DESKTOP)
    await open_console(page, served)
    await page.click("button.tab[data-view=rules]")
    for name in names:
        row = page.locator(f"#ru-table tr[data-name='{name}']")
        await expect(row.locator("td.state")).to_have_attribute("data-enabled", "true")
        await row.get_by_role("button", name="停用").click()
        await expect(row.locator("td.state")).to_have_attribute("data-enabled", "false")
        await expect(page.locator("#ru-status")).not_to_contain_text("出错了")
        assert not (await served.app.rules.get(name)).enabled
    await shot(page, "42-rules-odd-names")
    for name in names:
        row = page.locator(f"#ru-table tr[data-name='{name}']")
        await row.get_by_role("button", name="删除").click()
        await row.get_by_role("button", name="确认删除").click()
        await expect(page.locator("#ru-status")).to_have_text(f"已删除 {name}")
        await expect(row).to_have_count(0)
    assert [r.name for r in await served.app.rules.list()] == ["采购"] and (await served.app.rules.get("采购")).enabled
    await expect(page.locator("#ru-table tr[data-name='采购'] td.state")).to_have_attribute("data-enabled", "true")
