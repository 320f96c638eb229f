"""sessionWebhook URLs handed out with chat messages, and the replies posted to them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from bot.emulator.models import WebhookMessage, now_ms

# CONFIRMED (public bug reports quoting DingTalk's body, logged on the errcode path, so HTTP 200):
# an expired or unknown session answers {"errcode":300001,"errmsg":"session 不存在"}.
SESSION_GONE = {"errcode": 300001, "errmsg": "session 不存在"}
# CONFIRMED for DingTalk robot webhooks generally: success is errcode 0 / "ok".
OK = {"errcode": 0, "errmsg": "ok"}
# LIKELY: errcode 400402 with a "参数 ... 缺失" message was reported for a missing markdown title.
BAD_PARAM_ERRCODE = 400402

_REQUIRED = {"text": ("content",), "markdown": ("title", "text")}


@dataclass(frozen=True)
class _Session:
    conversation_id: str
    sender_staff_id: str
    expires_ms: int


class SessionWebhooks:
    """Issues `?session=` tokens per chat message and records what the bot posts back."""

    def __init__(self) -> None:
        self._sessions: dict[str, _Session] = {}
        self.messages: list[WebhookMessage] = []

    def open(self, conversation_id: str, sender_staff_id: str, ttl_s: float) -> tuple[str, int]:
        token = secrets.token_hex(16)
        expires_ms = now_ms() + int(ttl_s * 1000)
        self._sessions[token] = _Session(conversation_id, sender_staff_id, expires_ms)
        return token, expires_ms

    def post(self, token: str, body: Any) -> dict[str, Any]:
        """Answer like DingTalk: always HTTP 200, the outcome is in errcode."""
        session = self._sessions.get(token)
        if session is None or now_ms() >= session.expires_ms:
            return SESSION_GONE
        problem = _validate(body)
        if problem:
            return {"errcode": BAD_PARAM_ERRCODE, "errmsg": problem}
        self.messages.append(WebhookMessage(session.conversation_id, session.sender_staff_id, body))
        return OK


def _validate(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "错误描述:请求体不是合法的JSON"
    msgtype = body.get("msgtype")
    if msgtype not in _REQUIRED:
        return f"错误描述:不支持的消息类型 msgtype={msgtype!r}"
    content = body.get(msgtype)
    for key in _REQUIRED[msgtype]:
        if not isinstance(content, dict) or not isinstance(content.get(key), str) or not content[key]:
            return f"错误描述:参数 {msgtype} --》 {key} 缺失，或者参数格式不正确"
    return None
