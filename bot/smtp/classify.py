"""Map whatever aiosmtplib raises to the project's SmtpError classes.

The rules are data: a reply pattern, the stages where it means that, and the class. Providers
reuse numeric codes for different causes, so the reply text decides first and the code only
breaks ties (see shared/reference/mail_providers.md §2).
"""

from __future__ import annotations

import asyncio
import re
import ssl
from dataclasses import dataclass
from typing import Literal

import aiosmtplib

from bot import errors as e

Stage = Literal["connect", "auth", "mail", "rcpt", "data"]
ANY: tuple[Stage, ...] = ("connect", "auth", "mail", "rcpt", "data")
LOGIN: tuple[Stage, ...] = ("connect", "auth")
SENDING: tuple[Stage, ...] = ("mail", "rcpt", "data")


@dataclass(frozen=True)
class Rule:
    """`temporary` None means: decided by the reply code (4xx retries, 5xx does not)."""

    pattern: re.Pattern[str]
    error: type[e.SmtpError]
    stages: tuple[Stage, ...] = ANY
    temporary: bool | None = None


def _rule(pattern: str, error: type[e.SmtpError], stages: tuple[Stage, ...] = ANY,
          temporary: bool | None = None) -> Rule:
    return Rule(re.compile(pattern, re.IGNORECASE), error, stages, temporary)


RULES: tuple[Rule, ...] = (
    _rule(r"basic authentication is (disabled|not supported)|5\.7\.30\b", e.BasicAuthDisabled),
    _rule(r"SmtpClientAuthentication is disabled|UC_LOGIN_SOURCE_NOT_ALLOWED|UC_CLIENT_NON_SSL", e.SmtpNotEnabled),
    _rule(r"User has no permission|用户无权登陆", e.SmtpNotEnabled, LOGIN),
    _rule(r"User has no permission|isn't allowed to send", e.SendingBlocked, SENDING),
    _rule(r"5\.7\.9\b|Application-specific password required|authorization code|授权码|安全登录", e.AppPasswordRequired),
    _rule(r"Account is abnormal|service is not open", e.AuthOrServiceRejected),
    _rule(r"Authentication failure\[1\]|too much fail authentication|Too many login attempts|user is locked",
          e.AccountLocked),
    _rule(r"must be same as authori[sz]ation user|must equal authori[sz]ed user|doesn't conform with authentication"
          r"|5\.7\.60\b|SendAsDenied|DT:SUM", e.SenderMismatch, temporary=False),
    _rule(r"frequency limited|Mailbox unavailable or access denied|HL:ICC", e.AccountLocked, LOGIN),
    _rule(r"frequency limited|Mailbox unavailable or access denied|MI:STC|MI:SFQ|MI:DMC|RP:DRC|HL:ICC|5\.4\.5\b"
          r"|SubmissionQuotaExceeded|too frequently sending|sending (limit|quota)|RCPTs is achieved"
          r"|RCPT attempts is achieved", e.SendingBlocked, SENDING),
    _rule(r"DT:SPM|content spam|behaviour spam|OutboundSpamException|5\.7\.501\b|HL:IHU|\bspam\b", e.SendingBlocked,
          SENDING),
    _rule(r"Login fail|authentication failed|Authentication failure|Authentication unsuccessful|5\.7\.8\b|5\.7\.3\b"
          r"|5\.7\.139\b|Username and Password not accepted", e.AuthRejected, LOGIN),
)


def reply_text(code: int, message: str) -> str:
    """A server reply on one line, as the user would search for it."""
    return f"{code} " + " ".join(line.strip() for line in message.splitlines() if line.strip())


def classify_reply(code: int, message: str, stage: Stage, provider_type: str | None) -> e.SmtpError:
    reply = reply_text(code, message)
    temporary = 400 <= code < 500
    for rule in RULES:
        if stage in rule.stages and rule.pattern.search(reply):
            pinned = rule.temporary if rule.temporary is not None else (temporary or None)
            return rule.error(reply, provider_type=provider_type, temporary=pinned)
    if temporary:
        return e.ServerUnavailable(reply, provider_type=provider_type)
    if stage == "auth":
        return e.AuthRejected(reply, provider_type=provider_type)
    if stage == "rcpt":
        return e.RecipientRejected(reply, provider_type=provider_type)
    return e.SmtpError(reply, provider_type=provider_type)


def classify(
    exc: BaseException,
    stage: Stage,
    *,
    provider_type: str | None = None,
    security: str | None = None,
    port: int | None = None,
) -> e.SmtpError:
    """The SmtpError that explains `exc`; `stage` is what the client was doing when it came."""
    if isinstance(exc, e.SmtpError):
        return exc
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        first = exc.recipients[0]
        return classify_reply(first.code, first.message, "rcpt", provider_type)
    if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code > 0:
        return classify_reply(exc.code, exc.message, stage, provider_type)
    if isinstance(exc, ssl.SSLError) or _caused_by(exc, ssl.SSLError):
        return e.TlsMismatch(_describe(exc), provider_type=provider_type)
    if isinstance(exc, aiosmtplib.SMTPNotSupported) or re.search(r"authentication method|AUTH extension", str(exc)):
        return e.TlsMismatch(_describe(exc), provider_type=provider_type)
    if isinstance(exc, (aiosmtplib.SMTPTimeoutError, asyncio.TimeoutError, TimeoutError)):
        if stage == "connect" and security != "ssl" and port == 465:
            return e.TlsMismatch(_describe(exc), provider_type=provider_type)
        return e.SmtpTimeout(None, provider_type=provider_type)
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected) or (
        isinstance(exc, ConnectionError) and stage != "connect"
    ):
        if stage == "connect" and security == "ssl":
            return e.TlsMismatch(_describe(exc), provider_type=provider_type)
        return e.ConnectionLost(_describe(exc), provider_type=provider_type)
    if isinstance(exc, UnicodeError):  # our side could not write an address or header: not the server's doing
        return e.NotEncodable(_describe(exc), provider_type=provider_type)
    if isinstance(exc, (aiosmtplib.SMTPConnectError, OSError)):
        return e.ConnectFailed(_describe(exc), provider_type=provider_type)
    return e.SmtpError(_describe(exc), provider_type=provider_type)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen = exc.__cause__ or exc.__context__
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
