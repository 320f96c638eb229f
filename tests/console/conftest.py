"""Console fixtures: a real App and Router in a temp dir, the console mounted as `mailbot run` mounts it.

DNS goes to a server of our own that knows no domain (the chat fixtures' `no_network_dns`), so type
detection never asks the network; tests that detect a type give `dns_server=` a server with zones."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bot.app import App, open_app
from bot.chat.router import Router
from bot.config import Settings
from bot.console.access import Access
from bot.console.app import Services, build_console, mount
from bot.relay.service import RelayService
from tests.chat.conftest import empty_dns, no_network_dns

__all__ = ["empty_dns", "no_network_dns"]  # autouse here too

Client = TestClient[web.Request, web.Application]


def console_settings(data_dir: Path, **extra: Any) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, smtp_timeout_s=3.0, **extra)  # type: ignore[call-arg]


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    async with open_app(console_settings(tmp_path / "data")) as opened:
        yield opened


def console_root(app: App, *, token: str | None = None, relay: RelayService | None = None) -> web.Application:
    root = web.Application()
    services = Services(app, Router(app), relay)
    mount(root, build_console(services, Access(SecretStr(token) if token else None)))
    return root


@pytest.fixture
async def make_client(app: App) -> AsyncIterator[Callable[..., Awaitable[Client]]]:
    clients: list[Client] = []

    async def make(**opts: Any) -> Client:
        client = TestClient(TestServer(console_root(app, **opts), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


def origin(client: Client) -> str:
    return f"http://127.0.0.1:{client.port}"


async def csrf_headers(client: Client) -> dict[str, str]:
    """What the page sends on a state-changing request: its own Origin and the session's CSRF token."""
    resp = await client.get("/console/api/session")
    assert resp.status == 200
    return {"Origin": origin(client), "X-CSRF-Token": (await resp.json())["csrf"]}
