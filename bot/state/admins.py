"""Org admins the bot has seen in chat (`card_admins`): a card callback carries no admin flag, so
an admin of the DingTalk organisation is trusted on cards once any instance saw them write as one.

The set is cached until the table's version changes, so an admin seen by another instance counts here too.
"""

from __future__ import annotations

from bot.storage import Storage


class KnownAdmins:
    def __init__(self, storage: Storage) -> None:
        self._table = storage.table("card_admins")
        self._ids: set[str] = set()
        self._version: object = object()

    async def ids(self) -> set[str]:
        version = await self._table.version()  # before reading: a change meanwhile shows at the next call
        if version != self._version:
            self._ids = {key for key, _ in await self._table.items()}
            self._version = version
        return self._ids

    async def remember(self, user_id: str, source: str) -> None:
        if user_id and user_id not in await self.ids():
            await self._table.put(user_id, {"source": source})
            self._ids = self._ids | {user_id}
