"""Builders for Stream-mode frames and their `data` payloads, shaped like the ones DingTalk pushes."""

from __future__ import annotations

import json
import uuid
from typing import Any

from bot.emulator.models import now_ms

CHAT_TOPIC = "/v1.0/im/bot/messages/get"
CARD_CALLBACK_TOPIC = "/v1.0/card/instances/callback"


def new_message_id() -> str:
    return uuid.uuid4().hex


def frame(frame_type: str, topic: str, data: dict[str, Any], *, app_id: str) -> dict[str, Any]:
    """A downstream frame; `data` travels as a JSON string, as on the real socket."""
    return {
        "specVersion": "1.0",
        "type": frame_type,
        "headers": {
            "appId": app_id,
            "contentType": "application/json",
            "messageId": new_message_id(),
            "time": str(now_ms()),
            "topic": topic,
        },
        "data": json.dumps(data, ensure_ascii=False),
    }


def event_frame(event_type: str, event_id: str, data: dict[str, Any], *, app_id: str, corp_id: str) -> dict[str, Any]:
    """An EVENT frame: the event's identity travels in the headers (eventType, eventId, eventCorpId,
    eventBornTime, eventUnifiedAppId), its data as a JSON string (CONFIRMED, developerpedia
    docs/learn/stream/protocol.md). ASSUMED: topic "*", as in that page's event example."""
    pushed = frame("EVENT", "*", data, app_id=app_id)
    pushed["headers"].update({"eventType": event_type, "eventId": event_id, "eventCorpId": corp_id,
                              "eventBornTime": str(now_ms()), "eventUnifiedAppId": app_id})
    return pushed


def chat_data(
    *,
    text: str,
    conversation_type: str,
    conversation_id: str,
    sender_staff_id: str,
    sender_nick: str,
    is_admin: bool,
    msg_id: str,
    client_id: str,
    corp_id: str,
    session_webhook: str,
    webhook_expires_ms: int,
) -> dict[str, Any]:
    """Every field `ChatbotMessage.from_dict` reads.

    Group messages reach a bot only when it is @-mentioned: DingTalk then strips the mention but
    keeps the space before the text, lists the bot in `atUsers` by dingtalkId only, and sets
    `isInAtList` (CONFIRMED by a real-device report). Ids in `$:LWCP_v1:$` form are encrypted
    dingtalk ids in real traffic. ASSUMED: `isInAtList` false in single chats, id formats.
    """
    group = conversation_type == "2"
    chatbot_user_id = f"$:LWCP_v1:$bot-{client_id}"
    data: dict[str, Any] = {
        "msgId": msg_id,
        "msgtype": "text",
        "text": {"content": f" {text}" if group else text},
        "conversationId": conversation_id,
        "conversationType": conversation_type,
        "senderId": f"$:LWCP_v1:${sender_staff_id}",
        "senderStaffId": sender_staff_id,
        "senderNick": sender_nick,
        "senderCorpId": corp_id,
        "isAdmin": is_admin,
        "isInAtList": group,
        "chatbotUserId": chatbot_user_id,
        "chatbotCorpId": corp_id,
        "robotCode": client_id,
        "createAt": now_ms(),
        "sessionWebhook": session_webhook,
        "sessionWebhookExpiredTime": webhook_expires_ms,
    }
    if group:
        data["conversationTitle"] = "Emulated group"
        data["atUsers"] = [{"dingtalkId": chatbot_user_id}]
    return data


def card_callback_data(
    *,
    out_track_id: str,
    user_id: str,
    corp_id: str,
    space_type: str,
    space_id: str,
    content: dict[str, Any],
    extension: dict[str, Any] | None,
) -> dict[str, Any]:
    """Fields of the Go SDK's `CardRequest`; `content` and `extension` are JSON strings there too."""
    return {
        "outTrackId": out_track_id,
        "userId": user_id,
        "userIdType": 1,
        "corpId": corp_id,
        "spaceType": space_type,
        "spaceId": space_id,
        "type": "actionCallback",
        "extension": json.dumps(extension or {}, ensure_ascii=False),
        "content": json.dumps(content, ensure_ascii=False),
    }
