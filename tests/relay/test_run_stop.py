"""SIGTERM of a real `mailbot run` while a paced mailbox has queued mail: nothing is in flight, so it
exits at once, and the mail still queued goes out after a restart (same Message-ID, once)."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.chat.test_shell_run import env_for
from tests.relay.conftest import PASSWORD, USER
from tests.support.smtpd import SmtpServer


async def mailbot(env: dict[str, str], *args: str, stdin: str = "") -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 30)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def start_run(env: dict[str, str]) -> tuple[asyncio.subprocess.Process, int]:
    """A `mailbot run` in local mode, and the port its HTTP API took."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env)
    assert proc.stderr is not None
    seen = b""
    while (found := re.search(rb"HTTP API: http://127\.0\.0\.1:(\d+)/", seen)) is None:
        line = await asyncio.wait_for(proc.stderr.readline(), 30)
        assert line, seen
        seen += line
    return proc, int(found.group(1))


async def stop_run(proc: asyncio.subprocess.Process) -> float:
    """SIGTERM, then the seconds until the process has exited (0 is asserted)."""
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 60) == 0
    return time.monotonic() - t0


async def test_sigterm_does_not_wait_for_a_paced_mailbox(tmp_path: Path, smtp_server: Any) -> None:
    server: SmtpServer = smtp_server(users={USER: PASSWORD})
    env = env_for(tmp_path / "data", LANG="C.UTF-8", MAILBOT_RELAY_STOP_GRACE_S="20")
    await mailbot(env, "mailbox", "add", "--name", "ops", "--account", USER, "--type", "custom", "--host",
                  "127.0.0.1", "--port", str(server.port), "--security", "none", "--password-stdin", "--no-verify",
                  stdin=PASSWORD + "\n")
    await mailbot(env, "mailbox", "rate", "ops", "1")  # one mail a minute: the 2nd waits ~60 s for its turn
    token = json.loads(await mailbot(env, "token", "create", "ci", "--json"))["token"]
    headers = {"Authorization": f"Bearer {token}"}

    proc, port = await start_run(env)
    url = f"http://127.0.0.1:{port}/v1/mails"
    try:
        async with aiohttp.ClientSession(headers=headers) as http:
            ids = []
            for i in range(4):
                async with http.post(url, json={"to": ["a@example.com"], "subject": f"m{i}", "text": "x"}) as resp:
                    assert resp.status == 202
                    ids.append((await resp.json())["id"])
            await server.wait_for_messages_async(1, timeout=15)
            await asyncio.sleep(0.3)  # the other senders are now waiting for their turn
            for mail_id in ids:
                async with http.get(f"{url}/{mail_id}") as resp:
                    view = await resp.json()
                # waiting for the mailbox's pace is not in flight
                assert view["status"] == ("sent" if view["subject"] == server.messages[0].message["Subject"] else "queued")
    finally:
        took = await stop_run(proc)
    print(f"SIGTERM to exit with a paced mailbox's mail queued: {took:.2f} s")
    assert took < 5, took  # liveness bound only; it used to wait MAILBOT_RELAY_STOP_GRACE_S (20 s)
    assert len(server.messages) == 1

    queued = json.loads(await mailbot(env, "outbox", "list", "--status", "queued", "--json"))
    assert len(queued) == 3
    await mailbot(env, "mailbox", "rate", "ops", "none")
    proc, _ = await start_run(env)
    try:
        await server.wait_for_messages_async(4, timeout=15)
        await asyncio.sleep(0.5)  # nothing more arrives
    finally:
        await stop_run(proc)
    mails = {m["id"]: m for m in json.loads(await mailbot(env, "outbox", "list", "--json"))}
    assert set(mails) == set(ids) and {m["status"] for m in mails.values()} == {"sent"}
    received = [m.message["Message-ID"] for m in server.messages]
    assert sorted(received) == sorted(m["message_id"] for m in mails.values())  # each once, with its own ID
