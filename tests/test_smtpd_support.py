"""The SMTP test servers behave as the rest of the suite relies on."""

from __future__ import annotations

import asyncio
import base64
import gc
import smtplib
import subprocess
import sys
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import pytest

from tests.support.smtpd import SilentServer, SmtpServer
from tests.support.tls import LocalCA

MakeServer = Callable[..., SmtpServer]
USERS = {"bot@example.com": "s3cret"}
GMAIL_534 = (
    "534-5.7.9 Application-specific password required. For more information, go to\n"
    "534 5.7.9 https://support.google.com/mail/?p=InvalidSecondFactor x1-20020a"
)


class Client(aiosmtplib.SMTP):
    """``aiosmtplib.SMTP`` whose close leaves no socket behind, TLS or not.

    aiosmtplib's ``close()`` (also run by ``async with`` after QUIT, and on
    errors) only *starts* a TLS close: the socket is closed once the server's
    close_notify arrives. The server sends that after its 221 reply, from its
    own thread, so under load the test could return and pytest-asyncio close
    the loop first; the socket then stayed open until a later test's garbage
    collection raised "unclosed socket". ``abort()`` closes the socket on the
    next loop turn without waiting for the server (as ``bot.smtp.session``
    does), and leaving ``async with`` waits for that turn.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._dropped: list[Any] = []  # sockets (asyncio TransportSocket) of closed connections

    def close(self) -> None:
        if self.transport is not None:
            self._dropped.append(self.transport.get_extra_info("socket"))
            self.transport.abort()
        super().close()

    async def wait_closed(self) -> None:
        """Return once the sockets of every connection this client closed are closed."""
        for _ in range(100):
            if all(sock is None or sock.fileno() == -1 for sock in self._dropped):
                return
            await asyncio.sleep(0)
        raise AssertionError("client socket still open after abort()")

    async def __aexit__(self, *exc_info: Any) -> None:
        await super().__aexit__(*exc_info)
        await self.wait_closed()


def client_for(server: SmtpServer, timeout: float = 2.0) -> Client:
    """A client using the TLS mode matching the server's security."""
    return Client(
        hostname=server.host,
        port=server.port,
        use_tls=server.security == "ssl",
        start_tls=server.security == "starttls",
        timeout=timeout,
    )


def make_message(subject: str = "hello") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "bot@example.com"
    message["To"] = "to@example.org"
    message["Subject"] = subject
    message.set_content("body\n")
    return message


@pytest.mark.parametrize("security", ["ssl", "starttls", "none"])
async def test_login_and_send(smtp_server: MakeServer, security: str) -> None:
    server = smtp_server(security=security, users=USERS)
    async with client_for(server) as client:
        await client.login("bot@example.com", "s3cret")
        await client.send_message(make_message("hi"))
    [received] = await server.wait_for_messages_async(1)
    assert received.mail_from == "bot@example.com"
    assert received.rcpt_tos == ["to@example.org"]
    assert received.message["Subject"] == "hi"
    assert b"body" in received.data
    assert server.logins == [("bot@example.com", True)]
    assert server.connections == 1


@pytest.mark.parametrize("security", ["ssl", "starttls", "none"])
async def test_wrong_password(smtp_server: MakeServer, security: str) -> None:
    server = smtp_server(security=security, users=USERS)
    async with client_for(server) as client:
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as caught:
            await client.login("bot@example.com", "wrong")
    assert caught.value.code == 535
    # aiosmtplib's login() retries with every advertised mechanism (PLAIN, LOGIN).
    assert server.logins == [("bot@example.com", False)] * 2


@pytest.mark.parametrize("method", ["auth_plain", "auth_login"])
async def test_plain_and_login_mechanisms(smtp_server: MakeServer, method: str) -> None:
    server = smtp_server(users=USERS)
    async with client_for(server) as client:
        await client.ehlo()  # the auth_* methods, unlike login(), skip EHLO
        await getattr(client, method)("bot@example.com", "s3cret")
    assert server.logins == [("bot@example.com", True)]


async def test_starttls_offers_auth_only_after_tls(smtp_server: MakeServer) -> None:
    server = smtp_server(security="starttls", users=USERS)
    async with Client(
        hostname=server.host, port=server.port, start_tls=False, timeout=2.0
    ) as client:
        await client.ehlo()
        assert client.supports_extension("starttls")
        assert not client.supports_extension("auth")
        await client.starttls()
        await client.ehlo()
        assert client.supports_extension("auth")


