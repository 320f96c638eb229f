"""SMTP submission (issue 15): a message a tool built itself, relayed as it is through a registered mailbox.

The SMTP door (bot.adapters.smtp_door) speaks the protocol; everything it decides is here:

- Who may send: a relay token as the AUTH password, checked again at each MAIL FROM and at DATA
  (a revoke refuses the next mail at once, as over HTTP).
- Which mailbox sends: the registered mailbox whose account is the MAIL FROM (when the token may use
  it), else the token's only scoped mailbox, else the default mailbox.
- What is sent: the tool's bytes (MIME parts, attachments, body untouched), with its header block
  edited in place: Bcc dropped; From set to the mailbox's account (providers refuse any other),
  keeping the tool's display name, the tool's address moved to Reply-To (unless it set one); raw
  UTF-8 header values (SMTPUTF8 tools) re-encoded as RFC 2047 encoded words, since the provider may
  not speak SMTPUTF8; Date and Message-ID added when missing; a Received line in front (no user
  name, no token).
- Idempotency: the tool's Message-ID, with the envelope recipients (a client sends the recipients a
  452 turned away in a second transaction of the same message), is the idempotency key per token;
  the same message again is accepted without a second delivery.
- Limits as over HTTP: MAILBOT_MAX_MAIL_BYTES (the message as transmitted), MAILBOT_MAX_RECIPIENTS;
  addresses whose local part is not ASCII are refused, as the HTTP API refuses them.
"""

from __future__ import annotations

import asyncio
import base64
import email.policy
import hashlib
import re
import time
from dataclasses import dataclass
from email.headerregistry import Address, Group, HeaderRegistry
from email.utils import format_datetime
from datetime import UTC, datetime

from bot.errors import FieldError, InvalidInput, NotFound, PermissionDenied
from bot.i18n import Text
from bot.mailboxes.model import Mailbox
from bot.relay.models import Content, MailRecord
from bot.relay.service import RelayService, _checked_address
from bot.relay.tokens import TokenInfo
from bot.smtp.message import new_message_id

_REGISTRY = HeaderRegistry()  # email.policy.default's parsers: encoded words decoded, groups kept
_SMTP = email.policy.SMTP  # folds with CRLF, encodes non-ASCII as RFC 2047 (utf8=False)
ADDRESS_HEADERS = frozenset({"from", "sender", "reply-to", "to", "cc", "resent-from", "resent-sender", "resent-to",
                             "resent-cc", "disposition-notification-to", "return-receipt-to"})
# Non-ASCII in these is left as the tool wrote it: identifiers and trace, not text a person reads.
KEEP_RAW = frozenset({"message-id", "in-reply-to", "references", "received", "return-path", "date",
                      "resent-message-id", "resent-date", "dkim-signature"})
TRACE = frozenset({"received", "date"})  # differ between a tool's resends of one message
MAX_KEY_ID = 200  # a longer Message-ID is hashed into the idempotency key
_FIELD_NAME = re.compile(rb"[!-9;-~]+:")  # RFC 5322 field name and colon
_HOSTNAME = re.compile(r"[^A-Za-z0-9.\-\[\]:_]")


class RecipientLimit(InvalidInput):
    """More envelope recipients than MAILBOT_MAX_RECIPIENTS (SMTP: 452 4.5.3, the rest in another transaction)."""

    code = "too_many_recipients"


class NonAsciiAddress(InvalidInput):
    """An address whose local part is not ASCII: it needs SMTPUTF8 on every server on the way (SMTP: 5.6.7)."""

    code = "non_ascii_address"


class BadAddress(InvalidInput):
    code = "bad_address"


def _problem(field: str, zh: str, en: str, example: str = "") -> list[FieldError]:
    return [FieldError(field=field, problem=Text(zh=zh, en=en), example=example)]


