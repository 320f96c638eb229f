"""The terminal's side of Google's installed-app sign-in: a listener on 127.0.0.1 that the browser
is redirected to (when it runs on this machine), and stdin for the address pasted by hand (when it
does not). Google accepts any port on a loopback redirect for desktop clients."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

PAGE = ("<!doctype html><meta charset=utf-8><title>mailbot</title>"
        "<p>已收到登录结果，可以关闭此页，回到终端查看。</p><p>Sign-in received: close this tab and look at the terminal.</p>")


class LoopbackRedirect:
    def __init__(self) -> None:
        self.uri = "http://127.0.0.1/"
        self._arrived: asyncio.Queue[str] = asyncio.Queue(maxsize=8)

    async def _handle(self, request: web.Request) -> web.Response:
        if "code" in request.query or "error" in request.query:
            try:
                self._arrived.put_nowait(str(request.url))
            except asyncio.QueueFull:
                pass
        return web.Response(text=PAGE, content_type="text/html")

    async def next(self) -> str:
        return await self._arrived.get()


@asynccontextmanager
async def loopback_redirect() -> AsyncIterator[LoopbackRedirect]:
    redirect = LoopbackRedirect()
    app = web.Application(client_max_size=16 * 1024)
    app.router.add_get("/", redirect._handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    redirect.uri = f"http://127.0.0.1:{port}/"
    try:
        yield redirect
    finally:
        await runner.cleanup()


class _Lines:
    """Lines typed or piped on stdin; at end of input, waits forever (the browser may still come back)."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    async def readline(self) -> str:
        line = await self._reader.readline()
        if not line:
            await asyncio.Event().wait()
        return line.decode("utf-8", "replace")


async def stdin_lines() -> _Lines:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=8192)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return _Lines(reader)
