"""The SMTP test servers behave as the rest of the suite relies on."""

from __future__ import annotations

import gc
import smtplib
import subprocess
import sys
from collections.abc import Callable
from email.message import EmailMessage

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


def client_for(server: SmtpServer, timeout: float = 2.0) -> aiosmtplib.SMTP:
    """A client using the TLS mode matching the server's security."""
    return aiosmtplib.SMTP(
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
    async with aiosmtplib.SMTP(
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
    client = client_for(server)
    await client.connect()
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await client.send_message(make_message("lost"))
    assert not client.is_connected
    async with client_for(server) as client:
        await client.send_message(make_message("kept"))
    assert [m.message["Subject"] for m in server.messages] == ["kept"]
    assert server.connections == 2


async def test_delay_before_data_reply(smtp_server: MakeServer) -> None:
    server = smtp_server(delay_s=0.5)
    client = client_for(server, timeout=0.2)
    await client.connect()
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
    del server
    gc.collect()


async def test_silent_server_times_out(silent_server: SilentServer) -> None:
    client = aiosmtplib.SMTP(
        hostname=silent_server.host, port=silent_server.port, timeout=0.5
    )
    with pytest.raises(aiosmtplib.SMTPTimeoutError):
        await client.connect()
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