def ascii_address(value: str, field: str) -> str:
    """The address in ASCII (a non-ASCII domain in its IDNA form); NonAsciiAddress or BadAddress otherwise."""
    if "\r" in value or "\n" in value or len(value) > 320:
        raise BadAddress(_problem(field, "不是有效的邮件地址", "not a valid address", "alice@example.com"))
    address, problem = _checked_address(value)
    if problem is not None:
        raise BadAddress(_problem(field, f"不是有效的邮件地址：{problem}", f"not a valid address: {problem}",
                                  "alice@example.com"))
    if address is None:
        raise NonAsciiAddress(_problem(
            field, "@ 前的用户名含非 ASCII 字符（如中文）：投递这种地址需要发件和收件服务器都支持 SMTPUTF8，mailbot 不发送这类地址",
            "the part before @ has non-ASCII characters (such as Chinese): delivering it needs SMTPUTF8 on every "
            "server on the way, so mailbot does not send to such addresses", "yonghu@例子.中国"))
    return address


@dataclass
class Trace:
    """Where a message came from, for its Received line: never the user name or the token."""

    helo: str
    peer: str
    hostname: str
    tls: bool
    smtputf8: bool = False


@dataclass
class _Field:
    name: str  # lowercased
    raw: bytes  # the whole field: name, value, continuation lines, line end

    def value(self) -> str:
        """The unfolded value as text (UTF-8; undecodable bytes kept as surrogates)."""
        _, _, rest = self.raw.partition(b":")
        text = rest.decode("utf-8", "surrogateescape")
        return re.sub(r"\r?\n(?=[ \t])", "", text).strip()

    def original_name(self) -> str:
        return self.raw.partition(b":")[0].decode("ascii")


def split_header(raw: bytes) -> tuple[list[_Field], bytes]:
    """The header fields of a message and the rest (the blank line and the body, byte for byte)."""
    fields: list[_Field] = []
    pos = 0
    while pos < len(raw):
        end = raw.find(b"\n", pos)
        end = len(raw) if end < 0 else end + 1
        line = raw[pos:end]
        if line in (b"\r\n", b"\n"):
            break
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1].raw += line
        elif (name := _FIELD_NAME.match(line)) is not None:
            fields.append(_Field(name.group()[:-1].decode("ascii").lower(), line))
        else:
            return fields, b"\r\n" + raw[pos:]  # no blank line before the body: one is added
        pos = end
    rest = raw[pos:]
    if fields and not fields[-1].raw.endswith(b"\n"):
        fields[-1].raw += b"\r\n"
    return fields, rest or b"\r\n"


def _fold(name: str, value: str) -> bytes:
    """A header field as the SMTP policy writes it: CRLF, non-ASCII as encoded words, long lines folded."""
    return _SMTP.header_factory(name, value).fold(policy=_SMTP).encode("ascii")


def _header_address(addr_spec: str, field: str) -> str:
    """An address in a header: in ASCII when it can be (IDNA domain); one that no check accepts (nobody@nowhere,
    root@localhost) is kept as the tool wrote it, as long as it is ASCII; a non-ASCII local part is refused."""
    try:
        return ascii_address(addr_spec, field)
    except BadAddress:
        if addr_spec.isascii():
            return addr_spec
        raise


def _addresses(field: _Field) -> list[Address | Group]:
    """The field's mailboxes and groups, addresses in ASCII (see _header_address)."""
    header = _REGISTRY(field.name, field.value())
    out: list[Address | Group] = []
    for group in header.groups:
        members = [Address(display_name=a.display_name, addr_spec=_header_address(a.addr_spec, field.original_name()))
                   for a in group.addresses if a.addr_spec and a.addr_spec != "<>"]
        if group.display_name is not None:
            out.append(Group(group.display_name, members))
        else:
            out.extend(members)
    return out


def _members(items: list[Address | Group]) -> list[Address]:
    return [a for item in items for a in (item.addresses if isinstance(item, Group) else (item,))]


