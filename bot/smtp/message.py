"""Build RFC 5322 messages: Message-ID, Date, UTF-8 subject and display names."""

from __future__ import annotations

from collections.abc import Sequence

from email.headerregistry import Address
from email.message import EmailMessage
from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid


def new_message_id(account: str) -> str:
    """A Message-ID on the sending account's domain, assigned once and kept on retries."""
    return make_msgid(domain=account.rsplit("@", 1)[-1])


def build_message(
    *,
    account: str,
    to: list[str],
    subject: str,
    text: str | None = None,
    html: str | None = None,
    from_name: str | None = None,
    cc: list[str] | None = None,
    reply_to: str | None = None,
    message_id: str | None = None,
    date: datetime | None = None,
    attachments: Sequence[tuple[str, str, bytes]] = (),
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = Address(display_name=from_name or "", addr_spec=account)
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or datetime.now(UTC))
    msg["Message-ID"] = message_id or new_message_id(account)
    msg.set_content(text if text is not None else "")
    if html is not None:
        if text is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    for filename, content_type, data in attachments:
        maintype, _, subtype = content_type.partition("/")
        msg.add_attachment(data, maintype=maintype or "application", subtype=subtype or "octet-stream",
                           filename=filename)
    return msg
