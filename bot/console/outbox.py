"""Outbox view's live feed: poll the relay's service, push a snapshot over SSE when it changes.

Polling the service (not hooking the worker) keeps the relay unaware of the console; the outbox
listing reads small records only, and the interval is short enough to watch a mail turn `sent`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from bot.console import present
from bot.relay.service import RelayService

POLL_S = 0.5
KEEPALIVE_S = 15.0
LIMIT = 50


async def snapshot(relay: RelayService | None, lang: str) -> dict[str, Any]:
    """The recent mails, each error said in `lang` (which needs the mailbox's type)."""
    if relay is None:
        return {"running": False, "mails": []}
    records = await relay.recent(limit=LIMIT)
    types = {m.name: m.type for m in await relay.mailboxes.list()} if any(r.error_code for r in records) else {}
    return {"running": True, "mails": [present.mail(r, types.get(r.mailbox), lang) for r in records]}


async def stream(request: web.Request, relay: RelayService | None, closing: asyncio.Event,
                 lang: str) -> web.StreamResponse:
    """`event: outbox` with the whole recent list each time it changes, until the page or server goes."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    last, idle = "", 0.0
    while not closing.is_set():
        data = json.dumps(await snapshot(relay, lang), ensure_ascii=False, separators=(",", ":"))
        try:
            if data != last:
                await response.write(f"event: outbox\ndata: {data}\n\n".encode())
                last, idle = data, 0.0
            elif idle >= KEEPALIVE_S:
                await response.write(b": keepalive\n\n")
                idle = 0.0
        except (ConnectionResetError, RuntimeError):
            break  # the page went away
        if relay is None:
            break  # nothing will change: the page shows "relay not running"
        try:
            await asyncio.wait_for(closing.wait(), POLL_S)
        except TimeoutError:
            idle += POLL_S
    return response
