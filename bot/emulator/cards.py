"""Template-card instances: createAndDeliver, PUT updates, and updates carried by callback ACKs."""

from __future__ import annotations

import secrets
from typing import Any

from bot.emulator.models import ApiError, CardInstance

_SPACE_PREFIX = "dtv1.card//"
# Which deliver model each space type needs in createAndDeliver (CONFIRMED by the SDK and examples).
_DELIVER_MODELS = {"IM_ROBOT": "imRobotOpenDeliverModel", "IM_GROUP": "imGroupOpenDeliverModel"}


class CardStore:
    """Current data of every card, so tests see what a user would see on screen."""

    def __init__(self) -> None:
        self.instances: dict[str, CardInstance] = {}
        self.errors: list[str] = []

    def create_and_deliver(self, body: dict[str, Any], *, fail: bool) -> dict[str, Any]:
        template_id = body.get("cardTemplateId")
        if not template_id:  # CONFIRMED code (card-instance API error table)
            raise ApiError(400, "param.cardTemplateIdEmpty", "param.cardTemplateIdEmpty")
        out_track_id = body.get("outTrackId")
        if not out_track_id:  # CONFIRMED code
            raise ApiError(400, "param.outTrackIdEmpty", "param.outTrackIdEmpty")
        data = _param_map(body.get("cardData"), "cardData")
        private = _private_data(body.get("privateData"))
        spaces = _spaces(body.get("openSpaceId"))
        for space_type, _ in spaces:
            if not isinstance(body.get(_DELIVER_MODELS[space_type]), dict):
                # ASSUMED code: DingTalk's exact answer to a missing deliver model is not documented.
                raise ApiError(400, "param.openDeliverModelInvalid",
                               f"{_DELIVER_MODELS[space_type]} is required for {space_type}")
        # CONFIRMED: re-creating an existing outTrackId does not overwrite the card's data.
        self.instances.setdefault(
            out_track_id,
            CardInstance(out_track_id, template_id, body.get("callbackType"), spaces, data, private),
        )
        # CONFIRMED field set (aliyun dingtalk SDK CreateAndDeliverResponseBody); failures keep HTTP 200.
        # ASSUMED: the error text, and echoing the request's spaceType rather than the generic "IM".
        results = [
            {"spaceType": space_type, "spaceId": space_id, "success": not fail,
             "carrierId": secrets.token_urlsafe(18),
             **({"errorMsg": "emulated delivery failure"} if fail else {})}
            for space_type, space_id in spaces
        ]
        return {"success": True, "result": {"outTrackId": out_track_id, "deliverResults": results}}

    def update(self, body: dict[str, Any]) -> dict[str, Any]:
        """PUT /v1.0/card/instances; answer CONFIRMED as `{success, result: true}`."""
        card = self.instances.get(body.get("outTrackId") or "")
        if card is None:
            # ASSUMED code and status for an unknown outTrackId.
            raise ApiError(400, "param.outTrackIdNotExist", "card instance of outTrackId does not exist")
        _apply(card, body.get("cardData"), body.get("privateData"), body.get("cardUpdateOptions"))
        return {"success": True, "result": True}

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
    if not isinstance(params, dict):
        raise ApiError(400, "param.invalid", f"{name}.cardParamMap must be an object")
    bad = sorted(k for k, v in params.items() if not isinstance(v, str))
    if bad:
        # ASSUMED code: DingTalk rejects the non-string map, its exact error code is not documented.
        raise ApiError(
            400, "param.invalid", f"{name}.cardParamMap values must be strings: {', '.join(bad)}"
        )
    return dict(params)


def _private_data(value: Any) -> dict[str, dict[str, str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ApiError(400, "param.invalid", "privateData must be an object keyed by userId")
    return {user_id: _param_map(entry, f"privateData.{user_id}") for user_id, entry in value.items()}


def _spaces(open_space_id: Any) -> list[tuple[str, str]]:
    """`dtv1.card//IM_ROBOT.<staffId>` or `dtv1.card//IM_GROUP.<conversationId>`, `;`-separated."""
    if not isinstance(open_space_id, str) or not open_space_id.startswith(_SPACE_PREFIX):
        raise ApiError(400, "param.openSpaceIdInvalid", f"bad openSpaceId {open_space_id!r}")
    spaces = []
    for part in open_space_id[len(_SPACE_PREFIX):].split(";"):
        space_type, _, space_id = part.partition(".")
        if space_type not in _DELIVER_MODELS or not space_id:
            raise ApiError(400, "param.openSpaceIdInvalid", f"bad openSpaceId {open_space_id!r}")
        spaces.append((space_type, space_id))
    return spaces
