"""Work a chat starts that ends after its message was answered: an OAuth2 device sign-in waits minutes
for the admin to sign in at Microsoft's page, then tells them in their single chat how it went.

Such waits are tasks owned here (so 取消, a newer dialog and shutdown can cancel them), and what they
say at the end goes out through the front end the dialog came from: each front end that can send
unprompted messages registers its proactive send in `pushes` (DingTalk: the adapter's
`send_private`, the path alerts take). The sign-in itself (device code, PKCE verifier) stays in
`app.signins`; nothing here holds a secret.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from typing import Any

from bot.chat.messages import MarkdownReply, Reply, TextReply

log = logging.getLogger("mailbot.chat.signin")

Push = Callable[[list[Reply]], Awaitable[None]]


class Background:
    """Sign-in waits by sign-in id, and the proactive sends by front end (`IncomingMessage.source`)."""

    def __init__(self) -> None:
        self.pushes: dict[str, Push] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def spawn(self, signin_id: str, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name=f"signin-{signin_id[:6]}")
        self._tasks[signin_id] = task
        task.add_done_callback(lambda done: self._ended(signin_id, done))

    def _ended(self, signin_id: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(signin_id) is task:
            del self._tasks[signin_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("sign-in wait failed", exc_info=task.exception())

    def running(self, signin_id: str) -> bool:
        return signin_id in self._tasks

    def cancel(self, signin_id: str) -> None:
        task = self._tasks.pop(signin_id, None)
        if task is not None:
            task.cancel()

    async def push(self, source: str, user: str, replies: list[TextReply | MarkdownReply]) -> None:
        """Send `replies` to `user`'s single chat on `source`; logged when that front end cannot push."""
        send = self.pushes.get(source)
        if send is None:
            log.warning("no proactive send for %s: a sign-in outcome for %s was not delivered", source, user)
            return
        await send([replace(r, private_to=user) for r in replies])

    async def close(self) -> None:
        """Cancel every wait (shutdown): the sign-ins end unsaved; the admin starts them again."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
