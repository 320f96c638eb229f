"""SMTP submission door (issue 15): aiosmtpd on the bot's own event loop. Protocol only: every decision
(token, mailbox, recipients, limits, the header edits, idempotency) is bot.relay.submission's.

- AUTH PLAIN / LOGIN with a relay token as the password (any user name). aiosmtpd decodes the
  credentials; its authenticator callback is synchronous, so it only hands them on, and the token is
  checked (async, in the store) in auth_PLAIN / auth_LOGIN. Without a valid token: 535 5.7.8.
- On loopback AUTH is taken without TLS; anywhere else STARTTLS comes first (and the door does not
  start without MAILBOT_SMTP_TLS_CERT and MAILBOT_SMTP_TLS_KEY).
- SIZE is MAILBOT_MAX_MAIL_BYTES (552 5.3.4 past it), 8BITMIME and SMTPUTF8 are offered, recipients
  over MAILBOT_MAX_RECIPIENTS get 452 4.5.3, DATA gets 250 only once the mail is durable in the outbox;
  a failing store is 451 4.3.0 (the tool tries again later), never a hang.
- Bounded: line length (aiosmtpd's 1001), message size, recipients, connections, idle time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
import sys
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from bot.adapters.listen import cannot_listen
from bot.config import Settings
from bot.errors import (Conflict, FieldError, InProgress, InvalidInput, MailbotError, NotFound, PermissionDenied,
                        StorageFailed, TooLarge, Unauthorized)
from bot.i18n import Text
from bot.relay.submission import BadAddress, NonAsciiAddress, RecipientLimit, Submissions, Trace

log = logging.getLogger("mailbot.smtp")

MAX_CONNECTIONS = 32  # each may hold a message of up to MAILBOT_MAX_MAIL_BYTES while it arrives
IDLE_TIMEOUT_S = 120.0  # a connection silent this long is closed
SUBMIT_TIMEOUT_S = 30.0  # a store that does not answer: 451, the tool resends (its Message-ID keeps it one mail)
STOP_WAIT_S = 5.0  # at stop, mail being written gets this long to land before connections are cut
AUTH_NEEDED = "535 5.7.8 Authentication required: AUTH PLAIN or LOGIN with a relay token as the password"
BAD_TOKEN = "535 5.7.8 Authentication credentials invalid: the password must be a live relay token (mailbot token create)"
AUTH_UNAVAILABLE = "454 4.7.0 Temporary authentication failure: the data store is failing, try again later"
# aiosmtpd's own replies, given the enhanced status codes the contract names.
REPLIES = {
    "552 Error: Too much mail data": "552 5.3.4 Message too big for the relay (MAILBOT_MAX_MAIL_BYTES)",
    "552 Error: message size exceeds fixed maximum message size":
        "552 5.3.4 Message too big for the relay (MAILBOT_MAX_MAIL_BYTES)",
    "500 Line too long (see RFC5321 4.5.3.1.6)": "500 5.5.2 Line too long (RFC 5321 4.5.3.1.6: 998 octets at most)",
}


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _one_line(text: str) -> str:
    """An SMTP reply text: one line of printable ASCII, bounded."""
    flat = " ".join(part.strip() for part in text.splitlines() if part.strip())
    return "".join(ch if " " <= ch <= "~" else "?" for ch in flat)[:400]


def reply_for(exc: BaseException, stage: str) -> str:
    """The SMTP reply for a refusal at MAIL, RCPT or DATA."""
    if not isinstance(exc, MailbotError):
        return "451 4.3.0 Temporary failure in the relay, try again later"
    text = _one_line(exc.message("en"))
    at_data = stage == "DATA"
    if isinstance(exc, Unauthorized):
        return BAD_TOKEN
    if isinstance(exc, RecipientLimit):
        return f"452 4.5.3 {text}"
    if isinstance(exc, NonAsciiAddress):
        return f"{'554' if at_data else '553'} 5.6.7 {text}"
    if isinstance(exc, BadAddress):
        return f"554 5.6.0 {text}" if at_data else f"553 {'5.1.7' if stage == 'MAIL' else '5.1.3'} {text}"
    if isinstance(exc, TooLarge):
        return f"552 5.3.4 {text}"
    if isinstance(exc, (PermissionDenied, NotFound)):
        return f"550 5.7.1 {text}"
    if isinstance(exc, InProgress):
        return f"451 4.3.0 {text}"
    if isinstance(exc, Conflict):
        return f"554 5.6.0 {text}"
    if isinstance(exc, InvalidInput):
        return f"554 5.6.0 {text}"
    return f"451 4.3.0 {text}"  # StorageFailed and anything else: temporary, the tool sends again


class DoorSession(Session):
    """aiosmtpd's per-connection state, plus the relay token it logged in with (memory only, never logged)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.token: str | None = None

    @property  # type: ignore[override]
    def login_data(self) -> Any:  # aiosmtpd's deprecated field: nothing kept, nothing logged
        return None

    @login_data.setter
    def login_data(self, value: Any) -> None:
        pass


