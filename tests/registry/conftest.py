"""Registry fixtures: a real App (sqlitedict store, key file, services) in a temp data dir."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App, open_app
from bot.audit import Actor
from bot.config import Settings

ADMIN = Actor(id="alice", name="Alice", source="test")
SECRET = "abcdefghijklmnop"


def settings_for(data_dir: Path, **extra: object) -> Settings:
    return Settings(data_dir=data_dir, smtp_timeout_s=2.0, **extra)  # type: ignore[arg-type]


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    async with open_app(settings_for(tmp_path / "data")) as opened:
        yield opened
