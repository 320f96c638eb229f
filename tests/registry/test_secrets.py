"""Secrets at rest: key file rules, wrong keys, and rotation, all without losing data."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.app import open_app
from bot.errors import SecretKeyError
from bot.secrets import generate_key
from tests.registry.conftest import ADMIN, SECRET, settings_for

SPEC = {"name": "n", "account": "a@corp.example", "type": "custom", "host": "127.0.0.1", "port": 25, "security": "none"}


def fingerprint(data_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(data_dir.iterdir())
            if p.suffix in (".sqlite", ".key")}


async def seed(data_dir: Path, **extra: object) -> None:
    async with open_app(settings_for(data_dir, **extra)) as app:
        await app.mailboxes.add(SPEC, SecretStr(SECRET), ADMIN, verify=False)


async def test_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    await seed(tmp_path)
    key_file = tmp_path / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    before = key_file.read_bytes()
    async with open_app(settings_for(tmp_path)) as app:
        assert (await app.mailboxes.login((await app.mailboxes.list())[0])).secret.get_secret_value() == SECRET
    assert key_file.read_bytes() == before


async def test_wrong_env_key_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    await seed(tmp_path, secret_key=generate_key())
    before = fingerprint(tmp_path)
    with pytest.raises(SecretKeyError) as info:
        async with open_app(settings_for(tmp_path, secret_key=generate_key())):
            pass
    assert "Wrong key" in info.value.message("en") and "密钥不对" in info.value.message("zh")
    assert fingerprint(tmp_path) == before


async def test_missing_key_file_is_refused_without_making_a_new_one(tmp_path: Path) -> None:
    await seed(tmp_path)
    (tmp_path / "secret.key").unlink()
    with pytest.raises(SecretKeyError) as info:
        async with open_app(settings_for(tmp_path)):
            pass
    assert "missing" in info.value.message("en")
    assert not (tmp_path / "secret.key").exists()


async def test_malformed_env_key_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(SecretKeyError) as info:
        async with open_app(settings_for(tmp_path, secret_key="not-a-key")):
            pass
    assert "mailbot secrets keygen" in info.value.message("en")


async def test_env_key_keeps_no_key_file(tmp_path: Path) -> None:
    key = generate_key()
    await seed(tmp_path, secret_key=key)
    assert not (tmp_path / "secret.key").exists()
    async with open_app(settings_for(tmp_path, secret_key=SecretStr(key))) as app:
        assert len(await app.mailboxes.list()) == 1
