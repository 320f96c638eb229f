"""OAuthEmulator: a loopback Microsoft identity platform (device code flow) and Google OAuth 2.0
(installed app: authorization code + PKCE, loopback redirect), so the bot's XOAUTH2 sign-in, refresh
and re-auth paths run in tests without a network.

Error shapes marked CONFIRMED were read from Microsoft's and Google's docs or bodies quoted in public
reports, LIKELY ones from fewer or older sources; ASSUMED ones have no public evidence and may differ.
Token values are never logged or recorded: records hold grant types, client ids, accounts and outcomes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import ipaddress
import json
import secrets
import string
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

from aiohttp import web

from bot.emulator.models import EmulatorError

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_USER_CODE_CHARS = string.ascii_uppercase + string.digits
_PAGE = "<!doctype html><meta charset=utf-8><title>{title}</title><h1>{title}</h1>{body}"

Issuer = Literal["microsoft", "google"]


class _TokenError(Exception):
    """A refused token or device-code request, rendered as the issuer's JSON error body."""

    def __init__(self, status: int, error: str, description: str, code: int | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.body: dict[str, Any] = {"error": error, "error_description": description}
        if code is not None:  # Microsoft also lists the AADSTS number, as an int
            self.body["error_codes"] = [code]


def _microsoft_error(error: str, code: int, text: str) -> _TokenError:
    return _TokenError(400, error, f"AADSTS{code}: {text}", code)


@dataclass(frozen=True)
class _Grant:
    """What a refresh token (or an approved code) stands for."""

    issuer: Issuer
    client_id: str
    account: str
    scope: str


@dataclass
class _DeviceCode:
    user_code: str
    client_id: str
    scope: str
    tenant: str
    interval: int
    expires_at: float
    last_poll: float | None = None
    account: str | None = None
    state: str = "pending"  # pending | approved | redeemed | expired | authorization_declined | access_denied


@dataclass(frozen=True)
class _AuthCode:
    grant: _Grant
    redirect_uri: str
    challenge: str
    offline: bool  # a refresh token comes with the access token


class OAuthEmulator:
    """Start it, point the MAILBOT_OAUTH_* settings at it (`settings_env()`), then play the admin:
    `approve` a device code, or let Google's /auth "sign in" `google_next_account` / `login_hint`.

    Everything runs on the test's event loop except `account_for`, which the SMTP test server calls
    from its own thread; all state sits behind one lock.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        interval: int = 1,
        device_expires_in: int = 900,
        access_ttl_s: int = 3600,
        rotate_refresh: bool = True,
        microsoft_clients: Iterable[str] = ("ms-client",),
        google_clients: Mapping[str, str] | None = None,
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the emulator serves loopback only, not {host}")
        self.host = host
        self.port = port
        self.url = ""
        self.interval = interval  # 0 turns slow_down off
        self.device_expires_in = device_expires_in
        self.access_ttl_s = access_ttl_s
        self.rotate_refresh = rotate_refresh
        self.microsoft_clients: set[str] = set(microsoft_clients)
        self.google_clients: dict[str, str] = dict(google_clients or {"g-client": "g-secret"})
        # Who signs in at Google's next /auth (wins over login_hint, as the person at the browser
        # may pick another account), and whether they press Cancel; both are used up by one /auth.
        self.google_next_account: str | None = None
        self.google_deny_next = False
        self.token_requests: list[tuple[str, str, str]] = []  # (grant_type, client_id, "ok" or error)
        self.scope_requests: list[tuple[Issuer, str]] = []  # scopes asked at devicecode and /auth
        self.burned_reuse = 0  # rotated refresh tokens presented again
        self._lock = threading.Lock()
        self._devices: dict[str, _DeviceCode] = {}  # device_code -> state
        self._issued: asyncio.Queue[str] = asyncio.Queue()  # user codes, for wait_device_code
        self._auth_codes: dict[str, _AuthCode] = {}
        self._consented: set[tuple[str, str]] = set()  # Google (client_id, account)
        self._refresh: dict[str, _Grant] = {}
        self._dead_refresh: dict[str, Literal["burned", "revoked"]] = {}
        self._access: dict[str, tuple[str, float]] = {}  # token -> (account, monotonic expiry)
        self._refreshes: Counter[str] = Counter()
        self._runner: web.AppRunner | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.add_routes([
            web.post("/{tenant}/oauth2/v2.0/devicecode", self._json(self._device_code)),
            web.post("/{tenant}/oauth2/v2.0/token", self._json(self._microsoft_token)),
            web.get("/devicelogin", self._device_login_page),
            web.post("/devicelogin", self._device_login_submit),
            web.get("/o/oauth2/v2/auth", self._google_auth),
            web.post("/token", self._json(self._google_token)),
        ])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is None:
            return
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> OAuthEmulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- where the bot points ------------------------------------------------------------------

    @property
    def microsoft_authority(self) -> str:
        return f"{self.url}/common"

    @property
    def google_auth_url(self) -> str:
        return f"{self.url}/o/oauth2/v2/auth"

    @property
    def google_token_url(self) -> str:
        return f"{self.url}/token"

    def settings_env(
        self,
        *,
        microsoft_client_id: str = "ms-client",
        google_client_id: str = "g-client",
        google_client_secret: str | None = None,
        tenant: str = "common",
    ) -> dict[str, str]:
        """The MAILBOT_OAUTH_* variables for the bot; the secret defaults to the client's own."""
        secret = google_client_secret
        if secret is None:
            secret = self.google_clients.get(google_client_id, "")
        return {
            "MAILBOT_OAUTH_MICROSOFT_AUTHORITY": f"{self.url}/{tenant}",
            "MAILBOT_OAUTH_MICROSOFT_CLIENT_ID": microsoft_client_id,
            "MAILBOT_OAUTH_GOOGLE_AUTH_URL": self.google_auth_url,
            "MAILBOT_OAUTH_GOOGLE_TOKEN_URL": self.google_token_url,
            "MAILBOT_OAUTH_GOOGLE_CLIENT_ID": google_client_id,
            "MAILBOT_OAUTH_GOOGLE_CLIENT_SECRET": secret,
        }

    # -- HTTP plumbing -------------------------------------------------------------------------

    def _json(
        self, action: Callable[[dict[str, str], web.Request], dict[str, Any]]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        """Run a form endpoint under the lock; a _TokenError becomes the issuer's error body."""

        async def handler(request: web.Request) -> web.Response:
            form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
            try:
                with self._lock:
                    body = action(form, request)
            except _TokenError as exc:
                return web.json_response(exc.body, status=exc.status)
            # Both issuers forbid caching token responses (RFC 6749 §5.1).
            return web.json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

        return handler

    def _record(self, form: Mapping[str, str], outcome: str) -> None:
        self.token_requests.append((form.get("grant_type", ""), form.get("client_id", ""), outcome))

    # -- tokens --------------------------------------------------------------------------------

    def _issue(self, grant: _Grant, *, refresh: bool, tenant: str = "common") -> dict[str, Any]:
        """A token response; `refresh` adds a refresh token, 'openid' in the scope an id_token."""
        prefix = "ya29." if grant.issuer == "google" else "EwB"
        access = prefix + secrets.token_urlsafe(32)
        self._access[access] = (grant.account, time.monotonic() + self.access_ttl_s)
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": grant.scope,
            "expires_in": self.access_ttl_s,
            "access_token": access,
        }
        if grant.issuer == "microsoft":
            body["ext_expires_in"] = self.access_ttl_s
        if refresh:
            token = ("1//" if grant.issuer == "google" else "M.C5") + secrets.token_urlsafe(48)
            self._refresh[token] = grant
            body["refresh_token"] = token
        if "openid" in grant.scope.split():
            issuer = "https://accounts.google.com" if grant.issuer == "google" else f"{self.url}/{tenant}/v2.0"
            body["id_token"] = _id_token(issuer, grant)
        return body

    def _use_refresh(self, form: Mapping[str, str], issuer: Issuer) -> _Grant:
        token = form.get("refresh_token", "")
        grant = self._refresh.get(token)
        if grant is not None and grant.issuer == issuer and grant.client_id == form.get("client_id"):
            return grant
        dead = self._dead_refresh.get(token)
        if dead == "burned":
            self.burned_reuse += 1
        if issuer == "google":
            # CONFIRMED: Google's answer for a revoked, expired or unknown refresh token.
            raise _TokenError(400, "invalid_grant", "Token has been expired or revoked.")
        if dead == "revoked":
            # CONFIRMED (quoted in public reports).
            raise _microsoft_error("invalid_grant", 50173, "The provided grant has expired due to it being "
                                   "revoked, a fresh auth token is needed. The user might have changed or reset "
                                   "their password.")
        # Microsoft lets a replaced refresh token live on; burning it at once (rotate_refresh) is stricter
        # on purpose, so two instances sharing one token show up. ASSUMED wording (AADSTS70000 is real).
        raise _microsoft_error("invalid_grant", 70000, "The provided value for the 'refresh_token' is not "
                               "valid. The refresh token has expired or been revoked.")

    def _rotate(self, form: Mapping[str, str], grant: _Grant) -> bool:
        """Burn the presented refresh token if rotating; True when a new one must be issued."""
        if grant.issuer == "google" or not self.rotate_refresh:
            return False
        token = form["refresh_token"]
        del self._refresh[token]
        self._dead_refresh[token] = "burned"
        return True

    # -- Microsoft -----------------------------------------------------------------------------

    def _check_microsoft_client(self, form: Mapping[str, str], request: web.Request) -> None:
        client_id = form.get("client_id", "")
        if client_id not in self.microsoft_clients:
            # CONFIRMED: an unregistered application id.
            raise _microsoft_error("unauthorized_client", 700016, f"Application with identifier '{client_id}' "
                                   f"was not found in the directory '{request.match_info['tenant']}'. This can "
                                   "happen if the application has not been installed by the administrator of "
                                   "the tenant or consented to by any user in the tenant.")

    def _device_code(self, form: dict[str, str], request: web.Request) -> dict[str, Any]:
        self._check_microsoft_client(form, request)
        scope = form.get("scope", "")
        if not scope:
            # CONFIRMED.
            raise _microsoft_error("invalid_request", 900144,
                                   "The request body must contain the following parameter: 'scope'.")
        self.scope_requests.append(("microsoft", scope))
        device_code = secrets.token_urlsafe(48)
        user_code = "".join(secrets.choice(_USER_CODE_CHARS) for _ in range(8))
        self._devices[device_code] = _DeviceCode(
            user_code=user_code,
            client_id=form["client_id"],
            scope=scope,
            tenant=request.match_info["tenant"],
            interval=self.interval,
            expires_at=time.monotonic() + self.device_expires_in,
        )
        self._issued.put_nowait(user_code)
        verification_uri = f"{self.url}/devicelogin"
        return {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": verification_uri,
            "expires_in": self.device_expires_in,
            "interval": self.interval,
            # CONFIRMED: Microsoft's message wording.
            "message": f"To sign in, use a web browser to open the page {verification_uri} and enter the "
                       f"code {user_code} to authenticate.",
        }

    def _microsoft_token(self, form: dict[str, str], request: web.Request) -> dict[str, Any]:
        try:
            self._check_microsoft_client(form, request)
            grant_type = form.get("grant_type")
            if grant_type == DEVICE_CODE_GRANT:
                body = self._poll_device(form)
            elif grant_type == "refresh_token":
                grant = self._use_refresh(form, "microsoft")
                scope = form.get("scope") or grant.scope
                body = self._issue(_Grant("microsoft", grant.client_id, grant.account, scope),
                                   refresh=self._rotate(form, grant), tenant=request.match_info["tenant"])
                self._refreshes[grant.account] += 1
            else:
                # LIKELY (Microsoft's AADSTS error list).
                raise _microsoft_error("unsupported_grant_type", 70003,
                                       "The app requested an unsupported grant type.")
        except _TokenError as exc:
            self._record(form, exc.body["error"])
            raise
        self._record(form, "ok")
        return body

    def _poll_device(self, form: Mapping[str, str]) -> dict[str, Any]:
        """RFC 8628 §3.5 polling, with Microsoft's error names and AADSTS numbers."""
        device = self._devices.get(form.get("device_code", ""))
        if device is None or device.client_id != form.get("client_id"):
            # CONFIRMED name (Microsoft's docs); the wording is theirs, the body carries no AADSTS number.
            raise _TokenError(400, "bad_verification_code",
                              "The device_code sent to the token endpoint wasn't recognized.")
        now = time.monotonic()
        if device.state == "redeemed":
            # ASSUMED: the code already bought its tokens.
            raise _microsoft_error("invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, "
                                   "please retry with a new valid code or use an existing refresh token.")
        if device.state == "expired" or now >= device.expires_at:
            device.state = "expired"
            # LIKELY (quoted in public reports).
            raise _microsoft_error("expired_token", 70020, "The provided value for the input parameter "
                                   "'device_code' is not valid. This device code has expired.")
        too_soon = device.last_poll is not None and now - device.last_poll < 0.8 * device.interval
        device.last_poll = now
        if too_soon:
            # RFC 8628's answer to polling faster than `interval` (ASSUMED for Microsoft's wording).
            raise _microsoft_error("slow_down", 70016, "OAuth 2.0 device flow error. Polling too fast; "
                                   "wait the interval between polls.")
        if device.state in ("authorization_declined", "access_denied"):
            # CONFIRMED name (Microsoft's docs; RFC 8628 says access_denied); ASSUMED AADSTS number.
            raise _microsoft_error(device.state, 70000, "The end user denied the authorization request.")
        if device.state == "pending":
            # CONFIRMED.
            raise _microsoft_error("authorization_pending", 70016,
                                   "OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
        assert device.account is not None
        device.state = "redeemed"
        grant = _Grant("microsoft", device.client_id, device.account, device.scope)
        # Microsoft hands out a refresh token only when offline_access was asked for.
        return self._issue(grant, refresh="offline_access" in device.scope.split(), tenant=device.tenant)

    def _device(self, user_code: str) -> _DeviceCode:
        for device in self._devices.values():
            if device.user_code == user_code.strip().upper():
                return device
        raise EmulatorError(f"no device code {user_code!r} was issued")

    async def _device_login_page(self, request: web.Request) -> web.Response:
        """A form for a human at the console: type the code and the account to sign in as."""
        form = ("<form method=post><p>Code <input name=user_code autofocus> "
                "Account <input name=account type=email> <button>Sign in</button>"
                " <button name=decline value=1>Cancel</button></form>")
        return web.Response(text=_PAGE.format(title="Enter code", body=form), content_type="text/html")

    async def _device_login_submit(self, request: web.Request) -> web.Response:
        form = await request.post()
        user_code, account = str(form.get("user_code", "")), str(form.get("account", ""))
        try:
            if form.get("decline"):
                self.decline(user_code)
                title = "You cancelled the sign-in"
            else:
                self.approve(user_code, account)
                title = f"Signed in as {html.escape(account)}; you may close this window"
        except (EmulatorError, ValueError) as exc:
            return web.Response(text=_PAGE.format(title="Sign-in failed", body=html.escape(str(exc))),
                                content_type="text/html", status=400)
        return web.Response(text=_PAGE.format(title=title, body=""), content_type="text/html")

    # -- Google --------------------------------------------------------------------------------

    async def _google_auth(self, request: web.Request) -> web.StreamResponse:
        try:
            location = self._authorize(dict(request.query), None)
        except EmulatorError as exc:
            return web.Response(text=_PAGE.format(title="Error 400", body=html.escape(str(exc))),
                                content_type="text/html", status=400)
        raise web.HTTPFound(location)

    def _authorize(self, query: Mapping[str, str], account: str | None) -> str:
        """The consent screen: the redirect URL for `query`, or EmulatorError for Google's error page."""
        client_id = query.get("client_id", "")
        redirect_uri = query.get("redirect_uri", "")
        scope = query.get("scope", "")
        with self._lock:
            if client_id not in self.google_clients:
                raise EmulatorError("invalid_client: The OAuth client was not found.")
            target = urlsplit(redirect_uri)
            if target.scheme != "http" or target.hostname not in ("127.0.0.1", "::1", "localhost"):
                # Installed apps may only redirect to an http loopback address (any port).
                raise EmulatorError(f"redirect_uri_mismatch: {redirect_uri!r} is not a loopback address")
            if query.get("response_type") != "code":
                raise EmulatorError("unsupported_response_type: response_type must be 'code'")
            if not scope:
                raise EmulatorError("invalid_request: Missing required parameter: scope")
            if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
                # Stricter than Google, which also takes no PKCE or "plain": the bot must send S256.
                raise EmulatorError("invalid_request: code_challenge with code_challenge_method=S256 required")
            account = account or self.google_next_account or query.get("login_hint")
            if not account:
                raise EmulatorError("nobody signs in: set google_next_account, pass login_hint or use consent()")
            self.google_next_account = None
            self.scope_requests.append(("google", scope))
            state = {"state": query["state"]} if "state" in query else {}
            if self.google_deny_next:
                self.google_deny_next = False
                params = {"error": "access_denied", **state}
            else:
                # A refresh token needs access_type=offline, and after the first consent prompt=consent.
                offline = query.get("access_type") == "offline" and (
                    "consent" in query.get("prompt", "").split() or (client_id, account) not in self._consented)
                self._consented.add((client_id, account))
                code = "4/0A" + secrets.token_urlsafe(32)
                self._auth_codes[code] = _AuthCode(
                    _Grant("google", client_id, account, scope), redirect_uri, query["code_challenge"], offline)
                params = {"code": code, "scope": scope, **state}
        return redirect_uri + ("&" if target.query else "?") + urlencode(params)

    def _google_token(self, form: dict[str, str], request: web.Request) -> dict[str, Any]:
        try:
            client_id = form.get("client_id", "")
            if client_id not in self.google_clients:
                # CONFIRMED.
                raise _TokenError(401, "invalid_client", "The OAuth client was not found.")
            if form.get("client_secret") != self.google_clients[client_id]:
                # CONFIRMED.
                raise _TokenError(401, "invalid_client", "Unauthorized")
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                body = self._redeem(form)
            elif grant_type == "refresh_token":
                grant = self._use_refresh(form, "google")
                body = self._issue(grant, refresh=False)  # Google keeps the refresh token
                self._refreshes[grant.account] += 1
            else:
                # LIKELY.
                raise _TokenError(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
        except _TokenError as exc:
            self._record(form, exc.body["error"])
            raise
        self._record(form, "ok")
        return body

    def _redeem(self, form: Mapping[str, str]) -> dict[str, Any]:
        code = self._auth_codes.get(form.get("code", ""))
        if code is None or code.grant.client_id != form.get("client_id"):
            # CONFIRMED: an unknown or already used code.
            raise _TokenError(400, "invalid_grant", "Bad Request")
        if form.get("redirect_uri") != code.redirect_uri:
            # LIKELY.
            raise _TokenError(400, "redirect_uri_mismatch", "Bad Request")
        verifier = form.get("code_verifier")
        if not verifier:
            # LIKELY.
            raise _TokenError(400, "invalid_grant", "Missing code verifier.")
        if _s256(verifier) != code.challenge:
            # LIKELY.
            raise _TokenError(400, "invalid_grant", "Invalid code verifier.")
        del self._auth_codes[form["code"]]
        return self._issue(code.grant, refresh=code.offline)

    # -- playing the admin ---------------------------------------------------------------------

    def approve(self, user_code: str, account: str) -> None:
        """The admin signed in at the verification page as `account` and accepted."""
        with self._lock:
            device = self._pending(user_code)
            device.state, device.account = "approved", account

    def decline(
        self, user_code: str, error: Literal["authorization_declined", "access_denied"] = "authorization_declined"
    ) -> None:
        """The admin pressed Cancel; Microsoft answers authorization_declined, RFC 8628 access_denied."""
        with self._lock:
            self._pending(user_code).state = error

    def expire(self, user_code: str) -> None:
        """Let the code run out now instead of after device_expires_in."""
        with self._lock:
            self._device(user_code).state = "expired"

    def _pending(self, user_code: str) -> _DeviceCode:
        device = self._device(user_code)
        if device.state != "pending" or time.monotonic() >= device.expires_at:
            raise EmulatorError(f"device code {user_code!r} is no longer pending")
        return device

    def pending_codes(self) -> list[str]:
        """User codes still waiting for the admin."""
        now = time.monotonic()
        with self._lock:
            return [d.user_code for d in self._devices.values() if d.state == "pending" and now < d.expires_at]

    async def wait_device_code(self, timeout: float = 5.0) -> str:
        """The next user code issued (each is returned once), so a test approves what the CLI printed."""
        return await asyncio.wait_for(self._issued.get(), timeout)

    async def consent(self, auth_url: str, account: str) -> str:
        """Sign in at Google's /auth as `account` and return the redirect URL without following it,
        as the admin would paste it from the browser's address bar."""
        parts = urlsplit(auth_url)
        if f"{parts.scheme}://{parts.netloc}{parts.path}" != self.google_auth_url:
            raise EmulatorError(f"{auth_url!r} is not this emulator's {self.google_auth_url}")
        return self._authorize(dict(parse_qsl(parts.query)), account)

    def revoke(self, account: str) -> None:
        """Every refresh and access token of `account` stops working (password reset, admin revoke)."""
        with self._lock:
            for token, grant in list(self._refresh.items()):
                if grant.account == account:
                    del self._refresh[token]
                    self._dead_refresh[token] = "revoked"
            for token, (owner, _) in list(self._access.items()):
                if owner == account:
                    del self._access[token]
            self._consented = {pair for pair in self._consented if pair[1] != account}

    # -- views for assertions ------------------------------------------------------------------

    def account_for(self, access_token: str) -> str | None:
        """The account a live access token was issued to; thread-safe, for the SMTP test server."""
        with self._lock:
            entry = self._access.get(access_token)
        if entry is None or time.monotonic() >= entry[1]:
            return None
        return entry[0]

    def refreshes(self, account: str) -> int:
        """Successful refresh-token grants for `account`."""
        with self._lock:
            return self._refreshes[account]


def _s256(verifier: str) -> str:
    """RFC 7636's S256 code challenge."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _id_token(issuer: str, grant: _Grant) -> str:
    """An OpenID id_token naming the account; the signature is filler (a client that got it straight
    from the token endpoint over TLS may skip checking it)."""
    now = int(time.time())
    claims = {"iss": issuer, "aud": grant.client_id, "iat": now, "exp": now + 3600,
              "email": grant.account, "preferred_username": grant.account}

    def part(data: dict[str, Any] | bytes) -> str:
        raw = data if isinstance(data, bytes) else json.dumps(data).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return ".".join([part({"alg": "RS256", "typ": "JWT"}), part(claims), part(secrets.token_bytes(32))])
