"""Storage benchmark (issue 13): the real `mailbot run` on the embedded store and on PostgreSQL.

Every figure is measured on `mailbot run` subprocesses (local mode) delivering to a loopback
aiosmtpd sink in its own process (it counts what it receives; it can hold DATA replies), with a
custom SMTP mailbox (`--security none`, unpaced), and is set against a baseline from the same run.

Part A, throughput, per store (embedded; PostgreSQL with 1 instance; with 2 instances):
  - bare: plain aiosmtplib sends the same prebuilt messages to the same sink over the same number of
    connections (measured before and after the store's turn; their mean is the baseline);
  - ingest: POST /v1/mails (32 at a time, spread over the instances) while the sink holds every
    DATA reply, so the worker is stuck with its first claims and the API takes the rest;
  - drain: the sink lets go; mails/s from then until the sink has received them all.
  Ratios: drain/bare (goal >= 0.9), ingest/drain (goal >= 2). Two instances get half the
  connections each (MAILBOT_RELAY_CONNECTIONS), so the SMTP connection count stays the same.
  With --cpu, an info row sets the two goals together (ingest >= 1.8x bare) against what one POST
  costs the client, the run(s) and PostgreSQL: the ceilings the machine's cores and each run's
  single core put on POSTs a second.

Part B, scale, per store: a data dir / database holding Q queued mails (behind a mailbox paced at
1/min, so none is due), Q sent mails and a few failed ones, against the same store empty:
  - RSS of an idle run (goal: <= +60 MB over empty), idle CPU over --idle-s s (goal < 1% of a core),
    restart time from spawn to /healthz 200 (goal <= 3 s), worst /healthz latency polled every
    10 ms for --idle-s s (goal <= 50 ms), GET /v1/mails?status=failed&limit=20 latency (goal < 100 ms).
  The store is filled through the services, in process, before `mailbot run` starts
  (RelayService.submit on the same data dir / database: what POST /v1/mails does after parsing);
  the sent ones are then delivered by a real run to the sink (its rate is reported too), and the
  queued ones are deferred by a real run's first pass (its duration is reported) before the
  measured restart.

    .venv/bin/python bench/store_bench.py --quick            # ~2-4 min smoke run (2,000 mails, 10,000 queued)
    .venv/bin/python bench/store_bench.py                    # 10,000 mails x 3 rounds; 100,000 queued
    .venv/bin/python bench/store_bench.py --part a --stores sqlite,pg1
    .venv/bin/python bench/store_bench.py --part b --stores sqlite,pg1 --queued 100000

PostgreSQL is Debian's server started in a temp dir (tests/storage/postgres_server.py: fsync off).
Test-only settings of the run: MAILBOT_SMTP_TIMEOUT_S=600 (so held DATA replies do not time out).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ACCOUNT = "bot@example.com"
TEXT = "hello " * 50
CLK_TCK = os.sysconf("SC_CLK_TCK")
STORES = {"sqlite": (False, 1), "pg1": (True, 1), "pg2": (True, 2)}
LABEL = {"sqlite": "embedded", "pg1": "PostgreSQL x1", "pg2": "PostgreSQL x2"}


def cpu_of(pid: int, reaped: bool = False) -> float:
    """User + system CPU seconds of a process (its threads included; with `reaped`, its children
    that ended too); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15 if reaped else 13]) / CLK_TCK


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            pass
    return found


class Cpu:
    """CPU seconds of named parties over a phase, per mail: where a phase's cores went."""

    def __init__(self, parties: dict[str, Callable[[], float]]) -> None:
        self.parties = parties
        self.start: dict[str, float] = {}
        self.used: dict[str, float] = {}

    def __enter__(self) -> Cpu:
        self.start = {name: read() for name, read in self.parties.items()}
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.used = {name: read() - self.start[name] for name, read in self.parties.items()}
        self.wall = time.monotonic() - self.t0

    def per_mail(self, n: int) -> str:
        """e.g. `client 0.31 sink 0.42 ms/mail, 1.6 cores`"""
        parts = " ".join(f"{name} {used * 1000 / n:.2f}" for name, used in self.used.items())
        return f"{parts} ms/mail, {sum(self.used.values()) / self.wall:.1f} cores"


# ---- the sink (its own process) -------------------------------------------------------------

