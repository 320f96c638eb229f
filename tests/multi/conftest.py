"""Several real `mailbot run` processes on one real PostgreSQL, with a real aiosmtpd server.

`deploy(url)` gives a `Deployment`: the shared environment (MAILBOT_DATABASE_URL, one
MAILBOT_SECRET_KEY, a short MAILBOT_RELAY_LEASE_S), the CLI against that database, and `start()` for
instances, each with its own data dir and HTTP port, logging to a file (never a pipe nobody reads).
Every process is stopped at teardown, SIGTERM then SIGKILL, whatever the test did.
`timed_smtp(**opts)` starts a `TimedSmtpServer` (tests.support.smtpd's, plus the time each
message arrived); `private_postgres` is a PostgreSQL server of the test's own, to stop and start.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from cryptography.fernet import Fernet

from tests.storage.postgres_server import PostgresServer, running_server
from tests.support.smtpd import ReceivedMessage, SmtpServer

USER, PASSWORD = "bot@example.com", "pw-123456"
STARTED = re.compile(rb"HTTP API: http://127\.0\.0\.1:(\d+)/")
START_TIMEOUT_S = 30.0


class TimedSmtpServer(SmtpServer):
    """An SmtpServer that also notes when (wall clock, `time.time()`) it accepted each message."""

    def __init__(self, **opts: Any) -> None:
        super().__init__(**opts)
        self._received_at: list[float] = []

    def _record_message(self, message: ReceivedMessage) -> None:
        with self._lock:
            self._messages.append(message)
            self._received_at.append(time.time())

    def timeline(self) -> list[tuple[float, ReceivedMessage]]:
        with self._lock:
            return list(zip(self._received_at, self._messages))

    def count(self) -> int:
        with self._lock:
            return len(self._messages)


async def poll(condition: Callable[[], bool | Awaitable[bool]], timeout: float, what: str,
               every: float = 0.05) -> float:
    """Check `condition()` (awaited if it is a coroutine) until true; the seconds it took. Fails naming
    `what` after `timeout`."""
    started = time.monotonic()
    while not await _value(condition()):
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(every)
    return time.monotonic() - started


async def _value(result: bool | Awaitable[bool]) -> bool:
    return await result if inspect.isawaitable(result) else result


async def queue_empty(deployment: Deployment) -> bool:
    """Nothing left to send: a mail leaves the queue only once its 'sent' (or 'failed') record landed."""
    return (await deployment.query("SELECT count(*) AS n FROM mailbot_docs WHERE tbl = 'outbox_queue'"))[0]["n"] == 0


async def _body(resp: aiohttp.ClientResponse) -> Any:
    """The JSON body; anything else (a bare 500 page) as text, for the assertion to show."""
    if resp.content_type == "application/json":
        return await resp.json()
    return await resp.text()


@dataclass
class Instance:
    """One `mailbot run` process."""

    name: str
    proc: asyncio.subprocess.Process
    port: int
    log: Path
    http: aiohttp.ClientSession
    token: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    async def post(self, body: dict[str, Any], token: str | None = None) -> tuple[int, Any, float]:
        """POST /v1/mails: (status, JSON body, seconds it took)."""
        started = time.monotonic()
        async with self.http.post(self.url + "/v1/mails", json=body,
                                  headers={"Authorization": f"Bearer {token or self.token}"}) as resp:
            return resp.status, await _body(resp), time.monotonic() - started

    async def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        async with self.http.get(self.url + path, headers={"Authorization": f"Bearer {token or self.token}"}) as resp:
            return resp.status, await _body(resp)

    async def healthz(self) -> tuple[int, Any, float]:
        started = time.monotonic()
        async with self.http.get(self.url + "/healthz") as resp:
            return resp.status, await _body(resp), time.monotonic() - started

    async def metrics(self) -> dict[str, float]:
        async with self.http.get(self.url + "/metrics") as resp:
            text = await resp.text()
        return {name: float(value) for name, value in re.findall(r"^(mailbot_\w+) (\S+)$", text, re.M)}

    async def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait (SIGKILL past `timeout`); the exit code."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        assert self.proc.returncode is not None
        return self.proc.returncode

    async def kill(self) -> None:
        """kill -9."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()


