"""The console as a `mailbot run` component: mounted on the relay's HTTP server, or its own.

Put "bot.console.component:console" in COMPONENTS *before* the relay: at start it appends its mount
to the relay component's `mounts` (callables the relay applies to its aiohttp app before serving).
Without a relay component it serves alone on MAILBOT_HTTP_HOST:MAILBOT_HTTP_PORT. On a non-loopback
address without MAILBOT_CONSOLE_TOKEN it does not serve and says why; the relay API is unaffected.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from aiohttp import web

from bot.i18n import locale_lang
from bot.console.access import Access, ConsoleRefused, check_bind
from bot.console.app import PREFIX, Services, build_console, mount
from bot.i18n import Text

log = logging.getLogger("mailbot.console")
READY = Text(zh="网页控制台：http://{host}:{port}/", en="Web console: http://{host}:{port}/")


class ConsoleComponent:
    name = "console"

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self._runner: web.AppRunner | None = None

    def _relay_component(self) -> Any:
        return next((c for c in self.runtime.components if hasattr(c, "relay") and hasattr(c, "mounts")), None)

    async def start(self) -> None:
        s = self.runtime.settings
        try:
            check_bind(s.http_host, s.console_token)
        except ConsoleRefused as exc:
            print(exc.message(locale_lang()), file=sys.stderr, flush=True)
            return
        host = f"[{s.http_host}]" if ":" in s.http_host else s.http_host
        relay_component = self._relay_component()
        services = Services(self.runtime.app, self.runtime.router,
                            relay_component.relay if relay_component else None)
        console = build_console(services, Access(s.console_token))
        if relay_component is not None:
            relay_component.mounts.append(lambda app: mount(app, console))
            relay_component.on_ready.append(self._announce)
            return
        root = web.Application()
        mount(root, console)
        self._runner = web.AppRunner(root, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, s.http_host, s.http_port).start()
        self._announce(host, s.http_port)

    @staticmethod
    def _announce(host: str, port: int) -> None:
        print(READY.format(host=host, port=port)(locale_lang()), file=sys.stderr, flush=True)
        log.info("console at http://%s:%s%s/", host, port, PREFIX)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def console(runtime: Any) -> ConsoleComponent:
    """Factory for bot.cli.run COMPONENTS."""
    return ConsoleComponent(runtime)