async def test_mail_requires_login(smtp_server: MakeServer) -> None:
    server = smtp_server(users=USERS)
    async with client_for(server) as client:
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as caught:
            await client.send_message(make_message())
    assert caught.value.code == 530


async def test_custom_multiline_auth_reply(smtp_server: MakeServer) -> None:
    server = smtp_server(
        security="ssl", users=USERS, auth_reply=GMAIL_534, reject_all_logins=True
    )
    async with client_for(server) as client:
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as caught:
            await client.login("bot@example.com", "s3cret")
    assert caught.value.code == 534
    assert caught.value.message == (
        "5.7.9 Application-specific password required. For more information, go to\n"
        "5.7.9 https://support.google.com/mail/?p=InvalidSecondFactor x1-20020a"
    )
    assert server.logins == [("bot@example.com", False)] * 2


async def test_single_line_auth_reply(smtp_server: MakeServer) -> None:
    server = smtp_server(users=USERS, auth_reply="526 Authentication failure[0]")
    async with client_for(server) as client:
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as caught:
            await client.login("bot@example.com", "wrong")
    assert (caught.value.code, caught.value.message) == (526, "Authentication failure[0]")


async def test_no_auth_advertised(smtp_server: MakeServer) -> None:
    server = smtp_server(advertise_auth=False)
    async with client_for(server) as client:
        await client.ehlo()
        assert not client.supports_extension("auth")
        with pytest.raises(aiosmtplib.SMTPException, match="AUTH"):
            await client.login("bot@example.com", "s3cret")


def token_check(user: str, token: str) -> bool:
    return (user, token) == ("bot@example.com", "good-token")


@pytest.mark.parametrize("security", ["ssl", "starttls", "none"])
async def test_xoauth2_accepted_and_sends(smtp_server: MakeServer, security: str) -> None:
    server = smtp_server(security=security, xoauth2=token_check)
    async with client_for(server) as client:
        await client.ehlo()
        assert "xoauth2" in client.server_auth_methods
        response = await client.auth_xoauth2("bot@example.com", "good-token")
        assert (response.code, response.message) == (235, "2.7.0 Authentication successful")
        await client.send_message(make_message("oauth"))
    [received] = await server.wait_for_messages_async(1)
    assert received.message["Subject"] == "oauth"
    assert server.logins == [("bot@example.com", True)]


@pytest.mark.parametrize(
    ("user", "token"), [("bot@example.com", "stale-token"), ("other@example.com", "good-token")]
)
async def test_xoauth2_refused_as_exchange_online(
    smtp_server: MakeServer, user: str, token: str
) -> None:
    server = smtp_server(xoauth2=token_check)
    async with client_for(server) as client:
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as caught:
            await client.auth_xoauth2(user, token)
        # Still unauthenticated: MAIL is refused as before any AUTH.
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
            await client.send_message(make_message())
    assert (caught.value.code, caught.value.message) == (535, "5.7.3 Authentication unsuccessful")
    assert refused.value.code == 530
    assert server.logins == [(user, False)]


async def test_xoauth2_response_after_a_challenge(smtp_server: MakeServer) -> None:
    server = smtp_server(xoauth2=token_check)
    async with client_for(server) as client:
        await client.ehlo()
        challenge = await client.execute_command(b"AUTH", b"XOAUTH2")
        assert challenge.code == 334
        encoded = aiosmtplib.auth.auth_xoauth2_encode("bot@example.com", "good-token")
        assert (await client.execute_command(encoded)).code == 235
    assert server.logins == [("bot@example.com", True)]


async def test_xoauth2_malformed_response(smtp_server: MakeServer) -> None:
    server = smtp_server(xoauth2=token_check)
    async with client_for(server) as client:
        await client.ehlo()
        garbage = base64.b64encode(b"auth=Basic x\x01\x01")
        assert (await client.execute_command(b"AUTH", b"XOAUTH2", garbage)).code == 501
        assert (await client.execute_command(b"AUTH", b"XOAUTH2", b"!!")).code == 501
    assert server.logins == []


async def test_starttls_offers_xoauth2_only_after_tls(smtp_server: MakeServer) -> None:
    server = smtp_server(security="starttls", xoauth2=token_check)
    async with Client(
        hostname=server.host, port=server.port, start_tls=False, timeout=2.0
    ) as client:
        await client.ehlo()
        assert not client.supports_extension("auth")
        await client.starttls()
        await client.ehlo()
        assert client.server_auth_methods == ["login", "plain", "xoauth2"]
        await client.auth_xoauth2("bot@example.com", "good-token")
    assert server.logins == [("bot@example.com", True)]


