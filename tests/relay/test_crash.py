"""Crash safety with real processes: `mailbot run` killed with SIGKILL mid-delivery, restarted.

Every accepted mail arrives; only mails in flight at the kill may arrive twice, with the same
Message-ID, so the unique Message-IDs are exactly the accepted mails.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import open_app
from bot.relay.tokens import TokenStore
from tests.relay.conftest import add_mailbox, relay_settings
from tests.support.smtpd import SmtpServer

N = 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "MAILBOT_"))}
    return {**env, "MAILBOT_DATA_DIR": str(data_dir), "MAILBOT_HTTP_PORT": str(port), "MAILBOT_SMTP_PORT": "0",
            "MAILBOT_RETRY_BASE_S": "0.05", "MAILBOT_RELAY_POLL_S": "0.2", "MAILBOT_SMTP_TIMEOUT_S": "5"}


async def start_bot(env: dict[str, str], port: int) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env)
    deadline = time.monotonic() + 20
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            assert proc.returncode is None, (await proc.stderr.read()).decode()  # type: ignore[union-attr]
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return proc
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    raise AssertionError("mailbot run did not start serving")


async def setup(data_dir: Path, server: SmtpServer) -> str:
    async with open_app(relay_settings(data_dir)) as app:
        await add_mailbox(app, "ops", server)
        return await TokenStore(app.storage).create("crash")


async def post_all(port: int, token: str, n: int) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"}
    sem = asyncio.Semaphore(16)
    async with aiohttp.ClientSession(headers=headers) as http:
        async def one(i: int) -> str:
            async with sem, http.post(f"http://127.0.0.1:{port}/v1/mails", json={
                    "to": [f"user{i}@example.com"], "subject": f"mail {i}", "text": f"body {i}"}) as resp:
                assert resp.status == 202, await resp.text()
                return str((await resp.json())["id"])
        return await asyncio.gather(*(one(i) for i in range(n)))


def unique_ids(server: SmtpServer) -> set[str]:
    return {str(m.message["Message-ID"]) for m in server.messages}


async def wait_until(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


@pytest.mark.timeout(180)
async def test_sigkill_mid_delivery_loses_nothing(tmp_path: Path, smtp_server: Any) -> None:
    server = smtp_server(delay_s=0.01)  # slow enough that the kill lands mid-delivery
    data_dir, port = tmp_path / "data", free_port()
    token = await setup(data_dir, server)
    env = env_for(data_dir, port)

    proc = await start_bot(env, port)
    ids = await post_all(port, token, N)
    assert len(set(ids)) == N
    await wait_until(lambda: len(server.messages) >= 50, 30)
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    delivered_before = len(unique_ids(server))
    assert 0 < delivered_before < N, "the kill must land mid-delivery"

    proc = await start_bot(env, port)
    await wait_until(lambda: len(unique_ids(server)) >= N, 90)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        async with http.get(f"http://127.0.0.1:{port}/v1/mails?status=sent&limit=1000") as resp:
            sent = (await resp.json())["mails"]
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 30) == 0

    received = unique_ids(server)
    assert len(received) == N
    assert {m["id"] for m in sent} == set(ids)
    assert {m["message_id"] for m in sent} == received
    duplicates = len(server.messages) - N
    # only mails in flight at the kill: one per connection, plus sends whose group commit was pending
    assert duplicates <= 32, duplicates


@pytest.mark.timeout(60)
async def test_sigterm_finishes_in_flight_sends_and_exits_0(tmp_path: Path, smtp_server: Any) -> None:
    server = smtp_server(delay_s=0.5)
    data_dir, port = tmp_path / "data", free_port()
    token = await setup(data_dir, server)
    env = env_for(data_dir, port)
    proc = await start_bot(env, port)
    ids = await post_all(port, token, 10)
    await asyncio.sleep(0.2)  # the first sends are in DATA now
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 30) == 0
    first = len(server.messages)
    assert first >= 1  # the in-flight ones finished rather than being cut off

    proc = await start_bot(env, port)
    await wait_until(lambda: len(unique_ids(server)) >= 10, 30)
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 30) == 0
    assert len(unique_ids(server)) == 10 and len(server.messages) == 10  # nothing sent twice
    assert len(ids) == 10
