"""The OAuth2 client: Microsoft's device authorization grant (RFC 8628), Google's installed-app
authorization code with PKCE (RFC 7636), and refresh. aiohttp, so nothing blocks the loop (msal is
synchronous). Endpoints come from settings, so every flow runs against a local emulator.

Errors leave as OAuthError subclasses with the issuer's `error` code as detail; no token is ever in
a message or a log line.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
from pydantic import BaseModel, SecretStr

from bot.config import Settings
from bot.errors import OAuthError, OAuthNotConfigured, ReauthNeeded, SignInCancelled
from bot.i18n import Text
from bot.providers import OAuthRoute

log = logging.getLogger("mailbot.oauth")
HTTP_TIMEOUT_S = 15.0
MAX_INTERVAL_S = 60.0  # a device poll interval the issuer asks for is honoured up to this
CANCELLED = ("authorization_declined", "access_denied", "expired_token", "bad_verification_code")


class TokenSet(BaseModel):
    """What a token endpoint answered: the access token (memory only) and maybe a new refresh token."""

    access_token: SecretStr
    refresh_token: SecretStr | None = None
    expires_in: float = 3600.0
    received_at: float = 0.0  # time.time() when it arrived

    @property
    def expires_at(self) -> float:
        return self.received_at + self.expires_in


class DeviceGrant(BaseModel):
    """A device sign-in in progress: the admin opens `verification_uri` and types `user_code`."""

    device_code: SecretStr
    user_code: str
    verification_uri: str
    expires_at: float
    interval_s: float


class CodeGrant(BaseModel):
    """An authorization-code sign-in in progress: the admin opens `url`; the issuer redirects the
    browser to `redirect_uri` with `code` and `state`."""

    url: str
    state: str
    verifier: SecretStr
    redirect_uri: str


def _not_configured(variable: str) -> OAuthNotConfigured:
    return OAuthNotConfigured(
        Text(zh=f"还没有配置 OAuth2 应用：缺少 {variable}。", en=f"No OAuth2 app is configured: {variable} is not set."),
        Text(zh=f"按指引注册应用（公共客户端），把应用 ID 填入 {variable} 后重启 mailbot。",
             en=f"Register the app (a public client) as the guide shows, put its id in {variable}, and restart mailbot."))


class OAuthClient:
    """One per process; `close()` at shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S))
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    # ---- endpoints and client ids (settings) ----------------------------------------------

    def _client(self, route: OAuthRoute) -> dict[str, str]:
        s = self.settings
        if route.issuer == "microsoft":
            if not s.oauth_microsoft_client_id:
                raise _not_configured("MAILBOT_OAUTH_MICROSOFT_CLIENT_ID")
            return {"client_id": s.oauth_microsoft_client_id}
        if not s.oauth_google_client_id:
            raise _not_configured("MAILBOT_OAUTH_GOOGLE_CLIENT_ID")
        if s.oauth_google_client_secret is None:
            raise _not_configured("MAILBOT_OAUTH_GOOGLE_CLIENT_SECRET")
        return {"client_id": s.oauth_google_client_id,
                "client_secret": s.oauth_google_client_secret.get_secret_value()}

    def _token_url(self, route: OAuthRoute) -> str:
        if route.issuer == "microsoft":
            return self.settings.oauth_microsoft_authority.rstrip("/") + "/oauth2/v2.0/token"
        return self.settings.oauth_google_token_url

    def check_configured(self, route: OAuthRoute) -> None:
        """Raise OAuthNotConfigured before a dialog asks the admin anything it cannot finish."""
        self._client(route)

    # ---- the wire -------------------------------------------------------------------------

    async def _post(self, url: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        try:
            async with self._session().post(url, data=form, headers={"Accept": "application/json"}) as resp:
                try:
                    body = await resp.json(content_type=None)
                except ValueError:
                    body = {}
                return resp.status, body if isinstance(body, dict) else {}
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise OAuthError(
                Text(zh="无法连接登录服务。", en="The sign-in service cannot be reached."),
                Text(zh="检查网络（以及 MAILBOT_OAUTH_* 中的地址）后重试。",
                     en="Check the network (and the addresses in MAILBOT_OAUTH_*) and try again."),
                detail=type(exc).__name__, temporary=True) from None

    @staticmethod
    def _refused(status: int, body: dict[str, Any]) -> OAuthError:
        error = str(body.get("error") or f"http_{status}")
        description = str(body.get("error_description") or "").splitlines()[0][:300] if body.get("error_description") else ""
        detail = f"{error}: {description}" if description else error
        if error == "invalid_grant":
            return ReauthNeeded(
                Text(zh="登录已失效（授权被撤销、密码已修改或长期未使用），需要重新登录。",
                     en="The sign-in is no longer valid (revoked, password changed, or unused too long); sign in again."),
                Text(zh="管理员运行 `mailbot mailbox reauth 名称`（或在聊天/控制台重新登录）。",
                     en="An admin runs `mailbot mailbox reauth NAME` (or signs in again in chat or the console)."),
                detail=detail)
        if error in CANCELLED:
            return SignInCancelled(
                Text(zh="登录没有完成：已拒绝授权，或验证码已过期。", en="The sign-in did not finish: it was declined or the code expired."),
                Text(zh="重新开始登录。", en="Start the sign-in again."), detail=detail)
        if status >= 500 or error in ("temporarily_unavailable", "server_error"):
            return OAuthError(Text(zh="登录服务暂时不可用。", en="The sign-in service is temporarily unavailable."),
                              Text(zh="稍后会重试。", en="It will be tried again later."), detail=detail, temporary=True)
        return OAuthError(
            Text(zh="登录服务拒绝了请求：应用注册可能有误。", en="The sign-in service refused the request: the app registration may be wrong."),
            Text(zh="检查应用 ID、已开启“允许公共客户端流”、API 权限（SMTP.Send / offline_access，或 Gmail 的 https://mail.google.com/）。",
                 en="Check the client id, that public client flows are allowed, and the API permissions (SMTP.Send and "
                    "offline_access, or https://mail.google.com/ for Gmail)."),
            detail=detail)

    @staticmethod
    def _tokens(body: dict[str, Any]) -> TokenSet:
        refresh = body.get("refresh_token")
        return TokenSet(access_token=SecretStr(str(body["access_token"])),
                        refresh_token=SecretStr(str(refresh)) if refresh else None,
                        expires_in=float(body.get("expires_in") or 3600), received_at=time.time())

    # ---- device flow (Microsoft) ----------------------------------------------------------

    async def start_device(self, route: OAuthRoute) -> DeviceGrant:
        url = self.settings.oauth_microsoft_authority.rstrip("/") + "/oauth2/v2.0/devicecode"
        status, body = await self._post(url, {**self._client(route), "scope": " ".join(route.scopes)})
        if status != 200 or "device_code" not in body:
            raise self._refused(status, body)
        return DeviceGrant(device_code=SecretStr(str(body["device_code"])), user_code=str(body["user_code"]),
                           verification_uri=str(body.get("verification_uri") or body.get("verification_url")),
                           expires_at=time.time() + float(body.get("expires_in") or 900),
                           interval_s=min(MAX_INTERVAL_S, float(body.get("interval") or 5)))

    async def poll_device(self, route: OAuthRoute, grant: DeviceGrant) -> TokenSet:
        """Poll at the issuer's interval until the admin signed in; `slow_down` adds 5 s (RFC 8628
        §3.5). Cancel the task to stop (Ctrl-C, a dialog closed); SignInCancelled on decline or expiry."""
        interval = grant.interval_s
        form = {**self._client(route), "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                "device_code": grant.device_code.get_secret_value()}
        while True:
            await asyncio.sleep(interval)
            if time.time() > grant.expires_at:
                raise self._refused(400, {"error": "expired_token"})
            status, body = await self._post(self._token_url(route), form)
            if status == 200 and "access_token" in body:
                return self._tokens(body)
            error = body.get("error")
            if error == "authorization_pending":
                continue
            if error == "slow_down":
                interval = min(MAX_INTERVAL_S, interval + 5)
                continue
            failure = self._refused(status, body)
            if failure.temporary and time.time() < grant.expires_at:
                log.warning("device sign-in poll: %s; polling on", failure.detail)
                continue
            raise failure

    # ---- authorization code with PKCE (Google) ---------------------------------------------

    def start_code(self, route: OAuthRoute, redirect_uri: str, login_hint: str | None = None) -> CodeGrant:
        client = self._client(route)
        verifier = secrets.token_urlsafe(64)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state = secrets.token_urlsafe(24)
        query = {"client_id": client["client_id"], "redirect_uri": redirect_uri, "response_type": "code",
                 "scope": " ".join(route.scopes), "state": state, "code_challenge": challenge,
                 "code_challenge_method": "S256", "access_type": "offline", "prompt": "consent"}
        if login_hint:
            query["login_hint"] = login_hint
        return CodeGrant(url=f"{self.settings.oauth_google_auth_url}?{urlencode(query)}", state=state,
                         verifier=SecretStr(verifier), redirect_uri=redirect_uri)

    async def finish_code(self, route: OAuthRoute, grant: CodeGrant, code: str) -> TokenSet:
        form = {**self._client(route), "grant_type": "authorization_code", "code": code,
                "redirect_uri": grant.redirect_uri, "code_verifier": grant.verifier.get_secret_value()}
        status, body = await self._post(self._token_url(route), form)
        if status != 200 or "access_token" not in body:
            failure = self._refused(status, body)
            if isinstance(failure, ReauthNeeded):  # a code already used, or too old: not a stored grant
                raise SignInCancelled(failure.cause, Text(zh="重新开始登录。", en="Start the sign-in again."),
                                      detail=failure.detail)
            raise failure
        return self._tokens(body)

    # ---- refresh --------------------------------------------------------------------------

    async def refresh(self, route: OAuthRoute, refresh_token: SecretStr) -> TokenSet:
        form = {**self._client(route), "grant_type": "refresh_token",
                "refresh_token": refresh_token.get_secret_value()}
        if route.issuer == "microsoft":
            form["scope"] = " ".join(route.scopes)
        status, body = await self._post(self._token_url(route), form)
        if status != 200 or "access_token" not in body:
            raise self._refused(status, body)
        return self._tokens(body)