async def sink_main() -> None:
    """aiosmtpd on 127.0.0.1, any login accepted, RCPT to fail*@ refused (550), nothing parsed.
    stdin commands, one per line, each answered with the count received so far: `count`, `hold`
    (DATA replies wait), `release`, `wait N` (answers once N were received)."""
    import logging

    from aiosmtpd.smtp import SMTP, AuthResult

    logging.getLogger("mail.log").setLevel(logging.ERROR)  # its deprecation chatter about login_data
    held = asyncio.Event()
    held.set()
    reached = asyncio.Event()
    received, target = 0, 0

    class Handler:
        async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
            if address.startswith("fail"):
                return "550 5.1.1 <%s>: no such user" % address
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            nonlocal received
            await held.wait()
            received += 1
            if received >= target:
                reached.set()
            return "250 OK"

    def auth(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        return AuthResult(success=True, auth_data=auth_data)

    handler = Handler()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="localhost", authenticator=auth, auth_require_tls=False),
        "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        if line == "hold":
            held.clear()
        elif line == "release":
            held.set()
        elif line.startswith("wait "):  # answers once `received` reaches the number (no polling)
            target = int(line.split()[1])
            reached.clear()
            if received < target:
                await reached.wait()
        print(received, flush=True)
    server.close()


class Sink:
    def __init__(self) -> None:
        self.port = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> Sink:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-W", "ignore", __file__, "_sink", cwd=str(ROOT),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert self._proc.stdout is not None
        self.port = int((await self._proc.stdout.readline()).decode())
        return self

    async def command(self, what: str = "count") -> int:
        assert self._proc is not None and self._proc.stdin is not None and self._proc.stdout is not None
        async with self._lock:
            self._proc.stdin.write(what.encode() + b"\n")
            await self._proc.stdin.drain()
            return int((await self._proc.stdout.readline()).decode())

    async def wait_for(self, n: int, timeout: float = 3600) -> float:
        """Until the sink has received `n` in all; returns the monotonic time it answered."""
        try:
            await asyncio.wait_for(self.command(f"wait {n}"), timeout)
        except TimeoutError:
            raise TimeoutError(f"sink: fewer than {n} received in {timeout:g} s") from None
        return time.monotonic()

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    async def __aexit__(self, *exc: object) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            await asyncio.wait_for(self._proc.wait(), 10)
        except TimeoutError:
            self._proc.kill()


# ---- stores and `mailbot run` ---------------------------------------------------------------

class Postgres:
    """tests/storage/postgres_server.py's server, started on first use."""

    def __init__(self) -> None:
        self.server: Any = None

    async def database(self) -> str:
        if self.server is None:
            from tests.storage.postgres_server import PostgresServer

            self.server = await asyncio.to_thread(PostgresServer)
            await asyncio.to_thread(self.server.start)
        return str(await asyncio.to_thread(self.server.create_database))

    def cpu_s(self) -> float:
        """CPU seconds of the server: the postmaster, the backends that ended and those it has now."""
        if self.server is None:
            return 0.0
        try:
            pid = int((self.server.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0.0
        return cpu_of(pid, reaped=True) + sum(cpu_of(child) for child in children_of(pid))

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


@dataclass
class Store:
    kind: str
    root: Path
    database_url: str | None
    secret_key: str
    connections: int
    token: str = ""

    def env(self, instance: int = 0, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "MAILBOT_"))}
        env.update(MAILBOT_DATA_DIR=str(self.root / f"data{instance}"), MAILBOT_HTTP_PORT="0", MAILBOT_SMTP_PORT="0",
                   MAILBOT_SECRET_KEY=self.secret_key, MAILBOT_RELAY_CONNECTIONS=str(self.connections),
                   MAILBOT_SMTP_TIMEOUT_S="600", PYTHONPATH=str(ROOT), LANG="C.UTF-8")
        if self.database_url:
            env["MAILBOT_DATABASE_URL"] = self.database_url
        env.update(extra)
        return env

    def settings(self) -> Any:
        from bot.config import Settings

        return Settings(_env_file=None, data_dir=self.root / "data0", secret_key=self.secret_key,  # type: ignore[call-arg]
                        database_url=self.database_url, http_port=0)

    async def cli(self, *args: str, stdin: bytes | None = None) -> str:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=self.env(), cwd=ROOT)
        out, err = await proc.communicate(stdin)
        if proc.returncode != 0:
            raise RuntimeError(f"mailbot {' '.join(args)}: exit {proc.returncode}: {err.decode()[-2000:]}")
        return out.decode()

    async def add_mailbox(self, name: str, port: int, per_minute: str | None = None) -> None:
        await self.cli("mailbox", "add", "--name", name, "--type", "custom", "--account", ACCOUNT, "--host",
                       "127.0.0.1", "--port", str(port), "--security", "none", "--no-verify", "--password-stdin",
                       stdin=b"pw\n")
        if per_minute is not None:
            await self.cli("mailbox", "rate", name, per_minute)

    async def create_token(self) -> None:
        found = re.search(r"mbt_\S+", await self.cli("token", "create", "bench"))
        if found is None:
            raise RuntimeError("no token printed")
        self.token = found.group()


