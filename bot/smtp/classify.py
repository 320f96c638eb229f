"""Map whatever aiosmtplib raises to the project's SmtpError classes.

The rules are data: a reply pattern, the stages where it means that, and the class. Providers
reuse numeric codes for different causes, so the reply text decides first and the code only
breaks ties (see shared/reference/mail_providers.md §2). A few replies mean more on one family of
servers: Microsoft's 535 5.7.3 / 5.7.139 / 550 5.7.30 to a password login say "this mailbox needs
OAuth2", not "wrong password". Such a rule names the servers (by mailbox type or by host) and the
login method it holds for.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from dataclasses import dataclass
from typing import Literal

import aiosmtplib

from bot import errors as e
from bot.providers.catalog import CATALOG

Stage = Literal["connect", "auth", "mail", "rcpt", "data"]
Auth = Literal["password", "oauth2"]
ANY: tuple[Stage, ...] = ("connect", "auth", "mail", "rcpt", "data")
LOGIN: tuple[Stage, ...] = ("connect", "auth")
SENDING: tuple[Stage, ...] = ("mail", "rcpt", "data")


@dataclass(frozen=True)
class Servers:
    """A family of SMTP servers, known by the mailbox type or, for a custom mailbox, by the host.
    `guide_type`: the type whose guide explains a custom mailbox on these servers."""

    types: tuple[str, ...]
    host_suffixes: tuple[str, ...]
    guide_type: str

    def by_host(self, host: str | None) -> bool:
        name = (host or "").lower().rstrip(".")
        return any(name == suffix or name.endswith("." + suffix) for suffix in self.host_suffixes)

    def serve(self, provider_type: str | None, host: str | None) -> bool:
        return provider_type in self.types or self.by_host(host)

    def type_for(self, host: str | None) -> str:
        """The type a custom mailbox on this host really is: the catalog type with that host, else guide_type."""
        name = (host or "").lower().rstrip(".")
        return next((t for t in self.types if CATALOG[t].host == name), self.guide_type)


# Exchange Online, for Outlook.com and Microsoft 365 alike: the types that sign in at Microsoft, and
# its hosts (smtp.office365.com, smtp-mail.outlook.com, other *.outlook.com / *.office365.com, and
# 21Vianet's smtp.partner.outlook.cn).
MICROSOFT = Servers(
    types=tuple(p.type for p in CATALOG.values() if p.oauth is not None and p.oauth.issuer == "microsoft"),
    host_suffixes=("office365.com", "outlook.com", "partner.outlook.cn"),
    guide_type="microsoft365",
)


@dataclass(frozen=True)
class Rule:
    """`temporary` None means: decided by the reply code (4xx retries, 5xx does not). `servers` and
    `auth`, when set, limit the rule to those servers and that login method."""

    pattern: re.Pattern[str]
    error: type[e.SmtpError]
    stages: tuple[Stage, ...] = ANY
    temporary: bool | None = None
    servers: Servers | None = None
    auth: Auth | None = None

    def applies(self, stage: Stage, provider_type: str | None, host: str | None, auth: Auth) -> bool:
        return (stage in self.stages and (self.auth is None or self.auth == auth)
                and (self.servers is None or self.servers.serve(provider_type, host)))


def _rule(pattern: str, error: type[e.SmtpError], stages: tuple[Stage, ...] = ANY,
          temporary: bool | None = None, servers: Servers | None = None, auth: Auth | None = None) -> Rule:
    return Rule(re.compile(pattern, re.IGNORECASE), error, stages, temporary, servers, auth)


RULES: tuple[Rule, ...] = (
    _rule(r"basic authentication is (disabled|not supported)|5\.7\.30\b", e.BasicAuthDisabled),
    _rule(r"SmtpClientAuthentication is disabled|UC_LOGIN_SOURCE_NOT_ALLOWED|UC_CLIENT_NON_SSL", e.SmtpNotEnabled),
    # Outlook.com refuses every password since 2024-09-16 and Microsoft 365 tenants are switching
    # basic SMTP AUTH off: a refused password login there is "sign in with OAuth2", even as 5.7.3.
    _rule(r"5\.7\.(139|3|30)\b", e.BasicAuthDisabled, LOGIN, servers=MICROSOFT, auth="password"),
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


def classify_reply(code: int, message: str, stage: Stage, provider_type: str | None, *,
                   host: str | None = None, auth: Auth = "password") -> e.SmtpError:
    reply = reply_text(code, message)
    temporary = 400 <= code < 500
    for rule in RULES:
        if rule.applies(stage, provider_type, host, auth) and rule.pattern.search(reply):
            pinned = rule.temporary if rule.temporary is not None else (temporary or None)
            if rule.error is e.BasicAuthDisabled and provider_type in (None, "custom") and MICROSOFT.by_host(host):
                provider_type = MICROSOFT.type_for(host)  # a custom mailbox on Microsoft's host: its guide
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
    host: str | None = None,
    auth: Auth = "password",
) -> e.SmtpError:
    """The SmtpError that explains `exc`; `stage` is what the client was doing when it came.

    `host` and `auth` (how the session logged in) let server-specific rules apply: a password
    refused by a Microsoft host is BasicAuthDisabled, also for a custom mailbox."""
    if isinstance(exc, e.SmtpError):
        return exc
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        first = exc.recipients[0]
        return classify_reply(first.code, first.message, "rcpt", provider_type, host=host, auth=auth)
    if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code > 0:
        return classify_reply(exc.code, exc.message, stage, provider_type, host=host, auth=auth)
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
