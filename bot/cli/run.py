"""`mailbot run`: start every configured service and serve until SIGINT/SIGTERM (exit 0).

Services plug in as *components*: an entry "module:factory" in COMPONENTS names a function
`factory(runtime: Runtime) -> Component | None` (None = not configured, e.g. no credentials).
A component has `name`, `async start()` (return once serving; run long work in tasks) and
`async stop()`. They start in order and stop in reverse. `runtime` holds the open App, the chat
Router, and `notify_admins` for alerts (a no-op when DingTalk is not connected).

The run holds `<data_dir>/run.lock` (bot.storage.lock) while it serves: a second `mailbot run` on the
same data dir exits 2 naming the dir and the holder's pid, since both would send the same mail.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from bot.adapters.dingtalk import DingTalkAdapter
from bot.adapters.listen import CannotListen
from bot.adapters.listen import cannot_listen as listen_error
from bot.adapters.shell import ShellAdapter
from bot.adapters.workflow import approval_events
from bot.app import App, open_app
from bot.chat.router import Router
from bot.cli.common import cli_lang
from bot.config import Settings, load_settings
from bot.i18n import Text
from bot.relay.alerts import Alert, NotifySink
from bot.storage.lock import run_lock


class Component(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class Runtime:
    """What components get: the services, the chat router and a way to alert admins."""

    app: App
    router: Router
    components: list[Component] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return self.app.settings

    async def notify_admins(self, text: str, title: str | None = None) -> None:
        for component in self.components:
            if isinstance(component, DingTalkAdapter):
                await component.notify_admins(text, title)

    async def alert(self, event: Alert) -> None:
        """A relay alert to the admins: the alert card where its template is set, else markdown."""
        cards = await self.router.cards.alert(event)
        for component in self.components:
            if isinstance(component, DingTalkAdapter):
                if cards:
                    await component.send_private(cards)
                else:
                    await component.notify_admins(event.markdown("zh"), event.title("zh"))


def dingtalk(runtime: Runtime) -> Component | None:
    """Stream mode when DINGTALK_CLIENT_ID and DINGTALK_CLIENT_SECRET are both set. What a chat
    sign-in says when it ends goes to the admin's single chat the way alerts do (send_private).
    Approval events (EVENT frames) go to the notification rules; what they cannot send is an alert."""
    s = runtime.settings
    if not (s.dingtalk_client_id and s.dingtalk_client_secret):
        return None
    adapter = DingTalkAdapter(s, runtime.router.handle, runtime.router.cards.handle,
                              events=approval_events(runtime.app, NotifySink(runtime.alert, runtime.app.storage)))
    runtime.router.pushes["dingtalk"] = adapter.send_private
    return adapter


COMPONENTS: tuple[str, ...] = ("bot.cli.run:dingtalk", "bot.console.component:console", "bot.adapters.relay_component:relay")

LOCAL_MODE = Text(
    zh="本地模式：未设置 DINGTALK_CLIENT_ID / DINGTALK_CLIENT_SECRET，未连接钉钉。\n"
       "连接钉钉：在开放平台创建企业内部应用并添加机器人（消息接收模式选 Stream），"
       "然后设置这两个环境变量后重新运行 `mailbot run`。",
    en="Local mode: DINGTALK_CLIENT_ID / DINGTALK_CLIENT_SECRET are not set, so DingTalk is not connected.\n"
       "To connect: create an internal app with a robot (message mode: Stream) on open.dingtalk.com, "
       "set both variables, and run `mailbot run` again.",
)


def cannot_listen(exc: OSError, settings: Settings) -> CannotListen | None:
    """The HTTP API's address, why, and which variables move it; None for another OS error."""
    return listen_error(exc, settings.http_host, settings.http_port, Text(zh="HTTP 接口", en="The HTTP API"),
                        ("MAILBOT_HTTP_PORT", "MAILBOT_HTTP_HOST"))


def load_factories(names: tuple[str, ...] = COMPONENTS) -> list[Callable[[Runtime], Component | None]]:
    factories = []
    for entry in names:
        module, _, attr = entry.partition(":")
        factories.append(getattr(importlib.import_module(module), attr))
    return factories


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("run", help="run the bot: DingTalk Stream mode, or local mode without credentials")
    parser.set_defaults(func=run)


async def run(args: argparse.Namespace) -> int:
    return await serve(load_settings(), interactive=sys.stdin.isatty())


async def serve(settings: Settings, *, interactive: bool) -> int:
    if settings.database_url is not None:  # instances on one database share the work (leased claims)
        return await _serve(settings, interactive=interactive)
    with run_lock(settings.data_dir):  # one run per data dir: a second one exits 2 (DataDirInUse)
        return await _serve(settings, interactive=interactive)


async def _serve(settings: Settings, *, interactive: bool) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_app(settings) as app:
        runtime = Runtime(app, Router(app))
        runtime.components = [c for f in load_factories() if (c := f(runtime)) is not None]
        started: list[Component] = []
        try:
            for component in runtime.components:
                try:
                    await component.start()
                except OSError as exc:
                    await component.stop()  # half-started (the relay's worker runs before it binds)
                    if (refused := cannot_listen(exc, settings)) is None:
                        raise
                    raise refused from None
                started.append(component)
            waits = [asyncio.create_task(stop.wait())]
            if not any(isinstance(c, DingTalkAdapter) for c in started):
                print(LOCAL_MODE(cli_lang()), file=sys.stderr, flush=True)
                if interactive:
                    shell = ShellAdapter(runtime.router.handle)
                    runtime.router.pushes["shell"] = shell.push
                    waits.append(asyncio.create_task(shell.run()))
            done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for task in done:
                task.result()
        finally:
            await runtime.router.close()  # sign-in waits end before the services they use close
            for component in reversed(started):
                await component.stop()
    return 0