def _decoded_only(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                  auth_data: Any) -> AuthResult:
    """aiosmtpd's (synchronous) authenticator: passes the decoded credentials on, refused; the door's
    auth_PLAIN / auth_LOGIN check the token. A mechanism that skipped that check would stay refused."""
    return AuthResult(success=False, handled=False, auth_data=auth_data)


class _DoorSMTP(SMTP):
    def __init__(self, door: SmtpDoor, **kwargs: Any) -> None:
        super().__init__(door.handler, **kwargs)
        self._door = door

    def _create_session(self) -> Session:
        return DoorSession(self.loop)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._door.live.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self._door.live.discard(self)
        super().connection_lost(error)

    async def _handle_client(self) -> None:
        if len(self._door.live) > MAX_CONNECTIONS:
            await self.push("421 4.7.0 Too many connections to the relay, try again later")
            assert self.transport is not None
            self.transport.close()
            return
        await super()._handle_client()

    async def push(self, status: Any) -> None:
        if isinstance(status, str):
            status = REPLIES.get(status, status)
        await super().push(status)

    async def auth_PLAIN(self, _: Any, args: list[str]) -> AuthResult:
        return await self._check(await super().auth_PLAIN(_, args))

    async def auth_LOGIN(self, _: Any, args: list[str]) -> AuthResult:
        return await self._check(await super().auth_LOGIN(_, args))

    async def _check(self, decoded: AuthResult) -> AuthResult:
        credentials = decoded.auth_data
        if not isinstance(credentials, LoginPassword):  # aborted or undecodable: already answered
            return decoded
        token = credentials.password.decode("utf-8", "replace")
        try:
            await self._door.submissions.authenticate(token)
        except Unauthorized:
            return AuthResult(success=False, handled=False, message=BAD_TOKEN)
        except StorageFailed:
            return AuthResult(success=False, handled=False, message=AUTH_UNAVAILABLE)
        assert isinstance(self.session, DoorSession)
        self.session.token = token
        return AuthResult(success=True, auth_data=None)


