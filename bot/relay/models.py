"""What the API accepts and what the outbox stores: pydantic models, JSON-ready."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.errors import FieldError, InvalidInput
from bot.i18n import Text

Status = Literal["queued", "sending", "retrying", "sent", "failed"]
STATUSES: tuple[str, ...] = ("queued", "sending", "retrying", "sent", "failed")
Via = Literal["http", "smtp", "approval"]


class AttachmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = "application/octet-stream"
    content_base64: str


class InlineTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject: str
    text: str | None = None
    html: str | None = None


class MailRequest(BaseModel):
    """POST /v1/mails body; unknown keys are rejected so typos do not silently drop content."""

    model_config = ConfigDict(extra="forbid")
    mailbox: str | None = None
    to: list[str] = []
    cc: list[str] = []
    bcc: list[str] = []
    reply_to: str | None = None
    from_name: str | None = Field(None, max_length=200)
    subject: str | None = Field(None, max_length=998)
    text: str | None = None
    html: str | None = None
    template: str | InlineTemplate | None = None
    variables: dict[str, Any] = {}
    attachments: list[AttachmentIn] = []
    idempotency_key: str | None = Field(None, min_length=1, max_length=200)

    @classmethod
    def parse(cls, data: object) -> MailRequest:
        """Validate, turning pydantic's errors into one FieldError per field."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise invalid_from(exc) from None


def invalid_from(exc: ValidationError) -> InvalidInput:
    errors = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "body"
        errors.append(FieldError(field=field, problem=Text(zh=err["msg"], en=err["msg"])))
    return InvalidInput(errors)


class Content(BaseModel):
    """A mail's bytes, built once at enqueue (Message-ID and Date fixed) and kept until sent.

    Retries send these exact bytes; building at enqueue also keeps the delivery path lean.
    """

    bcc: list[str] = []
    raw_b64: str

    def as_bytes(self) -> bytes:
        return base64.b64decode(self.raw_b64)


class MailRecord(BaseModel):
    """One mail's state in the outbox (small: the content lives in its own table)."""

    id: str
    status: Status = "queued"
    mailbox: str
    account: str
    to: list[str]
    cc: list[str] = []
    subject: str
    attempts: int = 0
    last_error: str | None = None
    error_code: str | None = None
    created_at: datetime
    queued_at: datetime
    sent_at: datetime | None = None
    failed_at: datetime | None = None  # when it last failed for good: retention counts from here
    message_id: str
    token: str | None = None
    idempotency_key: str | None = None
    via: Via = "http"  # the door it came in by: the HTTP API, SMTP submission, a DingTalk approval event

    def view(self) -> dict[str, Any]:
        """The API's view of a mail (GET /v1/mails/{id})."""
        return self.model_dump(mode="json", include={
            "id", "status", "mailbox", "to", "subject", "attempts", "last_error",
            "created_at", "sent_at", "message_id", "via"})