async def new_store(kind: str, tmp: Path, pg: Postgres, connections: int, n: int) -> Store:
    from cryptography.fernet import Fernet

    shared, instances = STORES[kind]
    root = tmp / f"{kind}-{n}"
    root.mkdir()
    url = await pg.database() if shared else None
    per_instance = max(1, connections // instances)
    return Store(kind, root, url, Fernet.generate_key().decode(), per_instance)


class Bot:
    """One `mailbot run` process."""

    def __init__(self, store: Store, instance: int = 0) -> None:
        self.store, self.instance = store, instance
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""
        self.spawned_at = 0.0
        self.stderr: deque[str] = deque(maxlen=40)
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> Bot:
        self.spawned_at = time.monotonic()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, env=self.store.env(self.instance), cwd=ROOT)
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 120
        while True:
            line = (await asyncio.wait_for(self.proc.stderr.readline(), max(1.0, deadline - time.monotonic()))).decode()
            if not line:
                await self.proc.wait()
                raise RuntimeError("mailbot run exited before serving:\n" + "".join(self.stderr))
            self.stderr.append(line)
            if found := re.search(r"http://127\.0\.0\.1:(\d+)/v1/mails", line):
                self.url = f"http://127.0.0.1:{found.group(1)}"
                self._reader = asyncio.create_task(self._drain_stderr())
                return self

    async def _drain_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self.stderr.append(line.decode(errors="replace"))

    async def healthy(self, http: aiohttp.ClientSession, timeout: float = 120) -> float:
        """Polls /healthz every 10 ms until 200; returns seconds since spawn."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                async with http.get(self.url + "/healthz") as resp:
                    if resp.status == 200:
                        return time.monotonic() - self.spawned_at
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.01)
        raise TimeoutError("/healthz never answered 200")

    async def metric(self, http: aiohttp.ClientSession, name: str) -> float:
        async with http.get(self.url + "/metrics") as resp:
            text = await resp.text()
        found = re.search(rf"^{name} (\S+)$", text, re.M)
        return float(found.group(1)) if found else 0.0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def memory_mb(self, key: str = "VmRSS") -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
        return 0.0

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 60)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


# ---- part A: throughput ---------------------------------------------------------------------

def messages(n: int) -> list[tuple[str, bytes]]:
    """What the relay sends, prebuilt with its own MIME builder (the relay builds at enqueue too)."""
    from bot.relay.mime import build_bytes

    return [(f"u{i}@example.com", build_bytes(account=ACCOUNT, to=[f"u{i}@example.com"], subject=f"bench {i}",
                                              text=TEXT, message_id=make_msgid(domain="example.com")))
            for i in range(n)]


async def bare(sink: Sink, prebuilt: list[tuple[str, bytes]], connections: int, cpu: list[str] | None = None) -> float:
    """Mails/s with plain aiosmtplib: `connections` clients (login, as the relay does) share the messages.
    `cpu` gets where the cores went (this process is the client)."""
    import aiosmtplib

    start = await sink.command()

    async def client(share: list[tuple[str, bytes]]) -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=sink.port, start_tls=False, use_tls=False)
        await smtp.connect()
        await smtp.login(ACCOUNT, "pw")
        for to, raw in share:
            await smtp.sendmail(ACCOUNT, [to], raw)
        await smtp.quit()

    with Cpu({"client": time.process_time, "sink": lambda: cpu_of(sink.pid)}) as used:
        t0 = time.monotonic()
        await asyncio.gather(*(client(prebuilt[k::connections]) for k in range(connections)))
        t1 = await sink.wait_for(start + len(prebuilt))
    if cpu is not None:
        cpu.append(used.per_mail(len(prebuilt)))
    return len(prebuilt) / (t1 - t0)


async def post_many(urls: list[str], token: str, n: int, mailbox: str, concurrency: int = 32) -> float:
    """POST n mails, `concurrency` at a time, spread over `urls`; accepted/s."""
    sem = asyncio.Semaphore(concurrency)
    bodies = [json.dumps({"mailbox": mailbox, "to": [f"u{i}@example.com"], "subject": f"bench {i}", "text": TEXT})
              for i in range(n)]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"}) as http:
        async def one(i: int) -> None:
            async with sem, http.post(urls[i % len(urls)] + "/v1/mails", data=bodies[i]) as resp:
                if resp.status != 202:
                    raise RuntimeError(f"POST: {resp.status} {await resp.text()}")
                await resp.read()

        t0 = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.monotonic() - t0)


class Profile:
    """`py-spy record` of a process over one phase (--profile DIR): collapsed stacks, for flame graphs
    or `sort | uniq`; stopped with SIGINT at the phase's end."""

    def __init__(self, directory: Path | None, pid: int, name: str) -> None:
        self.directory, self.pid, self.name = directory, pid, name
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Profile:
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            spy = Path(sys.executable).parent / "py-spy"
            self.proc = await asyncio.create_subprocess_exec(
                str(spy), "record", "-p", str(self.pid), "-r", "200", "-f", "raw", "--threads",
                "-o", str(self.directory / f"{self.name}.txt"), stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL)
            await asyncio.sleep(0.5)  # attached
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            await self.proc.wait()


