"""Chat throughput and handling latency through the DingTalk emulator: mailbot vs a bare SDK echo bot.

Both bots run in this process against the same emulator, one after the other, and get the same
messages spread over several conversations. Latency = push of a frame → its reply reaching the
sessionWebhook. Goal (issue 5): mailbot ≥ 0.8× the echo bot's rate, p99 < 50 ms.

Run from the repo root: `.venv/bin/python bench/chat_bench.py [--rounds R] [--messages N] [--conversations C] [--fresh-texts]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
import websockets  # noqa: E402
from dingtalk_stream import AckMessage, CallbackMessage, ChatbotHandler, ChatbotMessage, Credential, DingTalkStreamClient  # noqa: E402

from bot.adapters.dingtalk import DingTalkAdapter  # noqa: E402
from bot.app import open_app  # noqa: E402
from bot.chat.router import Router  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.emulator import DingTalkEmulator  # noqa: E402

TEXTS = ("帮助", "怎么获取QQ邮箱授权码", "邮箱列表", "how do I get a gmail app password", "今天天气不错")


class EchoClient(DingTalkStreamClient):
    """The SDK's own routing and per-frame tasks; only the blocking connection-open moves to a thread."""

    async def start(self) -> None:
        self.pre_start()
        connection = await asyncio.to_thread(self.open_connection)
        uri = f'{connection["endpoint"]}?ticket={connection["ticket"]}'
        async with websockets.connect(uri) as websocket:
            self.websocket = websocket
            tasks: set[asyncio.Task[None]] = set()
            async for raw in websocket:
                task = asyncio.create_task(self.background_task(json.loads(raw)))
                tasks.add(task)
                task.add_done_callback(tasks.discard)


class EchoHandler(ChatbotHandler):
    def __init__(self, http: aiohttp.ClientSession) -> None:
        super().__init__()
        self.http = http

    async def process(self, callback: CallbackMessage) -> tuple[int, str]:
        incoming = ChatbotMessage.from_dict(callback.data)
        body = {"msgtype": "text", "text": {"content": incoming.text.content.strip()}}
        async with self.http.post(incoming.session_webhook, json=body) as response:
            await response.read()
        return AckMessage.STATUS_OK, "OK"


class Arrivals(defaultdict[str, list[float]]):
    """Reply arrival times per conversation, plus a waiter per conversation for the closed loop."""

    def __init__(self) -> None:
        super().__init__(list)
        self.waiters: dict[str, asyncio.Future[None]] = {}


