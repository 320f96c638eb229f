"""Who may use the console: loopback needs nothing, any other address a token and a login.

After login (or at once on loopback) a session cookie — HttpOnly, SameSite=Strict — names a
server-side session holding a CSRF token. Every state-changing request must send that token in
the X-CSRF-Token header and come from the console's own origin. On loopback without a token the
Host header must be a loopback name, so a DNS-rebinding page cannot reach the console.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from pydantic import SecretStr

from bot.errors import MailbotError
from bot.i18n import Text

COOKIE = "mailbot_console"
CSRF_HEADER = "X-CSRF-Token"
SESSION_TTL_S = 12 * 3600.0
MAX_SESSIONS = 1000
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Reachable without a session (relative to the console's root). Google's redirect to the callback is
# cross-site, so the SameSite=Strict cookie never comes along: the sign-in's unguessable `state` is its proof.
OPEN_PATHS = frozenset({"/login", "/oauth/callback"})
OPEN_PREFIX = "/static/"  # the login page's stylesheet and icon; nothing in there is private
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ConsoleRefused(MailbotError):
    """The console will not serve on this address (non-loopback without MAILBOT_CONSOLE_TOKEN)."""

    code = "console_refused"


def is_loopback(host: str) -> bool:
    name = host.strip("[]")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: SecretStr | None) -> None:
    """Raise ConsoleRefused with the reason when serving on `host` would expose an open console."""
    if is_loopback(host) or (token is not None and token.get_secret_value().strip()):
        return
    raise ConsoleRefused(
        Text(zh=f"网页控制台未启动：监听地址 {host} 不是本机回环地址，而没有设置 MAILBOT_CONSOLE_TOKEN。",
             en=f"Web console not started: {host} is not a loopback address and MAILBOT_CONSOLE_TOKEN is not set."),
        Text(zh="设置 MAILBOT_CONSOLE_TOKEN（一个长随机字符串）后重启，或让 MAILBOT_HTTP_HOST=127.0.0.1。",
             en="Set MAILBOT_CONSOLE_TOKEN (a long random string) and restart, or use MAILBOT_HTTP_HOST=127.0.0.1."),
    )


@dataclass
class Session:
    csrf: str
    created: float


SESSION = web.RequestKey("console_session", Session)


class Access:
    """Sessions in memory: a restart logs everyone out, which is fine for a local console."""

    def __init__(self, token: SecretStr | None, *, clock: Callable[[], float] = time.monotonic) -> None:
        value = token.get_secret_value().strip() if token is not None else ""
        self.token = value or None
        self.clock = clock
        self._sessions: dict[str, Session] = {}

    @property
    def login_required(self) -> bool:
        return self.token is not None

    def check_token(self, given: str) -> bool:
        return self.token is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def new_session(self) -> tuple[str, Session]:
        now = self.clock()
        self._sessions = {k: s for k, s in self._sessions.items() if now - s.created < SESSION_TTL_S}
        while len(self._sessions) >= MAX_SESSIONS:
            self._sessions.pop(next(iter(self._sessions)))
        sid, session = secrets.token_urlsafe(32), Session(secrets.token_urlsafe(32), now)
        self._sessions[sid] = session
        return sid, session

    def session(self, request: web.Request) -> Session | None:
        session = self._sessions.get(request.cookies.get(COOKIE, ""))
        if session is None or self.clock() - session.created >= SESSION_TTL_S:
            return None
        return session

    @staticmethod
    def set_cookie(request: web.Request, response: web.StreamResponse, sid: str) -> None:
        response.set_cookie(COOKIE, sid, httponly=True, samesite="Strict", path="/", secure=request.secure,
                            max_age=int(SESSION_TTL_S))


def same_origin(request: web.Request) -> bool:
    """Origin (sent by browsers on every POST) must name this server; fetch metadata must agree."""
    origin = request.headers.get("Origin")
    if origin is None or origin != f"{request.scheme}://{request.host}":
        return False
    return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")


LOOPBACK_ONLY = Text(zh="未设置令牌的控制台只响应本机回环地址。",
                     en="The console without a token answers on loopback names only.")
CROSS_ORIGIN = Text(zh="拒绝跨站请求。", en="Cross-origin request refused.")
LOG_IN = Text(zh="请先登录。", en="Log in first.")
BAD_CSRF = Text(zh="缺少或错误的 CSRF 令牌，请刷新页面。", en="Missing or wrong CSRF token: reload the page.")


def _deny(request: web.Request, prefix: str, status: int, reason: Text) -> web.StreamResponse:
    """API callers get JSON in the page's language (X-Console-Lang), pages a redirect or text."""
    if request.path.startswith(prefix + "/api/"):
        lang = "en" if request.headers.get("X-Console-Lang") == "en" else "zh"
        return web.json_response({"error": "forbidden" if status == 403 else "unauthorized", "message": reason(lang)},
                                 status=status)
    if status == 401:
        raise web.HTTPSeeOther(prefix + "/login")
    return web.Response(status=status, text=f"{reason.en}\n{reason.zh}")


def middleware(access: Access, prefix: str) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Host check, session (created on loopback, required after login elsewhere), origin + CSRF.

    `prefix` is where the console is mounted (its paths arrive with it).
    """

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not access.login_required and not is_loopback(request.url.host or ""):
            return _deny(request, prefix, 403, LOOPBACK_ONLY)
        if request.method not in SAFE_METHODS and not same_origin(request):
            return _deny(request, prefix, 403, CROSS_ORIGIN)
        path = request.path.removeprefix(prefix) or "/"
        if path in OPEN_PATHS or (path.startswith(OPEN_PREFIX) and request.method in SAFE_METHODS):
            return await handler(request)
        session = access.session(request)
        new_sid = None
        if session is None:
            if access.login_required or request.method not in SAFE_METHODS:
                return _deny(request, prefix, 401, LOG_IN)
            new_sid, session = access.new_session()
        if request.method not in SAFE_METHODS and not hmac.compare_digest(
                request.headers.get(CSRF_HEADER, "").encode(), session.csrf.encode()):
            return _deny(request, prefix, 403, BAD_CSRF)
        request[SESSION] = session
        response = await handler(request)
        if new_sid is not None:
            access.set_cookie(request, response, new_sid)
        return response

    return guard
