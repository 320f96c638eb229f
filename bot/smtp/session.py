"""One authenticated SMTP session: connect with the mailbox's security, EHLO, AUTH, send, QUIT.

Every failure leaves here as a classified SmtpError. A session that raised is closed: after an
error its state is unclear, so it is never reused.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from email.message import EmailMessage
from typing import Any, Literal, Self

import aiosmtplib
from pydantic import BaseModel, ConfigDict, SecretStr

from bot.errors import AuthRejected, BasicAuthDisabled, OAuthTokenRejected, SmtpError, SmtpTimeout, TlsMismatch
from bot.providers import Security
from bot.smtp.classify import Stage, classify


class ServerSettings(BaseModel):
    """Where and how to log in; the secret is a SecretStr so it never prints."""

    model_config = ConfigDict(frozen=True)
    host: str
    port: int
    security: Security
    account: str
    secret: SecretStr  # the password, or for auth "oauth2" a current access token
    provider_type: str | None = None
    auth: Literal["password", "oauth2"] = "password"


_contexts: dict[str | None, ssl.SSLContext] = {}  # per SSL_CERT_FILE value
_local_hostname: list[str] = []  # this machine's name for EHLO, looked up once per process


async def _tls_context(security: Security) -> ssl.SSLContext | None:
    """The client TLS context; building one reads the CA store (tens of ms), so it is built once, off
    the loop, and shared. Plain SMTP needs none."""
    if security == "none":
        return None
    key = os.environ.get("SSL_CERT_FILE")  # create_default_context reads it itself
    if key not in _contexts:
        _contexts[key] = await asyncio.to_thread(ssl.create_default_context, ssl.Purpose.SERVER_AUTH)
    return _contexts[key]


async def _ehlo_name() -> str:
    """socket.getfqdn() may wait on DNS: aiosmtplib asks it (in a thread) on every connect; once is enough."""
    if not _local_hostname:
        _local_hostname.append(await asyncio.to_thread(socket.getfqdn) or "localhost")
    return _local_hostname[0]


class SmtpSession:
    """An open, logged-in connection. Use `async with SmtpSession.open(...)` or `close()`."""

    def __init__(self, server: ServerSettings, timeout: float, *, tls: ssl.SSLContext | None = None,
                 local_hostname: str | None = None) -> None:
        self.server = server
        self.timeout = timeout
        self._client = aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            use_tls=server.security == "ssl",
            start_tls=server.security == "starttls",
            timeout=timeout,
            tls_context=tls,
            local_hostname=local_hostname,
        )

    def __repr__(self) -> str:
        return f"SmtpSession({self.server.account}@{self.server.host}:{self.server.port})"

    def _error(self, exc: BaseException, stage: Stage) -> SmtpError:
        return classify(exc, stage, provider_type=self.server.provider_type,
                        security=self.server.security, port=self.server.port, host=self.server.host,
                        auth=self.server.auth)

    @classmethod
    async def open(cls, server: ServerSettings, timeout: float) -> Self:
        session = cls(server, timeout, tls=await _tls_context(server.security), local_hostname=await _ehlo_name())
        stage: Stage = "connect"
        try:
            await session._client.connect()
            stage = "auth"
            if server.auth == "oauth2":
                await session._client.auth_xoauth2(server.account, server.secret.get_secret_value())
            else:
                await session._client.login(server.account, server.secret.get_secret_value())
        except Exception as exc:  # noqa: BLE001 - every failure is classified for the user
            await session.abort()
            error = session._error(exc, stage)
            if server.auth == "oauth2" and stage == "auth" and isinstance(error, (AuthRejected, BasicAuthDisabled)):
                error = OAuthTokenRejected(error.reply, provider_type=server.provider_type)
            raise error from None
        return session

    @property
    def is_connected(self) -> bool:
        return self._client.is_connected

    async def send(self, message: EmailMessage, recipients: list[str]) -> str:
        """Send one message; returns the server's final reply. The sender is the login account."""
        data = message.as_bytes()
        # 8-bit bytes (a tool's raw UTF-8 body relayed by the SMTP door) are declared where the server
        # says it takes them (RFC 6152); mailbot's own messages are 7-bit and go as they always did.
        options = (["BODY=8BITMIME"] if self._client.supports_extension("8bitmime") and not data.isascii() else [])
        try:
            response = await self._client.sendmail(self.server.account, recipients, data, mail_options=options)
        except Exception as exc:  # noqa: BLE001
            await self.abort()
            stage: Stage = "mail" if isinstance(exc, aiosmtplib.SMTPSenderRefused) else "data"
            raise self._error(exc, stage) from None
        refused, reply = response
        if refused:
            code, text = next(iter(refused.values()))
            await self.abort()
            raise self._error(aiosmtplib.SMTPResponseException(code, text), "rcpt")
        return reply

    async def close(self) -> None:
        """Polite QUIT; a server that misbehaves at QUIT changes nothing, so it is only closed."""
        protocol, transport = self._client.protocol, self._client.transport
        try:
            if self._client.is_connected:
                await self._client.quit()
        except Exception:  # noqa: BLE001
            pass
        await self._drop(protocol, transport)

    async def abort(self) -> None:
        """Drop the connection at once, without QUIT."""
        await self._drop(self._client.protocol, self._client.transport)

    async def _drop(self, protocol: Any, transport: Any) -> None:
        """Close and wait until the socket is really gone (TLS needs a few loop turns)."""
        if transport is not None:
            transport.abort()  # no TLS close_notify round trip with a server we are leaving
        self._client.close()
        for _ in range(50):  # abort() reports connection_lost within a few loop turns
            if protocol is None or protocol._connection_lost:
                break
            await asyncio.sleep(0)
        for _ in range(3):  # a transport aiosmtplib closed itself (failed connect) finishes closing too
            await asyncio.sleep(0)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def check_login(server: ServerSettings, timeout: float) -> None:
    """Prove the settings work: connect, EHLO, AUTH, QUIT. Raises a classified SmtpError.

    A plain connection that times out waiting for the greeting is often an implicit-TLS port;
    one TLS handshake tells that apart from a dead server, so the user gets the real fix.
    """
    try:
        session = await SmtpSession.open(server, timeout)
    except SmtpTimeout as exc:
        if server.security != "ssl" and await _speaks_tls(server.host, server.port, timeout):
            raise TlsMismatch(f"port {server.port} expects implicit TLS (ssl), not {server.security}",
                              provider_type=server.provider_type) from None
        raise exc
    await session.close()


async def _speaks_tls(host: str, port: int, timeout: float) -> bool:
    """Whether the port completes a TLS handshake; nothing is sent, so no need to verify the cert."""
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=probe, server_hostname=host), timeout)
    except (OSError, asyncio.TimeoutError, ssl.SSLError):
        return False
    writer.transport.abort()
    await asyncio.sleep(0)
    return True
