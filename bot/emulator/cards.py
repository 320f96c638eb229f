"""Template-card instances: createAndDeliver, PUT updates, and updates carried by callback ACKs.

Error codes are the card-instance API's documented ones (open.dingtalk.com, "创建并投放卡片" and
"更新卡片" error tables); DingTalk's `message` repeats the code, and so does ours.
"""

from __future__ import annotations

import time
from typing import Any

from bot.emulator.models import ApiError, CardInstance

# CONFIRMED (open.dingtalk.com "卡片回调"): a card callback must be answered within 2 seconds.
CARD_ACK_TIMEOUT_S = 2.0

_SPACE_PREFIX = "dtv1.card//"
# Which deliver model each space type needs in createAndDeliver (CONFIRMED by the SDK and examples).
_DELIVER_MODELS = {"IM_ROBOT": "imRobotOpenDeliverModel", "IM_GROUP": "imGroupOpenDeliverModel"}


def _error(code: str) -> ApiError:
    return ApiError(400, code, code)


class CardStore:
    """Current data of every card, so tests see what a user would see on screen."""

    def __init__(self) -> None:
        self.instances: dict[str, CardInstance] = {}
        self.errors: list[str] = []
        self._callbacks: dict[str, list[float]] = {}  # outTrackId -> when each unanswered callback was pushed

    def create_and_deliver(self, body: dict[str, Any], *, fail: bool) -> dict[str, Any]:
        template_id = body.get("cardTemplateId")
        if not template_id:  # CONFIRMED code (card-instance API error table)
            raise _error("param.cardTemplateIdEmpty")
        out_track_id = body.get("outTrackId")
        if not out_track_id:  # CONFIRMED code
            raise _error("param.outTrackIdEmpty")
        data = _param_map(body.get("cardData"), "cardData")
        private = _private_data(body.get("privateData"))
        spaces = _spaces(body.get("openSpaceId"))
        for space_type, _ in spaces:
            if not isinstance(body.get(_DELIVER_MODELS[space_type]), dict):
                raise _error("param.openDeliverModelEmpty")  # CONFIRMED code
        # CONFIRMED: re-creating an existing outTrackId does not overwrite the card's data.
        self.instances.setdefault(
            out_track_id,
            CardInstance(out_track_id, template_id, body.get("callbackType"), spaces, data, private),
        )
        # CONFIRMED field set (aliyun dingtalk SDK CreateAndDeliverResponseBody); failures keep HTTP 200.
        # `carrierId` comes only for the IM space (CONFIRMED), which the bot never uses.
        # ASSUMED: the error text.
        results = [
            {"spaceType": space_type, "spaceId": space_id, "success": not fail,
             **({"errorMsg": "emulated delivery failure"} if fail else {})}
            for space_type, space_id in spaces
        ]
        return {"success": True, "result": {"outTrackId": out_track_id, "deliverResults": results}}

    def update(self, body: dict[str, Any]) -> dict[str, Any]:
        """PUT /v1.0/card/instances; answer and error codes CONFIRMED."""
        if not body.get("outTrackId"):
            raise _error("param.outTrackIdEmpty")
        if body.get("cardData") is None and body.get("privateData") is None:
            raise _error("param.cardDataAndPrivateDataBothEmpty")
        card = self.instances.get(body["outTrackId"])
        if card is None:
            raise _error("param.cardNotExist")
        if self.awaiting_ack(card.out_track_id):
            # DingTalk: "请勿在回调过程中，调用更新接口" (no update call while a callback is unanswered).
            self.errors.append(f"{card.out_track_id}: PUT while a callback on it was unanswered")
        _apply(card, body.get("cardData"), body.get("privateData"), body.get("cardUpdateOptions"))
        return {"success": True, "result": True}

    def callback_pushed(self, out_track_id: str) -> float:
        pushed_at = time.monotonic()
        self._callbacks.setdefault(out_track_id, []).append(pushed_at)
        return pushed_at

    def callback_answered(self, out_track_id: str, pushed_at: float) -> None:
        """The ACK came (or the push failed): that callback is no longer waiting."""
        waiting = self._callbacks.get(out_track_id, [])
        if pushed_at in waiting:
            waiting.remove(pushed_at)

    def awaiting_ack(self, out_track_id: str) -> bool:
        """A callback on this card is unanswered and DingTalk is still waiting for its ACK."""
        now = time.monotonic()
        return any(now - at <= CARD_ACK_TIMEOUT_S for at in self._callbacks.get(out_track_id, []))

    def apply_callback_response(self, out_track_id: str, user_id: str, response: Any) -> None:
        """Apply the `{cardUpdateOptions, cardData, userPrivateData}` a handler put in its ACK."""
        card = self.instances.get(out_track_id)
        if card is None or not isinstance(response, dict):
            return
        private = response.get("userPrivateData")
        try:
            _apply(card, response.get("cardData"), {user_id: private} if private is not None else None,
                   response.get("cardUpdateOptions"))
        except ApiError as exc:
            # An ACK has no HTTP answer to carry the error: keep it for the test to assert on.
            self.errors.append(f"{out_track_id}: {exc.message}")


def _apply(card: CardInstance, card_data: Any, private_data: Any, options: Any) -> None:
    """Validate everything first, then update: by key when the options say so, else replace."""
    options = options if isinstance(options, dict) else {}
    data = _param_map(card_data, "cardData") if card_data is not None else None
    private = _private_data(private_data)
    if data is not None:
        card.data = {**card.data, **data} if options.get("updateCardDataByKey") else data
    for user_id, values in private.items():
        if options.get("updatePrivateDataByKey"):
            values = {**card.private_data.get(user_id, {}), **values}
        card.private_data[user_id] = values


def _param_map(value: Any, name: str) -> dict[str, str]:
    """CONFIRMED: every cardParamMap value is a string (structured values are JSON-encoded)."""
    params = value.get("cardParamMap") if isinstance(value, dict) else None
    if not isinstance(params, dict) or any(not isinstance(v, str) for v in params.values()):
        # ASSUMED code: the API types the map Map<String, String>; what it answers otherwise is not
        # documented, and `param.invalid` is the error table's only candidate.
        raise _error("param.invalid")
    return dict(params)


def _private_data(value: Any) -> dict[str, dict[str, str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _error("param.invalid")
    return {user_id: _param_map(entry, f"privateData.{user_id}") for user_id, entry in value.items()}


def _spaces(open_space_id: Any) -> list[tuple[str, str]]:
    """`dtv1.card//IM_ROBOT.<staffId>` or `dtv1.card//IM_GROUP.<conversationId>`, `;`-separated.

    The space type is case-insensitive: DingTalk's own request example writes `im_group.…;im_robot.…`.
    """
    if not open_space_id:
        raise _error("param.openSpaceIdEmpty")  # CONFIRMED code
    if not isinstance(open_space_id, str) or not open_space_id.startswith(_SPACE_PREFIX):
        raise _error("param.openSpaceIdInvalid")  # ASSUMED code
    spaces = []
    for part in open_space_id[len(_SPACE_PREFIX):].split(";"):
        space_type, _, space_id = part.partition(".")
        if space_type.upper() not in _DELIVER_MODELS or not space_id:
            raise _error("param.openSpaceIdInvalid")
        spaces.append((space_type.upper(), space_id))
    return spaces
