"""`mailbot store migrate|backup` as real subprocesses: an embedded store filled through the CLI and
the services moves into a real PostgreSQL and works there (the password still opens, the token
authenticates, queued mail goes out once its old leases are dropped); a backup taken while a real
`mailbot run` takes mail opens, holds the data and is owner-only."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import open_app
from bot.adapters.relay_component import RelayComponent
from bot.relay.alerts import LoggingSink
from bot.relay.models import MailRequest
from bot.storage.lock import run_lock
from tests.relay.conftest import relay_settings
from tests.relay.test_run_stop import start_run, stop_run
from tests.storage.postgres_server import PostgresServer
from tests.support.smtpd import SmtpServer

SECRET = "Pl41n-Passw0rd-7c1e"
ACCOUNT = "notice@corp.example"
BODY = {"mailbox": "notice", "to": ["boss@example.org"], "subject": "order 42", "text": "shipped",
        "idempotency_key": "order-42"}


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "MAILBOT_"))}
    return {**env, "MAILBOT_DATA_DIR": str(data_dir), "MAILBOT_HTTP_PORT": "0", "LANG": "C.UTF-8", **extra}


def mailbot(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=60)


def ok(env: dict[str, str], *args: str, stdin: str = "") -> str:
    done = mailbot(env, *args, stdin=stdin)
    assert done.returncode == 0, f"mailbot {' '.join(args)}: {done.stderr}"
    return done.stdout


def add_mailbox(env: dict[str, str], server: SmtpServer) -> None:
    ok(env, "mailbox", "add", "--name", "notice", "--account", ACCOUNT, "--type", "custom", "--host", "127.0.0.1",
       "--port", str(server.port), "--security", "none", "--password-stdin", "--no-verify", stdin=SECRET + "\n")


def database(url: str) -> str:
    return url.rsplit("/", 1)[1]


def pg_counts(server: PostgresServer, url: str) -> dict[str, int]:
    rows = server.sql("SELECT tbl, count(*) FROM mailbot_docs GROUP BY tbl ORDER BY tbl", database(url))
    return {tbl: int(n) for tbl, n in (line.split("|") for line in rows.split())}


@pytest.mark.timeout(180)  # about twenty CLI runs, each a fresh interpreter
async def test_migrate_moves_everything_and_it_works_on_postgresql(
        tmp_path: Path, smtp_server: Any, postgres_server: PostgresServer, postgres_url: str) -> None:
    server: SmtpServer = smtp_server(users={ACCOUNT: SECRET})
    data = tmp_path / "data"
    env = env_for(data)
    add_mailbox(env, server)
    token = json.loads(ok(env, "token", "create", "wf", "--json"))["token"]
    template = tmp_path / "hello.json"
    template.write_text(json.dumps({"subject": "Hi {{ name }}", "text": "Hello {{ name }}"}))
    ok(env, "template", "add", "hello", str(template))
    queued = [json.loads(ok(env, "send", "--mailbox", "notice", "--to", "a@example.com", "--subject", f"m{i}",
                            "--text", "x", "--json"))["id"] for i in range(3)]
    async with open_app(relay_settings(data)) as app:
        first, fresh = await app.relay.submit(MailRequest.parse(BODY), await app.relay.authenticate(token))
        assert fresh
        queued.append(first.id)
        # A run that died holding claims: the copy must not keep its leases.
        assert len(await app.relay.outbox.queue.claim(time.time() + 3600, 10, "local", 3600)) == 4
    key = (data / "secret.key").read_text().strip()

    out = await asyncio.to_thread(mailbot, env, "store", "migrate", "--to", postgres_url, "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["ok"] is True
    tables = result["tables"]
    assert {"mailboxes", "tokens", "templates", "audit", "meta", "outbox_mails", "outbox_content", "outbox_queue",
            "outbox_idempotency"} <= set(tables)
    assert all(t["source"] == t["target"] for t in tables.values())
    assert {n: tables[n]["source"] for n in ("mailboxes", "tokens", "templates", "outbox_mails", "outbox_queue",
                                             "outbox_idempotency")} == {
        "mailboxes": 1, "tokens": 1, "templates": 1, "outbox_mails": 4, "outbox_queue": 4, "outbox_idempotency": 1}
    assert str((data / "secret.key").resolve()) in out.stderr and "MAILBOT_SECRET_KEY" in out.stderr
    assert key not in out.stdout + out.stderr and SECRET not in out.stdout + out.stderr
    assert not (data / "outbox_queue.sqlite").exists()  # no stray file of a group's table

    # Twice is safe: the same keys again, nothing added, still verified.
    before = pg_counts(postgres_server, postgres_url)
    again = await asyncio.to_thread(mailbot, env, "store", "migrate", "--to", postgres_url)
    assert again.returncode == 0, again.stderr
    assert "verified" in again.stdout and "outbox_queue" in again.stdout
    assert key not in again.stdout + again.stderr and postgres_url.split("@")[1] in again.stdout
    assert pg_counts(postgres_server, postgres_url) == before

    # Queue entries arrive free; no password in the clear anywhere in the database.
    leases = postgres_server.sql("SELECT value->>'lease' || ',' || (value->>'owner') FROM mailbot_docs "
                                 "WHERE tbl = 'outbox_queue'", database(postgres_url)).split()
    assert leases == ["0,"] * 4
    dump = subprocess.run([str(postgres_server.bin / "pg_dump"), "-h", str(postgres_server.sockets), "-p",
                           str(postgres_server.port), "-U", "postgres", "-d", database(postgres_url)],
                          capture_output=True, timeout=60, check=True).stdout
    assert b"notice@corp.example" in dump and SECRET.encode() not in dump and key.encode() not in dump

    # The CLI on PostgreSQL, with another (empty) data dir: everything is there and the password opens.
    pg_env = env_for(tmp_path / "elsewhere", MAILBOT_DATABASE_URL=postgres_url, MAILBOT_SECRET_KEY=key)
    shown = json.loads(ok(pg_env, "mailbox", "show", "notice", "--json"))
    assert (shown["account"], shown["port"]) == (ACCOUNT, server.port)
    checked = await asyncio.to_thread(mailbot, pg_env, "mailbox", "test", "notice")
    assert checked.returncode == 0, checked.stderr  # a real AUTH with the decrypted password
    assert [t["name"] for t in json.loads(ok(pg_env, "token", "list", "--json"))] == ["wf"]
    assert json.loads(ok(pg_env, "template", "show", "hello", "--json"))["subject"] == "Hi {{ name }}"
    listed = json.loads(ok(pg_env, "outbox", "list", "--json"))
    assert sorted(m["id"] for m in listed) == sorted(queued) and {m["status"] for m in listed} == {"queued"}
    assert "order 42" in ok(pg_env, "outbox", "show", first.id)
    assert [e["action"] for e in json.loads(ok(pg_env, "audit", "--json"))][:2] == ["add", "token_create"]

    settings = relay_settings(tmp_path / "elsewhere", database_url=postgres_url, secret_key=key)
    async with open_app(settings) as app:
        again_token = await app.relay.authenticate(token)  # the token authenticates
        assert again_token.name == "wf"
        same, fresh = await app.relay.submit(MailRequest.parse(BODY), again_token)  # the idempotency key holds
        assert (same.id, fresh) == (first.id, False)
        component = RelayComponent(app, LoggingSink())  # the queued mail goes out: no old lease holds it
        await component.start()
        try:
            got = await server.wait_for_messages_async(4, timeout=20)
        finally:
            await component.stop()
    assert sorted(m.message["Subject"] for m in got) == ["m0", "m1", "m2", "order 42"]


@pytest.mark.timeout(120)
def test_migrate_refuses_while_the_bot_runs_and_into_another_keys_database(
        tmp_path: Path, postgres_server: PostgresServer, postgres_url: str) -> None:
    data = tmp_path / "data"
    env = env_for(data, LANG="zh_CN.UTF-8")
    ok(env, "token", "create", "wf")
    with run_lock(data):
        refused = mailbot(env, "store", "migrate", "--to", postgres_url)
    assert refused.returncode == 2
    assert "先停止机器人" in refused.stderr and str(data.resolve()) in refused.stderr and str(os.getpid()) in refused.stderr
    assert postgres_server.sql("SELECT to_regclass('mailbot_docs')", database(postgres_url)).strip() == ""

    assert mailbot(env, "store", "migrate", "--to", postgres_url, "--lang", "en").returncode == 0
    other = tmp_path / "other"
    other_env = env_for(other)
    ok(other_env, "token", "create", "x")  # another store, sealed with another key
    mixed = mailbot(other_env, "store", "migrate", "--to", postgres_url)
    assert mixed.returncode != 0
    assert "another key" in mixed.stderr and "nothing was copied" in mixed.stderr
    assert "x" not in {t for t in pg_counts(postgres_server, postgres_url)} and \
        postgres_server.sql("SELECT count(*) FROM mailbot_docs WHERE tbl = 'tokens'", database(postgres_url)).strip() == "1"

    nowhere = mailbot(env_for(tmp_path / "empty"), "store", "migrate", "--to", postgres_url)
    assert nowhere.returncode == 2 and "nothing to migrate" in nowhere.stderr


def _rows(path: Path, table: str) -> dict[str, Any]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return {key: json.loads(value) for key, value in conn.execute(f'SELECT key, value FROM "{table}"')}


@pytest.mark.timeout(120)
async def test_backup_while_the_bot_runs_and_takes_mail(tmp_path: Path, smtp_server: Any) -> None:
    server: SmtpServer = smtp_server(users={ACCOUNT: SECRET})
    data = tmp_path / "data"
    env = env_for(data)
    add_mailbox(env, server)
    token = json.loads(ok(env, "token", "create", "ci", "--json"))["token"]
    proc, port = await start_run(env)
    posted: list[str] = []
    stop = asyncio.Event()

    async def post_mail() -> None:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            while not stop.is_set():
                async with http.post(f"http://127.0.0.1:{port}/v1/mails",
                                     json={"to": ["a@example.com"], "subject": f"m{len(posted)}", "text": "x"}) as resp:
                    assert resp.status == 202, await resp.text()
                    posted.append((await resp.json())["id"])

    poster = asyncio.create_task(post_mail())
    try:
        while len(posted) < 5:
            await asyncio.sleep(0.05)
        before = set(posted)
        dest = tmp_path / "backups" / "today"
        out = await asyncio.to_thread(mailbot, env, "store", "backup", str(dest))
        assert out.returncode == 0, out.stderr
        assert len(posted) > len(before)  # mail kept coming while it ran
        stop.set()
        await poster
    finally:
        stop.set()
        await asyncio.gather(poster, return_exceptions=True)
        await stop_run(proc)

    assert "outbox.sqlite" in out.stdout and "secret.key" in out.stdout and SECRET not in out.stdout
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    files = sorted(p.name for p in dest.iterdir())
    assert {"outbox.sqlite", "mailboxes.sqlite", "tokens.sqlite", "meta.sqlite", "secret.key"} <= set(files)
    assert not [name for name in files if name.endswith(("-wal", "-shm", "-journal"))]
    assert all(stat.S_IMODE((dest / name).stat().st_mode) == 0o600 for name in files)
    assert (dest / "secret.key").read_bytes() == (data / "secret.key").read_bytes()

    mailboxes = _rows(dest / "mailboxes.sqlite", "docs")
    assert list(mailboxes) == ["notice"] and SECRET not in json.dumps(mailboxes)
    assert [t["name"] for t in _rows(dest / "tokens.sqlite", "docs").values()] == ["ci"]
    mails, content = _rows(dest / "outbox.sqlite", "outbox_mails"), _rows(dest / "outbox.sqlite", "outbox_content")
    queue = _rows(dest / "outbox.sqlite", "outbox_queue")
    assert before <= set(mails) <= set(posted)
    assert set(queue) <= set(mails) and set(queue) <= set(content)  # one file: one moment, the tables agree
    with closing(sqlite3.connect(dest / "outbox.sqlite")) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # The copy is a data dir: the CLI reads it as it is, with the key it holds.
    restored = json.loads(ok(env_for(dest), "outbox", "list", "--limit", "1000", "--json"))
    assert {m["id"] for m in restored} == set(mails)

    again = mailbot(env, "store", "backup", str(dest))
    assert again.returncode == 2 and "not empty" in again.stderr
    on_pg = mailbot(env_for(data, MAILBOT_DATABASE_URL="postgresql://u@127.0.0.1:1/db"), "store", "backup",
                    str(tmp_path / "new"))
    assert on_pg.returncode == 2 and "pg_dump" in on_pg.stderr and not (tmp_path / "new").exists()


async def test_sqlite_tables_opens_each_table_as_its_file_says(tmp_path: Path) -> None:
    from bot.storage import SqliteStorage
    from bot.storage.base import Queue

    store = SqliteStorage(tmp_path)
    await store.table("tokens").put("a", {"n": 1})
    await store.table("outbox_mails", group="outbox", indexed=("status",)).put("m", {"status": "queued"})
    await store.queue("outbox_queue", group="outbox", indexed=("mailbox",)).put("m", {"due": 1, "mailbox": "x"})
    await store.close()
    before = sorted(p.name for p in tmp_path.glob("*.sqlite"))

    reader = SqliteStorage(tmp_path)
    try:
        tables = await reader.tables()
        assert sorted(tables) == ["outbox_mails", "outbox_queue", "tokens"]
        assert isinstance(tables["outbox_queue"], Queue) and not isinstance(tables["tokens"], Queue)
        assert tables["outbox_mails"].indexed == ("status",) and tables["outbox_queue"].indexed == ("mailbox",)
        assert [k for k, _ in (await tables["outbox_queue"].scan(10)).rows] == ["m"]
        assert await tables["outbox_mails"].get("m") == {"status": "queued"}
        # The same transaction still spans the group: they were opened in it.
        await reader.transaction([(tables["outbox_mails"], {"n": {"status": "sent"}}, ()),
                                  (tables["outbox_queue"], {}, ["m"])])
    finally:
        await reader.close()
    assert sorted(p.name for p in tmp_path.glob("*.sqlite")) == before == ["outbox.sqlite", "tokens.sqlite"]


def test_migrate_names_the_tables_whose_counts_differ(tmp_path: Path, postgres_url: str, monkeypatch: Any,
                                                      capsys: Any) -> None:
    """The verification itself, in process: a copy that lost a row exits 1 naming the table."""
    import bot.cli.store as store_cli
    from bot.cli import main
    from bot.storage.migrate import Counted, copy_tables

    data = tmp_path / "data"
    ok(env_for(data), "token", "create", "wf")
    for name in list(os.environ):
        if name.startswith("MAILBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MAILBOT_DATA_DIR", str(data))
    monkeypatch.chdir(tmp_path)

    async def lossy(*args: Any, **kwargs: Any) -> list[Counted]:
        return [Counted(c.name, c.source, c.target - (c.name == "tokens")) for c in await copy_tables(*args, **kwargs)]

    monkeypatch.setattr(store_cli, "copy_tables", lossy)
    assert main(["store", "migrate", "--to", postgres_url, "--json", "--lang", "en"]) == 1
    out = capsys.readouterr()
    result = json.loads(out.out)
    assert result["ok"] is False and result["tables"]["tokens"] == {"source": 1, "target": 0}
    assert "tokens (1 → 0)" in out.err and "`mailbot store migrate` again" in out.err
    assert "MAILBOT_SECRET_KEY" not in out.err  # no all-clear advice after a failed copy