async def throughput_round(kind: str, tmp: Path, pg: Postgres, sink: Sink, n: int, connections: int,
                           round_no: int, profile: Path | None = None,
                           cpu: list[str] | None = None,
                           post_cost: list[dict[str, float]] | None = None) -> tuple[float, float]:
    """(ingest/s, drain/s) of one store; `cpu` gets where the cores went in each phase, `post_cost`
    the CPU ms one POST took, by party."""
    store = await new_store(kind, tmp, pg, connections, round_no)
    await store.add_mailbox("fast", sink.port)
    await store.create_token()
    bots = [Bot(store, i) for i in range(STORES[kind][1])]
    try:
        await asyncio.gather(*(bot.start() for bot in bots))
        async with aiohttp.ClientSession() as http:
            for bot in bots:
                await bot.healthy(http)
        start = await sink.command("hold")
        parties: dict[str, Callable[[], float]] = {"run": lambda: sum(bot.cpu_s() for bot in bots)}
        if store.database_url:
            parties["pg"] = pg.cpu_s
        with Cpu({**parties, "client": time.process_time}) as ingest_cpu:
            async with Profile(profile, bots[0].pid, f"{kind}-r{round_no + 1}-ingest"):
                ingest = await post_many([bot.url for bot in bots], store.token, n, "fast")
        with Cpu({**parties, "sink": lambda: cpu_of(sink.pid)}) as drain_cpu:
            async with Profile(profile, bots[0].pid, f"{kind}-r{round_no + 1}-drain"):
                t0 = time.monotonic()
                await sink.command("release")
                t1 = await sink.wait_for(start + n)
        if cpu is not None:
            cpu += [ingest_cpu.per_mail(n), drain_cpu.per_mail(n)]
        if post_cost is not None:
            post_cost.append({name: used * 1000 / n for name, used in ingest_cpu.used.items()})
        return ingest, n / (t1 - t0)
    finally:
        await sink.command("release")
        await asyncio.gather(*(bot.stop() for bot in bots))