def _text(value: str) -> str:
    """Text for a record (subject): undecodable bytes shown as U+FFFD, never kept as surrogates."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _encoded(field: _Field) -> bytes:
    """The field with raw UTF-8 re-encoded as encoded words (ASCII fields and identifiers unchanged)."""
    if field.raw.isascii() or field.name in KEEP_RAW:
        return field.raw
    try:
        field.raw.decode("utf-8")
    except UnicodeDecodeError:  # not UTF-8 (a legacy charset): relayed as the tool wrote it, no guessing
        return field.raw
    try:
        if field.name in ADDRESS_HEADERS:
            return _fold(field.original_name(), ", ".join(str(a) for a in _addresses(field)))
        return _fold(field.original_name(), field.value())
    except (InvalidInput, UnicodeError):
        raise
    except Exception:  # noqa: BLE001 - the email package's parser gave up: relay the field as the tool wrote it
        return field.raw


def _mailbox_emails(fields: list[_Field], name: str) -> list[str]:
    return [a.addr_spec.lower() for field in fields if field.name == name for a in _members(_addresses(field))]


@dataclass
class Built:
    raw: bytes
    to: list[str]
    cc: list[str]
    bcc: list[str]
    subject: str
    message_id: str
    tool_message_id: bool  # the tool set it (the idempotency key) or mailbot added it


def rewrite(raw: bytes, account: str, recipients: list[str], trace: Trace) -> Built:
    """The tool's message as mailbot relays it (see the module docstring); the body is not touched."""
    fields, body = split_header(raw)
    kept: list[bytes] = []
    from_field: _Field | None = None
    has_reply_to = any(f.name == "reply-to" for f in fields)
    message_id = subject = None
    for field in fields:
        if field.name == "bcc":
            continue
        if field.name == "from" and from_field is None:
            from_field = field
            kept.append(b"")  # its place, filled below
            continue
        if field.name == "message-id" and message_id is None:
            message_id = field.value() or None
        if field.name == "subject" and subject is None:
            subject = _text(str(_REGISTRY("subject", field.value())))
        kept.append(_encoded(field))
    own_from = f"{account}"
    reply_to: str | None = None
    if from_field is not None:
        senders = _members(_addresses(from_field))
        first = senders[0] if senders else None
        name = first.display_name if first is not None else ""
        own_from = str(Address(display_name=name, addr_spec=account))
        answer = [a for a in senders if a.addr_spec.lower() != account.lower() and _checked_address(a.addr_spec)[1] is None]
        if answer and not has_reply_to:  # replies go to the tool's own address (one a reader can answer)
            reply_to = ", ".join(str(a) for a in answer)
    head = [_fold("From", own_from)] if from_field is None else []
    kept = [(_fold(from_field.original_name(), own_from) if from_field is not None and part == b"" else part)
            for part in kept]
    if reply_to is not None:
        kept.append(_fold("Reply-To", reply_to))
    if not any(f.name == "date" for f in fields):
        kept.append(_fold("Date", format_datetime(datetime.now(UTC).replace(microsecond=0))))
    tool_message_id = message_id is not None
    if message_id is None:
        message_id = new_message_id(account)
        kept.append(_fold("Message-ID", message_id))
    received = _received(trace)
    to = set(_mailbox_emails(fields, "to"))
    cc = set(_mailbox_emails(fields, "cc")) - to
    return Built(raw=b"".join([received, *head, *kept]) + body,
                 to=[r for r in recipients if r.lower() in to], cc=[r for r in recipients if r.lower() in cc],
                 bcc=[r for r in recipients if r.lower() not in to and r.lower() not in cc],
                 subject=(subject or "")[:998], message_id=message_id, tool_message_id=tool_message_id)


def _received(trace: Trace) -> bytes:
    helo = _HOSTNAME.sub("", trace.helo)[:100] or "unknown"
    peer = _HOSTNAME.sub("", trace.peer)[:60]
    protocol = ("UTF8SMTP" if trace.smtputf8 else "ESMTP") + ("S" if trace.tls else "") + "A"
    stamp = format_datetime(datetime.now(UTC).replace(microsecond=0))
    return _fold("Received", f"from {helo} ([{peer}]) by {_HOSTNAME.sub('', trace.hostname)[:100] or 'mailbot'} "
                             f"(mailbot) with {protocol}; {stamp}")


def digest(raw: bytes) -> str:
    """What tells a resend of a message from another message with its Message-ID: the bytes the tool
    sent, less the trace fields (Received, Date) a tool may write anew when it resends."""
    fields, body = split_header(raw)
    h = hashlib.sha256()
    for field in fields:
        if field.name not in TRACE:
            h.update(field.raw)
    h.update(body)
    return h.hexdigest()


