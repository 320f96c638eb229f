"""The relay as a `mailbot run` component: the HTTP API, the SMTP submission door and the delivery worker.

start(): the worker picks up everything still queued on disk, then the API and the SMTP door listen
(MAILBOT_SMTP_PORT=0: no door).
stop() (SIGTERM): the SMTP door and the API stop taking mail first (mail being written lands), then
in-flight sends finish (or, after the grace period, are cancelled and stay queued on disk, to go out
after restart).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.adapters.http import make_app
from bot.adapters.smtp_door import SmtpDoor
from bot.app import App
from bot.errors import MailbotError
from bot.mailboxes import Mailbox
from bot.mailboxes.health import HealthChecker
from bot.relay.alerts import Alert, AlertSink, LoggingSink, NotifySink
from bot.relay.submission import Submissions
from bot.relay.worker import Worker

log = logging.getLogger("mailbot.relay")


class RelayComponent:
    """Owns the HTTP server. Components started before it may add routes through `mounts` (the
    web console does) and learn the bound port through `on_ready`."""

    name = "relay"

    def __init__(self, app: App, alerts: AlertSink | None = None) -> None:
        self.app = app
        self.relay = app.relay
        self.alerts = alerts or LoggingSink()
        self.worker = Worker(self.relay, app.settings, self.alerts, health=app.health)
        # The periodic login check of every mailbox (issue 16), started and stopped with the worker.
        self.health = HealthChecker(app.health, app.storage, app.mailboxes.list, app.mailboxes.check_login,
                                    self._health_alert, interval_h=app.settings.health_interval_h,
                                    timeout_s=2 * app.settings.smtp_timeout_s + 10)
        self.door = SmtpDoor(Submissions(self.relay, cache_s=app.settings.relay_poll_s), app.settings)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self.mounts: list[Callable[[web.Application], None]] = []
        self.on_ready: list[Callable[[str, int], None]] = []

    async def start(self) -> None:
        await self.worker.start()
        await self.health.start()
        http = make_app(self.relay)
        for mount in self.mounts:
            mount(http)
        self._runner = web.AppRunner(http, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        s = self.app.settings
        site = web.TCPSite(self._runner, s.http_host, s.http_port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else s.http_port
        host = f"[{s.http_host}]" if ":" in s.http_host else s.http_host
        print(f"HTTP API: http://{host}:{self.port}/v1/mails", file=sys.stderr, flush=True)
        for ready in self.on_ready:
            ready(host, self.port)
        try:
            await self.door.start()  # a refused address (exit 2) names MAILBOT_SMTP_PORT / _HOST itself
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        await self.door.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.health.stop()
        await self.worker.stop()

    async def _health_alert(self, kind: str, mailbox: Mailbox, error: MailbotError) -> None:
        """A mailbox turned unhealthy in a check: the alert the worker raises for a failing login."""
        await self.alerts.alert(Alert.of(kind, mailbox.name, error, provider_type=mailbox.type))  # type: ignore[arg-type]


def relay(runtime: Any) -> RelayComponent:
    """Factory for bot.cli.run COMPONENTS: alerts go to the admins' chat via runtime.alert, once
    across the instances sharing the store."""
    return RelayComponent(runtime.app, NotifySink(runtime.alert, runtime.app.storage))
