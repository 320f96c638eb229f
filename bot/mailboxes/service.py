"""MailboxService: the one place that adds, edits, checks and removes mailboxes.

Every front end (CLI, chat, cards, HTTP, console) calls this; it knows nothing of DingTalk.
Nothing is saved until the live login check passes (unless verify=False), and every change
lands in the audit log with who made it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import SecretStr

from bot.audit import Actor, AuditLog
from bot.errors import (BasicAuthDisabled, Conflict, FieldError, InvalidInput, NotFound, OAuthTokenRejected,
                        ReauthNeeded, SmtpError)
from bot.i18n import Text
from bot.mailboxes.model import (
    LastCheck,
    Mailbox,
    MailboxSpec,
    Resolved,
    UNPACED,
    Caveat,
    check_secret,
    oauth_route_of,
    parse_spec,
    resolve,
)
from bot.mailboxes.detect import Detection, Detector
from bot.mailboxes.tokens import AccessTokens
from bot.oauth import OAuthClient, TokenSet
from bot.providers import get_provider
from bot.secrets import SecretBox
from bot.smtp import ServerSettings, SmtpSession, build_message, check_login
from bot.storage import Storage

__all__ = ["Actor", "MailboxService", "SaveResult"]

SPEC_FIELDS = ("name", "type", "account", "host", "port", "security")
SYSTEM = Actor(id="mailbot", source="system")  # changes the bot makes by itself (a refused sign-in)


class SaveResult:
    """A saved mailbox and the warnings worth showing (type/domain mismatch, no TLS...)."""

    def __init__(self, mailbox: Mailbox, warnings: list[Caveat]) -> None:
        self.mailbox = mailbox
        self.warnings = warnings


def _now() -> datetime:
    return datetime.now(UTC)


def _not_found(name: str) -> NotFound:
    return NotFound(
        Text(zh=f"没有名为“{name}”的邮箱。", en=f"There is no mailbox named '{name}'."),
        Text(zh="用“邮箱列表”或 `mailbot mailbox list` 查看已有邮箱。",
             en="See the existing ones with 'list mailboxes' or `mailbot mailbox list`."),
    )


def password_refused(type_key: str) -> FieldError:
    """The catalog knows this type refuses password SMTP login: say so before any login attempt (and
    save nothing, even unverified: such a mailbox could never send). Stays until OAuth2 sign-in exists."""
    refused = BasicAuthDisabled(provider_type=type_key)
    assert refused.fix is not None
    return FieldError(field="type", problem=Text(zh=refused.cause.zh + refused.fix.zh,
                                                 en=f"{refused.cause.en} {refused.fix.en}"))


def _name_taken(name: str) -> InvalidInput:
    return InvalidInput([FieldError(
        field="name",
        problem=Text(zh=f"名称“{name}”已被使用，请换一个", en=f"the name '{name}' is already taken; pick another"),
        example=f"{name}-2",
    )])


def _changed(name: str) -> Conflict:
    return Conflict(
        Text(zh=f"邮箱“{name}”已被他人修改，这份内容已过期。",
             en=f"The mailbox '{name}' was changed by someone else since this was shown."),
        Text(zh="请重新打开最新的邮箱信息后再操作。", en="Open the latest version and try again."),
    )


def _server(at: Resolved | Mailbox, account: str, secret: SecretStr, auth: Literal["password", "oauth2"] = "password"
            ) -> ServerSettings:
    """The SMTP layer's login settings for a mailbox's server (resolved from a form, or stored)."""
    return ServerSettings(host=at.host, port=at.port, security=at.security, account=account, secret=secret,
                          provider_type=at.type, auth=auth)


class MailboxService:
    def __init__(self, storage: Storage, box: SecretBox, *, smtp_timeout: float = 15.0,
                 oauth: OAuthClient | None = None, detector: Detector | None = None) -> None:
        self._table = storage.table("mailboxes")
        self._box = box
        self.audit = AuditLog(storage)
        self.smtp_timeout = smtp_timeout
        self._lock = asyncio.Lock()
        self.oauth = oauth
        self.tokens = AccessTokens(storage, oauth) if oauth is not None else None
        self.detector = detector

    # ---- reading -------------------------------------------------------------------------

    async def list(self) -> list[Mailbox]:
        return [Mailbox.model_validate(v) for _, v in await self._table.items()]

    async def find(self, name: str) -> Mailbox | None:
        raw = await self._table.get(name)
        if raw is not None:
            return Mailbox.model_validate(raw)
        folded = name.casefold()
        return next((m for m in await self.list() if m.name.casefold() == folded), None)

    async def get(self, name: str) -> Mailbox:
        mailbox = await self.find(name)
        if mailbox is None:
            raise _not_found(name)
        return mailbox

    async def _stored(self, name: str) -> tuple[Mailbox, dict[str, Any]]:
        """The mailbox and its row as stored, for a compare-and-set against it."""
        mailbox = await self.get(name)
        raw = await self._table.get(mailbox.name)
        if raw is None:  # removed meanwhile
            raise _not_found(name)
        return Mailbox.model_validate(raw), raw

    async def _replace(self, raw: dict[str, Any], name: str, new: Mailbox | None) -> None:
        """Write `new` over the row `name` (None removes it) only if it still is `raw`: another process
        changed it meanwhile (two instances acting on one card press) raises Conflict and writes nothing.
        The in-process lock orders this process's changes; this orders everyone's."""
        if not await self._table.put_if(name, None if new is None else new.model_dump(mode="json"), raw):
            raise _changed(name)

    async def default(self) -> Mailbox | None:
        return next((m for m in await self.list() if m.default), None)

    async def login(self, mailbox: Mailbox) -> ServerSettings:
        """Login settings for the SMTP layer only: the decrypted password, or a current OAuth2 access
        token (refreshed when due; ReauthNeeded when the issuer refuses the refresh token)."""
        if mailbox.auth == "oauth2":
            if mailbox.auth_state == "needs_reauth":
                raise self._reauth_error(mailbox)
            try:
                secret = await self._keeper().get(self, mailbox)
            except ReauthNeeded as exc:  # said with this mailbox's reauth command
                raise self._reauth_error(mailbox.model_copy(update={"auth_reason": exc.detail})) from None
        else:
            secret = self._box.decrypt(mailbox.secret_token)
        return _server(mailbox, mailbox.account, secret, mailbox.auth)

    def forget_token(self, name: str) -> None:
        """The server refused the mailbox's access token: the next login refreshes it."""
        if self.tokens is not None:
            self.tokens.forget(name)

    def _keeper(self) -> AccessTokens:
        if self.tokens is None:
            raise RuntimeError("MailboxService was built without an OAuth client")
        return self.tokens

    @staticmethod
    def _reauth_error(mailbox: Mailbox) -> ReauthNeeded:
        return ReauthNeeded(
            Text(zh=f"邮箱“{mailbox.name}”的登录已失效，需要重新登录。",
                 en=f"The sign-in of the mailbox '{mailbox.name}' is no longer valid; it needs a new sign-in."),
            Text(zh=f"管理员运行 `mailbot mailbox reauth {mailbox.name}`（或在聊天/控制台重新登录）；期间邮件会等待，不会丢失。",
                 en=f"An admin runs `mailbot mailbox reauth {mailbox.name}` (or signs in again in chat or the console); "
                    "mail waits meanwhile and is not lost."),
            detail=mailbox.auth_reason)

    # ---- OAuth2 grants (bot.mailboxes.tokens.GrantStore) --------------------------------------

    async def grant(self, name: str) -> Mailbox:
        raw = await self._table.get(name)
        if raw is None:
            raise _not_found(name)
        return Mailbox.model_validate(raw)

    def refresh_token(self, mailbox: Mailbox) -> SecretStr:
        return self._box.decrypt(mailbox.secret_token)

    async def rotated(self, mailbox: Mailbox, refresh_token: SecretStr) -> bool:
        """Store a rotated refresh token at once. Not a user-visible change: the version stays (an
        open card is not made stale by a refresh). False when a new sign-in replaced the grant."""
        sealed = self._box.encrypt(refresh_token.get_secret_value())
        for _ in range(5):  # other changes to the row meanwhile (a check, an edit): apply on top of them
            raw = await self._table.get(mailbox.name)
            if raw is None or raw.get("secret_token") != mailbox.secret_token:
                return False
            if await self._table.put_if(mailbox.name, {**raw, "secret_token": sealed}, raw):
                return True
        return False

    async def mark_needs_reauth(self, mailbox: Mailbox, error: ReauthNeeded) -> None:
        """The issuer refused the refresh token: the mailbox waits for a new sign-in (audited, once)."""
        for _ in range(5):
            raw = await self._table.get(mailbox.name)
            if raw is None or raw.get("secret_token") != mailbox.secret_token or raw.get("auth_state") == "needs_reauth":
                return
            latest = Mailbox.model_validate(raw)
            updated = latest.model_copy(update={"auth_state": "needs_reauth", "auth_reason": error.detail,
                                                "version": latest.version + 1, "updated_at": _now()})
            if await self._table.put_if(mailbox.name, updated.model_dump(mode="json"), raw):
                await self.audit.record(SYSTEM, "needs_reauth", mailbox.name, {"reason": error.detail}, ok=False)
                return

    # ---- validation ----------------------------------------------------------------------

    async def propose_type(self, data: dict[str, Any]) -> Detection | None:
        """The provider of an address whose type (or custom host) was not given, from the catalog's
        public domains or its domain's MX, with the reason; None: ask. Never waits more than ~2 s."""
        account = str(data.get("account") or "").strip()
        if data.get("type") or data.get("host") or "@" not in account or self.detector is None:
            return None
        return await self.detector.detect(account)

    def validate(self, data: dict[str, Any], secret: SecretStr | None) -> tuple[MailboxSpec, Resolved, SecretStr]:
        """Check a submission without touching storage; InvalidInput lists every bad field."""
        spec = parse_spec(data)
        errors: list[FieldError] = []
        try:
            resolved = resolve(spec)
        except InvalidInput as exc:
            errors.extend(exc.errors)
            resolved = None
        try:
            checked = check_secret(secret, resolved.type if resolved else "custom")
        except InvalidInput as exc:
            errors.extend(exc.errors)
        if resolved is not None and get_provider(resolved.type).basic_auth_disabled:
            errors.append(password_refused(resolved.type))
        if errors:
            raise InvalidInput(errors)
        assert resolved is not None
        return spec, resolved, checked

    def validate_oauth(self, data: dict[str, Any]) -> tuple[MailboxSpec, Resolved]:
        """Check a submission for an OAuth2 mailbox before the sign-in starts (no password involved)."""
        spec = parse_spec(data)
        resolved = resolve(spec)
        oauth_route_of(resolved.type)
        resolved.warnings = [w for w in resolved.warnings if w.code != "basic_auth_disabled"]
        return spec, resolved

    async def check_oauth_name(self, data: dict[str, Any]) -> tuple[MailboxSpec, Resolved]:
        """validate_oauth, and the name is free: said before the admin signs in, not after."""
        spec, resolved = self.validate_oauth(data)
        await self._check_name_free(spec.name)
        return spec, resolved

    async def add_oauth(self, data: dict[str, Any], tokens: TokenSet, actor: Actor) -> SaveResult:
        """Save an OAuth2 mailbox after its sign-in: the login is checked with XOAUTH2 first; the
        refresh token is stored encrypted, the access token kept in memory."""
        spec, resolved = await self.check_oauth_name(data)
        if tokens.refresh_token is None:
            raise self._no_refresh_token()
        server = _server(resolved, spec.account, tokens.access_token, "oauth2")
        await self.verify(server, actor, spec.name)
        async with self._lock:
            await self._check_name_free(spec.name)
            now = _now()
            mailbox = Mailbox(
                name=spec.name, type=resolved.type, account=spec.account,
                secret_token=self._box.encrypt(tokens.refresh_token.get_secret_value()),
                host=resolved.host, port=resolved.port, security=resolved.security, auth="oauth2",
                default=await self.default() is None,
                created_by=actor.label(), created_at=now, updated_by=actor.label(), updated_at=now,
                last_check=LastCheck(at=now, ok=True),
            )
            if not await self._table.put_if(mailbox.name, mailbox.model_dump(mode="json"), None):
                raise _name_taken(spec.name)
        self._keeper().remember(mailbox, tokens)
        await self.audit.record(actor, "add", mailbox.name, {
            **{k: v for k, v in mailbox.public().items() if k in SPEC_FIELDS}, "auth": "oauth2", "verified": True})
        return SaveResult(mailbox, resolved.warnings)

    async def reauth(self, name: str, tokens: TokenSet, actor: Actor) -> Mailbox:
        """A new sign-in for an existing mailbox (it becomes OAuth2 if it was not): checked, then stored;
        its waiting mail goes out (the worker sees the new version)."""
        current = await self.get(name)
        oauth_route_of(current.type)
        if tokens.refresh_token is None:
            raise self._no_refresh_token()
        server = _server(current, current.account, tokens.access_token, "oauth2")
        await self.verify(server, actor, current.name)
        async with self._lock:
            for _ in range(5):
                latest, raw = await self._stored(current.name)
                now = _now()
                updated = latest.model_copy(update={
                    "secret_token": self._box.encrypt(tokens.refresh_token.get_secret_value()), "auth": "oauth2",
                    "auth_state": "ok", "auth_reason": None, "version": latest.version + 1,
                    "updated_by": actor.label(), "updated_at": now, "last_check": LastCheck(at=now, ok=True)})
                if await self._table.put_if(latest.name, updated.model_dump(mode="json"), raw):
                    break
            else:
                raise _changed(current.name)
        self._keeper().remember(updated, tokens)
        await self.audit.record(actor, "reauth", updated.name, {"auth": [current.auth, "oauth2"], "secret": True})
        return updated

    @staticmethod
    def _no_refresh_token() -> InvalidInput:
        return InvalidInput([FieldError(field="type", problem=Text(
            zh="登录服务没有给出刷新令牌（缺少 offline_access 权限？），mailbot 无法长期发信",
            en="the sign-in gave no refresh token (is offline_access missing?), so mailbot could not keep sending"))])

    async def _check_name_free(self, name: str, keep: str | None = None) -> None:
        other = await self.find(name)
        if other is not None and other.name != keep:
            raise _name_taken(name)

    # ---- changes -------------------------------------------------------------------------

    async def verify(self, server: ServerSettings, actor: Actor, target: str) -> None:
        """Live login check; a failure is audited and raised as a classified SmtpError."""
        try:
            await check_login(server, self.smtp_timeout)
        except SmtpError as exc:
            await self.audit.record(actor, "test", target, {"ok": False, "reason": exc.code}, ok=False)
            raise

    async def add(self, data: dict[str, Any], secret: SecretStr | None, actor: Actor, *,
                  verify: bool = True) -> SaveResult:
        spec, resolved, checked = self.validate(data, secret)
        await self._check_name_free(spec.name)
        server = _server(resolved, spec.account, checked)
        if verify:
            await self.verify(server, actor, spec.name)
        async with self._lock:
            await self._check_name_free(spec.name)
            now = _now()
            mailbox = Mailbox(
                name=spec.name, type=resolved.type, account=spec.account,
                secret_token=self._box.encrypt(checked.get_secret_value()),
                host=resolved.host, port=resolved.port, security=resolved.security,
                default=await self.default() is None,
                created_by=actor.label(), created_at=now, updated_by=actor.label(), updated_at=now,
                last_check=LastCheck(at=now, ok=True) if verify else None,
            )
            if not await self._table.put_if(mailbox.name, mailbox.model_dump(mode="json"), None):
                raise _name_taken(spec.name)  # another process added it meanwhile
        await self.audit.record(actor, "add", mailbox.name, {
            **{k: v for k, v in mailbox.public().items() if k in SPEC_FIELDS}, "verified": verify})
        return SaveResult(mailbox, resolved.warnings)

    def _spec_of(self, mailbox: Mailbox) -> dict[str, Any]:
        """The spec a mailbox was made from: server settings only where they differ from the catalog."""
        spec: dict[str, Any] = {"name": mailbox.name, "type": mailbox.type, "account": mailbox.account}
        provider = get_provider(mailbox.type)
        if (mailbox.host, mailbox.port, mailbox.security) != (provider.host, provider.port, provider.security):
            spec.update(host=mailbox.host, port=mailbox.port, security=mailbox.security)
        return spec

    async def edit(self, name: str, changes: dict[str, Any], secret: SecretStr | None, actor: Actor, *,
                   verify: bool = True, expected_version: int | None = None) -> SaveResult:
        """Change fields (an empty secret keeps the old one) and re-verify before saving."""
        current = await self.get(name)
        self._check_version(current, expected_version)
        data = self._spec_of(current)
        changes = {k: v for k, v in changes.items() if k in SPEC_FIELDS and v not in (None, "")}
        if "type" in changes and changes["type"] != current.type:
            for key in ("host", "port", "security"):
                data.pop(key, None)
        data.update(changes)
        keep_secret = secret is None or not secret.get_secret_value().strip()
        oauth = current.auth == "oauth2" and keep_secret  # a password given instead switches it to password login
        if oauth:
            spec, resolved = self.validate_oauth(data)
            checked = await self._keeper().get(self, current) if verify else SecretStr("")
        else:
            spec, resolved, checked = self.validate(data, self._box.decrypt(current.secret_token) if keep_secret else secret)
        await self._check_name_free(spec.name, keep=current.name)
        server = _server(resolved, spec.account, checked, "oauth2" if oauth else "password")
        if verify:
            await self.verify(server, actor, current.name)
        async with self._lock:
            latest, raw = await self._stored(current.name)
            self._check_version(latest, current.version)
            now = _now()
            updated = latest.model_copy(update={
                "name": spec.name, "type": resolved.type, "account": spec.account,
                "host": resolved.host, "port": resolved.port, "security": resolved.security,
                "secret_token": latest.secret_token if keep_secret else self._box.encrypt(checked.get_secret_value()),
                **({} if keep_secret else {"auth": "password", "auth_state": "ok", "auth_reason": None}),
                "version": latest.version + 1, "updated_by": actor.label(), "updated_at": now,
                "last_check": LastCheck(at=now, ok=True) if verify else latest.last_check,
            })
            if updated.name == latest.name:
                await self._replace(raw, latest.name, updated)
            else:  # a rename: the old row goes first, by compare-and-set, so only one process renames it
                await self._replace(raw, latest.name, None)
                await self._table.put(updated.name, updated.model_dump(mode="json"))
        diff = {k: [latest.public()[k], updated.public()[k]] for k in SPEC_FIELDS
                if latest.public()[k] != updated.public()[k]}
        if not keep_secret:
            diff["secret"] = True
        await self.audit.record(actor, "edit", updated.name, diff)
        return SaveResult(updated, resolved.warnings)

    @staticmethod
    def _check_version(mailbox: Mailbox, expected: int | None) -> None:
        if expected is not None and mailbox.version != expected:
            raise _changed(mailbox.name)

    async def remove(self, name: str, actor: Actor, *, expected_version: int | None = None) -> Mailbox:
        async with self._lock:
            mailbox, raw = await self._stored(name)
            self._check_version(mailbox, expected_version)
            await self._replace(raw, mailbox.name, None)
        await self.audit.record(actor, "remove", mailbox.name, {"was_default": mailbox.default})
        return mailbox

    async def set_enabled(self, name: str, enabled: bool, actor: Actor, *,
                          expected_version: int | None = None) -> Mailbox:
        async with self._lock:
            mailbox, raw = await self._stored(name)
            self._check_version(mailbox, expected_version)
            if mailbox.enabled == enabled:
                return mailbox
            updated = self._touched(mailbox, actor, enabled=enabled)
            await self._replace(raw, mailbox.name, updated)
        await self.audit.record(actor, "enable" if enabled else "disable", mailbox.name, {"enabled": [not enabled, enabled]})
        return updated

    async def set_default(self, name: str, actor: Actor, *, expected_version: int | None = None) -> Mailbox:
        async with self._lock:
            mailbox = await self.get(name)
            self._check_version(mailbox, expected_version)
            # One write for all rows, so there is never a moment with two defaults or none (two
            # processes setting the same default at once both succeed: the outcome is the same).
            writes = {m.name: self._touched(m, actor, default=False).model_dump(mode="json")
                      for m in await self.list() if m.default and m.name != mailbox.name}
            updated = self._touched(mailbox, actor, default=True)
            writes[updated.name] = updated.model_dump(mode="json")
            await self._table.write(writes)
        await self.audit.record(actor, "default", mailbox.name, {"previous": [n for n in writes if n != mailbox.name]})
        return updated

    async def set_rate(self, name: str, per_minute: int | Literal["none"] | None, actor: Actor) -> Mailbox:
        """Override the relay's pacing for one mailbox: mails a minute, "none" for no pacing, or
        None to go back to the provider's default (which for a custom server is no pacing)."""
        if per_minute != UNPACED and per_minute is not None and not 1 <= per_minute <= 10_000:
            raise InvalidInput([FieldError(field="rate_per_minute",
                                           problem=Text(zh="每分钟封数需在 1–10000 之间", en="must be 1–10000 mails a minute"),
                                           example="20")])
        return await self._override(name, actor, "rate", "rate_per_minute", per_minute)

    async def set_quota(self, name: str, per_day: int | None, actor: Actor) -> Mailbox:
        """Override the mailbox's daily sending quota (mails a day), or None for the provider's
        (which for a custom server and 163/126 is no limit). The relay sees it within a poll; raised,
        the mail held for the quota goes out at once."""
        if per_day is not None and not 1 <= per_day <= 10_000_000:
            raise InvalidInput([FieldError(field="quota_per_day",
                                           problem=Text(zh="每日封数需在 1–10000000 之间", en="must be 1–10000000 mails a day"),
                                           example="500")])
        return await self._override(name, actor, "quota", "quota_per_day", per_day)

    async def _override(self, name: str, actor: Actor, action: str, field: str, value: Any) -> Mailbox:
        """Set one of the mailbox's relay overrides (compare-and-set), audited with its old and new value."""
        async with self._lock:
            mailbox, raw = await self._stored(name)
            updated = self._touched(mailbox, actor, **{field: value})
            await self._replace(raw, mailbox.name, updated)
        await self.audit.record(actor, action, mailbox.name, {field: [getattr(mailbox, field), value]})
        return updated

    def _touched(self, mailbox: Mailbox, actor: Actor, **update: Any) -> Mailbox:
        return mailbox.model_copy(update={**update, "version": mailbox.version + 1,
                                          "updated_by": actor.label(), "updated_at": _now()})

    async def test(self, name: str, actor: Actor, *, to: str | None = None) -> Mailbox:
        """Live login check (and a real test mail when `to` is given); the result is stored."""
        mailbox = await self.get(name)
        failure: SmtpError | None = None
        message_id = None
        try:
            session = await self._open(mailbox)
            async with session:
                if to:
                    message = build_message(
                        account=mailbox.account, to=[to], from_name=f"mailbot · {mailbox.name}",
                        subject=f"mailbot 测试邮件 / test mail: {mailbox.name}",
                        text=(f"这是 mailbot 发出的测试邮件，邮箱“{mailbox.name}”可以正常发信。\n\n"
                              f"This is a test mail from mailbot: the mailbox '{mailbox.name}' can send.\n"),
                    )
                    message_id = message["Message-ID"]
                    await session.send(message, [to])
        except SmtpError as exc:
            failure = exc
        check = LastCheck(at=_now(), ok=failure is None, code=failure.code if failure else None,
                          reason=failure.message("en") if failure else None)
        async with self._lock:
            for _ in range(3):  # another process's change meanwhile: record the check on top of it
                raw = await self._table.get(mailbox.name)
                if raw is None:
                    break
                latest = Mailbox.model_validate(raw)
                if await self._table.put_if(latest.name, latest.model_copy(update={"last_check": check}).model_dump(mode="json"), raw):
                    break
        await self.audit.record(actor, "test", mailbox.name,
                                {"ok": failure is None, "to": to, "message_id": message_id,
                                 "reason": failure.code if failure else None}, ok=failure is None)
        if failure is not None:
            raise failure
        return mailbox.model_copy(update={"last_check": check})

    async def check_login(self, mailbox: Mailbox) -> None:
        """The periodic health check's live login (bot.mailboxes.health): log in and quit, raising the
        classified SmtpError / OAuthError. Writes nothing (no last_check, no audit, no version), so an
        open card's expected version never goes stale because of a check."""
        session = await self._open(mailbox)
        await session.close()

    async def _open(self, mailbox: Mailbox) -> SmtpSession:
        """A logged-in session. An OAuth2 access token the server refuses (revoked before it expired)
        is refreshed once: a revoked sign-in then turns the mailbox needs_reauth (ReauthNeeded)."""
        try:
            return await SmtpSession.open(await self.login(mailbox), self.smtp_timeout)
        except OAuthTokenRejected:
            if mailbox.auth != "oauth2":
                raise
            self.forget_token(mailbox.name)
            return await SmtpSession.open(await self.login(mailbox), self.smtp_timeout)

    async def reseal_all(self, box: SecretBox) -> int:
        """Re-encrypt every secret with `box`'s primary key in one transaction (key rotation)."""
        async with self._lock:
            mailboxes = await self.list()
            writes = {m.name: m.model_copy(update={"secret_token": box.reseal(m.secret_token)}).model_dump(mode="json")
                      for m in mailboxes}
            if writes:
                await self._table.write(writes)
            self._box = box
        return len(writes)
