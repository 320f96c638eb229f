"""The SMTP submission door (issue 15), end to end with real parts: the relay running with its door on a free
port, a real aiosmtpd server as the mailbox's provider, and real clients (Python's smtplib in a thread, and
aiosmtplib), plain and STARTTLS."""

from __future__ import annotations

import asyncio
import email.policy
import email.utils
import logging
import os
import re
import smtplib
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from pydantic import SecretStr

from bot.adapters.smtp_door import SmtpDoor
from bot.errors import InvalidInput
from bot.relay.submission import Submissions
from tests.relay.conftest import ADMIN, PASSWORD, USER, Relay, relay_settings
from tests.storage.faults import allow_writes, deny_writes
from tests.support.smtpd import SmtpServer
from tests.support.tls import LocalCA

HOST = "127.0.0.1"
SALES = "sales@example.com"
QUEUED = re.compile(r"(?:Already queued|Queued) as ([0-9a-f]{32})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def mail(subject: str = "build #42 failed", *, sender: str = "Jenkins CI <jenkins@ci.example.org>",
         to: str = "alice@example.com", **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg["Subject"] = subject
    msg["Message-ID"] = email.utils.make_msgid(domain="ci.example.org")
    msg.set_content("The build failed.\n")
    return msg


@pytest.fixture
def door(relay_factory: Callable[..., Any], smtp_server: Callable[..., SmtpServer]) -> Callable[..., Any]:
    """`async with door(**settings) as (relay, server, port)`: the relay with its SMTP door on a free port, two
    mailboxes on one real SMTP server (ops: the default, bot@example.com; sales: sales@example.com)."""
    @asynccontextmanager
    async def make(**extra: Any) -> AsyncIterator[tuple[Relay, SmtpServer, int]]:
        server = smtp_server(users={USER: PASSWORD, SALES: PASSWORD})
        port = free_port()
        async with relay_factory(server, smtp_port=port, **extra) as relay:
            await relay.app.mailboxes.add({"name": "sales", "type": "custom", "account": SALES, "host": HOST,
                                           "port": server.port, "security": "none"}, SecretStr(PASSWORD), ADMIN,
                                          verify=False)
            assert relay.component.door.port == port
            yield relay, server, port

    return make


def smtplib_send(port: int, token: str | None, msg: EmailMessage | bytes, *, mail_from: str = "jenkins@ci.example.org",
                 to: list[str] | None = None, starttls: ssl.SSLContext | None = None,
                 user: str = "jenkins") -> tuple[int, str]:
    """One transaction with smtplib (blocking: run in a thread); the DATA reply."""
    with smtplib.SMTP(HOST, port, timeout=10) as client:
        client.ehlo("ci.example.org")
        if starttls is not None:
            client.starttls(context=starttls)
            client.ehlo("ci.example.org")
        if token is not None:
            client.login(user, token)
        code, reply = client.mail(mail_from)
        if code != 250:
            return code, reply.decode()
        for rcpt in to or ["alice@example.com"]:
            code, reply = client.rcpt(rcpt)
            if code != 250:
                return code, reply.decode()
        data = msg.as_bytes(policy=email.policy.SMTP) if isinstance(msg, EmailMessage) else msg
        code, reply = client.data(data)
        return code, reply.decode()


def mail_id(reply: str) -> str:
    found = QUEUED.search(reply)
    assert found, reply
    return found.group(1)


async def test_smtplib_plain_on_loopback_from_rewritten_bcc_stripped(door: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    async with door() as (relay, server, port):
        probe = await asyncio.to_thread(smtplib.SMTP, HOST, port)  # what a tool sees
        code, ehlo = await asyncio.to_thread(probe.ehlo, "ci")
        await asyncio.to_thread(probe.quit)
        features = ehlo.decode()
        assert code == 250 and "SIZE 20971520" in features and "8BITMIME" in features and "SMTPUTF8" in features
        assert "AUTH LOGIN PLAIN" in features

        msg = mail(Cc="Bob <bob@example.com>", Bcc="carol@example.com")
        code, reply = await asyncio.to_thread(smtplib_send, port, relay.token, msg,
                                              to=["alice@example.com", "bob@example.com", "carol@example.com"])
        assert code == 250, reply
        view = await relay.wait_status(mail_id(reply), "sent")
        assert view["status"] == "sent" and view["via"] == "smtp" and view["mailbox"] == "ops"
        assert view["message_id"] == msg["Message-ID"]
        got = (await server.wait_for_messages_async(1))[0]
        assert got.mail_from == USER  # the mailbox's account sends
        assert sorted(got.rcpt_tos) == ["alice@example.com", "bob@example.com", "carol@example.com"]
        assert got.message["From"] == f"Jenkins CI <{USER}>"
        assert got.message["Reply-To"] == "Jenkins CI <jenkins@ci.example.org>"
        assert got.message["Bcc"] is None and b"carol" not in got.data.split(b"\r\n\r\n")[0]
        assert got.message["Message-ID"] == msg["Message-ID"]
        assert got.message["Received"].startswith("from ci.example.org ([127.0.0.1]) by ")
        record = await relay.component.relay.get(mail_id(reply))
        assert record.token == "ci" and record.via == "smtp" and record.to == ["alice@example.com"]
        assert record.cc == ["bob@example.com"]  # carol is Bcc: in the content only, like the API's bcc
        # the token is nowhere: not in the relayed mail, not in the logs (aiosmtpd's debug lines included)
        assert relay.token not in got.data.decode() and "jenkins" not in got.message["Received"]
        assert relay.token not in caplog.text


async def test_a_reply_to_the_tool_set_is_kept(door: Any) -> None:
    async with door() as (relay, server, port):
        msg = mail(Reply_To="ops-team@ci.example.org")
        code, reply = await asyncio.to_thread(smtplib_send, port, relay.token, msg)
        assert code == 250, reply
        got = (await server.wait_for_messages_async(1))[0]
        assert got.message["From"] == f"Jenkins CI <{USER}>" and got.message["Reply-To"] == "ops-team@ci.example.org"


async def test_auth_refused_without_token_wrong_token_and_revoked(door: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    async with door() as (relay, server, port):
        # no AUTH: MAIL is refused with 535 5.7.8
        code, reply = await asyncio.to_thread(smtplib_send, port, None, mail())
        assert (code, reply[:5]) == (535, "5.7.8")
        # a wrong token: AUTH LOGIN and PLAIN both refused
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            await asyncio.to_thread(smtplib_send, port, "mbt_not-a-token", mail())
        assert refused.value.smtp_code == 535 and refused.value.smtp_error.startswith(b"5.7.8")
        client = aiosmtplib.SMTP(hostname=HOST, port=port, start_tls=False)
        await client.connect()
        await client.ehlo()
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as plain:
            await client.auth_plain("x", "mbt_not-a-token")
        assert plain.value.code == 535
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as login:
            await client.auth_login("x", "mbt_not-a-token")
        assert login.value.code == 535
        await client.auth_plain("any-user-name", relay.token)  # the user name is free
        await client.quit()
        client = aiosmtplib.SMTP(hostname=HOST, port=port, start_tls=False)
        await client.connect()
        await client.ehlo()
        await client.auth_login("someone", relay.token)  # LOGIN: the token comes in a challenge response
        errors, _ = await client.sendmail("jenkins@ci.example.org", ["a@example.com"], mail().as_bytes())
        assert errors == {}
        await client.quit()
        # revoked between two mails of one connection: the next MAIL is refused at once
        token = await relay.component.relay.tokens.create("jenkins")
        tool = await asyncio.to_thread(smtplib.SMTP, HOST, port)
        await asyncio.to_thread(tool.login, "jenkins", token)
        assert (await asyncio.to_thread(tool.sendmail, "jenkins@ci.example.org", ["a@example.com"],
                                        mail().as_bytes())) == {}
        await relay.component.relay.tokens.revoke("jenkins")
        code, reply = await asyncio.to_thread(tool.mail, "jenkins@ci.example.org")
        await asyncio.to_thread(tool.quit)
        assert (code, reply[:5]) == (535, b"5.7.8")
        got = await server.wait_for_messages_async(2)
        await asyncio.sleep(0.3)
        assert len(server.messages) == 2
        assert all(relay.token not in m.data.decode() and token not in m.data.decode() for m in got)
        assert relay.token not in caplog.text and token not in caplog.text and "mbt_not-a-token" not in caplog.text


async def test_mailbox_chosen_by_mail_from_then_scope_then_default(door: Any) -> None:
    async with door() as (relay, server, port):
        tokens = relay.component.relay.tokens
        sales_only = await tokens.create("sales-only", ["sales"])
        both = await tokens.create("two", ["sales", "ops"])
        cases = [
            (relay.token, SALES, "sales"),  # MAIL FROM is sales' account
            (relay.token, "jenkins@ci.example.org", "ops"),  # no such account: the default
            (sales_only, USER, "sales"),  # ops is out of scope: the token's only mailbox
            (both, USER, "ops"),
        ]
        for token, mail_from, expected in cases:
            code, reply = await asyncio.to_thread(smtplib_send, port, token, mail(sender=mail_from), mail_from=mail_from)
            assert code == 250, reply
            assert (await relay.component.relay.get(mail_id(reply))).mailbox == expected, (mail_from, expected)
        got = await server.wait_for_messages_async(4)
        assert sorted(m.mail_from for m in got) == sorted([SALES, USER, SALES, USER])
        # a token whose mailboxes are neither the MAIL FROM's nor one nor the default: refused, saying what to use
        await relay.app.mailboxes.set_default("sales", ADMIN)
        await asyncio.sleep(0.3)  # mailbox lookups are cached for MAILBOT_RELAY_POLL_S (0.2 s here)
        ops_and_x = await tokens.create("ops-x", ["ops", "other"])
        code, reply = await asyncio.to_thread(smtplib_send, port, ops_and_x, mail(), mail_from="x@ci.example.org")
        assert (code, reply[:5]) == (550, "5.7.1") and USER in reply


async def test_starttls_with_smtplib_and_aiosmtplib(door: Any, tls_ca: LocalCA, tmp_path: Path) -> None:
    cert, key = tmp_path / "door.pem", tmp_path / "door.key"
    tls_ca._leaf.cert_chain_pems[0].write_to_path(str(cert))  # the CA's leaf for 127.0.0.1/localhost
    tls_ca._leaf.private_key_pem.write_to_path(str(key))
    async with door(smtp_tls_cert=cert, smtp_tls_key=key) as (relay, server, port):
        context = ssl.create_default_context(cafile=str(tls_ca.ca_path))
        code, reply = await asyncio.to_thread(smtplib_send, port, relay.token, mail("over smtplib"), starttls=context)
        assert code == 250, reply
        client = aiosmtplib.SMTP(hostname=HOST, port=port, start_tls=True, tls_context=context)
        await client.connect()
        await client.login("grafana", relay.token)
        errors, response = await client.send_message(mail("over aiosmtplib"))
        await client.quit()
        assert errors == {} and QUEUED.search(response)
        got = await server.wait_for_messages_async(2)
        assert sorted(m.message["Subject"] for m in got) == ["over aiosmtplib", "over smtplib"]
        assert all(" with ESMTPSA; " in m.message["Received"] for m in got)


async def test_attachments_relayed_byte_for_byte_and_the_size_limit(door: Any) -> None:
    limit = 3 * 1024 * 1024
    async with door(max_mail_bytes=limit) as (relay, server, port):
        msg = mail("the nightly report")
        blob = os.urandom(2 * 1024 * 1024)  # base64: ~2.7 MB of the 3 MB limit
        msg.add_attachment(blob, maintype="application", subtype="octet-stream", filename="report.bin")
        msg.add_attachment("列,值\n一,1\n".encode(), maintype="text", subtype="csv", filename="数据.csv")
        sent = msg.as_bytes(policy=email.policy.SMTP)
        assert limit - 400_000 < len(sent) < limit
        code, reply = await asyncio.to_thread(smtplib_send, port, relay.token, sent)
        assert code == 250, reply
        got = (await server.wait_for_messages_async(1, timeout=15))[0]
        body = sent[sent.index(b"\r\n\r\n"):]
        assert got.data.endswith(body)  # every MIME part, boundary and byte after the header block, unchanged
        parts = [p for p in got.message.iter_attachments()]
        assert parts[0].get_content() == blob and parts[1].get_filename() == "数据.csv"

        big = mail("too big")
        big.add_attachment(os.urandom(limit), maintype="application", subtype="octet-stream", filename="big.bin")
        code, reply = await asyncio.to_thread(smtplib_send, port, relay.token, big)  # no SIZE given: DATA refuses it
        assert (code, reply[:5]) == (552, "5.3.4")
        tool = await asyncio.to_thread(smtplib.SMTP, HOST, port)  # smtplib announces SIZE: refused at MAIL FROM
        await asyncio.to_thread(tool.login, "ci", relay.token)
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            await asyncio.to_thread(tool.sendmail, "ci@example.org", ["a@example.com"], big.as_bytes())
        await asyncio.to_thread(tool.quit)
        assert refused.value.smtp_code == 552 and refused.value.smtp_error.startswith(b"5.3.4")
        await asyncio.sleep(0.3)
        assert len(server.messages) == 1


async def test_recipient_limit_is_452_and_the_rest_goes_in_another_transaction(door: Any) -> None:
    async with door(max_recipients=3) as (relay, server, port):
        rcpts = [f"user{i}@example.com" for i in range(5)]
        msg = mail(to=", ".join(rcpts))
        tool = await asyncio.to_thread(smtplib.SMTP, HOST, port)
        await asyncio.to_thread(tool.login, "ci", relay.token)
        refused = await asyncio.to_thread(tool.sendmail, "ci@example.org", rcpts, msg.as_bytes())
        assert sorted(refused) == rcpts[3:] and all(code == 452 and text.startswith(b"4.5.3")
                                                    for code, text in refused.values())
        assert await asyncio.to_thread(tool.sendmail, "ci@example.org", rcpts[3:], msg.as_bytes()) == {}
        await asyncio.to_thread(tool.quit)
        got = await server.wait_for_messages_async(2)
        assert sorted(r for m in got for r in m.rcpt_tos) == rcpts  # one message id, two transactions, both sent


async def test_chinese_subject_and_names_over_smtputf8(door: Any) -> None:
    async with door() as (relay, server, port):
        msg = EmailMessage(policy=email.policy.SMTPUTF8)
        msg["From"] = "构建机器人 <jenkins@ci.example.org>"
        msg["To"] = "张三 <zhangsan@例子.中国>"
        msg["Subject"] = "构建失败：主分支 #42"
        msg["Message-ID"] = "<42@ci.example.org>"
        msg.set_content("构建失败，请查看日志。\n", cte="8bit")
        raw = msg.as_bytes()
        assert "构建失败".encode() in raw.split(b"\r\n\r\n")[0]  # raw UTF-8 in the header, as an SMTPUTF8 tool sends
        client = aiosmtplib.SMTP(hostname=HOST, port=port, start_tls=False)
        await client.connect()
        await client.login("ci", relay.token)
        errors, response = await client.sendmail("jenkins@ci.example.org", ["zhangsan@例子.中国"], raw,
                                                 mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        assert errors == {}, errors
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:  # a Chinese local part: 553 5.6.7, why
            await client.sendmail("jenkins@ci.example.org", ["张三@example.com"], raw, mail_options=["SMTPUTF8"])
        (code, text), = [(e.code, e.message) for e in refused.value.recipients]
        assert code == 553 and text.startswith("5.6.7") and "SMTPUTF8" in text
        await client.quit()
        got = (await server.wait_for_messages_async(1))[0]
        head = got.data.split(b"\r\n\r\n")[0]
        assert head.isascii() and b"=?utf-8?" in head  # encoded words for a provider without SMTPUTF8
        assert got.rcpt_tos == ["zhangsan@xn--fsqu00a.xn--fiqs8s"]
        assert got.message["Subject"] == "构建失败：主分支 #42"
        assert got.message["From"].addresses[0].display_name == "构建机器人"
        assert got.message["From"].addresses[0].addr_spec == USER
        assert got.message["To"].addresses[0].display_name == "张三"
        assert got.message.get_content().replace("\r\n", "\n") == "构建失败，请查看日志。\n"
        assert got.data.endswith(raw[raw.index(b"\r\n\r\n"):])  # the 8-bit body untouched
        assert "BODY=8BITMIME" in got.mail_options  # and declared to the provider (RFC 6152)
        view = await relay.wait_status(mail_id(response), "sent")
        assert view["subject"] == "构建失败：主分支 #42"


async def test_same_message_id_twice_is_one_mail(door: Any) -> None:
    async with door() as (relay, server, port):
        msg = mail("sent twice (the tool lost our 250)")
        first = await asyncio.to_thread(smtplib_send, port, relay.token, msg)
        second = await asyncio.to_thread(smtplib_send, port, relay.token, msg)
        assert first[0] == second[0] == 250 and mail_id(first[1]) == mail_id(second[1])
        assert second[1].startswith("2.0.0 Already queued")
        changed = mail("another mail that reuses the Message-ID")
        changed.replace_header("Message-ID", msg["Message-ID"])
        code, reply = await asyncio.to_thread(smtplib_send, port, relay.token, changed)
        assert (code, reply[:5]) == (554, "5.6.0")
        await server.wait_for_messages_async(1)
        await asyncio.sleep(0.5)
        assert len(server.messages) == 1
        other = await relay.component.relay.tokens.create("other")  # keys are per token, as over HTTP
        code, reply = await asyncio.to_thread(smtplib_send, port, other, msg)
        assert code == 250 and mail_id(reply) != mail_id(first[1])


async def test_store_failure_is_451_then_the_resend_lands_once(door: Any) -> None:
    async with door() as (relay, server, port):
        outbox = relay.component.relay.outbox
        msg = mail("while the store fails")
        await deny_writes(outbox.mails)
        try:
            code, reply = await asyncio.wait_for(asyncio.to_thread(smtplib_send, port, relay.token, msg), 20)
            assert (code, reply[:5]) == (451, "4.3.0")
        finally:
            await allow_writes(outbox.mails)
        code, reply = await asyncio.to_thread(smtplib_send, port, relay.token, msg)
        assert code == 250, reply
        assert (await relay.wait_status(mail_id(reply), "sent"))["status"] == "sent"
        await asyncio.sleep(0.3)
        assert len(server.messages) == 1


async def test_non_loopback_without_tls_does_not_start(tmp_path: Path) -> None:
    settings = relay_settings(tmp_path, smtp_host="0.0.0.0", smtp_port=free_port())
    with pytest.raises(InvalidInput) as refused:
        await SmtpDoor(Submissions.__new__(Submissions), settings).start()
    assert "MAILBOT_SMTP_TLS_CERT" in refused.value.message("en") and "MAILBOT_SMTP_TLS_KEY" in refused.value.message("en")


async def test_a_permanent_refusal_upstream_fails_the_mail_with_an_alert(smtp_server: Any,
                                                                         relay_factory: Any) -> None:
    server = smtp_server(users={USER: PASSWORD}, data_replies=["550 5.7.1 Message rejected as spam"])
    port = free_port()
    async with relay_factory(server, smtp_port=port) as relay:
        code, reply = await asyncio.to_thread(smtplib_send, port, relay.token, mail("rejected upstream"))
        assert code == 250, reply  # accepted: durable; what the provider says later is the outbox's business
        view = await relay.wait_status(mail_id(reply), "failed")
        assert view["status"] == "failed" and view["via"] == "smtp" and "5.7.1" in view["last_error"]
        assert len(await relay.alerts(1)) == 1


async def test_a_message_without_message_id_date_or_from_gets_them(door: Any) -> None:
    async with door() as (relay, server, port):
        bare = b"To: alice@example.com\r\nSubject: cron output\r\n\r\nall good\r\n"
        first = await asyncio.to_thread(smtplib_send, port, relay.token, bare)
        second = await asyncio.to_thread(smtplib_send, port, relay.token, bare)
        assert first[0] == second[0] == 250 and mail_id(first[1]) != mail_id(second[1])  # no Message-ID: no key
        got = await server.wait_for_messages_async(2)
        for m in got:
            assert m.message["From"] == USER and m.message["Reply-To"] is None
            assert m.message["Date"] is not None and m.message["Message-ID"].endswith("@example.com>")
            assert m.data.endswith(b"\r\n\r\nall good\r\n")
        assert got[0].message["Message-ID"] != got[1].message["Message-ID"]
