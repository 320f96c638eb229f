"""OAuth2 fixtures: the project's OAuth emulator and SMTP servers that take XOAUTH2 only for its tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.emulator import OAuthEmulator
from tests.support.smtpd import SmtpServer


@pytest.fixture
async def emu() -> AsyncIterator[OAuthEmulator]:
    async with OAuthEmulator(interval=1) as emulator:
        yield emulator


@pytest.fixture
def xoauth_server(smtp_server: Callable[..., SmtpServer], emu: OAuthEmulator) -> Callable[..., SmtpServer]:
    """A STARTTLS server like smtp.office365.com today: passwords refused (5.7.139), XOAUTH2 with an
    access token the emulator issued to that very account accepted."""
    def make(**opts: Any) -> SmtpServer:
        return smtp_server(security="starttls", password_auth=False,
                           xoauth2=lambda user, token: emu.account_for(token) == user, **opts)

    return make


def oauth_settings(emu: OAuthEmulator) -> dict[str, Any]:
    """Settings fields (lower-case) for the emulator's endpoints and clients."""
    return {key.removeprefix("MAILBOT_").lower(): value for key, value in emu.settings_env().items()}


def token_strings(emu: OAuthEmulator) -> set[str]:
    """Every access and refresh token the emulator issued (for checks that none leaked)."""
    return set(emu._refresh) | set(emu._dead_refresh) | set(emu._access)


def leaked(paths: list[Path], tokens: set[str]) -> list[str]:
    """Files under `paths` whose bytes contain a token."""
    found = []
    for root in paths:
        for path in [root] if root.is_file() else root.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                found += [f"{path}" for token in tokens if token.encode() in data]
    return found
