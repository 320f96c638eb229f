"""Hostile-input benchmark: /healthz latency of a real `mailbot run` while it is fed bad input.

Starts `mailbot run` (local mode) as its own process, polls /healthz every 10 ms, and in turn sends
  - the issue's template bomb to POST /v1/mails (nested range loops),
  - a template that allocates without bound,
  - a chat line at the length bound (worst-case shape for the guide matcher) to the console chat,
  - an over-long chat line (30,000 characters) and the issue's 100 KB one (past the console's body limit).
For each phase it prints the bad request's answer and time, and /healthz p50 / max, also as a ratio
of the idle baseline measured in the same run. The goal (issue 12): no phase stalls the loop for more
than 50 ms, so /healthz max stays within ~50 ms of the baseline's.

    .venv/bin/python bench/dos_bench.py [--repo PATH] [--chat-bytes 30000]

`--repo` runs another checkout's `bot` (e.g. a worktree of an older commit) for a before/after;
with an older checkout pass `--no-bombs`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
BOMB = "{% for i in range(100000) %}{% for j in range(100000) %}a{% endfor %}{% endfor %}"
HOG = "{{ 'x'.ljust(10**10) }}"


async def setup(data_dir: Path, repo: Path) -> str:
    """A mailbox (never reached: mail stays queued) and a relay token, made with the CLI of `repo`."""
    env = _env(data_dir, repo)
    add = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "mailbox", "add", "--name", "ops", "--type", "custom", "--account",
        "bot@example.com", "--host", "127.0.0.1", "--port", "9", "--security", "none", "--no-verify",
        "--password-stdin", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, env=env, cwd=repo)
    await add.communicate(b"pw\n")
    token = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "token", "create", "bench", stdout=asyncio.subprocess.PIPE, env=env, cwd=repo)
    out, _ = await token.communicate()
    found = re.search(r"mbt_\S+", out.decode())
    if found is None:
        raise SystemExit(f"no token in: {out.decode()!r}")
    return found.group()


def _env(data_dir: Path, repo: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "MAILBOT_"))}
    return {**env, "MAILBOT_DATA_DIR": str(data_dir), "MAILBOT_HTTP_PORT": "0", "MAILBOT_SMTP_PORT": "0", "PYTHONPATH": str(repo)}


async def start_bot(data_dir: Path, repo: Path) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, env=_env(data_dir, repo), cwd=repo)
    assert proc.stderr is not None
    while True:
        line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
        if not line:
            raise SystemExit("mailbot run exited before serving")
        if found := re.search(r"http://127\.0\.0\.1:(\d+)/v1/mails", line):
            asyncio.create_task(proc.stderr.read())  # keep draining
            return proc, f"http://127.0.0.1:{found.group(1)}"


async def measure(http: aiohttp.ClientSession, url: str, work: Callable[[], Awaitable[Any]] | None,
                  seconds: float = 2.0) -> tuple[list[float], Any, float]:
    """/healthz latencies while `work` runs (or for `seconds` when idle)."""
    latencies: list[float] = []
    task = asyncio.ensure_future(work()) if work else None
    started = time.perf_counter()
    while (task is not None and not task.done()) or (task is None and time.perf_counter() - started < seconds):
        t = time.perf_counter()
        try:
            async with http.get(url + "/healthz", timeout=aiohttp.ClientTimeout(total=120)) as resp:
                await resp.read()
        except aiohttp.ClientError:
            latencies.append(float("inf"))
            break
        latencies.append(time.perf_counter() - t)
        await asyncio.sleep(0.01)
    result = await task if task else None
    return latencies, result, time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", type=Path, default=ROOT)
    parser.add_argument("--chat-bytes", type=int, default=30_000)
    parser.add_argument("--bound", type=int, default=2000, help="chat length bound of the code under test")
    parser.add_argument("--no-bombs", action="store_true",
                        help="skip the template phases (an unbounded checkout would grow to the machine's memory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        token = await setup(data_dir, args.repo)
        proc, url = await start_bot(data_dir, args.repo)
        try:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                auth = {"Authorization": f"Bearer {token}"}
                async with http.get(url + "/console/api/session") as resp:
                    csrf = (await resp.json())["csrf"]
                console = {"Origin": url, "X-CSRF-Token": csrf}

                async def post_mail(text: str) -> str:
                    body = {"to": ["a@example.com"], "template": {"subject": "x", "text": text}}
                    async with http.post(url + "/v1/mails", json=body, headers=auth,
                                         timeout=aiohttp.ClientTimeout(total=120)) as resp:
                        answer = await resp.json()
                        return f"{resp.status} {' '.join(answer.get('fields', {}).values()) or answer}"

                async def chat(text: str) -> str:
                    async with http.post(url + "/console/api/chat/admin", json={"text": text}, headers=console,
                                         timeout=aiohttp.ClientTimeout(total=300)) as resp:
                        body = await resp.json()
                        said = body["entries"][-1]["html"] if "entries" in body else str(body)
                        return f"{resp.status} {re.sub('<[^>]+>', '', said)[:90]}"

                phases: list[tuple[str, Callable[[], Awaitable[Any]] | None]] = [
                    ("idle baseline", None),
                    *([] if args.no_bombs else [("template bomb (issue)", lambda: post_mail(BOMB)),
                                                ("template memory hog", lambda: post_mail(HOG))]),
                    (f"chat line at bound ({args.bound})", lambda: chat(("a." * args.bound)[:args.bound])),
                    (f"chat line {args.chat_bytes} chars", lambda: chat(("a." * args.chat_bytes)[:args.chat_bytes])),
                    ("chat line 100 KB (the issue's)", lambda: chat("a." * 50_000)),
                ]
                base_p50 = base_max = 0.0
                print(f"{'phase':34} {'answer (time)':62} {'healthz p50':>11} {'max':>8} {'max-base':>9}")
                for name, work in phases:
                    latencies, answer, spent = await measure(http, url, work)
                    p50, worst = statistics.median(latencies) * 1000, max(latencies) * 1000
                    if work is None:
                        base_p50, base_max = p50, worst
                    said = "-" if answer is None else f"{answer[:50]}… ({spent:.2f} s)"
                    print(f"{name:34} {said:62} {p50:9.1f}ms {worst:6.1f}ms {worst - base_max:+7.1f}ms")
                print(f"\ngoal: every phase's max within 50 ms of the idle max ({base_max:.1f} ms; p50 {base_p50:.1f} ms)")
        finally:
            proc.terminate()
            await proc.wait()


if __name__ == "__main__":
    asyncio.run(main())