async def test_password_refused_when_basic_auth_disabled(smtp_server: MakeServer) -> None:
    server = smtp_server(users=USERS, xoauth2=token_check, password_auth=False)
    async with client_for(server) as client:
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as caught:
            await client.login("bot@example.com", "s3cret")
    assert (caught.value.code, caught.value.message) == (
        535,
        "5.7.139 Authentication unsuccessful, basic authentication is disabled.",
    )
    assert server.logins == [("bot@example.com", False)] * 2


async def test_no_xoauth2_unless_asked(smtp_server: MakeServer) -> None:
    server = smtp_server(users=USERS)
    async with client_for(server) as client:
        await client.ehlo()
        assert client.server_auth_methods == ["login", "plain"]


async def test_mail_and_rcpt_replies(smtp_server: MakeServer) -> None:
    server = smtp_server(rcpt_reply={"to@example.org": "550 5.1.1 User unknown"})
    async with client_for(server) as client:
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
            await client.send_message(make_message())
    server = smtp_server(mail_reply="452 4.3.1 Insufficient system storage")
    async with client_for(server) as client:
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as caught:
            await client.send_message(make_message())
    assert caught.value.code == 452
    assert server.messages == []


async def test_data_replies_consumed_per_message(smtp_server: MakeServer) -> None:
    server = smtp_server(data_replies=["451 4.3.0 try later", None])
    async with client_for(server) as client:
        with pytest.raises(aiosmtplib.SMTPDataError) as caught:
            await client.send_message(make_message("first"))
        assert (caught.value.code, caught.value.message) == (451, "4.3.0 try later")
        await client.send_message(make_message("second"))
    assert [m.message["Subject"] for m in server.messages] == ["second"]


@pytest.mark.parametrize("security", ["ssl", "none"])
async def test_drop_mid_data_then_recover(smtp_server: MakeServer, security: str) -> None:
    server = smtp_server(security=security, drop_mid_data=True)
    async with client_for(server) as client:
        with pytest.raises(aiosmtplib.SMTPServerDisconnected):
            await client.send_message(make_message("lost"))
        assert not client.is_connected
    async with client_for(server) as client:
        await client.send_message(make_message("kept"))
    assert [m.message["Subject"] for m in server.messages] == ["kept"]
    assert server.connections == 2


async def test_delay_before_data_reply(smtp_server: MakeServer) -> None:
    # The margin outlasts any CPU starvation of the test thread (a reply that
    # is readable by the time the client's timer fires still wins); stop cuts
    # the delay short.
    server = smtp_server(delay_s=5.0)
    async with client_for(server, timeout=0.2) as client:
        with pytest.raises(aiosmtplib.SMTPTimeoutError):
            await client.send_message(make_message())


@pytest.mark.parametrize("security", ["ssl", "starttls"])
async def test_stop_closes_open_tls_connections(security: str, tls_ca: LocalCA) -> None:
    """A leaked server socket would fail a later test with a ResourceWarning."""
    server = SmtpServer(security=security, ssl_context=tls_ca.server_context())
    async with server:
        client = client_for(server)
        await client.connect()
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await client.noop()
    await client.wait_closed()
    del server
    gc.collect()


async def test_silent_server_times_out(silent_server: SilentServer) -> None:
    client = Client(hostname=silent_server.host, port=silent_server.port, timeout=0.5)
    with pytest.raises(aiosmtplib.SMTPTimeoutError):
        await client.connect()
    await client.wait_closed()
    assert silent_server.connections == 1


def test_sync_context_manager_serves_blocking_clients() -> None:
    with SmtpServer() as server:
        with smtplib.SMTP(server.host, server.port, timeout=2) as client:
            client.send_message(make_message("sync"))
        [received] = server.wait_for_messages(1)
    assert received.message["Subject"] == "sync"


async def test_async_context_manager() -> None:
    async with SmtpServer() as server:
        async with client_for(server) as client:
            await client.send_message(make_message("async"))
        [received] = await server.wait_for_messages_async(1)
    assert received.message["Subject"] == "async"


def test_subprocess_trusts_ca_via_env(smtp_server: MakeServer, tls_ca: LocalCA) -> None:
    server = smtp_server(security="ssl", users=USERS)
    script = (
        "import smtplib, ssl, sys\n"
        "host, port = sys.argv[1], int(sys.argv[2])\n"
        "with smtplib.SMTP_SSL(host, port, context=ssl.create_default_context(),"
        " timeout=2) as c:\n"
        "    c.login('bot@example.com', 's3cret')\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, server.host, str(server.port)],
        check=True,
        timeout=10,
    )
    assert server.logins == [("bot@example.com", True)]
