"""Chat while the store cannot write: a command that writes says the store is failing (in the user's
language) within the busy timeout, changes nothing, and works again afterwards; reading commands keep
answering. The fault: another process holds the mailboxes file's write lock (fillers, as for the full
outbox, would be read back as mailboxes)."""

from __future__ import annotations

import sqlite3

from pydantic import SecretStr

from bot.app import App
from tests.chat.conftest import Say, app, clock, data_dir, router, say  # noqa: F401
from tests.relay.conftest import ADMIN


async def test_a_chat_command_that_writes_says_the_store_is_failing(app: App, say: Say) -> None:  # noqa: F811
    await app.mailboxes.add({"name": "ops", "type": "custom", "account": "bot@example.com", "host": "127.0.0.1",
                             "port": 2525, "security": "none"}, SecretStr("pw-123456"), ADMIN, verify=False)
    other = sqlite3.connect(app.settings.data_dir / "mailboxes.sqlite", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        reply = await say("停用 ops")
        assert "数据存储正忙" in reply and "MAILBOT_DATA_DIR" in reply, reply
        assert "The data store is busy" in await say("disable ops")
        assert "ops" in await say("邮箱列表")
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert (await app.mailboxes.find("ops")).enabled  # type: ignore[union-attr]
    await say("停用 ops")
    assert not (await app.mailboxes.find("ops")).enabled  # type: ignore[union-attr]
