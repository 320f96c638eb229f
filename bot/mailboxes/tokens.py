"""Access tokens for OAuth2 mailboxes: kept in memory only, refreshed before they expire.

The refresh token is the stored secret. Microsoft rotates it on every refresh, so two instances
must never spend the same one: a refresh runs under a lock claimed in the store (`oauth_refresh`,
compare-and-set, 30 s at most if its holder dies), reads the latest refresh token under it, and
stores a rotated one at once (compare-and-set on the mailbox row). A refusal (`invalid_grant`)
marks the mailbox `needs_reauth` unless the token changed meanwhile (another instance rotated it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Protocol

from pydantic import SecretStr

from bot.errors import OAuthError, ReauthNeeded, StorageFailed
from bot.i18n import Text
from bot.mailboxes.model import Mailbox, oauth_route_of
from bot.oauth import OAuthClient, TokenSet
from bot.state.claims import Claims
from bot.storage import Storage

log = logging.getLogger("mailbot.oauth")
LOCK_S = 30.0  # a refresh lock whose holder died is taken over after this
LOCK_POLL_S = 0.1


class GrantStore(Protocol):
    """What the keeper needs of the mailbox registry (MailboxService implements it)."""

    async def grant(self, name: str) -> Mailbox: ...
    def refresh_token(self, mailbox: Mailbox) -> SecretStr: ...
    async def rotated(self, mailbox: Mailbox, refresh_token: SecretStr) -> bool: ...
    async def mark_needs_reauth(self, mailbox: Mailbox, error: ReauthNeeded) -> None: ...


@dataclass
class _Cached:
    token: SecretStr
    expires_at: float
    margin_s: float  # refresh this long before expiry: a quarter of its life, 5 minutes at most
    account: str  # whose it is: a mailbox re-added under the same name for another account gets its own


class AccessTokens:
    def __init__(self, storage: Storage, client: OAuthClient) -> None:
        self.client = client
        self._locks = Claims(storage, "oauth_refresh", keep_s=3600.0, window_s=LOCK_S, lock=True)
        self._cache: dict[str, _Cached] = {}
        self._local: dict[str, asyncio.Lock] = {}

    async def get(self, store: GrantStore, mailbox: Mailbox) -> SecretStr:
        """A valid access token for `mailbox`, refreshed when it would expire soon."""
        cached = self._cache.get(mailbox.name)
        if cached is not None and self._fresh(cached, mailbox):
            return cached.token
        async with self._local.setdefault(mailbox.name, asyncio.Lock()):
            cached = self._cache.get(mailbox.name)
            if cached is not None and self._fresh(cached, mailbox):
                return cached.token
            return await self._refresh(store, mailbox.name)

    @staticmethod
    def _fresh(cached: _Cached, mailbox: Mailbox) -> bool:
        """By expiry only: a rotation or a new sign-in (same account) leaves an issued token valid, and
        the mailbox the worker holds may be a poll older than the rotation."""
        return cached.account == mailbox.account and time.time() < cached.expires_at - cached.margin_s

    def forget(self, name: str) -> None:
        """The server refused the token (or the grant changed): the next `get` refreshes."""
        self._cache.pop(name, None)

    def remember(self, mailbox: Mailbox, tokens: TokenSet) -> None:
        """Keep the access token a sign-in just produced (no refresh needed for its first sends)."""
        self._cache[mailbox.name] = self._entry(tokens, mailbox.account)

    @staticmethod
    def _entry(tokens: TokenSet, account: str) -> _Cached:
        return _Cached(tokens.access_token, tokens.expires_at, min(300.0, tokens.expires_in / 4), account)

    async def _refresh(self, store: GrantStore, name: str) -> SecretStr:
        deadline = time.monotonic() + LOCK_S + 5
        while not await self._locks.claim(name):  # another instance is refreshing: wait for it
            if time.monotonic() > deadline:
                raise StorageFailed("busy", table="oauth_refresh", detail="refresh lock held too long")
            await asyncio.sleep(LOCK_POLL_S)
        try:
            mailbox = await store.grant(name)  # the latest refresh token, read under the lock
            route = oauth_route_of(mailbox.type)
            try:
                tokens = await self.client.refresh(route, store.refresh_token(mailbox))
            except ReauthNeeded as exc:
                latest = await store.grant(name)
                if latest.secret_token != mailbox.secret_token:  # a new sign-in landed meanwhile: use it
                    tokens = await self.client.refresh(route, store.refresh_token(latest))
                    mailbox = latest
                else:
                    log.warning("mailbox %s: refresh refused (%s); it needs a new sign-in", name, exc.detail)
                    await store.mark_needs_reauth(mailbox, exc)
                    raise
            if tokens.refresh_token is not None and tokens.refresh_token.get_secret_value():
                if not await store.rotated(mailbox, tokens.refresh_token):
                    raise OAuthError(Text(zh="邮箱在刷新登录时被修改。", en="The mailbox changed while its sign-in was refreshed."),
                                     Text(zh="会自动重试。", en="It is tried again."), temporary=True)
            self._cache[name] = self._entry(tokens, mailbox.account)
            return tokens.access_token
        finally:
            try:
                await self._locks.release(name)
            except StorageFailed:  # the lock runs out by itself
                pass