class _Handler:
    """aiosmtpd's hooks: each asks the submission service and turns its answer into a reply."""

    def __init__(self, door: SmtpDoor) -> None:
        self.door = door

    async def handle_MAIL(self, server: SMTP, session: DoorSession, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        if session.token is None:
            return AUTH_NEEDED
        subs = self.door.submissions
        try:
            await subs.sender(address, await subs.authenticate(session.token))
        except Exception as exc:  # noqa: BLE001 - every refusal is a reply
            return self.door.refused(exc, "MAIL")
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(self, server: SMTP, session: DoorSession, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        try:
            recipient = self.door.submissions.recipient(address, len(envelope.rcpt_tos))
        except Exception as exc:  # noqa: BLE001
            return self.door.refused(exc, "RCPT")
        if recipient.lower() not in (r.lower() for r in envelope.rcpt_tos):
            envelope.rcpt_tos.append(recipient)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Recipient OK"

    async def handle_DATA(self, server: SMTP, session: DoorSession, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer or "")
        trace = Trace(helo=session.host_name or "", peer=peer, hostname=server.hostname,
                      tls=session.ssl is not None, smtputf8=envelope.smtp_utf8)
        self.door.busy += 1
        try:
            record, new = await asyncio.wait_for(self.door.submissions.submit(
                session.token, envelope.mail_from or "", list(envelope.rcpt_tos), raw, trace), SUBMIT_TIMEOUT_S)
        except TimeoutError:
            log.warning("SMTP submission: the outbox did not answer within %.0fs", SUBMIT_TIMEOUT_S)
            return "451 4.3.0 The relay's data store is not answering, try again later"
        except Exception as exc:  # noqa: BLE001
            return self.door.refused(exc, "DATA")
        finally:
            self.door.busy -= 1
        return f"250 2.0.0 {'Queued' if new else 'Already queued'} as {record.id}"


class SmtpDoor:
    """The listener: `start()` binds MAILBOT_SMTP_HOST:MAILBOT_SMTP_PORT (not at all for port 0), `stop()`
    stops taking mail, lets mail being written land, then cuts the connections."""

    def __init__(self, submissions: Submissions, settings: Settings) -> None:
        self.submissions = submissions
        self.settings = settings
        self.handler = _Handler(self)
        self.live: set[_DoorSMTP] = set()
        self.busy = 0
        self.port: int | None = None
        self._server: asyncio.Server | None = None

    def refused(self, exc: BaseException, stage: str) -> str:
        reply = reply_for(exc, stage)
        if not isinstance(exc, MailbotError):
            log.error("SMTP submission: %s failed", stage, exc_info=exc)
        elif isinstance(exc, StorageFailed):
            log.warning("SMTP submission refused for now (%s): %s", stage, exc.code)
        return reply

    def _tls(self) -> ssl.SSLContext | None:
        s = self.settings
        cert, key = s.smtp_tls_cert, s.smtp_tls_key
        if cert is None and key is None:
            if not is_loopback(s.smtp_host):
                raise InvalidInput([FieldError(field="MAILBOT_SMTP_TLS_CERT", problem=Text(
                    zh=f"SMTP 入口监听在非本机地址 {s.smtp_host}：令牌不能明文传输，需要 STARTTLS。请设置 "
                       "MAILBOT_SMTP_TLS_CERT 和 MAILBOT_SMTP_TLS_KEY（PEM 证书和私钥），或设 MAILBOT_SMTP_PORT=0 关闭 SMTP 入口",
                    en=f"the SMTP door listens on {s.smtp_host}, which is not loopback: tokens must not travel in "
                       "the clear, so it needs STARTTLS. Set MAILBOT_SMTP_TLS_CERT and MAILBOT_SMTP_TLS_KEY (PEM "
                       "certificate and key), or MAILBOT_SMTP_PORT=0 to turn the door off"))])
            return None
        if cert is None or key is None:
            missing = "MAILBOT_SMTP_TLS_KEY" if key is None else "MAILBOT_SMTP_TLS_CERT"
            raise InvalidInput([FieldError(field=missing, problem=Text(
                zh="STARTTLS 需要证书和私钥两个文件，只设置了一个", en="STARTTLS needs both the certificate and the key"))])
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(str(cert), str(key))
        except (OSError, ssl.SSLError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise InvalidInput([FieldError(field="MAILBOT_SMTP_TLS_CERT", problem=Text(
                zh=f"无法加载 SMTP 入口的证书或私钥（{reason}）：检查 MAILBOT_SMTP_TLS_CERT 和 MAILBOT_SMTP_TLS_KEY 指向匹配的 PEM 文件",
                en=f"cannot load the SMTP door's certificate or key ({reason}): check that MAILBOT_SMTP_TLS_CERT "
                   "and MAILBOT_SMTP_TLS_KEY name a matching PEM certificate and key"))]) from None
        return context

    async def start(self) -> None:
        s = self.settings
        if s.smtp_port == 0:
            return
        tls = self._tls()
        loopback = is_loopback(s.smtp_host)
        loop = asyncio.get_running_loop()
        hostname = socket.gethostname() or "mailbot"

        def protocol() -> _DoorSMTP:
            return _DoorSMTP(self, data_size_limit=self.submissions.max_mail_bytes, enable_SMTPUTF8=True,
                             decode_data=False, hostname=hostname, ident="mailbot ESMTP submission",
                             tls_context=tls, require_starttls=tls is not None and not loopback,
                             timeout=IDLE_TIMEOUT_S, auth_require_tls=not loopback, authenticator=_decoded_only,
                             loop=loop)

        try:
            self._server = await loop.create_server(protocol, s.smtp_host, s.smtp_port)
        except OSError as exc:
            raise self._cannot_listen(exc) from None
        sockets = self._server.sockets or []
        self.port = sockets[0].getsockname()[1] if sockets else s.smtp_port
        host = f"[{s.smtp_host}]" if ":" in s.smtp_host else s.smtp_host
        print(f"SMTP submission: {host}:{self.port} ({'STARTTLS' if tls else 'no TLS: loopback only'})",
              file=sys.stderr, flush=True)

    def _cannot_listen(self, exc: OSError) -> MailbotError | OSError:
        s = self.settings
        return cannot_listen(exc, s.smtp_host, s.smtp_port, Text(zh="SMTP 入口", en="The SMTP door"),
                             ("MAILBOT_SMTP_PORT", "MAILBOT_SMTP_HOST"),
                             off=Text(zh="；0 关闭 SMTP 入口", en="; 0 turns the SMTP door off")) or exc

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()  # no new connections
        deadline = asyncio.get_running_loop().time() + STOP_WAIT_S
        while self.busy and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)  # mail being written lands (and gets its 250) first
        for session in list(self.live):
            if session.transport is not None:
                session.transport.abort()
        for _ in range(200):
            if not self.live:
                break
            await asyncio.sleep(0.005)
        await server.wait_closed()
