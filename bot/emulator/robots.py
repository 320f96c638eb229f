"""Proactive robot messages: single chats (oToMessages/batchSend) and groups (groupMessages/send)."""

from __future__ import annotations

import json
import secrets
from typing import Any

from bot.emulator.models import ApiError, RobotMessage

# Error codes are CONFIRMED from DingTalk's HTTP 400 tables for the robot send APIs, except
# invalidParameter.cid.empty (seen on the card-send API, ASSUMED here) and which code a msgParam
# lacking its keys gets (ASSUMED). Response bodies: CONFIRMED (aliyun dingtalk SDK models).
# msgParam keys: sampleText needs `content`, sampleMarkdown `title` and `text` (CONFIRMED).
_PARAM_KEYS = {"sampleText": ("content",), "sampleMarkdown": ("title", "text")}


class RobotApi:
    """Validates like DingTalk and keeps every accepted message in `messages`."""

    def __init__(self, robot_code: str) -> None:
        self._robot_code = robot_code
        self.messages: list[RobotMessage] = []

    def batch_send(self, body: dict[str, Any]) -> dict[str, Any]:
        robot_code, msg_key, msg_param = self._common(body)
        user_ids = body.get("userIds")
        if not isinstance(user_ids, list) or not user_ids:
            raise ApiError(400, "invalidParameter.userIds.empty", "The user userId list is empty.")
        self.messages.append(
            RobotMessage("oto", robot_code, msg_key, msg_param, user_ids=tuple(user_ids))
        )
        return {"processQueryKey": secrets.token_urlsafe(24), "invalidStaffIdList": [],
                "flowControlledStaffIdList": []}

    def group_send(self, body: dict[str, Any]) -> dict[str, Any]:
        robot_code, msg_key, msg_param = self._common(body)
        conversation = body.get("openConversationId")
        if not isinstance(conversation, str) or not conversation:
            raise ApiError(400, "invalidParameter.cid.empty", "openConversationId is empty.")
        self.messages.append(
            RobotMessage("group", robot_code, msg_key, msg_param, open_conversation_id=conversation)
        )
        return {"processQueryKey": secrets.token_urlsafe(24)}

    def _common(self, body: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        robot_code = body.get("robotCode")
        if not robot_code:
            raise ApiError(400, "invalidParameter.robotCode.empty", "The bot robotCode is empty.")
        if robot_code != self._robot_code:
            raise ApiError(400, "invalidParameter.robotCode.auth",
                           "This app's appkey does not match the bot's robotCode.")
        msg_key = body.get("msgKey")
        if not msg_key:
            raise ApiError(400, "invalidParameter.msgKey.empty", "The msgKey is missing.")
        raw = body.get("msgParam")
        try:
            msg_param = json.loads(raw) if isinstance(raw, str) else None
        except json.JSONDecodeError:
            msg_param = None
        if not isinstance(msg_param, dict):
            raise ApiError(
                400, "invalidParameter.msgParam.invalid", "The msgParam must be in JSON format."
            )
        missing = [k for k in _PARAM_KEYS.get(msg_key, ()) if not isinstance(msg_param.get(k), str)]
        if missing:
            raise ApiError(
                400, "invalidParameter.param.invalid", f"msgParam lacks {', '.join(missing)}."
            )
        return robot_code, msg_key, msg_param
