"""Credential health and daily quotas (issue 16), against real aiosmtpd servers: the periodic check on an
injected clock (a code that works, then is revoked), connection failures, a send's login failure, the
quota's warning, hold and release, the provider's day, the CLI's JSON and, on PostgreSQL, one check per
mailbox across instances."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.app import App, open_app
from bot.errors import MailbotError
from bot.mailboxes import Mailbox
from bot.mailboxes.health import CONNECTION_STRIKES, HealthChecker, HealthService, provider_day
from tests.relay.conftest import ADMIN, PASSWORD, USER, add_mailbox, relay_settings

MAIL = {"to": ["a@example.com"], "subject": "hello", "text": "body"}
INTERVAL_H = 1.0


class Clock:
    def __init__(self, at: float) -> None:
        self.t = at

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class Checker:
    """A HealthService + HealthChecker on an injected clock, collecting what they would alert."""

    def __init__(self, app: App, clock: Clock, interval_h: float = INTERVAL_H) -> None:
        self.events: list[tuple[str, str, str]] = []
        self.service = HealthService(app.storage, clock=clock)
        self.checker = HealthChecker(self.service, app.storage, app.mailboxes.list, app.mailboxes.check_login,
                                     self._alert, interval_h=interval_h, timeout_s=10.0, clock=clock)

    async def _alert(self, kind: str, mailbox: Mailbox, error: MailbotError) -> None:
        self.events.append((kind, mailbox.name, error.code))

    async def state(self, app: App, name: str = "ops") -> Any:
        [item] = [i for i in await self.service.status(await app.mailboxes.list()) if i.name == name]
        return item


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_revoked_code_turns_unhealthy_alerts_once_and_clears_by_itself(smtp_server: Any, tmp_path: Path) -> None:
    server = smtp_server(users={USER: PASSWORD}, auth_reply="535 5.7.8 authentication failed")
    async with open_app(relay_settings(tmp_path / "data")) as app:
        await add_mailbox(app, "ops", server)
        clock = Clock(datetime.now(UTC).timestamp() + 3600 * INTERVAL_H)  # its first slot has come
        c = Checker(app, clock)
        assert (await c.state(app)).state == "unchecked"
        await c.checker.tick()
        item = await c.state(app)
        assert item.state == "healthy" and item.checked_at is not None and c.events == []
        assert server.logins == [(USER, True)]
        await c.checker.tick()  # checked this period: not again
        assert len(server.logins) == 1

        server.users = {USER: "a-new-code"}  # the code was revoked
        clock.advance(3600 * INTERVAL_H)
        await c.checker.tick()
        item = await c.state(app)
        assert item.state == "unhealthy" and item.reason is not None and item.reason.code == "auth_rejected"
        assert item.to_json("en")["reason"]["fix"]
        assert c.events == [("login_failing", "ops", "auth_rejected")]
        version = (await app.mailboxes.get("ops")).version
        clock.advance(3600 * INTERVAL_H)
        await c.checker.tick()  # still failing: no second alert
        assert c.checker.checks == 3 and len(c.events) == 1
        assert (await app.mailboxes.get("ops")).version == version  # a check never makes an open card stale

        server.users = {USER: PASSWORD}  # the admin fixed it at the provider
        clock.advance(3600 * INTERVAL_H)
        await c.checker.tick()
        assert (await c.state(app)).state == "healthy" and len(c.events) == 1

        server.users = {USER: "revoked-again"}  # a new spell alerts again
        clock.advance(3600 * INTERVAL_H)
        await c.checker.tick()
        assert [e[0] for e in c.events] == ["login_failing", "login_failing"]


async def test_connection_failures_alert_after_three_in_a_row(tmp_path: Path, smtp_server: Any) -> None:
    server = smtp_server()
    async with open_app(relay_settings(tmp_path / "data", smtp_timeout_s=1.0)) as app:
        await add_mailbox(app, "ops", server)
        table = app.storage.table("mailboxes")
        doc = await table.get("ops")
        assert doc is not None
        doc["port"] = free_port()  # nothing listens there
        await table.put("ops", doc)
        clock = Clock(datetime.now(UTC).timestamp() + 3600 * INTERVAL_H)
        c = Checker(app, clock)
        for strike in range(1, CONNECTION_STRIKES):
            await c.checker.tick()
            item = await c.state(app)
            assert item.state != "unhealthy" and item.strikes == strike and c.events == []
            assert item.check_ok is False
            clock.advance(c.checker.retry_s)  # a failed connection is looked at again sooner than the interval
        await c.checker.tick()
        item = await c.state(app)
        assert item.state == "unhealthy" and item.reason is not None and item.reason.code == "connect_failed"
        assert c.events == [("login_failing", "ops", "connect_failed")]
        clock.advance(c.checker.retry_s)
        await c.checker.tick()
        assert len(c.events) == 1


async def test_checks_spread_and_one_at_a_time_per_provider(tmp_path: Path, smtp_server: Any) -> None:
    server = smtp_server(delay_s=0.05)
    async with open_app(relay_settings(tmp_path / "data")) as app:
        for name in ("a", "b", "c"):
            await add_mailbox(app, name, server)
        clock = Clock(datetime.now(UTC).timestamp() + 3600 * INTERVAL_H)
        c = Checker(app, clock)
        phases = {c.checker.slot(m, clock())[1] for m in await app.mailboxes.list()}
        assert len(phases) == 3  # each at its own time in the interval
        active, most = 0, 0
        check = app.mailboxes.check_login

        async def counting(mailbox: Mailbox) -> None:
            nonlocal active, most
            active += 1
            most = max(most, active)
            try:
                await check(mailbox)
            finally:
                active -= 1

        c.checker.check = counting
        await c.checker.tick()
        assert len(server.logins) == 3 and most == 1  # same provider (host): never two at once


async def test_send_login_failure_marks_at_once_and_a_send_clears(smtp_server: Any, relay_factory: Any) -> None:
    server = smtp_server(users={USER: PASSWORD}, auth_reply="535 5.7.8 authentication failed")
    async with relay_factory(server, relay_idle_s=0.01) as relay:
        _, body = await relay.post(MAIL)
        assert (await relay.wait_status(body["id"], "sent"))["status"] == "sent"
        server.users = {USER: "revoked"}
        await asyncio.sleep(0.5)  # the pooled session is closed as idle
        ids = [(await relay.post(MAIL))[1]["id"] for _ in range(2)]
        for mail_id in ids:
            assert (await relay.wait_status(mail_id, "failed"))["status"] == "failed"
        [alert] = await relay.alerts(1)
        assert alert.kind == "login_failing" and alert.offers_guide
        [item] = await relay.app.health.status(await relay.app.mailboxes.list())
        assert item.state == "unhealthy" and item.reason is not None and item.reason.code == "auth_rejected"

        server.users = {USER: PASSWORD}
        _, body = await relay.post(MAIL)
        assert (await relay.wait_status(body["id"], "sent"))["status"] == "sent"
        for _ in range(100):
            [item] = await relay.app.health.status(await relay.app.mailboxes.list())
            if item.state == "healthy":
                break
            await asyncio.sleep(0.05)
        assert item.state == "healthy" and item.sent_today == 2 and item.last_sent_at is not None
        assert len(relay.sink.events) == 1


async def test_quota_warns_once_holds_and_releases_when_raised(smtp_server: Any, relay_factory: Any) -> None:
    server = smtp_server()
    async with relay_factory(server) as relay:
        await relay.app.mailboxes.set_quota("ops", 5, ADMIN)
        first = [(await relay.post(MAIL))[1]["id"] for _ in range(4)]
        for mail_id in first:
            assert (await relay.wait_status(mail_id, "sent"))["status"] == "sent"
        [warning] = await relay.alerts(1)
        assert warning.kind == "quota_warning" and "80%" in warning.reason_en
        more = [(await relay.post(MAIL))[1]["id"] for _ in range(3)]
        views = [await relay.wait_status(mail_id, "sent", "retrying") for mail_id in more]
        await asyncio.sleep(0.3)
        views = [(await relay.get(f"/v1/mails/{mail_id}"))[1] for mail_id in more]
        assert sorted(v["status"] for v in views) == ["retrying", "retrying", "sent"]
        held = [v["id"] for v in views if v["status"] == "retrying"]
        assert all(v["last_error"].startswith("quota_reached") and v["attempts"] == 0 for v in views if v["id"] in held)
        assert len(server.messages) == 5
        alerts = await relay.alerts(2)
        assert [a.kind for a in alerts] == ["quota_warning", "quota_reached"]
        [item] = await relay.app.health.status(await relay.app.mailboxes.list())
        assert item.sent_today == 5 and item.quota is not None and item.quota.per_day == 5 and not item.quota.estimated

        await relay.app.mailboxes.set_quota("ops", 10, ADMIN)  # raised: the held mail goes at once
        for mail_id in held:
            assert (await relay.wait_status(mail_id, "sent", timeout=10))["status"] == "sent"
        assert len(server.messages) == 7
        assert [a.kind for a in relay.sink.events] == ["quota_warning", "quota_reached"]


async def test_provider_day_is_shanghai_for_chinese_providers(tmp_path: Path, smtp_server: Any) -> None:
    before = datetime(2025, 3, 1, 15, 59, 59, tzinfo=UTC).timestamp()  # 23:59:59 in Shanghai
    assert provider_day("qq", before) == ("2025-03-01", datetime(2025, 3, 1, 16, tzinfo=UTC).timestamp())
    assert provider_day("qq", before + 1)[0] == "2025-03-02"
    assert provider_day("gmail", before + 1)[0] == "2025-03-01"  # UTC days
    assert provider_day("exmail", before + 1)[0] == "2025-03-02"

    server = smtp_server()
    async with open_app(relay_settings(tmp_path / "data")) as app:
        await app.mailboxes.add({"name": "qq", "type": "qq", "account": "bot@qq.com", "host": "127.0.0.1",
                                 "port": server.port, "security": "none"}, SecretStr("abcdefghijklmnop"), ADMIN,
                                verify=False)
        mailbox = await app.mailboxes.set_quota("qq", 2, ADMIN)
        clock = Clock(before - 60)
        health = HealthService(app.storage, clock=clock)
        for _ in range(2):
            assert await health.admit(mailbox) is None
            health.settle(mailbox, True)
        held = await health.admit(mailbox)
        assert held is not None and held.until == before + 1 and held.alert
        assert "2025-03-02 00:00" in held.error.message("zh")
        assert (await health.admit(mailbox)) is not None and not (await health.admit(mailbox)).alert  # type: ignore[union-attr]
        await health.flush()
        clock.advance(61)  # the next day in Shanghai
        assert await health.admit(mailbox) is None
        health.settle(mailbox, True)
        await health.flush()
        [item] = await health.status([mailbox])
        assert item.sent_today == 1
        # the provider's figure is an estimate
        default = await app.mailboxes.set_quota("qq", None, ADMIN)
        [item] = await health.status([default])
        assert item.quota is not None and item.quota.per_day == 500 and item.quota.estimated


def test_cli_health_json_and_quota(tmp_path: Path, smtp_server: Any) -> None:
    server = smtp_server()
    env = {**os.environ, "MAILBOT_DATA_DIR": str(tmp_path / "data"), "LANG": "C.UTF-8"}
    env.pop("MAILBOT_SECRET_KEY", None)

    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
                              env=env, timeout=30, cwd=tmp_path)

    added = cli("mailbox", "add", "--name", "ops", "--account", USER, "--type", "custom", "--host", "127.0.0.1",
                "--port", str(server.port), "--security", "none", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert cli("mailbox", "quota", "ops", "0").returncode == 2
    lots = cli("mailbox", "quota", "ops", "lots", "--lang", "en")
    assert lots.returncode == 2 and "quota_per_day" in lots.stderr and "whole number" in lots.stderr
    done = cli("mailbox", "quota", "ops", "300", "--lang", "en")
    assert done.returncode == 0 and "300" in done.stdout, done.stderr
    out = cli("mailbox", "health", "--json")
    assert out.returncode == 0, out.stderr
    [item] = json.loads(out.stdout)
    assert set(item) == {"name", "state", "reason", "checked_at", "last_sent_at", "sent_today", "quota"}
    assert item["name"] == "ops" and item["state"] == "healthy" and item["reason"] is None
    assert item["checked_at"] and item["last_sent_at"] is None and item["sent_today"] == 0
    assert item["quota"] == {"per_day": 300, "estimated": False, "source": "mailbox"}
    assert cli("mailbox", "disable", "ops").returncode == 0
    assert json.loads(cli("mailbox", "health", "--json").stdout)[0]["state"] == "disabled"
    text = cli("mailbox", "health", "--lang", "en")
    assert "ops: disabled" in text.stdout
    assert cli("mailbox", "quota", "ops", "default").returncode == 0
    assert json.loads(cli("mailbox", "health", "--json").stdout)[0]["quota"] is None  # custom: no limit


async def test_one_check_per_mailbox_across_instances(postgres_url: str, tmp_path: Path, smtp_server: Any) -> None:
    server = smtp_server(users={USER: "revoked"}, auth_reply="535 5.7.8 authentication failed")
    settings = [relay_settings(tmp_path / f"d{i}", database_url=postgres_url, secret_key="k" * 44) for i in range(2)]
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    settings = [s.model_copy(update={"secret_key": SecretStr(key)}) for s in settings]
    async with open_app(settings[0]) as one, open_app(settings[1]) as two:
        await add_mailbox(one, "ops", server)
        clock = Clock(datetime.now(UTC).timestamp() + 3600 * INTERVAL_H)
        checkers = [Checker(one, clock), Checker(two, clock)]
        await asyncio.gather(*(c.checker.tick() for c in checkers))
        assert len(server.logins) in (1, 2)  # one check (aiosmtplib tries PLAIN then LOGIN), by one instance
        assert sum(len(c.events) for c in checkers) == 1
        assert sum(c.checker.checks for c in checkers) == 1
        clock.advance(3600 * INTERVAL_H)
        await asyncio.gather(*(c.checker.tick() for c in checkers))
        assert sum(c.checker.checks for c in checkers) == 2 and sum(len(c.events) for c in checkers) == 1


async def test_a_manual_test_that_is_refused_reads_unhealthy_until_a_later_one_passes(
        smtp_server: Any, tmp_path: Path) -> None:
    server = smtp_server(users={USER: "a-new-code"}, auth_reply="535 5.7.8 authentication failed")  # revoked
    async with open_app(relay_settings(tmp_path / "data")) as app:
        await add_mailbox(app, "ops", server)
        c = Checker(app, Clock(datetime.now(UTC).timestamp()))
        with pytest.raises(MailbotError):
            await app.mailboxes.test("ops", ADMIN)  # `mailbot mailbox test ops`, or 测试邮箱 in chat
        item = await c.state(app)
        assert item.state == "unhealthy" and item.reason is not None and item.reason.code == "auth_rejected"
        assert item.to_json("en")["reason"]["fix"]
        server.users = {USER: PASSWORD}
        await app.mailboxes.test("ops", ADMIN)
        assert (await c.state(app)).state == "healthy"


async def test_after_a_refused_manual_test_a_successful_send_reads_healthy(smtp_server: Any, relay_factory: Any) -> None:
    server = smtp_server(users={USER: "a-new-code"}, auth_reply="535 5.7.8 authentication failed")
    async with relay_factory(server) as relay:
        with pytest.raises(MailbotError):
            await relay.app.mailboxes.test("ops", ADMIN)
        [item] = await relay.app.health.status(await relay.app.mailboxes.list())
        assert item.state == "unhealthy"
        server.users = {USER: PASSWORD}  # fixed at the provider; no new test, but mail goes out
        _, body = await relay.post(MAIL)
        assert (await relay.wait_status(body["id"], "sent"))["status"] == "sent"
        for _ in range(100):
            [item] = await relay.app.health.status(await relay.app.mailboxes.list())
            if item.state == "healthy":
                break
            await asyncio.sleep(0.05)
        assert item.state == "healthy"
