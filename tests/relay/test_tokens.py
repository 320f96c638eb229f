"""Tokens: printed once, only a hash stored, scope enforced."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import open_app
from bot.errors import Conflict, PermissionDenied, Unauthorized
from tests.relay.conftest import relay_settings
from bot.relay.tokens import TokenStore


async def test_only_hash_is_stored(tmp_path: Path) -> None:
    async with open_app(relay_settings(tmp_path / "data")) as app:
        store = TokenStore(app.storage)
        token = await store.create("wf", ["ops"])
        info = await store.authenticate(token)
        assert info.name == "wf" and info.allows("OPS") and not info.allows("other")
        with pytest.raises(PermissionDenied):
            info.require("other")
        with pytest.raises(Conflict):
            await store.create("wf")
        assert [t.name for t in await store.list()] == ["wf"]
    raw = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("tokens.sqlite*"))
    assert token.encode() not in raw and token[4:].encode() not in raw
    async with open_app(relay_settings(tmp_path / "data")) as app:
        store = TokenStore(app.storage)
        await store.revoke("wf")
        with pytest.raises(Unauthorized):
            await store.authenticate(token)