async def part_a(args: argparse.Namespace, tmp: Path, pg: Postgres, sink: Sink) -> list[Row]:
    prebuilt = messages(args.mails)
    await bare(sink, prebuilt[:500], args.connections)  # warm-up
    rows: list[Row] = []
    for kind in args.stores:
        per_round: list[tuple[float, float, float]] = []
        post_costs: list[dict[str, float]] = []
        for r in range(args.rounds):
            cpu: list[str] = []
            before = await bare(sink, prebuilt, args.connections, cpu)
            try:
                ingest, drain = await throughput_round(kind, tmp, pg, sink, args.mails, args.connections, r,
                                                       args.profile, cpu, post_costs)
            except Exception as exc:  # noqa: BLE001 - report it and go on with the other stores
                print(f"  {LABEL[kind]}: FAILED: {str(exc).strip().splitlines()[-1][:300]}", flush=True)
                break
            after = await bare(sink, prebuilt, args.connections, cpu)
            base = (before + after) / 2
            per_round.append((base, ingest, drain))
            print(f"  {LABEL[kind]} round {r + 1}: bare {before:.0f}/{after:.0f}/s  drain {drain:.0f}/s  "
                  f"ingest {ingest:.0f}/s", flush=True)
            if args.cpu:
                for phase, figures in zip(("bare before", "ingest", "drain", "bare after"), cpu):
                    print(f"    cpu {phase:11}: {figures}", flush=True)
        if not per_round:
            rows.append(Row(f"A {LABEL[kind]}", "drain / bare", None, "n/a", ">= 0.9"))
            continue
        med = statistics.median
        base, ingest, drain = (med(r[k] for r in per_round) for k in range(3))
        rows += [
            Row(f"A {LABEL[kind]}", "drain / bare", med(r[2] / r[0] for r in per_round) >= 0.9,
                f"{med(r[2] / r[0] for r in per_round):.2f}x  ({drain:.0f} vs {base:.0f}/s)", ">= 0.9"),
            Row(f"A {LABEL[kind]}", "ingest / drain", med(r[1] / r[2] for r in per_round) >= 2,
                f"{med(r[1] / r[2] for r in per_round):.2f}x  ({ingest:.0f}/s)", ">= 2"),
        ]
        if args.cpu and post_costs:
            rows.append(both_goals_row(kind, base, post_costs))
    return rows


def both_goals_row(kind: str, base: float, post_costs: list[dict[str, float]]) -> Row:
    """Whether this machine can meet both goals at once: they need ingest >= 1.8x bare, and one POST
    costs what the client, the run(s) and PostgreSQL spent on it; the cores, and each run's one
    core, bound the POSTs a second."""
    cost = {name: statistics.median(c[name] for c in post_costs) for name in post_costs[0]}
    instances = STORES[kind][1]
    cores = os.cpu_count() or 1
    by_cores = 1000 * cores / sum(cost.values())
    by_run = 1000 * instances / cost["run"]
    parts = " + ".join(f"{name} {ms:.2f}" for name, ms in cost.items())
    return Row(f"A {LABEL[kind]}", "info: POST ceiling vs both goals", None,
               f"need {1.8 * base:.0f}/s; {parts} ms/POST: <= {by_cores:.0f}/s on {cores} cores, "
               f"<= {by_run:.0f}/s for {instances} run(s)", "-")


# ---- part B: scale --------------------------------------------------------------------------

async def fill(store: Store, mailbox: str, n: int, failing: int = 0) -> float:
    """Queue n mails (and `failing` ones the sink refuses) through RelayService.submit, in process; mails/s."""
    from bot.app import open_app
    from bot.relay.models import MailRequest

    async with open_app(store.settings()) as app:
        async def one(i: int, to: str) -> None:
            await app.relay.submit(MailRequest(mailbox=mailbox, to=[to], subject=f"bench {i}", text=TEXT))

        t0 = time.monotonic()
        todo = [(i, f"u{i}@example.com") for i in range(n)] + [(i, f"fail{i}@example.com") for i in range(failing)]
        for k in range(0, len(todo), 256):
            await asyncio.gather(*(one(i, to) for i, to in todo[k:k + 256]))
        return len(todo) / (time.monotonic() - t0)


