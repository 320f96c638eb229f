"""OAuth2 sign-ins started from the console, and how each ended, for the page to poll.

`SignIns.finish` waits (device flow) or may be reached twice (a Google redirect landing on the
console's callback while the admin also pastes the address), and a browser request should not
hold it: each finish runs as one task per sign-in here, and its outcome stays readable by id
after the service has forgotten the sign-in. Nothing here decides anything: the service does.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.audit import Actor
from bot.console import present
from bot.errors import InvalidInput, MailbotError, NotFound, SmtpError
from bot.guides import guide_for
from bot.i18n import Text
from bot.mailboxes.service import SaveResult
from bot.mailboxes.signin import SignIn, SignIns

log = logging.getLogger("mailbot.console")
KEEP_OUTCOMES = 100  # ended sign-ins whose outcome a page may still ask for
UNEXPECTED = Text(zh="登录时出现意外错误，详见 mailbot 日志。", en="The sign-in failed unexpectedly; see mailbot's log.")
NO_PASTE = Text(zh="这次登录不需要粘贴地址。", en="This sign-in takes no pasted address.")
CANCELLED = Text(zh="登录已取消，未保存任何内容。", en="The sign-in was cancelled; nothing was saved.")


class ConsoleSignIns:
    def __init__(self, signins: SignIns, actor: Actor) -> None:
        self.signins = signins
        self.actor = actor
        self._tasks: dict[str, asyncio.Task[SaveResult]] = {}

    async def begin(self, data: dict[str, Any] | None, reauth: str | None, redirect_uri: str) -> SignIn:
        """Start it; a device sign-in starts waiting at once (the page polls `status`)."""
        signin = await self.signins.begin(data, reauth=reauth, redirect_uri=redirect_uri)
        if signin.device is not None:
            self._start(signin)
        return signin

    def _start(self, signin: SignIn, pasted: str | None = None) -> asyncio.Task[SaveResult]:
        task = asyncio.create_task(self.signins.finish(signin, self.actor, pasted))
        task.add_done_callback(lambda done: self._settled(signin.id, done))
        self._tasks[signin.id] = task
        ended = [k for k, t in self._tasks.items() if t.done()]
        for key in ended[:max(0, len(self._tasks) - KEEP_OUTCOMES)]:  # running ones are bounded by SignIns
            del self._tasks[key]
        return task

    def _settled(self, signin_id: str, task: asyncio.Task[SaveResult]) -> None:
        """An unreadable paste leaves the sign-in open for another one; anything unexpected is logged."""
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, InvalidInput) and self._tasks.get(signin_id) is task:
            del self._tasks[signin_id]
        elif exc is not None and not isinstance(exc, MailbotError):
            log.error("console sign-in %s failed", signin_id, exc_info=exc)

    async def finish_code(self, signin_id: str, pasted: str) -> SaveResult:
        """Google's redirect (the callback) or a pasted address/code; a second one while the first
        is being checked gets the first one's outcome instead of spending the code twice."""
        task = self._tasks.get(signin_id)
        if task is None:
            signin = await self.signins.get(signin_id)
            if signin.code is None:
                raise NotFound(NO_PASTE)
            task = self._start(signin, pasted)
        return await asyncio.shield(task)

    async def cancel(self, signin_id: str) -> None:
        task = self._tasks.get(signin_id)
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)  # settled before the page asks how it ended
        await self.signins.cancel(signin_id)

    async def status(self, signin_id: str, lang: str) -> dict[str, Any]:
        """waiting (with what to show), saved (the mailbox), cancelled, or failed (reason, fix, guide)."""
        task = self._tasks.get(signin_id)
        if task is None:
            await self.signins.get(signin_id)  # NotFound once it ended or expired
        if task is None or not task.done():  # the service forgets it while it checks the login: still waiting
            return {"id": signin_id, "state": "waiting"}
        if task.cancelled():
            return {"id": signin_id, "state": "cancelled", "message": CANCELLED(lang)}
        exc = task.exception()
        if exc is None:
            result = task.result()
            return {"id": signin_id, "state": "saved", "mailbox": present.mailbox(result.mailbox, lang),
                    "warnings": [w.text(lang) for w in result.warnings]}
        return {"id": signin_id, "state": "failed", **failure(exc, lang)}

    async def close(self) -> None:
        """Stop waiting for sign-ins when the console stops."""
        running = [t for t in self._tasks.values() if not t.done()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


def failure(exc: BaseException, lang: str) -> dict[str, Any]:
    """An error as the page shows it: code, message (cause and fix) and, for a refused login, the type's guide."""
    if not isinstance(exc, MailbotError):
        return {"error": "unexpected", "message": UNEXPECTED(lang), "guide": []}
    guide = guide_for(exc, lang) if isinstance(exc, SmtpError) else []
    return {"error": exc.code, "message": exc.message(lang), "guide": guide}
