"""Real SMTP servers for tests: scripted replies, faults and records.

``SmtpServer`` runs aiosmtpd in its own thread with its own event loop, so
it serves async tests, sync tests and CLI subprocesses alike. It binds
127.0.0.1 on a port the OS picks. ``SilentServer`` accepts TCP connections
and never greets, for client timeout tests.

aiosmtpd quirks handled here:

* ``Controller(port=0)`` binds fine but then probes ``self.port`` (still 0)
  to start the lazy SMTP factory; ``_Controller`` reads the real port first.
* Its ``auth_require_tls`` only recognises STARTTLS, so AUTH on implicit TLS
  needs ``auth_require_tls=False``, and ``auth_required=True`` with that
  emits a UserWarning (an error under ``filterwarnings=error``). Required
  AUTH is therefore enforced in ``handle_MAIL`` instead.
* Replies are written verbatim plus CRLF, so a multi-line reply must use
  CRLF between its lines; ``_wire`` converts a test's ``\\n``.
* ``Controller.stop`` leaves TLS client connections' sockets open, which
  surface later as ResourceWarnings; ``_Controller.stop`` aborts them first.
* Every ``auth_*`` method of the handler becomes a mechanism, so XOAUTH2 is
  left out with ``auth_exclude_mechanism`` when no token check is given.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.policy
import socket
import ssl
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from types import TracebackType
from typing import Any, Literal, Self, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"
Security = Literal["ssl", "starttls", "none"]
AUTH_REQUIRED_REPLY = "530 5.7.0 Authentication required"
# Exchange Online's replies: a refused XOAUTH2 token; PLAIN/LOGIN with basic auth off.
XOAUTH2_REFUSED_REPLY = "535 5.7.3 Authentication unsuccessful"
BASIC_AUTH_DISABLED_REPLY = (
    "535 5.7.139 Authentication unsuccessful, basic authentication is disabled."
)


@dataclass(frozen=True)
class ReceivedMessage:
    """One message the server accepted (final DATA reply was 250)."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    message: EmailMessage
    mail_options: tuple[str, ...] = ()  # what MAIL FROM declared (BODY=8BITMIME, SIZE=…)


def _wire(reply: str) -> str:
    """Join a possibly multi-line reply with CRLF, as aiosmtpd sends it raw."""
    return "\r\n".join(reply.splitlines())


class _Background(ABC):
    """Start/stop as ``with`` or ``async with`` (threads keep the test loop free)."""

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)