def idempotency_key(message_id: str, recipients: list[str]) -> str:
    """The Message-ID and the envelope recipients: the same message to other recipients is another mail."""
    ident = message_id if len(message_id) <= MAX_KEY_ID else "sha256:" + hashlib.sha256(message_id.encode(
        "utf-8", "surrogateescape")).hexdigest()
    rcpts = hashlib.sha256("\n".join(sorted({r.lower() for r in recipients})).encode()).hexdigest()[:16]
    return f"smtp:{ident}#{rcpts}"


class Submissions:
    """The SMTP door's service: every decision about a submitted message (see the module docstring)."""

    def __init__(self, relay: RelayService, *, cache_s: float = 1.0) -> None:
        self.relay = relay
        self._cache_s = cache_s
        self._boxes: tuple[float, list[Mailbox]] = (0.0, [])

    @property
    def max_mail_bytes(self) -> int:
        return self.relay.max_mail_bytes

    async def authenticate(self, token: str | None) -> TokenInfo:
        """Unauthorized for a missing, wrong or revoked token (checked against the store as it is now)."""
        return await self.relay.authenticate(token)

    async def _mailboxes(self) -> list[Mailbox]:
        at, boxes = self._boxes
        if time.monotonic() - at >= self._cache_s:
            boxes = await self.relay.mailboxes.list()
            self._boxes = (time.monotonic(), boxes)
        return boxes

    async def mailbox_for(self, mail_from: str, token: TokenInfo) -> Mailbox:
        """The mailbox that sends for this MAIL FROM and token; PermissionDenied or NotFound with the reason."""
        sender = mail_from.lower()
        for box in await self._mailboxes():
            if box.enabled and box.account.lower() == sender and token.allows(box.name):
                return box
        scope = token.get("mailboxes") or []
        try:
            return await self.relay._mailbox(scope[0] if len(scope) == 1 else None, token)
        except (PermissionDenied, NotFound) as exc:
            accounts = ", ".join(sorted({b.account for b in await self._mailboxes()
                                         if b.enabled and token.allows(b.name)}))
            raise type(exc)(exc.cause, Text(
                zh=f"把 MAIL FROM（发件地址）设为令牌可用邮箱的账号之一：{accounts or '（无）'}。",
                en=f"Use the account of one of the token's mailboxes as the MAIL FROM: {accounts or '(none)'}.")) from None

    async def sender(self, mail_from: str, token: TokenInfo) -> Mailbox:
        """MAIL FROM: the address checked (ASCII local part), the mailbox chosen."""
        if mail_from:  # the null reverse-path <> is a bounce: it sends through the token's mailbox
            mail_from = ascii_address(mail_from, "MAIL FROM")
        return await self.mailbox_for(mail_from, token)

    def recipient(self, address: str, count: int) -> str:
        """RCPT TO: the address in ASCII; RecipientLimit when `count` recipients are already taken."""
        if count >= self.relay.max_recipients:
            raise RecipientLimit(_problem(
                "RCPT TO", f"收件人超过上限 {self.relay.max_recipients}（MAILBOT_MAX_RECIPIENTS）",
                f"over the limit of {self.relay.max_recipients} recipients (MAILBOT_MAX_RECIPIENTS); "
                "send to the others in another transaction"))
        return ascii_address(address, "RCPT TO")

    async def submit(self, token: str | None, mail_from: str, recipients: list[str], raw: bytes,
                     trace: Trace) -> tuple[MailRecord, bool]:
        """DATA: durable in the outbox when this returns. (record, False) for a message accepted before."""
        info = await self.authenticate(token)  # revoked since AUTH: refused now
        mailbox = await self.sender(mail_from, info)
        if len(raw) > self.relay.max_mail_bytes:
            raise self.relay.too_large()
        if not recipients:
            raise InvalidInput(_problem("RCPT TO", "至少需要一个收件人", "needs at least one recipient"))

        def build() -> tuple[Built, str]:
            return rewrite(raw, mailbox.account, recipients, trace), digest(raw)

        built, hashed = await asyncio.to_thread(build) if len(raw) > 256 * 1024 else build()
        content = Content(bcc=built.bcc, raw_b64=base64.b64encode(built.raw).decode())
        key = idempotency_key(built.message_id, recipients) if built.tool_message_id else None
        return await self.relay.enqueue_built(mailbox, content, to=built.to, cc=built.cc, subject=built.subject,
                                              message_id=built.message_id, token=info, via="smtp",
                                              idempotency_key=key, digest=hashed)
