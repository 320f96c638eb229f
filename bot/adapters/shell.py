"""Local terminal chat: stdin lines in, replies out, as a local admin through the same router.

Lines are read in daemon threads so the event loop never blocks and a signal can end the process
while a read is pending. After a reply that asks for a secret, a terminal reads without echo.
"""

from __future__ import annotations

import asyncio
import getpass
import re
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import TextIO

from bot.chat.messages import IncomingMessage, MarkdownReply, Reply

Handle = Callable[[IncomingMessage], Awaitable[list[Reply]]]
_MARKDOWN = re.compile(r"(\*\*|__|`)")


def plain(reply: Reply) -> str:
    """Markdown shown as plain text: emphasis markers dropped, line structure kept."""
    return _MARKDOWN.sub("", reply.text) if isinstance(reply, MarkdownReply) else reply.text


async def _in_thread(read: Callable[[], str]) -> str:
    """Run a blocking read in a daemon thread (unlike to_thread, it never holds up shutdown)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()

    def work() -> None:
        try:
            result = read()
        except BaseException as exc:  # EOF/KeyboardInterrupt in the thread end the session
            ended = EOFError(str(exc))  # `exc` is unbound once this block ends, before the callback runs
            loop.call_soon_threadsafe(lambda: future.done() or future.set_exception(ended))
            return
        loop.call_soon_threadsafe(lambda: future.done() or future.set_result(result))

    threading.Thread(target=work, daemon=True, name="shell-stdin").start()
    return await future


class ShellAdapter:
    """Runs until EOF on stdin; the user is a local admin in a single chat."""

    def __init__(self, handle: Handle, *, stdin: TextIO | None = None, stdout: TextIO | None = None,
                 user: str | None = None) -> None:
        self.handle = handle
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.user = user or getpass.getuser()
        self.tty = self.stdin.isatty()

    async def _read(self, secret: bool) -> str | None:
        if self.tty and secret:
            reader: Callable[[], str] = lambda: getpass.getpass("🔒 ")
        else:
            if self.tty:
                self.stdout.write("> ")
                self.stdout.flush()
            reader = self.stdin.readline
        try:
            line = await _in_thread(reader)
        except EOFError:
            return None
        return line.rstrip("\r\n") if line or (self.tty and secret) else None

    async def push(self, replies: list[Reply]) -> None:
        """Messages nobody typed a line for (a sign-in that finished meanwhile): printed as they come."""
        for reply in replies:
            self.stdout.write(plain(reply) + "\n\n")
        self.stdout.flush()

    async def run(self) -> None:
        expects_secret = False
        count = 0
        while (line := await self._read(expects_secret)) is not None:
            if not line.strip() and not expects_secret:
                continue
            count += 1
            message = IncomingMessage(
                text=line, sender_id=self.user, sender_staff_id=self.user, sender_nick=self.user, is_admin=True,
                conversation_id="shell", conversation_type="single", msg_id=f"shell-{count}", source="shell",
            )
            replies = await self.handle(message)
            for reply in replies:
                self.stdout.write(plain(reply) + "\n\n")
            self.stdout.flush()
            expects_secret = any(r.expects_secret for r in replies)
