"""Live login checks against real aiosmtpd servers: every security mode, every failure class."""

from __future__ import annotations

import socket
from collections.abc import Callable

import aiosmtplib
import pytest
import trustme
from pydantic import SecretStr

from bot import errors as e
from bot.smtp import ServerSettings, SmtpSession, build_message, check_login, classify
from tests.support.smtpd import SilentServer, SmtpServer

USER, PASSWORD = "notice@example.com", "right-code"


def server_for(srv: SmtpServer | SilentServer, security: str, password: str = PASSWORD,
               provider_type: str | None = None) -> ServerSettings:
    return ServerSettings(host="127.0.0.1", port=srv.port, security=security, account=USER,  # type: ignore[arg-type]
                          secret=SecretStr(password), provider_type=provider_type)


@pytest.mark.parametrize("security", ["ssl", "starttls", "none"])
async def test_login_ok_in_each_security_mode(smtp_server: Callable[..., SmtpServer], security: str) -> None:
    srv = smtp_server(security=security, users={USER: PASSWORD})
    await check_login(server_for(srv, security), timeout=3)
    assert srv.logins == [(USER, True)]


@pytest.mark.parametrize("security", ["ssl", "starttls"])
async def test_wrong_password_is_auth_rejected(smtp_server: Callable[..., SmtpServer], security: str) -> None:
    srv = smtp_server(security=security, users={USER: PASSWORD})
    with pytest.raises(e.AuthRejected) as info:
        await check_login(server_for(srv, security, "wrong-code", "qq"), timeout=3)
    assert "wrong-code" not in info.value.message("en") + info.value.message("zh") + repr(info.value)
    assert "授权码" in info.value.message("zh")