async def quiet(bot: Bot, limit_s: float = 1800, window_s: float = 2.0, share: float = 0.05) -> float:
    """Waits until the run uses < `share` of a core over `window_s`; seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        c0 = bot.cpu_s()
        await asyncio.sleep(window_s)
        if (bot.cpu_s() - c0) / window_s < share:
            return time.monotonic() - t0 - window_s
    raise TimeoutError("the run never went quiet")


@dataclass
class Idle:
    restart_s: float = 0.0
    rss_mb: float = 0.0
    cpu_share: float = 0.0
    stall_ms: float = 0.0
    p50_ms: float = 0.0
    list_p50_ms: float = 0.0
    list_max_ms: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


async def measure_idle(store: Store, idle_s: float) -> Idle:
    """Restart (spawn to /healthz 200), settle, then RSS, idle CPU, /healthz stalls, failed-listing latency."""
    out = Idle()
    bot = Bot(store)
    await bot.start()
    try:
        async with aiohttp.ClientSession() as http:
            out.restart_s = await bot.healthy(http)
            out.extra["settle_s"] = await quiet(bot)
            await asyncio.sleep(1.0)
            c0, t0 = bot.cpu_s(), time.monotonic()
            await asyncio.sleep(idle_s)
            out.cpu_share = (bot.cpu_s() - c0) / (time.monotonic() - t0)
            out.rss_mb = bot.memory_mb()
            latencies = []
            t0 = time.monotonic()
            while time.monotonic() - t0 < idle_s:
                t = time.perf_counter()
                async with http.get(bot.url + "/healthz") as resp:
                    await resp.read()
                latencies.append(time.perf_counter() - t)
                await asyncio.sleep(0.01)
            out.stall_ms, out.p50_ms = max(latencies) * 1000, statistics.median(latencies) * 1000
            listing = []
            for _ in range(21):
                t = time.perf_counter()
                async with http.get(bot.url + "/v1/mails", params={"status": "failed", "limit": "20"},
                                    headers={"Authorization": f"Bearer {store.token}"}) as resp:
                    body = await resp.read()
                    assert resp.status == 200, body
                listing.append(time.perf_counter() - t)
                await asyncio.sleep(0.02)
            out.extra["listed"] = len(json.loads(body)["mails"])
            out.list_p50_ms, out.list_max_ms = statistics.median(listing) * 1000, max(listing) * 1000
    finally:
        await bot.stop()
    return out


async def part_b(args: argparse.Namespace, tmp: Path, pg: Postgres, sink: Sink) -> list[Row]:
    rows: list[Row] = []
    q = args.queued
    for kind in args.stores:
        if kind == "pg2":
            continue  # one instance's figures; pg2 only changes throughput
        label = f"B {LABEL[kind]}"
        try:
            store = await new_store(kind, tmp, pg, args.connections, 100)
            await store.add_mailbox("fast", sink.port)
            await store.add_mailbox("slow", sink.port, "1")
            await store.create_token()
            print(f"  {LABEL[kind]}: empty store (baseline)", flush=True)
            await measure_idle(store, 1.0)  # first start (creates the files / schema, warms the page cache)
            empty = await measure_idle(store, args.idle_s)

            rate = await fill(store, "fast", q, args.failed)
            print(f"  {LABEL[kind]}: queued {q} + {args.failed} failing in process at {rate:.0f}/s; delivering",
                  flush=True)
            start = await sink.command()
            bot = Bot(store)
            await bot.start()
            try:
                async with aiohttp.ClientSession() as http:
                    await bot.healthy(http)
                    t0 = time.monotonic()
                    t1 = await sink.wait_for(start + q)
                    while await bot.metric(http, "mailbot_mails_failed_total") < args.failed:
                        await asyncio.sleep(0.1)
                    sent_hwm = bot.memory_mb("VmHWM")
            finally:
                await bot.stop()
            drain = q / (t1 - t0)

            rate = await fill(store, "slow", q)
            print(f"  {LABEL[kind]}: sent {q} at {drain:.0f}/s; queued {q} for the paced mailbox at {rate:.0f}/s; "
                  "first pass", flush=True)
            bot = Bot(store)
            await bot.start()
            try:
                async with aiohttp.ClientSession() as http:
                    await bot.healthy(http)
                    t0 = time.monotonic()
                    passed = await quiet(bot)
                    pass_hwm = bot.memory_mb("VmHWM")
            finally:
                await bot.stop()
            print(f"  {LABEL[kind]}: first pass (deferring {q}) took {passed:.1f} s; measuring", flush=True)
            full = await measure_idle(store, args.idle_s)
        except Exception as exc:  # noqa: BLE001 - report it and go on with the other stores
            print(f"  {LABEL[kind]}: FAILED: {str(exc).strip().splitlines()[-1][:300]}", flush=True)
            rows.append(Row(label, "scale", None, "n/a", ""))
            continue
        n = f"{q // 1000}k"
        rows += [
            Row(label, f"RSS idle, {n} queued+sent vs empty", full.rss_mb - empty.rss_mb <= 60,
                f"{full.rss_mb - empty.rss_mb:+.1f} MB ({full.rss_mb:.0f} vs {empty.rss_mb:.0f}; peak {max(sent_hwm, pass_hwm):.0f})",
                "<= +60 MB"),
            Row(label, f"idle CPU over {args.idle_s:g} s", full.cpu_share < 0.01,
                f"{full.cpu_share * 100:.2f}% (empty {empty.cpu_share * 100:.2f}%)", "< 1% core"),
            Row(label, "restart to /healthz 200", full.restart_s <= 3,
                f"{full.restart_s:.2f} s (empty {empty.restart_s:.2f} s)", "<= 3 s"),
            Row(label, f"worst /healthz, 10 ms polls {args.idle_s:g} s", full.stall_ms <= 50,
                f"{full.stall_ms:.1f} ms (p50 {full.p50_ms:.1f}; empty {empty.stall_ms:.1f})", "<= 50 ms"),
            Row(label, "GET failed&limit=20 p50/max", full.list_p50_ms < 100,
                f"{full.list_p50_ms:.1f}/{full.list_max_ms:.1f} ms (empty {empty.list_p50_ms:.1f}/{empty.list_max_ms:.1f})",
                "< 100 ms"),
            Row(label, f"info: drain of {n} / first pass / settle", None,
                f"{drain:.0f}/s, {passed:.1f} s, {full.extra['settle_s']:.1f} s", ""),
        ]
    return rows


# ---- report -----------------------------------------------------------------------------------

@dataclass
class Row:
    section: str
    figure: str
    met: bool | None
    value: str
    goal: str


def report(rows: list[Row]) -> None:
    print()
    print(f"{'':18} {'figure':40} {'value':58} {'goal':10} met")
    for row in rows:
        met = "-" if row.met is None else ("yes" if row.met else "NO")
        print(f"{row.section:18} {row.figure:40} {row.value:58} {row.goal:10} {met}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 mails x 1 round; 10,000 queued; 5 s idle")
    parser.add_argument("--part", choices=("a", "b", "all"), default="all")
    parser.add_argument("--stores", default="sqlite,pg1,pg2", help="of sqlite, pg1, pg2")
    parser.add_argument("--mails", type=int)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections in all (bare and relay)")
    parser.add_argument("--queued", type=int)
    parser.add_argument("--failed", type=int, default=5)
    parser.add_argument("--idle-s", type=float)
    parser.add_argument("--cpu", action="store_true", help="print each phase's CPU per mail by party "
                        "(bare: client, sink; ingest: run(s), PostgreSQL, client; drain: run(s), PostgreSQL, sink)")
    parser.add_argument("--profile", type=Path, help="py-spy record part A's ingest and drain (of the first "
                        "instance) into this dir; the profiler's cost lowers those figures")
    args = parser.parse_args()
    args.mails = args.mails or (2000 if args.quick else 10_000)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.queued = args.queued or (10_000 if args.quick else 100_000)
    args.idle_s = args.idle_s or (5.0 if args.quick else 30.0)
    args.stores = [s for s in args.stores.split(",") if s]
    unknown = set(args.stores) - set(STORES)
    if unknown:
        parser.error(f"unknown stores: {', '.join(sorted(unknown))}")
    print(f"mails={args.mails} rounds={args.rounds} connections={args.connections} queued={args.queued} "
          f"idle={args.idle_s:g}s stores={','.join(args.stores)} cores={os.cpu_count()}", flush=True)
    pg = Postgres()
    rows: list[Row] = []
    try:
        with tempfile.TemporaryDirectory(prefix="mailbot-store-bench-") as tmp:
            async with Sink() as sink:
                if args.part in ("a", "all"):
                    print("part A: throughput", flush=True)
                    rows += await part_a(args, Path(tmp), pg, sink)
                if args.part in ("b", "all"):
                    print("part B: scale", flush=True)
                    rows += await part_b(args, Path(tmp), pg, sink)
    finally:
        pg.close()
    report(rows)


if __name__ == "__main__":
    if sys.argv[1:2] == ["_sink"]:
        asyncio.run(sink_main())
    else:
        asyncio.run(main())
