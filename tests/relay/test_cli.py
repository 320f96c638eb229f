"""The relay's CLI commands as real subprocesses: token, template, send, outbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bot.app import open_app
from bot.relay.component import RelayComponent
from bot.relay.alerts import LoggingSink
from tests.relay.conftest import add_mailbox, relay_settings


def mailbot(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBOT_")}
    env["MAILBOT_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env, timeout=30)


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
