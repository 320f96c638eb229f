"""Relay benchmark: delivery through the API and outbox vs bare aiosmtplib, and API ingest rate.

Same run, same loopback aiosmtpd sink, same number of SMTP connections for both. Prints rates
and the ratios the issue sets goals for (delivery >= 0.9x bare; ingest >= 2x delivery).

    .venv/bin/python bench/relay_bench.py [--mails 2000] [--connections 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import aiosmtplib
from email.utils import make_msgid

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import open_app  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.relay.alerts import LoggingSink  # noqa: E402
from bot.adapters.relay_component import RelayComponent  # noqa: E402
from bot.relay.mime import build_bytes  # noqa: E402
from tests.relay.conftest import add_mailbox  # noqa: E402

ACCOUNT = "bot@example.com"


class Sink:
    """The loopback aiosmtpd sink in its own process, so it does not share a GIL with either arm."""

    def __init__(self) -> None:
        self.port = 0
        self._proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Sink:
        code = ("import sys; from tests.support.smtpd import SmtpServer; s = SmtpServer(); s.start(); "
                "print(s.port, flush=True); sys.stdin.read(); s.stop()")
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-W", "ignore", "-c", code, cwd=str(ROOT),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert self._proc.stdout is not None
        self.port = int((await self._proc.stdout.readline()).decode())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.close()
        await self._proc.wait()


async def wait_sent(component: RelayComponent, n: int) -> None:
    while component.relay.metrics.sent < n:
        await asyncio.sleep(0.002)


async def bare(server: Sink, mails: int, connections: int) -> float:
    """Mails/s with plain aiosmtplib: `connections` clients, each building (with the relay's own
    MIME builder, so only the relay's overhead differs) and sending its share in turn."""
    async def client(share: int) -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=server.port, start_tls=False, use_tls=False)
        await smtp.connect()
        await smtp.login(ACCOUNT, "pw")
        for i in range(share):
            raw = build_bytes(account=ACCOUNT, to=[f"u{i}@example.com"], subject=f"bench {i}", text="hello " * 50,
                              message_id=make_msgid(domain="example.com"))
            await smtp.sendmail(ACCOUNT, [f"u{i}@example.com"], raw)
        await smtp.quit()

    t0 = time.monotonic()
    await asyncio.gather(*(client(mails // connections) for _ in range(connections)))
    return mails / (time.monotonic() - t0)


async def post_many(url: str, token: str, mails: int, concurrency: int = 32) -> None:
    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        async def one(i: int) -> None:
            async with sem, http.post(url + "/v1/mails", json={
                    "to": [f"u{i}@example.com"], "subject": f"bench {i}", "text": "hello " * 50}) as resp:
                assert resp.status == 202, await resp.text()
        await asyncio.gather(*(one(i) for i in range(mails)))


async def post_from_client_process(url: str, token: str, mails: int) -> float:
    """The workflow side runs in its own process, like a real client, so it costs the relay no CPU.

    Returns the seconds the client spent posting (its start-up excluded).
    """
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--post", url, token, str(mails), cwd=str(ROOT), stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    return float(out.decode().split()[-1])


async def relay(server: Sink, mails: int, connections: int, data_dir: Path) -> tuple[float, float, float]:
    """(ingest/s with the worker paused, outbox drain/s, end-to-end POST-to-delivered/s)."""
    settings = Settings(data_dir=data_dir, http_port=0, relay_connections=connections, relay_poll_s=1.0)
    async with open_app(settings) as app:
        await add_mailbox(app, "bench", server)
        component = RelayComponent(app, LoggingSink())
        token = await component.relay.tokens.create("bench")
        worker_start = component.worker.start
        component.worker.start = lambda: asyncio.sleep(0)  # type: ignore[method-assign]  # API only first
        await component.start()
        url = f"http://127.0.0.1:{component.port}"
        try:
            ingest = mails / await post_from_client_process(url, token, mails)

            t0 = time.monotonic()
            await worker_start()
            await wait_sent(component, mails)
            drain = mails / (time.monotonic() - t0)

            client = asyncio.create_task(post_from_client_process(url, token, mails))
            while component.relay.metrics.accepted <= mails:  # the clock starts at the first POST
                await asyncio.sleep(0.001)
            t0 = time.monotonic()
            await wait_sent(component, 2 * mails)
            end_to_end = mails / (time.monotonic() - t0)
            await client
        finally:
            await component.stop()
    return ingest, drain, end_to_end


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--post", nargs=3, metavar=("URL", "TOKEN", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.post:  # the client process
        t0 = time.monotonic()
        await post_many(args.post[0], args.post[1], int(args.post[2]))
        print(f"{time.monotonic() - t0:.6f}")
        return
    rows: list[tuple[float, float, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with Sink() as server:
            await bare(server, 1000, args.connections)  # warm-up (the sink's first run is slow)
            # Each round measures bare, then the relay, then bare again: a noisy spell on this machine
            # shows as a gap between the two bare runs, and the ratios use their mean.
            for i in range(args.rounds):
                before = await bare(server, args.mails, args.connections)
                ingest, drain, e2e = await relay(server, args.mails, args.connections, Path(tmp) / f"data{i}")
                after = await bare(server, args.mails, args.connections)
                rows.append(((before + after) / 2, drain, e2e, ingest))
                print(f"round {i + 1}: bare {before:.0f}/{after:.0f}  drain {drain:.0f}  API->delivered {e2e:.0f}  "
                      f"ingest {ingest:.0f} /s")
    med = statistics.median
    bare_rate, drain, e2e, ingest = (med(r[k] for r in rows) for k in range(4))
    print(f"mails={args.mails} connections={args.connections} rounds={args.rounds} (medians; ratios are medians "
          "of per-round ratios)")
    print(f"bare aiosmtplib          {bare_rate:8.1f} /s")
    print(f"relay outbox drain       {drain:8.1f} /s  ratio vs bare {med(r[1] / r[0] for r in rows):.2f}x (goal >= 0.9)")
    print(f"relay API->delivered     {e2e:8.1f} /s  ratio vs bare {med(r[2] / r[0] for r in rows):.2f}x")
    print(f"API ingest (worker idle) {ingest:8.1f} /s  ratio vs drain {med(r[3] / r[1] for r in rows):.2f}x (goal >= 2)")


if __name__ == "__main__":
    asyncio.run(main())