async def test_implicit_tls_against_starttls_port_is_tls_mismatch(smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(security="starttls", users={USER: PASSWORD})
    with pytest.raises(e.TlsMismatch):
        await check_login(server_for(srv, "ssl"), timeout=3)


async def test_starttls_against_implicit_tls_port_is_tls_mismatch(smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(security="ssl", users={USER: PASSWORD})
    with pytest.raises(e.TlsMismatch) as info:
        await check_login(server_for(srv, "starttls"), timeout=1)
    assert "ssl" in info.value.message("en")


async def test_plain_login_where_auth_needs_tls_is_tls_mismatch(smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(security="starttls", users={USER: PASSWORD})
    with pytest.raises(e.TlsMismatch):
        await check_login(server_for(srv, "none"), timeout=3)


async def test_untrusted_certificate_is_tls_mismatch(smtp_server: Callable[..., SmtpServer]) -> None:
    rogue = trustme.CA().issue_cert("127.0.0.1", "localhost")
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    rogue.configure_cert(context)
    srv = smtp_server(security="ssl", ssl_context=context, users={USER: PASSWORD})
    with pytest.raises(e.TlsMismatch):
        await check_login(server_for(srv, "ssl"), timeout=3)


async def test_closed_port_is_connect_failed() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ServerSettings(host="127.0.0.1", port=port, security="ssl", account=USER, secret=SecretStr("x"))
    with pytest.raises(e.ConnectFailed) as info:
        await check_login(server, timeout=2)
    assert info.value.temporary


async def test_server_that_never_greets_times_out(silent_server: SilentServer) -> None:
    with pytest.raises(e.SmtpTimeout):
        await check_login(server_for(silent_server, "ssl"), timeout=0.5)


# Every provider reply from shared/reference/mail_providers.md §2, at the stage it arrives.
AUTH_REPLIES: list[tuple[str, type[e.SmtpError]]] = [
    ("535 Login fail. Account is abnormal, service is not open, password is incorrect, login frequency limited, "
     "or system is busy. More information at https://help.mail.qq.com/detail/108/1023", e.AuthOrServiceRejected),
    ("535 Login Fail. Please enter your authorization code to login. More information in "
     "http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=28&&no=1001256", e.AppPasswordRequired),
    ("535 Error: 请使用授权码登录。详情请看: http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=28&&no=1001256",
     e.AppPasswordRequired),
    ("535 Error: authentication failed, system busy", e.AuthRejected),
    ("501 系统已强制开启安全登录，请绑定微信后使用客户端专用密码登录 exmail.qq.com", e.AppPasswordRequired),
    ("535 Error: authentication failed", e.AuthRejected),
    ("550 User has no permission", e.SmtpNotEnabled),
    ("550 用户无权登陆", e.SmtpNotEnabled),
    ("451 Requested mail action not taken: too much fail authentication", e.AccountLocked),
    ("526 Authentication failure[0]", e.AuthRejected),
    ("526 Authentication failure[1]", e.AccountLocked),
    ("526 Authentication failure[0] UC_LOGIN_SOURCE_NOT_ALLOWED", e.SmtpNotEnabled),
    ("535-5.7.8 Username and Password not accepted. Learn more at\n"
     "535 5.7.8  https://support.google.com/mail/?p=BadCredentials a1-20020a gsmtp", e.AuthRejected),
    ("534-5.7.9 Application-specific password required. Learn more at\n"
     "534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor b2-20020a gsmtp", e.AppPasswordRequired),
    ("454 4.7.0 Too many login attempts, please try again later. c3-20020a gsmtp", e.AccountLocked),
    ("535 5.7.139 Authentication unsuccessful, basic authentication is disabled. [BN9PR03CA0001.namprd03.prod]",
     e.BasicAuthDisabled),
    ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. "
     "Visit https://aka.ms/smtp_auth_disabled for more information.", e.SmtpNotEnabled),
    ("535 5.7.3 Authentication unsuccessful [SN4PR0201CA0070.namprd02.prod.outlook.com]", e.AuthRejected),
    ("550 5.7.30 Basic authentication is not supported for Client Submission.", e.BasicAuthDisabled),
    ("550 Connection frequency limited", e.AccountLocked),
    ("550 user is locked", e.AccountLocked),
]


@pytest.mark.parametrize(("reply", "expected"), AUTH_REPLIES, ids=[r[0][:40] for r in AUTH_REPLIES])
async def test_provider_login_reply_is_classified(smtp_server: Callable[..., SmtpServer], reply: str,
                                                  expected: type[e.SmtpError]) -> None:
    srv = smtp_server(security="ssl", users={USER: PASSWORD}, reject_all_logins=True, auth_reply=reply)
    with pytest.raises(e.SmtpError) as info:
        await check_login(server_for(srv, "ssl"), timeout=3)
    assert type(info.value) is expected
    first_line = reply.splitlines()[0][4:30]
    assert first_line in (info.value.reply or "")
    assert info.value.temporary == (expected is e.AccountLocked or reply.startswith("4"))
    assert info.value.message("zh") != info.value.message("en")


SEND_REPLIES: list[tuple[str, str, type[e.SmtpError], bool]] = [
    ("mail", "501 mail from address must be same as authorization user", e.SenderMismatch, False),
    ("mail", "553 Mail from must equal authorized user", e.SenderMismatch, False),
    ("mail", "550 User has no permission", e.SendingBlocked, False),
    ("mail", "440 mail from account doesn't conform with authentication (Auth Account:a@x.com|Mail Account:b@x.com)",
     e.SenderMismatch, False),
    ("mail", "550 5.7.60 SMTP; Client does not have permissions to send as this sender", e.SenderMismatch, False),
    ("mail", "541 This account isn't allowed to send email", e.SendingBlocked, False),
    ("rcpt", "505 the total of RCPTs is achieved the maximum threshold", e.SendingBlocked, False),
    ("rcpt", "504 the number of RCPT attempts is achieved the maximum threshold", e.SendingBlocked, False),
    ("rcpt", "450 RP:DRC too many recipients", e.SendingBlocked, True),
    ("data", "554 DT:SPM 163 smtp14,EsCowAD3 1700000000,please see http://mail.163.com/help/help_spam_16.htm?ip=1",
     e.SendingBlocked, False),
    ("data", "451 DT:SPM 163 smtp14,EsCowAD3 1700000000,please try again", e.SendingBlocked, True),
    ("data", "451 MI:SFQ sender exceeded the limit", e.SendingBlocked, True),
    ("data", "450 MI:DMC too many messages on this connection", e.SendingBlocked, True),
    ("data", "554 5.5.0 MI:STC daily cap", e.SendingBlocked, False),
    ("data", "554 DT:SUM envelope sender differs from From", e.SenderMismatch, False),
    ("data", "554 HL:IHU sending ip suspended", e.SendingBlocked, False),
    ("data", "421 HL:ICC too many connections", e.SendingBlocked, True),
    ("data", "554 Reject by behaviour spamANTISPAM_BAT[01201311R99]: too frequently sending", e.SendingBlocked, False),
    ("data", "454 Transient reject by behaviour spam", e.SendingBlocked, True),
    ("data", "554 Reject by content spam", e.SendingBlocked, False),
    ("data", "550-5.4.5 Daily user sending limit exceeded. For more information on Gmail sending limits go to\n"
     "550 5.4.5  https://support.google.com/a/answer/166852 d4-20020a gsmtp", e.SendingBlocked, False),
    ("data", "550 5.4.5 Daily user sending quota exceeded.", e.SendingBlocked, False),
    ("data", "554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied",
     e.SenderMismatch, False),
    ("data", "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException", e.SendingBlocked, False),
    ("data", "554 5.2.0 STOREDRV.Submission.Exception:OutboundSpamException; WASCL UserAction verdict is not None. "
     "Actual verdict is RefuseQuota, ShowTierUpgrade", e.SendingBlocked, False),
    ("data", "550 5.7.501 Access denied, spam abuse detected", e.SendingBlocked, False),
    ("data", "550 Mailbox unavailable or access denied", e.SendingBlocked, False),
]


@pytest.mark.parametrize(("stage", "reply", "expected", "temporary"), SEND_REPLIES,
                         ids=[f"{r[0]}:{r[1][:36]}" for r in SEND_REPLIES])
async def test_provider_sending_reply_is_classified(smtp_server: Callable[..., SmtpServer], stage: str, reply: str,
                                                    expected: type[e.SmtpError], temporary: bool) -> None:
    script = {"mail": {"mail_reply": reply}, "rcpt": {"rcpt_reply": reply}, "data": {"data_replies": [reply]}}[stage]
    srv = smtp_server(security="ssl", users={USER: PASSWORD}, **script)
    session = await SmtpSession.open(server_for(srv, "ssl"), timeout=3)
    message = build_message(account=USER, to=["boss@example.org"], subject="审批通过", text="ok")
    with pytest.raises(e.SmtpError) as info:
        await session.send(message, ["boss@example.org"])
    assert type(info.value) is expected
    assert info.value.temporary is temporary
    assert not session.is_connected
    assert srv.messages == []


# Issue 14: Microsoft refuses passwords (Outlook.com since 2024-09-16, Microsoft 365 tenants as basic SMTP
# AUTH is switched off): whatever the refusal's wording, a password login there needs OAuth2 sign-in.
MICROSOFT_REFUSALS = [
    "535 5.7.139 Authentication unsuccessful, basic authentication is disabled. [BN9PR03CA0001.namprd03.prod]",
    "535 5.7.3 Authentication unsuccessful [SN4PR0201CA0070.namprd02.prod.outlook.com]",
    "550 5.7.30 Basic authentication is not supported for Client Submission.",
    "535 5.7.139 Authentication unsuccessful, the user credentials were incorrect.",
]


@pytest.mark.parametrize("provider_type", ["outlook", "microsoft365"])
@pytest.mark.parametrize("reply", MICROSOFT_REFUSALS, ids=[r[:20] for r in MICROSOFT_REFUSALS])
async def test_password_refused_by_microsoft_type_needs_oauth(smtp_server: Callable[..., SmtpServer],
                                                              provider_type: str, reply: str) -> None:
    srv = smtp_server(security="ssl", users={USER: PASSWORD}, reject_all_logins=True, auth_reply=reply)
    with pytest.raises(e.BasicAuthDisabled) as info:
        await check_login(server_for(srv, "ssl", provider_type=provider_type), timeout=3)
    assert info.value.provider_type == provider_type and not info.value.temporary
    assert "--oauth" in info.value.message("en") and "reauth" in info.value.message("zh")


@pytest.mark.parametrize(("host", "guide_type"), [
    ("smtp.office365.com", "microsoft365"), ("SMTP.Office365.com.", "microsoft365"),
    ("outlook.office365.com", "microsoft365"), ("smtp-mail.outlook.com", "outlook"),
    ("eur.smtp.outlook.com", "microsoft365"), ("smtp.partner.outlook.cn", "microsoft365"),
])
@pytest.mark.parametrize("reply", MICROSOFT_REFUSALS, ids=[r[:20] for r in MICROSOFT_REFUSALS])
def test_password_refused_by_microsoft_host_on_custom_mailbox_needs_oauth(host: str, guide_type: str,
                                                                          reply: str) -> None:
    """A custom mailbox on Microsoft's servers gets the error, and the guide of the type it really is."""
    code, message = int(reply[:3]), reply[4:]
    for provider_type in ("custom", None):
        error = classify(aiosmtplib.SMTPAuthenticationError(code, message), "auth", provider_type=provider_type,
                         host=host)
        assert type(error) is e.BasicAuthDisabled, (host, provider_type)
        assert error.provider_type == guide_type


@pytest.mark.parametrize(("provider_type", "host"), [
    ("custom", "mail.example.com"), (None, "smtp.notoutlook.com"), ("custom", "outlook.com.example.org"),
    ("gmail", "smtp.gmail.com"), ("exmail", "smtp.exmail.qq.com"), (None, None),
])
def test_five_seven_three_elsewhere_stays_auth_rejected(provider_type: str | None, host: str | None) -> None:
    error = classify(aiosmtplib.SMTPAuthenticationError(535, "5.7.3 Authentication unsuccessful"), "auth",
                     provider_type=provider_type, host=host)
    assert type(error) is e.AuthRejected and error.provider_type == provider_type


def test_microsoft_rules_keep_their_specific_causes() -> None:
    """SMTP AUTH switched off for the tenant stays SmtpNotEnabled; a refused XOAUTH2 token is not "use OAuth2";
    and a Microsoft reply while sending is not a login problem."""
    off = "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant."
    assert type(classify(aiosmtplib.SMTPAuthenticationError(535, off), "auth", provider_type="microsoft365")) \
        is e.SmtpNotEnabled
    token = aiosmtplib.SMTPAuthenticationError(535, "5.7.3 Authentication unsuccessful")
    assert type(classify(token, "auth", provider_type="outlook", host="smtp-mail.outlook.com", auth="oauth2")) \
        is e.AuthRejected
    quota = aiosmtplib.SMTPResponseException(
        554, "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException")
    assert type(classify(quota, "data", provider_type="microsoft365", host="smtp.office365.com")) is e.SendingBlocked


def test_session_classifies_with_its_host() -> None:
    """SmtpSession passes the server's host, so a custom mailbox on smtp.office365.com is recognised."""
    server = ServerSettings(host="smtp.office365.com", port=587, security="starttls", account=USER,
                            secret=SecretStr("pw"), provider_type="custom")
    session = SmtpSession(server, timeout=1)
    error = session._error(aiosmtplib.SMTPAuthenticationError(535, "5.7.3 Authentication unsuccessful"), "auth")
    assert type(error) is e.BasicAuthDisabled and error.provider_type == "microsoft365"
