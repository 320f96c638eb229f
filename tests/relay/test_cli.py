"""The relay's CLI commands as real subprocesses: token, template, send, outbox."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from bot.app import open_app
from bot.cli.outbox import RECIPIENT_COLUMNS
from bot.display import width
from bot.adapters.relay_component import RelayComponent
from bot.relay.alerts import LoggingSink
from tests.relay.conftest import add_mailbox, relay_settings


def mailbot(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBOT_")}
    env["MAILBOT_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True, env=env,
                          timeout=30)


def test_token_commands(tmp_path: Path) -> None:
    data = tmp_path / "data"
    created = mailbot(data, "token", "create", "wf", "--json")
    assert created.returncode == 0, created.stderr
    token = json.loads(created.stdout)
    assert token["name"] == "wf" and token["token"].startswith("mbt_")
    listed = json.loads(mailbot(data, "token", "list", "--json").stdout)
    assert listed == [{"name": "wf", "mailboxes": [], "created_at": listed[0]["created_at"]}]
    assert token["token"] not in json.dumps(listed)
    assert mailbot(data, "token", "create", "x", "--mailbox", "nope").returncode != 0
    assert mailbot(data, "token", "revoke", "wf").returncode == 0
    assert json.loads(mailbot(data, "token", "list", "--json").stdout) == []
    audit = json.loads(mailbot(data, "audit", "--json").stdout)
    assert [(e["action"], e["target"]) for e in audit] == [("token_create", "wf"), ("token_revoke", "wf")]
    assert all(e["actor"].startswith("cli:") for e in audit)
    assert token["token"] not in json.dumps(audit)


def test_template_commands(tmp_path: Path) -> None:
    data = tmp_path / "data"
    body = tmp_path / "t.json"
    body.write_text(json.dumps({"subject": "Hi {{ name }}", "html": "<p>{{ name }}</p>"}))
    assert mailbot(data, "template", "add", "hello", str(body)).returncode == 0
    assert json.loads(mailbot(data, "template", "show", "hello", "--json").stdout)["subject"] == "Hi {{ name }}"
    assert [t["name"] for t in json.loads(mailbot(data, "template", "list", "--json").stdout)] == ["hello"]
    bad = tmp_path / "bad.txt"
    bad.write_text("{% if %}")
    assert mailbot(data, "template", "add", "bad", str(bad), "--subject", "x").returncode == 2
    assert mailbot(data, "template", "remove", "hello").returncode == 0
    assert mailbot(data, "template", "show", "hello").returncode != 0


async def test_send_and_outbox_commands(tmp_path: Path, smtp_server: Any) -> None:
    import asyncio

    server = smtp_server()
    data = tmp_path / "data"
    async with open_app(relay_settings(data)) as app:
        await add_mailbox(app, "ops", server)
    sent = await asyncio.to_thread(mailbot, data, "send", "--mailbox", "ops", "--to", "a@example.com",
                                   "--subject", "S", "--text", "T", "--json")
    assert sent.returncode == 0, sent.stderr
    mail = json.loads(sent.stdout)
    bad = await asyncio.to_thread(mailbot, data, "send", "--to", "nope", "--subject", "S", "--text", "T")
    assert bad.returncode == 2 and "to.0" in bad.stderr
    async with open_app(relay_settings(data)) as app:  # a running relay picks up the CLI's mail
        component = RelayComponent(app, LoggingSink())
        await component.start()
        try:
            [msg] = await server.wait_for_messages_async(1)
            assert msg.message["Message-ID"] == mail["message_id"]
            for _ in range(100):
                if (await component.relay.get(mail["id"])).status == "sent":
                    break
                await asyncio.sleep(0.02)
        finally:
            await component.stop()
    listed = await asyncio.to_thread(mailbot, data, "outbox", "list", "--json")
    assert [(m["id"], m["status"]) for m in json.loads(listed.stdout)] == [(mail["id"], "sent")]
    retry = await asyncio.to_thread(mailbot, data, "outbox", "retry", mail["id"])
    assert retry.returncode != 0 and "only failed" in retry.stderr



def test_outbox_list_shortens_a_long_recipient_list(tmp_path: Path) -> None:
    data = tmp_path / "data"
    added = mailbot(data, "mailbox", "add", "--name", "审批通知", "--account", "bot@corp.example", "--type", "custom",
                    "--host", "127.0.0.1", "--port", "2525", "--security", "ssl", "--password-stdin", "--no-verify",
                    stdin="pw\n")
    assert added.returncode == 0, added.stderr
    recipients = [f"user{i:03}@example.com" for i in range(100)]
    many = mailbot(data, "send", *(a for r in recipients for a in ("--to", r)), "--subject", "请审批", "--text", "T")
    few = mailbot(data, "send", "--to", "boss@example.com", "--subject", "one", "--text", "T")
    assert many.returncode == 0 and few.returncode == 0, many.stderr + few.stderr
    newest, oldest = mailbot(data, "outbox", "list").stdout.splitlines()
    cell = re.search(r"user000@example\.com(, user\d{3}@example\.com)* \+(\d+) more", oldest)
    assert cell is not None and width(cell.group()) <= RECIPIENT_COLUMNS and "user099" not in oldest
    assert cell.group().count("@") + int(cell.group(2)) == 100  # "a@x.com, b@x.com +98 more"
    assert "boss@example.com" in newest and "more" not in newest
    assert width(newest[:newest.index("one")]) == width(oldest[:oldest.index("请审批")])  # the subject column lines up
