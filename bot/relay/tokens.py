"""API tokens: shown once, stored as a SHA-256 hash (tokens are random, so no slow hash needed)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from bot.audit import Actor, AuditLog
from bot.errors import Conflict, FieldError, InvalidInput, NotFound, PermissionDenied, Unauthorized
from bot.i18n import Text
from bot.relay.batch import SharedRead
from bot.storage import Storage

PREFIX = "mbt_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenInfo(dict[str, Any]):
    """The stored document: name, hash, mailboxes (empty = all), created_at."""

    @property
    def name(self) -> str:
        return str(self["name"])

    def allows(self, mailbox: str) -> bool:
        scope = self.get("mailboxes") or []
        return not scope or mailbox.casefold() in {m.casefold() for m in scope}

    def require(self, mailbox: str) -> None:
        if not self.allows(mailbox):
            raise PermissionDenied(
                Text(zh=f"令牌“{self.name}”无权使用邮箱“{mailbox}”。",
                     en=f"The token '{self.name}' may not use the mailbox '{mailbox}'."),
                Text(zh="换用有权限的邮箱，或让管理员创建包含该邮箱的令牌。",
                     en="Use a mailbox in the token's scope, or ask an admin for a token that includes it."))


class TokenStore:
    """Keyed by hash so each API call is one lookup; names are unique among live tokens."""

    def __init__(self, storage: Storage, audit: AuditLog | None = None) -> None:
        self._table = storage.table("tokens")
        self._audit = audit
        self._index: dict[str, dict[str, Any]] = {}  # hash -> document, as of `_index_version`
        self._index_version: object = None
        # Concurrent API calls share one version read (each one begun after the call arrived).
        self._version = SharedRead(self._table.version)

    async def create(self, name: str, mailboxes: list[str] | None = None, actor: Actor | None = None) -> str:
        """A new token (returned once); audited when an actor is given."""
        if not name or len(name) > 64:
            raise InvalidInput([FieldError(field="name", problem=Text(zh="名称需 1–64 个字符",
                                en="the name needs 1-64 characters"), example="approvals")])
        if await self._find(name) is not None:
            raise Conflict(Text(zh=f"令牌“{name}”已存在。", en=f"A token named '{name}' exists."),
                           Text(zh="换个名称，或先吊销旧令牌。", en="Pick another name or revoke the old one."))
        token = PREFIX + secrets.token_urlsafe(32)
        await self._table.put(digest(token), {"name": name, "mailboxes": list(mailboxes or []),
                                              "created_at": datetime.now(UTC).isoformat()})
        if self._audit is not None and actor is not None:
            await self._audit.record(actor, "token_create", name, {"mailboxes": list(mailboxes or [])})
        return token

    async def authenticate(self, token: str | None) -> TokenInfo:
        """Checked against the table as it is now (revoked by any process: refused at once).

        The small table is indexed in memory and re-read only when its version changes, so an API
        call costs a version check (two stat calls; on PostgreSQL one query, shared by the calls
        that arrive while it runs), not a read.
        """
        version = await self._version.get()  # before reading: a change meanwhile shows at the next call
        if version != self._index_version:
            self._index, self._index_version = dict(await self._table.items()), version
        doc = self._index.get(digest(token)) if token else None
        if doc is None:
            raise Unauthorized(Text(zh="缺少或无效的 API 令牌。", en="Missing or invalid API token."),
                               Text(zh="在请求头中加入 Authorization: Bearer <令牌>（用 `mailbot token create` 创建）。",
                                    en="Send Authorization: Bearer <token> (create one with `mailbot token create`)."))
        return TokenInfo(doc)

    async def list(self) -> list[TokenInfo]:
        return [TokenInfo(doc) for _, doc in await self._table.items()]

    async def _find(self, name: str) -> str | None:
        return next((key for key, doc in await self._table.items() if doc["name"] == name), None)

    async def revoke(self, name: str, actor: Actor | None = None) -> None:
        key = await self._find(name)
        if key is None:
            raise NotFound(Text(zh=f"没有名为“{name}”的令牌。", en=f"There is no token named '{name}'."))
        await self._table.delete(key)
        if self._audit is not None and actor is not None:
            await self._audit.record(actor, "token_revoke", name)