@dataclass
class Deployment:
    """Instances sharing one database; the CLI on it; direct reads of it for checks."""

    database_url: str
    root: Path
    http: aiohttp.ClientSession
    env: dict[str, str]
    instances: list[Instance] = field(default_factory=list)

    def env_for(self, name: str, **extra: str) -> dict[str, str]:
        data_dir = self.root / name
        return {**self.env, "MAILBOT_DATA_DIR": str(data_dir), **extra}

    async def cli(self, *args: str, stdin: str = "", check: bool = True) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=self.env_for("cli"))
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        code = proc.returncode or 0
        if check:
            assert code == 0, f"mailbot {' '.join(args)} exited {code}: {err.decode()}"
        return code, out.decode(), err.decode()

    async def add_mailbox(self, name: str, server: SmtpServer) -> None:
        await self.cli("mailbox", "add", "--name", name, "--account", USER, "--type", "custom", "--host", "127.0.0.1",
                       "--port", str(server.port), "--security", "none", "--password-stdin", "--no-verify",
                       stdin=PASSWORD + "\n")

    async def create_token(self, name: str) -> str:
        return str(json.loads((await self.cli("token", "create", name, "--json"))[1])["token"])

    async def start(self, n: int = 1, token: str = "", **extra: str) -> list[Instance]:
        """`n` more `mailbot run` processes (in parallel), each with its own data dir and port."""
        return list(await asyncio.gather(*(self._start_one(f"run{len(self.instances) + i}", token, extra)
                                           for i in range(n))))

    async def _start_one(self, name: str, token: str, extra: dict[str, str]) -> Instance:
        log = self.root / f"{name}.log"
        with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=out, env=self.env_for(name, **extra))
        instance = Instance(name, proc, 0, log, self.http, token)
        self.instances.append(instance)  # stopped at teardown even if it never starts serving
        deadline = time.monotonic() + START_TIMEOUT_S
        while (found := STARTED.search(log.read_bytes())) is None:
            if proc.returncode is not None or time.monotonic() > deadline:
                raise AssertionError(f"{name} did not start (exit {proc.returncode}):\n{instance.log_text()[-3000:]}")
            await asyncio.sleep(0.05)
        instance.port = int(found.group(1))
        return instance

    async def query(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.database_url, timeout=10)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def stop_all(self) -> None:
        await asyncio.gather(*(instance.stop() for instance in self.instances), return_exceptions=True)


def base_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "MAILBOT_"))}
    return {**env, "LANG": "C.UTF-8", "MAILBOT_HTTP_PORT": "0", "MAILBOT_SMTP_PORT": "0", "MAILBOT_DATABASE_URL": database_url,
            "MAILBOT_SECRET_KEY": Fernet.generate_key().decode(), "MAILBOT_RELAY_LEASE_S": "5",
            "MAILBOT_SMTP_TIMEOUT_S": "5", "MAILBOT_RETRY_BASE_S": "0.2", "MAILBOT_RELAY_STOP_GRACE_S": "5",
            **extra}


@pytest.fixture
def timed_smtp() -> Iterator[Callable[..., TimedSmtpServer]]:
    """`timed_smtp(**opts)` starts a TimedSmtpServer; all stop at teardown."""
    servers: list[TimedSmtpServer] = []

    def make(**opts: Any) -> TimedSmtpServer:
        server = TimedSmtpServer(**opts)
        server.start()
        servers.append(server)
        return server

    try:
        yield make
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
async def deploy(tmp_path: Path, timed_smtp: Any) -> AsyncIterator[Callable[..., Deployment]]:
    """`deploy(database_url, **env)`: a Deployment; its processes stop at teardown (before the SMTP
    servers, which this fixture depends on)."""
    deployments: list[Deployment] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        def make(database_url: str, **extra: str) -> Deployment:
            root = tmp_path / f"deployment{len(deployments)}"
            root.mkdir()
            deployment = Deployment(database_url, root, http, base_env(database_url, **extra))
            deployments.append(deployment)
            return deployment

        try:
            yield make
        finally:
            for deployment in deployments:
                await deployment.stop_all()


@pytest.fixture
def private_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own (it stops and starts it); gone at teardown."""
    yield from running_server()