def record_replies(emu: DingTalkEmulator) -> Arrivals:
    """Wrap the emulator's webhook endpoint to note when each conversation's replies arrive."""
    arrivals = Arrivals()
    webhooks = emu._webhooks  # the bench needs arrival times, which the public record lacks
    post = webhooks.post

    def timed(token: str, body: Any) -> dict[str, Any]:
        answer = post(token, body)
        if answer.get("errcode") == 0:
            conversation = webhooks.messages[-1].conversation_id
            arrivals[conversation].append(time.perf_counter())
            waiter = arrivals.waiters.pop(conversation, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        return answer

    webhooks.post = timed  # type: ignore[method-assign]
    return arrivals


async def drive(emu: DingTalkEmulator, arrivals: Arrivals, n: int, conversations: int,
                fresh: bool = False) -> tuple[float, list[float]]:
    """Closed loop: each conversation sends its next message when the previous one was answered,
    as users do; n messages in all. Returns (messages/s, sorted latencies in ms).

    `fresh` numbers every text (`… (7)`), so no question is ever answered from the matcher's cache.
    """
    arrivals.clear()
    latencies: list[float] = []
    loop = asyncio.get_running_loop()

    async def user(u: int) -> None:
        conversation = f"cid-oto-user{u}"
        for i in range(u, n, conversations):
            waiter = arrivals.waiters[conversation] = loop.create_future()
            sent = time.perf_counter()
            text = TEXTS[i % len(TEXTS)] + (f" ({i})" if fresh else "")
            await emu.send_chat(text, sender_staff_id=f"user{u}", is_admin=True)
            await waiter
            latencies.append((arrivals[conversation][-1] - sent) * 1000)

    start = time.perf_counter()
    await asyncio.gather(*(user(u) for u in range(conversations)))
    return n / (time.perf_counter() - start), sorted(latencies)


def p(latencies: list[float], q: float) -> float:
    return latencies[min(len(latencies) - 1, int(q * len(latencies)))]


async def measure(emu: DingTalkEmulator, arrivals: Arrivals, args: argparse.Namespace,
                  start: Callable[[], Awaitable[Callable[[], Awaitable[None]]]]) -> tuple[float, list[float]]:
    """One round of one bot: connect, warm up, drive, disconnect. (messages/s, sorted latencies)."""
    connected = emu.connections
    stop = await start()
    try:
        await emu.wait_connected(connected + 1)
        await drive(emu, arrivals, min(50, args.messages), args.conversations)  # warm-up
        return await drive(emu, arrivals, args.messages, args.conversations, args.fresh_texts)
    finally:
        await stop()


def line(name: str, rates: list[float], latencies: list[float]) -> str:
    return (f"{name:8s} {statistics.median(rates):8.0f} msg/s (median of {len(rates)})   "
            f"p50 {p(latencies, 0.5):6.2f} ms   p99 {p(latencies, 0.99):6.2f} ms")


async def main(args: argparse.Namespace) -> None:
    logging.getLogger("dingtalk_stream").setLevel(logging.CRITICAL)  # cancelling the echo bot is noisy
    logging.getLogger("dingtalk_stream.client").setLevel(logging.CRITICAL)
    async with DingTalkEmulator() as emu, aiohttp.ClientSession() as http:
        arrivals = record_replies(emu)
        DingTalkStreamClient.OPEN_CONNECTION_API = f"{emu.endpoint}/v1.0/gateway/connections/open"

        async def start_echo() -> Callable[[], Awaitable[None]]:
            client = EchoClient(Credential(emu.client_id, emu.client_secret))
            client.register_callback_handler(ChatbotMessage.TOPIC, EchoHandler(http))
            task = asyncio.create_task(client.start())

            async def stop() -> None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            return stop

        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(_env_file=None, data_dir=Path(tmp), **{  # type: ignore[call-arg]
                "DINGTALK_CLIENT_ID": emu.client_id, "DINGTALK_CLIENT_SECRET": emu.client_secret,
                "DINGTALK_OPENAPI_ENDPOINT": emu.endpoint})
            async with open_app(settings) as app:
                async def start_mailbot() -> Callable[[], Awaitable[None]]:
                    adapter = DingTalkAdapter(settings, Router(app).handle)
                    await adapter.start()
                    return adapter.stop

                # Rounds alternate the two bots, so a noisy spell on this machine hits both alike;
                # the ratio reported is the median of the per-round ratios.
                rates: dict[str, list[float]] = {"echo": [], "mailbot": []}
                latencies: dict[str, list[float]] = {"echo": [], "mailbot": []}
                for _ in range(args.rounds):
                    for name, start in (("echo", start_echo), ("mailbot", start_mailbot)):
                        rate, lat = await measure(emu, arrivals, args, start)
                        rates[name].append(rate)
                        latencies[name] += lat
    for name in rates:
        print(line(name, rates[name], sorted(latencies[name])))
    ratios = [bot / echo for echo, bot in zip(rates["echo"], rates["mailbot"])]
    bot_p99 = p(sorted(latencies["mailbot"]), 0.99)
    print(f"rounds   {' '.join(f'{r:.2f}' for r in ratios)}")
    print(f"ratio    {statistics.median(ratios):.2f}x the echo bot's rate, median of {len(ratios)} rounds (goal ≥ 0.8x); "
          f"mailbot p99 {bot_p99:.2f} ms (goal < 50 ms)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1000, help="per bot and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--fresh-texts", action="store_true",
                        help="number every text, so none is answered from the guide matcher's cache")
    asyncio.run(main(parser.parse_args()))
