"""Plain records the emulator keeps, so tests and the web console can assert on what the bot did."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any


def now_ms() -> int:
    """DingTalk stamps everything in epoch milliseconds."""
    return int(time.time() * 1000)


def request_id() -> str:
    """Shaped like DingTalk's `requestid` (upper-case UUID) so log parsers see familiar values."""
    return str(uuid.uuid4()).upper()


class ApiError(Exception):
    """An OpenAPI failure; the server renders it as DingTalk's `{code, message, requestid}` body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "requestid": request_id()}


class EmulatorError(RuntimeError):
    """The test asked for something DingTalk could not do (no connection, an unsubscribed topic...)."""


@dataclass
class Call:
    """One HTTP request as received: header names lower-cased, the access-token value masked."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    status: int | None = None


@dataclass(frozen=True)
class WebhookMessage:
    """A reply the bot posted to a sessionWebhook, tied to the conversation that webhook belongs to."""

    conversation_id: str
    sender_staff_id: str
    body: dict[str, Any]


@dataclass(frozen=True)
class RobotMessage:
    """A proactive robot message (oToMessages/batchSend or groupMessages/send) with msgParam decoded."""

    kind: str  # "oto" | "group"
    robot_code: str
    msg_key: str
    msg_param: dict[str, Any]
    user_ids: tuple[str, ...] = ()
    open_conversation_id: str | None = None


@dataclass
class CardInstance:
    """A template card as DingTalk holds it: shared data plus per-user private data."""

    out_track_id: str
    template_id: str
    callback_type: str | None
    spaces: list[tuple[str, str]]  # (spaceType, spaceId) from openSpaceId
    data: dict[str, str]
    private_data: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class ChatPush:
    """What `send_chat` pushed: keep `frame` to redeliver it with `resend`."""

    message_id: str
    msg_id: str
    frame: dict[str, Any]


@dataclass(frozen=True)
class EventPush:
    """What `send_event` pushed: keep `frame` to redeliver it (same eventId) with `resend`."""

    message_id: str
    event_id: str
    frame: dict[str, Any]
