"""The console's mailbox health and daily quota over the real services: what `mailbot mailbox health`
and `mailbot mailbox quota` show and set, through the console API in the page's language."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import pytest
from pydantic import SecretStr

from bot.app import App
from bot.audit import Actor
from bot.errors import AuthRejected, ConnectFailed, SmtpError, SmtpNotEnabled
from bot.guides import short_guide
from bot.mailboxes.health import CONNECTION_STRIKES
from tests.console.conftest import Client, csrf_headers, origin
from tests.support.smtpd import SmtpServer

MakeClient = Callable[..., Awaitable[Client]]
TESTER = Actor(id="tester", source="test")
PASSWORD = "pw-123456"
ZH = re.compile("[\u4e00-\u9fff]")


async def add(app: App, name: str, port: int, *, type_: str = "custom", account: str = "bot@example.com") -> None:
    await app.mailboxes.add({"name": name, "type": type_, "account": account, "host": "127.0.0.1",
                             "port": port, "security": "none"}, SecretStr(PASSWORD), TESTER, verify=False)


async def listed(client: Client, lang: str = "zh") -> dict[str, dict]:
    resp = await client.get("/console/api/mailboxes", headers={"X-Console-Lang": lang})
    assert resp.status == 200
    text = await resp.text()
    assert PASSWORD not in text and "secret_token" not in text
    return {m["name"]: m for m in (await resp.json())["mailboxes"]}


async def test_mailbox_list_shows_each_mailbox_health_and_quota(make_client: MakeClient, app: App,
                                                               smtp_server: Callable[..., SmtpServer]) -> None:
    good = smtp_server()
    refusing = smtp_server(reject_all_logins=True, users={"bot@qq.com": "another-code"})
    await add(app, "good", good.port)
    await add(app, "qq", refusing.port, type_="qq", account="bot@qq.com")
    await add(app, "revoked", good.port)
    await add(app, "new", good.port)
    await add(app, "off", good.port)
    await app.mailboxes.test("good", TESTER)
    with pytest.raises(SmtpError):
        await app.mailboxes.test("qq", TESTER)  # a manual test refused with a login-class reason
    # The periodic check's path: a classified login failure recorded by the health service.
    await app.health.failed(await app.mailboxes.get("revoked"), AuthRejected("535 5.7.8 authentication failed",
                                                                             provider_type="custom"), check=True)
    await app.mailboxes.set_enabled("off", False, TESTER)
    client = await make_client()

    zh, en = await listed(client, "zh"), await listed(client, "en")
    assert {n: m["health"]["state"] for n, m in zh.items()} == {
        "good": "healthy", "qq": "unhealthy", "revoked": "unhealthy", "new": "unchecked", "off": "disabled"}
    assert {n: m["health"]["state"] for n, m in en.items()} == {n: m["health"]["state"] for n, m in zh.items()}

    qq_zh, qq_en = zh["qq"]["health"], en["qq"]["health"]
    assert qq_zh["reason"]["code"] == "auth_rejected"
    assert qq_zh["reason"]["message"].startswith("登录被拒绝") and "授权码" in qq_zh["reason"]["fix"]
    assert qq_en["reason"]["message"].startswith("Login rejected") and "authorization code" in qq_en["reason"]["fix"]
    assert qq_zh["checked_at"] is not None and qq_zh["check_ok"] is False and qq_zh["last_sent_at"] is None
    assert (qq_zh["sent_today"], qq_zh["quota"]) == (0, {"per_day": 500, "estimated": True, "source": "provider"})
    assert qq_zh["lines"][0].endswith("今日 0/500（估计值）") and qq_en["lines"][0].endswith("today 0/500 (estimate)")
    assert qq_en["lines"][1:] == [f"Reason: {qq_en['reason']['message']}", f"Fix: {qq_en['reason']['fix']}",
                                  "Guide:", *(f"  {line}" for line in qq_en["guide"])]

    revoked = en["revoked"]["health"]
    assert revoked["reason"]["code"] == "auth_rejected" and revoked["reason"]["fix"]
    assert "535 5.7.8" not in revoked["reason"]["fix"]
    good_health = en["good"]["health"]
    assert good_health["reason"] is None and good_health["check_ok"] is True and good_health["checked_at"]
    assert good_health["quota"] is None and good_health["lines"][0].endswith("today 0 (no limit)")
    assert en["new"]["health"]["checked_at"] is None and en["off"]["health"]["reason"] is None


async def test_quota_is_set_and_reset_from_the_console_and_audited(make_client: MakeClient, app: App,
                                                                    smtp_server: Callable[..., SmtpServer]) -> None:
    await add(app, "qq", smtp_server().port, type_="qq", account="bot@qq.com")
    client = await make_client()
    headers = await csrf_headers(client)
    for sent, stored in ((800, 800), ("  1200 ", 1200), ("default", None), (300, 300), (None, None)):
        resp = await client.post("/console/api/mailboxes/qq/quota", json={"quota_per_day": sent}, headers=headers)
        body = await resp.json()
        assert resp.status == 200 and body["ok"] is True, body
        assert body["mailbox"]["quota_per_day"] == stored and (await app.mailboxes.get("qq")).quota_per_day == stored
        expected = ({"per_day": stored, "estimated": False, "source": "mailbox"} if stored
                    else {"per_day": 500, "estimated": True, "source": "provider"})
        assert body["mailbox"]["health"]["quota"] == expected
        assert (await listed(client))["qq"]["health"]["quota"] == expected
    audit = (await (await client.get("/console/api/audit", headers={"X-Console-Lang": "en"})).json())["entries"]
    assert [(e["action"], e["action_text"], e["actor"]) for e in audit[:5]] == [
        ("quota", "daily quota", "console:console (web console)")] * 5
    assert audit[4]["change_lines"] == [{"field": "quota_per_day", "label": "Mails per day", "value": "— → 800"}]
    zh = (await (await client.get("/console/api/audit")).json())["entries"]
    assert zh[0]["action_text"] == "每日上限" and zh[0]["change_lines"][0]["value"] == "300 → —"


@pytest.mark.parametrize("sent, mentions", [
    ("abc", ("whole number", "整数")), ("", ("whole number", "整数")), ("1.5", ("whole number", "整数")),
    (2.5, ("whole number", "整数")), (True, ("whole number", "整数")), ([500], ("whole number", "整数")),
    (0, ("1–10000000", "1–10000000")), (-5, ("1–10000000", "1–10000000")), ("-5", ("1–10000000", "1–10000000")),
    (10_000_001, ("1–10000000", "1–10000000")), ("9" * 5000, ("1–10000000", "1–10000000")),
], ids=["word", "empty", "decimal-text", "decimal", "bool", "list", "zero", "negative", "negative-text", "above-max",
        "5000-digits"])
async def test_bad_quota_is_a_422_under_its_field_in_the_page_language(
        make_client: MakeClient, app: App, smtp_server: Callable[..., SmtpServer],
        sent: object, mentions: tuple[str, str]) -> None:
    await add(app, "ops", smtp_server().port)
    await app.mailboxes.set_quota("ops", 700, TESTER)
    client = await make_client()
    headers = await csrf_headers(client)
    for lang, mention in zip(("en", "zh"), mentions):
        resp = await client.post("/console/api/mailboxes/ops/quota", json={"quota_per_day": sent},
                                 headers={**headers, "X-Console-Lang": lang})
        body = await resp.json()
        assert resp.status == 422 and body["error"] == "invalid_input", body
        [field] = body["fields"]
        assert field["field"] == "quota_per_day" and mention in field["problem"]
        assert bool(ZH.search(body["message"])) == (lang == "zh")
    assert (await app.mailboxes.get("ops")).quota_per_day == 700


async def test_quota_needs_the_value_and_a_mailbox(make_client: MakeClient, app: App,
                                                   smtp_server: Callable[..., SmtpServer]) -> None:
    await add(app, "ops", smtp_server().port)
    client = await make_client()
    headers = {**await csrf_headers(client), "X-Console-Lang": "en"}
    missing = await client.post("/console/api/mailboxes/ops/quota", json={}, headers=headers)
    assert missing.status == 422 and (await missing.json())["fields"][0]["field"] == "quota_per_day"
    not_json = await client.post("/console/api/mailboxes/ops/quota", data="500", headers=headers)
    assert not_json.status == 400 and "JSON" in (await not_json.json())["message"]
    nobody = await client.post("/console/api/mailboxes/nobody/quota", json={"quota_per_day": 5}, headers=headers)
    assert nobody.status == 404 and "no mailbox named 'nobody'" in (await nobody.json())["message"]
    assert (await client.post("/console/api/mailboxes/ops/explode", headers=headers)).status == 404
    assert (await app.mailboxes.get("ops")).quota_per_day is None


async def test_quota_is_guarded_like_the_other_mailbox_actions(make_client: MakeClient, app: App,
                                                               smtp_server: Callable[..., SmtpServer]) -> None:
    await add(app, "ops", smtp_server().port)
    body = {"quota_per_day": 5}
    client = await make_client()
    headers = await csrf_headers(client)
    no_csrf = await client.post("/console/api/mailboxes/ops/quota", json=body, headers={"Origin": origin(client)})
    assert no_csrf.status == 403 and "CSRF" in (await no_csrf.json())["message"]
    cross = await client.post("/console/api/mailboxes/ops/quota", json=body,
                              headers={**headers, "Origin": "http://evil.example"})
    assert cross.status == 403
    locked = await make_client(token="a-long-console-token")
    anonymous = await locked.post("/console/api/mailboxes/ops/quota", json=body, headers={"Origin": origin(locked)})
    assert anonymous.status == 401 and (await anonymous.json())["error"] == "unauthorized"
    assert (await locked.get("/console/api/mailboxes")).status == 401  # nor is the health read without a login
    assert (await app.mailboxes.get("ops")).quota_per_day is None
    assert [e.action for e in (await app.audit.page(10, None))[0]] == ["add"]
    allowed = await client.post("/console/api/mailboxes/ops/quota", json=body, headers=headers)
    assert allowed.status == 200 and (await app.mailboxes.get("ops")).quota_per_day == 5  # the refusals were the guard's


async def test_unhealthy_login_reason_comes_with_the_guide_its_fix_points_to(
        make_client: MakeClient, app: App, smtp_server: Callable[..., SmtpServer]) -> None:
    """A login-class reason whose fix says "see the guide below" / "见下方指引" carries its type's short
    guide, as a failed sign-in or login test does; other reasons, custom mailboxes and healthy ones none."""
    good = smtp_server()
    refusing = smtp_server(reject_all_logins=True, users={"bot@qq.com": "another-code"})
    await add(app, "qq", refusing.port, type_="qq", account="bot@qq.com")
    await add(app, "163", good.port, type_="163", account="bot@163.com")
    await add(app, "flaky", good.port, type_="126", account="bot@126.com")
    await add(app, "down", good.port, type_="126", account="down@126.com")
    await add(app, "custom", good.port)
    await add(app, "good", good.port, type_="qq", account="good@qq.com")
    with pytest.raises(SmtpError):
        await app.mailboxes.test("qq", TESTER)  # the manual test's path: refused, auth_rejected
    # The periodic check's path: SMTP turned off (login-class at once); a temporary refusal three times
    # (connection-class, but its fix still points to the guide); a host that cannot be reached three times.
    await app.health.failed(await app.mailboxes.get("163"), SmtpNotEnabled("550 User has no permission",
                                                                           provider_type="163"), check=True)
    for _ in range(CONNECTION_STRIKES):
        await app.health.failed(await app.mailboxes.get("flaky"), AuthRejected(
            "454 authentication failed", provider_type="126", temporary=True), check=True)
        await app.health.failed(await app.mailboxes.get("down"), ConnectFailed(
            "[Errno 111] Connection refused", provider_type="126"), check=True)
    await app.health.failed(await app.mailboxes.get("custom"), AuthRejected("535 5.7.8 authentication failed",
                                                                            provider_type="custom"), check=True)
    await app.mailboxes.test("good", TESTER)
    client = await make_client()

    for lang, pointer in (("zh", "下方指引"), ("en", "guide below")):
        health = {n: m["health"] for n, m in (await listed(client, lang)).items()}
        assert {n: h["state"] for n, h in health.items()} == {
            "qq": "unhealthy", "163": "unhealthy", "flaky": "unhealthy", "down": "unhealthy", "custom": "unhealthy",
            "good": "healthy"}
        for name, type_ in (("qq", "qq"), ("163", "163"), ("flaky", "126")):
            assert pointer in health[name]["reason"]["fix"], (name, health[name]["reason"])
            assert health[name]["guide"] == short_guide(type_, lang), name
        assert health["qq"]["reason"]["code"] == "auth_rejected" and "smtp.qq.com" in health["qq"]["guide"][2]
        assert health["163"]["reason"]["code"] == "smtp_disabled" and "smtp.163.com" in health["163"]["guide"][2]
        assert health["down"]["reason"]["code"] == "connect_failed" and health["down"]["guide"] == []
        assert health["custom"]["guide"] == [] and health["good"]["guide"] == []
    zh_guide = (await listed(client, "zh"))["qq"]["health"]["guide"]
    en_guide = (await listed(client, "en"))["qq"]["health"]["guide"]
    assert zh_guide[0].startswith("去哪里：") and en_guide[0].startswith("Where: ")

    # A disabled mailbox shows no reason, so no guide; after a passing check the guide is gone too.
    await app.mailboxes.set_enabled("163", False, TESTER)
    await app.health.passed(await app.mailboxes.get("flaky"))
    health = {n: m["health"] for n, m in (await listed(client, "en")).items()}
    assert (health["163"]["state"], health["163"]["guide"]) == ("disabled", [])
    assert (health["flaky"]["state"], health["flaky"]["guide"]) == ("healthy", [])
    # The quota answer draws the same health, guide included.
    resp = await client.post("/console/api/mailboxes/qq/quota", json={"quota_per_day": 100},
                             headers={**await csrf_headers(client), "X-Console-Lang": "en"})
    assert (await resp.json())["mailbox"]["health"]["guide"] == short_guide("qq", "en")