class _TrackedSMTP(SMTP):
    """SMTP session that registers itself while connected, so stop can cut it."""

    def __init__(self, handler: Any, live: set[SMTP], **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._live = live

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._live.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self._live.discard(self)
        super().connection_lost(error)


class _Controller(Controller):
    """Controller on 127.0.0.1:0 that counts connections and closes them on stop."""

    def __init__(
        self, handler: Any, on_connect: Callable[[], None], **kwargs: Any
    ) -> None:
        super().__init__(handler, hostname=HOST, port=0, **kwargs)
        self._on_connect = on_connect
        self._live: set[SMTP] = set()

    def factory(self) -> SMTP:
        self._on_connect()
        return _TrackedSMTP(self.handler, self._live, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()

    async def _abort_connections(self) -> None:
        assert self.server is not None
        self.server.close()
        for session in list(self._live):
            if session.transport is not None:
                session.transport.abort()
        deadline = time.monotonic() + 2.0
        while self._live and time.monotonic() < deadline:
            await asyncio.sleep(0.005)

    def stop(self, no_assert: bool = False) -> None:
        try:
            asyncio.run_coroutine_threadsafe(
                self._abort_connections(), self.loop
            ).result(timeout=5.0)
        finally:
            super().stop(no_assert)


class _Handler:
    """aiosmtpd hooks applying the server's script and filling its records."""

    def __init__(self, owner: SmtpServer) -> None:
        self._owner = owner

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        # A 5-argument EHLO hook must record the HELO name itself.
        session.host_name = hostname
        if self._owner.advertise_auth:
            return responses
        return [line for line in responses if not line.startswith("250-AUTH")]

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        owner = self._owner
        if owner.auth_required and not session.authenticated:
            return AUTH_REQUIRED_REPLY
        if owner.mail_reply is not None:
            return _wire(owner.mail_reply)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        script = self._owner.rcpt_reply
        reply = script.get(address) if isinstance(script, Mapping) else script
        if reply is not None:
            return _wire(reply)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        owner = self._owner
        if owner.delay_s:
            await asyncio.sleep(owner.delay_s)
        drop, reply = owner._next_data_outcome()
        if drop:
            assert server.transport is not None
            server.transport.close()
            # connection_lost cancels this task; no reply is ever sent.
            await asyncio.get_running_loop().create_future()
        if reply is not None:
            return _wire(reply)
        data = cast(bytes, envelope.original_content)
        owner._record_message(
            ReceivedMessage(
                mail_from=cast(str, envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                data=data,
                message=cast(
                    EmailMessage,
                    BytesParser(policy=email.policy.default).parsebytes(data),
                ),
                mail_options=tuple(envelope.mail_options),
            )
        )
        return "250 OK"

    def authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: LoginPassword,
    ) -> AuthResult:
        """Check PLAIN/LOGIN credentials; a failure sends ``auth_reply`` if set."""
        owner = self._owner
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        if not owner.password_auth:
            owner._record_login(login, False)
            return AuthResult(
                success=False, handled=False, message=BASIC_AUTH_DISABLED_REPLY
            )
        ok = not owner.reject_all_logins and (
            owner.users is None or owner.users.get(login) == password
        )
        owner._record_login(login, ok)
        if ok:
            return AuthResult(success=True, auth_data=auth_data)
        message = _wire(owner.auth_reply) if owner.auth_reply else None
        return AuthResult(success=False, handled=False, message=message)

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """``AUTH XOAUTH2 <initial response>``, or the response after an empty 334.

        The response is base64 of ``user=U\\x01auth=Bearer T\\x01\\x01``; the
        token goes to the ``xoauth2`` check and is never stored.
        """
        check = self._owner.xoauth2
        assert check is not None  # excluded from the mechanisms otherwise
        if len(args) == 1:
            blob = await server.challenge_auth("", encode_to_b64=False)
            if blob is MISSING:  # "*" or bad base64, already answered
                return AuthResult(success=False, handled=True)
        else:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        assert isinstance(blob, bytes)
        fields = dict(
            part.split("=", 1)
            for part in blob.decode("utf-8", "replace").split("\x01")
            if "=" in part
        )
        user, auth = fields.get("user"), fields.get("auth", "")
        if user is None or not auth.startswith("Bearer "):
            await server.push("501 5.5.2 Malformed XOAUTH2 response")
            return AuthResult(success=False, handled=True)
        ok = check(user, auth.removeprefix("Bearer "))
        self._owner._record_login(user, ok)
        if ok:
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
        return AuthResult(success=False, handled=False, message=XOAUTH2_REFUSED_REPLY)


class SmtpServer(_Background):
    """A scripted SMTP server on 127.0.0.1 running in a background thread.

    security: "ssl" (implicit TLS), "starttls" (AUTH only after STARTTLS) or
        "none"; the TLS modes need ``ssl_context`` (``LocalCA.server_context()``).
    users: login -> password. When set, AUTH PLAIN/LOGIN is required before
        MAIL (``auth_required`` overrides). When None, any login is accepted.
    auth_reply: exact reply (may be multi-line) for a failed login;
        ``reject_all_logins`` makes every login fail with it.
    advertise_auth: False leaves AUTH out of the EHLO reply.
    xoauth2: (user, access token) -> valid?; when set AUTH XOAUTH2 is offered
        (besides PLAIN/LOGIN) and required before MAIL (``auth_required``
        overrides); a refused token gets Exchange Online's 535 5.7.3.
    password_auth: False refuses every PLAIN/LOGIN with Exchange Online's
        "535 5.7.139 ... basic authentication is disabled." (still offered).
    mail_reply: reply to every MAIL FROM instead of accepting it.
    rcpt_reply: reply to every RCPT, or a per-address mapping (others accepted).
    data_replies: final DATA replies, one per message; None or an exhausted
        list accepts the message.
    drop_mid_data: for this many messages (True = 1) close the connection after
        the data arrives, without a reply; it does not consume ``data_replies``.
    delay_s: wait this long before the final DATA reply.

    Records: ``messages`` (accepted only), ``logins`` as (login, ok) pairs
    (passwords and tokens are never stored) and ``connections``.
    """

    host = HOST

    def __init__(
        self,
        *,
        security: Security = "none",
        ssl_context: ssl.SSLContext | None = None,
        users: Mapping[str, str] | None = None,
        auth_required: bool | None = None,
        advertise_auth: bool = True,
        xoauth2: Callable[[str, str], bool] | None = None,
        password_auth: bool = True,
        auth_reply: str | None = None,
        reject_all_logins: bool = False,
        mail_reply: str | None = None,
        rcpt_reply: str | Mapping[str, str] | None = None,
        data_replies: list[str | None] | tuple[str | None, ...] = (),
        drop_mid_data: int = 0,
        delay_s: float = 0.0,
    ) -> None:
        if security not in ("ssl", "starttls", "none"):
            raise ValueError(f"unknown security {security!r}")
        if security != "none" and ssl_context is None:
            raise ValueError(f"security={security!r} needs an ssl_context")
        self.security = security
        self.users = dict(users) if users is not None else None
        if auth_required is None:
            auth_required = bool(users) or xoauth2 is not None
        self.auth_required = auth_required
        self.advertise_auth = advertise_auth
        self.xoauth2 = xoauth2
        self.password_auth = password_auth
        self.auth_reply = auth_reply
        self.reject_all_logins = reject_all_logins
        self.mail_reply = mail_reply
        self.rcpt_reply = rcpt_reply
        self.delay_s = delay_s
        self.port = 0
        self._data_replies: deque[str | None] = deque(data_replies)
        self._drops_left = int(drop_mid_data)
        self._lock = threading.Lock()
        self._messages: list[ReceivedMessage] = []
        self._logins: list[tuple[str, bool]] = []
        self._connections = 0
        handler = _Handler(self)
        self._controller = _Controller(
            handler,
            self._count_connection,
            ssl_context=ssl_context if security == "ssl" else None,
            tls_context=ssl_context if security == "starttls" else None,
            # Skips aiosmtpd's socket.getfqdn(), which can stall on DNS.
            server_hostname="localhost",
            # aiosmtpd treats only STARTTLS as TLS, so implicit TLS must opt out.
            auth_require_tls=security == "starttls",
            authenticator=handler.authenticate,
            auth_exclude_mechanism=[] if xoauth2 is not None else ["XOAUTH2"],
        )

    def start(self) -> None:
        self._controller.start()
        self.port = self._controller.port
        with self._lock:
            self._connections = 0  # drop aiosmtpd's own start-up probe

    def stop(self) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self._messages)

    @property
    def logins(self) -> list[tuple[str, bool]]:
        with self._lock:
            return list(self._logins)

    @property
    def connections(self) -> int:
        with self._lock:
            return self._connections

    def wait_for_messages(self, n: int, timeout: float = 5.0) -> list[ReceivedMessage]:
        """Poll until ``n`` messages were accepted (for sync and subprocess tests)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return self._check_count(n)

    async def wait_for_messages_async(
        self, n: int, timeout: float = 5.0
    ) -> list[ReceivedMessage]:
        """Like ``wait_for_messages`` without blocking the test's event loop."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return self._check_count(n)

    def _check_count(self, n: int) -> list[ReceivedMessage]:
        messages = self.messages
        assert len(messages) >= n, f"expected {n} message(s), got {len(messages)}"
        return messages

    def _count_connection(self) -> None:
        with self._lock:
            self._connections += 1

    def _record_login(self, login: str, ok: bool) -> None:
        with self._lock:
            self._logins.append((login, ok))

    def _record_message(self, message: ReceivedMessage) -> None:
        with self._lock:
            self._messages.append(message)

    def _next_data_outcome(self) -> tuple[bool, str | None]:
        """(drop the connection?, scripted reply or None to accept)."""
        with self._lock:
            if self._drops_left > 0:
                self._drops_left -= 1
                return True, None
            return False, self._data_replies.popleft() if self._data_replies else None


class SilentServer(_Background):
    """Accepts TCP connections on 127.0.0.1 and never sends a greeting."""

    host = HOST

    def __init__(self) -> None:
        self.port = 0
        self._listener: socket.socket | None = None
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._held)

    def start(self) -> None:
        self._listener = socket.create_server((HOST, 0))
        # Short accept timeout so the thread notices stop() promptly.
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            with self._lock:
                self._held.append(conn)

    def stop(self) -> None:
        self._stopping.set()
        assert self._thread is not None and self._listener is not None
        self._thread.join()
        self._listener.close()
        with self._lock:
            for conn in self._held:
                conn.close()
