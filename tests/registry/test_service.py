"""MailboxService against a real store and real SMTP servers: saving, editing, audit, restarts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot import errors as e
from bot.app import App, open_app
from bot.storage import SqliteStorage
from tests.registry.conftest import ADMIN, SECRET, settings_for
from tests.support.smtpd import SmtpServer

ACCOUNT = "notice@corp.example"


def custom(srv: SmtpServer, name: str = "通知", **extra: object) -> dict[str, object]:
    return {"name": name, "account": ACCOUNT, "type": "custom", "host": "127.0.0.1", "port": srv.port,
            "security": srv.security, **extra}


async def test_add_verifies_then_saves_and_the_first_is_default(app: App, smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(security="ssl", users={ACCOUNT: SECRET})
    result = await app.mailboxes.add(custom(srv), SecretStr(SECRET), ADMIN)
    assert result.mailbox.default and result.mailbox.enabled
    assert result.mailbox.last_check and result.mailbox.last_check.ok
    second = await app.mailboxes.add(custom(srv, "备用"), SecretStr(SECRET), ADMIN)
    assert not second.mailbox.default
    assert [m.name for m in await app.mailboxes.list()] == ["通知", "备用"]
    assert srv.logins.count((ACCOUNT, True)) == 2


async def test_failed_check_saves_nothing(app: App, smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(security="starttls", users={ACCOUNT: SECRET})
    with pytest.raises(e.AuthRejected):
        await app.mailboxes.add(custom(srv), SecretStr("wrong"), ADMIN)
    assert await app.mailboxes.list() == []
    entries = await app.audit.entries()
    assert [(x.action, x.ok) for x in entries] == [("test", False)]


async def test_duplicate_name_is_a_field_error(app: App, smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(security="ssl", users={ACCOUNT: SECRET})
    await app.mailboxes.add(custom(srv), SecretStr(SECRET), ADMIN)
    with pytest.raises(e.InvalidInput) as info:
        await app.mailboxes.add(custom(srv), SecretStr(SECRET), ADMIN, verify=False)
    assert [x.field for x in info.value.errors] == ["name"]


async def test_edit_reverifies_and_empty_secret_keeps_the_old_one(app: App, smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(security="ssl", users={ACCOUNT: SECRET})
    await app.mailboxes.add(custom(srv), SecretStr(SECRET), ADMIN)
    edited = await app.mailboxes.edit("通知", {"name": "审批通知"}, SecretStr(""), ADMIN)
    assert edited.mailbox.name == "审批通知" and edited.mailbox.version == 2
    assert await app.mailboxes.find("通知") is None
    with pytest.raises(e.AuthRejected):
        await app.mailboxes.edit("审批通知", {}, SecretStr("wrong"), ADMIN)
    assert (await app.mailboxes.login(await app.mailboxes.get("审批通知"))).secret.get_secret_value() == SECRET


async def test_stale_version_is_refused(app: App, smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(security="ssl", users={ACCOUNT: SECRET})
    await app.mailboxes.add(custom(srv), SecretStr(SECRET), ADMIN)
    await app.mailboxes.set_enabled("通知", False, ADMIN)
    with pytest.raises(e.Conflict):
        await app.mailboxes.remove("通知", ADMIN, expected_version=1)
    assert await app.mailboxes.find("通知") is not None


async def test_default_moves_atomically_and_everything_is_audited(app: App, smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(security="ssl", users={ACCOUNT: SECRET})
    await app.mailboxes.add(custom(srv, "a"), SecretStr(SECRET), ADMIN)
    await app.mailboxes.add(custom(srv, "b"), SecretStr(SECRET), ADMIN)
    await app.mailboxes.set_default("b", ADMIN)
    assert [m.name for m in await app.mailboxes.list() if m.default] == ["b"]
    await app.mailboxes.set_enabled("a", False, ADMIN)
    await app.mailboxes.set_enabled("a", True, ADMIN)
    await app.mailboxes.test("a", ADMIN)
    await app.mailboxes.remove("a", ADMIN)
    actions = [x.action for x in await app.audit.entries()]
    assert actions == ["add", "add", "default", "disable", "enable", "test", "remove"]
    assert all(x.actor == "test:alice (Alice)" for x in await app.audit.entries())
    assert [x.action for x in await app.audit.entries(limit=3)] == ["enable", "test", "remove"]


async def test_test_mail_has_message_id_date_utf8_subject_and_display_name(
        app: App, smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(security="starttls", users={ACCOUNT: SECRET})
    await app.mailboxes.add(custom(srv), SecretStr(SECRET), ADMIN)
    await app.mailboxes.test("通知", ADMIN, to="boss@example.org")
    [received] = srv.messages
    msg = received.message
    assert msg["Message-ID"].endswith("@corp.example>")
    assert msg["Date"]
    assert "测试邮件" in msg["Subject"]
    assert "=?utf-8?" in received.data.decode().lower()
    assert msg["From"].addresses[0].display_name == "mailbot · 通知"
    assert received.mail_from == ACCOUNT and received.rcpt_tos == ["boss@example.org"]


async def test_failed_test_is_stored_as_last_check(app: App, smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(security="ssl", users={ACCOUNT: SECRET})
    await app.mailboxes.add(custom(srv), SecretStr(SECRET), ADMIN)
    srv.users[ACCOUNT] = "rotated-elsewhere"  # type: ignore[index]
    with pytest.raises(e.AuthRejected):
        await app.mailboxes.test("通知", ADMIN)
    mailbox = await app.mailboxes.get("通知")
    assert mailbox.last_check is not None and not mailbox.last_check.ok
    assert mailbox.last_check.code == "auth_rejected"


async def test_data_survives_a_restart_and_is_json_not_pickle(tmp_path: Path, smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(security="ssl", users={ACCOUNT: SECRET})
    async with open_app(settings_for(tmp_path)) as first:
        await first.mailboxes.add(custom(srv), SecretStr(SECRET), ADMIN)
    async with open_app(settings_for(tmp_path)) as second:
        [mailbox] = await second.mailboxes.list()
        assert (await second.mailboxes.login(mailbox)).secret.get_secret_value() == SECRET
    import sqlite3

    with sqlite3.connect(tmp_path / "mailboxes.sqlite") as conn:
        [(raw,)] = conn.execute("select value from docs").fetchall()
    assert isinstance(raw, str) and raw.startswith("{") and '"secret_token"' in raw


async def test_secret_never_in_data_files_repr_or_audit(tmp_path: Path, smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(security="ssl", users={ACCOUNT: SECRET})
    async with open_app(settings_for(tmp_path)) as app:
        result = await app.mailboxes.add(custom(srv), SecretStr(SECRET), ADMIN)
        await app.mailboxes.edit("通知", {}, SecretStr(SECRET), ADMIN)
        server = await app.mailboxes.login(result.mailbox)
        texts = [repr(result.mailbox), str(result.mailbox), repr(server), str(server),
                 str(result.mailbox.public()), str([x.model_dump() for x in await app.audit.entries()])]
    assert all(SECRET not in text for text in texts)
    for path in tmp_path.iterdir():
        assert SECRET.encode() not in path.read_bytes(), path


async def test_atomic_write_all_or_nothing(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path)
    table = storage.table("t")
    await table.write({"a": {"v": 1}})
    with pytest.raises(TypeError):
        await table.write({"b": {"v": 2}, "c": {"v": object()}}, delete=["a"])
    assert await table.items() == [("a", {"v": 1})]
    await storage.close()


async def test_reads_see_writes_made_by_another_process(tmp_path: Path) -> None:
    """The cached snapshot behind items()/get() must notice a commit from another connection."""
    ours, theirs = SqliteStorage(tmp_path), SqliteStorage(tmp_path)
    mine, other = ours.table("t"), theirs.table("t")
    await mine.put("a", {"v": 1})
    assert await mine.items() == [("a", {"v": 1})]
    for round_ in range(5):
        await other.put("a", {"v": round_ + 2})
        assert await mine.items() == [("a", {"v": round_ + 2})]
        assert await mine.get("a") == {"v": round_ + 2}
    await other.delete("a")
    assert await mine.items() == [] and await mine.get("a") is None
    rows = await mine.items()
    rows.append(("b", {}))
    assert await mine.items() == []  # callers get copies, never the snapshot itself
    await ours.close()
    await theirs.close()


async def test_newest_and_oldest_page_by_keyset_in_insertion_order(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path)
    table = storage.table("t")
    for i in range(5):
        await table.put(f"k{i}", {"v": i})
    await table.put("k1", {"v": 10})  # a rewrite keeps its place
    assert [k for k, _ in await table.newest(3)] == ["k4", "k3", "k2"]
    page = await table.scan(3, reverse=True)
    rest = await table.scan(3, reverse=True, after=page.cursor)
    assert rest.rows == [("k1", {"v": 10}), ("k0", {"v": 0})] and rest.cursor is None
    assert [k for k, _ in await table.oldest(2)] == ["k0", "k1"]
    assert [k for k, _ in await table.items()] == ["k0", "k1", "k2", "k3", "k4"]
    await storage.close()


async def test_every_table_syncs_its_commits_to_disk(tmp_path: Path) -> None:
    """sqlitedict's own connection runs with synchronous=OFF (a commit survives a process crash, not a
    power cut); a 202 from the relay promises more, so each table's connection runs FULL."""
    storage = SqliteStorage(tmp_path)
    for name in ("outbox_mails", "outbox_content", "outbox_queue", "mailboxes"):
        table = storage.table(name)
        await table.put("k", {"v": 1})
        assert table.locked(lambda conn: conn.execute("PRAGMA synchronous").fetchone()) == (2,)  # type: ignore[attr-defined]
    await storage.close()


async def test_outlook_password_login_is_refused_before_any_attempt_for_every_front_end(app: App) -> None:
    """The catalog says Outlook.com refuses password SMTP login: the service refuses it (CLI, chat, cards and
    console all call it), naming cause and fix, without a login attempt and without saving, even unverified."""
    for verify in (True, False):
        with pytest.raises(e.InvalidInput) as refused:
            await app.mailboxes.add({"name": "o", "account": "me@outlook.com"}, SecretStr(SECRET), ADMIN, verify=verify)
        [error] = refused.value.errors
        assert error.field == "type" and "OAuth2" in error.message("en") and "--oauth" in error.message("en")
    assert await app.mailboxes.list() == [] and await app.audit.entries() == []  # no failed login was audited
