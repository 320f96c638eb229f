"""`mailbot run` component: serves alone without a relay, mounts into the relay's app, refuses when exposed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.app import App
from bot.chat.router import Router
from bot.console.component import ConsoleComponent
from tests.console.conftest import console_settings


class FakeRuntime:
    def __init__(self, app: App, components: list[Any]) -> None:
        self.app, self.router, self.components = app, Router(app), components

    @property
    def settings(self) -> Any:
        return self.app.settings


class FakeRelayComponent:
    """The contract: `relay` (the RelayService), `mounts` (applied to its app before serving) and
    `on_ready` (told the bound host and port)."""

    def __init__(self) -> None:
        self.relay = None
        self.mounts: list[Any] = []
        self.on_ready: list[Any] = []


async def test_serves_alone_without_a_relay(app: App, unused_tcp_port: int,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    app.settings = console_settings(Path(app.settings.data_dir), http_port=unused_tcp_port)
    component = ConsoleComponent(FakeRuntime(app, []))
    await component.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{unused_tcp_port}/") as resp:
                assert resp.status == 200 and resp.url.path == "/console/"
    finally:
        await component.stop()
    assert f"http://127.0.0.1:{unused_tcp_port}/" in capsys.readouterr().err


async def test_mounts_into_the_relay_component(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    relay = FakeRelayComponent()
    await ConsoleComponent(FakeRuntime(app, [relay])).start()
    root = web.Application()
    (hook,) = relay.mounts
    hook(root)
    assert {r.canonical for r in root.router.resources()} >= {"/", "/console"}
    (ready,) = relay.on_ready
    ready("127.0.0.1", 8123)
    assert "http://127.0.0.1:8123/" in capsys.readouterr().err


async def test_refuses_a_non_loopback_address_without_token(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    app.settings = console_settings(Path(app.settings.data_dir), http_host="0.0.0.0")
    relay = FakeRelayComponent()
    await ConsoleComponent(FakeRuntime(app, [relay])).start()
    assert relay.mounts == [] and "MAILBOT_CONSOLE_TOKEN" in capsys.readouterr().err
