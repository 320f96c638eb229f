"""Chat fixtures: a real App in a temp dir, a router with a fake clock, and the DingTalk emulator + adapter.

DNS goes to a server of our own that knows no domain (MAILBOT_DNS_SERVER), so the wizard's type
detection never asks the network; tests that detect a type give `dns_server=` a server with zones."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.dingtalk import DingTalkAdapter
from bot.app import App, open_app
from bot.chat.messages import IncomingMessage, Reply
from bot.chat.router import Router
from bot.config import Settings
from bot.emulator import DingTalkEmulator, OAuthEmulator
from tests.support.dns import DnsServer
from tests.support.smtpd import SmtpServer

SECRET = "s3cret-Passw0rd-xyz"


class Clock:
    """A hand-moved clock, so idle timeouts are tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def empty_dns() -> Iterator[DnsServer]:
    """Answers NXDOMAIN for every domain at once."""
    with DnsServer() as server:
        yield server


@pytest.fixture(autouse=True)
def no_network_dns(empty_dns: DnsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILBOT_DNS_SERVER", empty_dns.address)


def make_settings(data_dir: Path, **extra: Any) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, smtp_timeout_s=3.0, admins="boss", **extra)  # type: ignore[call-arg]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
async def app(data_dir: Path) -> AsyncIterator[App]:
    async with open_app(make_settings(data_dir)) as opened:
        yield opened


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def router(app: App, clock: Clock) -> Router:
    return Router(app, clock=clock)


def message(text: str, *, user: str = "boss", admin: bool = True, conversation: str | None = None,
            group: bool = False, lang: str | None = None) -> IncomingMessage:
    return IncomingMessage(
        text=text, sender_id=f"id-{user}", sender_staff_id=user, sender_nick=user.title(), is_admin=admin,
        conversation_id=conversation or ("cid-group" if group else f"cid-{user}"),
        conversation_type="group" if group else "single", lang=lang,  # type: ignore[arg-type]
    )


def joined(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)


Say = Callable[..., Any]


@pytest.fixture
def say(router: Router) -> Say:
    async def send(text: str, **kw: Any) -> str:
        return joined(await router.handle(message(text, **kw)))
    return send


# ---- DingTalk emulator + the real SDK adapter ------------------------------------------------------

@pytest.fixture
async def emu() -> AsyncIterator[DingTalkEmulator]:
    async with DingTalkEmulator() as emulator:
        yield emulator


def stream_settings(data_dir: Path, emu: DingTalkEmulator, **extra: Any) -> Settings:
    return make_settings(data_dir, dingtalk_reconnect_s=0.01, **{
        "DINGTALK_CLIENT_ID": emu.client_id, "DINGTALK_CLIENT_SECRET": emu.client_secret,
        "DINGTALK_OPENAPI_ENDPOINT": emu.endpoint}, **extra)


@pytest.fixture
async def live(emu: DingTalkEmulator, data_dir: Path) -> AsyncIterator[DingTalkAdapter]:
    """The real adapter connected to the emulator, routing through a real Router and App."""
    async with open_app(stream_settings(data_dir, emu)) as opened:
        adapter = DingTalkAdapter(opened.settings, Router(opened).handle)
        adapter.app = opened  # type: ignore[attr-defined]  # for assertions on the store
        await adapter.start()
        await emu.wait_connected(1)
        yield adapter
        await adapter.stop()


@pytest.fixture
async def oauth() -> AsyncIterator[OAuthEmulator]:
    """The OAuth emulator as Microsoft and Google (device codes polled every second)."""
    async with OAuthEmulator(interval=1) as emulator:
        yield emulator


@pytest.fixture
def xoauth_server(smtp_server: Callable[..., SmtpServer], oauth: OAuthEmulator) -> SmtpServer:
    """Like smtp.office365.com today: passwords refused, XOAUTH2 with the emulator's tokens accepted."""
    return smtp_server(security="starttls", password_auth=False,
                       xoauth2=lambda user, token: oauth.account_for(token) == user)


@asynccontextmanager
async def wired(settings: Settings, emu: DingTalkEmulator,
                connections: int = 1) -> AsyncIterator[tuple[App, Router, DingTalkAdapter]]:
    """An App with its Router and real SDK adapter on the emulator, wired as `mailbot run` wires them
    (proactive sends included); `connections`: how many Stream connections exist once this one is up."""
    async with open_app(settings) as app:
        router = Router(app)
        adapter = DingTalkAdapter(app.settings, router.handle, router.cards.handle)
        router.pushes["dingtalk"] = adapter.send_private
        await adapter.start()
        try:
            await emu.wait_connected(connections)
            yield app, router, adapter
        finally:
            await router.close()
            await adapter.stop()
