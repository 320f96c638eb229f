"""Audit log: who changed which mailbox, when, and what changed. Never a secret."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.storage import Storage

SECRET_FIELDS = frozenset({"secret", "password", "secret_token"})


class Actor(BaseModel):
    """Who acts: a CLI user, a DingTalk user, the local shell or console. `source` says which."""

    model_config = ConfigDict(frozen=True)
    id: str
    name: str | None = None
    source: str = "cli"
    is_admin: bool = True

    def label(self) -> str:
        return f"{self.source}:{self.id}" + (f" ({self.name})" if self.name else "")


class AuditEntry(BaseModel):
    at: datetime
    actor: str
    action: str
    target: str
    ok: bool = True
    changes: dict[str, Any] = {}


def scrub(changes: dict[str, Any]) -> dict[str, Any]:
    """Secret fields are reduced to the fact that they changed."""
    return {k: ("(changed)" if k in SECRET_FIELDS else v) for k, v in changes.items()}


class AuditLog:
    def __init__(self, storage: Storage) -> None:
        self._table = storage.table("audit")

    async def record(self, actor: Actor, action: str, target: str, changes: dict[str, Any] | None = None,
                     *, ok: bool = True) -> AuditEntry:
        entry = AuditEntry(at=datetime.now(UTC), actor=actor.label(), action=action, target=target, ok=ok,
                           changes=scrub(changes or {}))
        key = f"{entry.at.strftime('%Y%m%dT%H%M%S.%f')}-{uuid.uuid4().hex[:8]}"
        await self._table.put(key, entry.model_dump(mode="json"))
        return entry

    async def entries(self, limit: int | None = None) -> list[AuditEntry]:
        """Oldest first; with `limit`, only the last entries are read (entries are written once, in time order)."""
        rows = sorted(await self._table.newest(limit)) if limit else sorted(await self._table.items())
        return [AuditEntry.model_validate(v) for _, v in rows]

    async def page(self, limit: int, before: int | None = None) -> tuple[list[AuditEntry], int]:
        """Newest first, up to `limit` entries older than cursor `before` (None: the newest).

        Keyset paging: a page does not shift while entries are added, and costs `limit` rows however
        deep it is. Also returns the cursor for the next, older page: 0 when none.
        """
        page = await self._table.scan(limit, reverse=True, after=before)
        return [AuditEntry.model_validate(v) for _, v in page.rows], page.cursor or 0
