"""Reading card callbacks (topic `/v1.0/card/instances/callback`) in DingTalk's shape, without trusting it.

`data` carries `outTrackId`, `userId`, `corpId`, `spaceType`, `spaceId` and `content` / `extension`
as JSON strings; `content.cardPrivateData` has `actionIds` and `params`. A button sends its actionId
and the params set on it. A Form submit sends `actionIds: ["form"]` and its values under
`params.form`, keyed by field name (a SELECT as `{"index", "value"}`); fields left empty are left
out (DingTalk's "form variables" page). Flat `params` keys are read too.
The SDK's own `CardCallbackMessage` drops fields and crashes on bad JSON, hence this reader.

The secret typed into the form ends up only in `CardAction.secret` (a SecretStr): `params` and
`form` never hold it, so logging an action cannot leak it.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

from cards.common import Action
from cards.mailbox_form import PUBLIC_FIELDS, SECRET_FIELD

_FORM_KEY = "form"  # the Form component's id in the template, which names its params entry
_SECRET_KEYS = frozenset({SECRET_FIELD, "secret"})
# Not copied into `params`: the form values (read into `form`), the form's own schema, the secret.
_NOT_PARAMS = frozenset({_FORM_KEY, "current_form"}) | _SECRET_KEYS
_BUTTONS = frozenset(Action)


class CardAction(BaseModel):
    """One press or submit on a card, or `error` saying why the payload could not be read."""

    model_config = ConfigDict(frozen=True)

    out_track_id: str = ""
    user_id: str = ""
    corp_id: str = ""
    space_type: str = ""
    space_id: str = ""
    action_ids: tuple[str, ...] = ()
    params: dict[str, str] = {}
    form: dict[str, str] = {}
    secret: SecretStr | None = None
    error: str | None = None

    @property
    def action(self) -> str:
        """The pressed button's actionId ("" when none was sent)."""
        return self.action_ids[0] if self.action_ids else ""

    @property
    def is_form_submit(self) -> bool:
        """The Form's own actionId, or form values without a known button (older clients, flat params)."""
        if self.error is not None:
            return False
        return self.action == _FORM_KEY or (self.action not in _BUTTONS and bool(self.form or self.secret))


def scalar(value: Any) -> str:
    """One submitted value as a string: a SELECT's `{"index", "value"}` gives its value."""
    if isinstance(value, dict) and "value" in value:
        value = value["value"]
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _json_object(value: Any, what: str) -> dict[str, Any]:
    """A dict, or a JSON string of one; ValueError naming `what` otherwise."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not a JSON object")
    return value


def _read(data: dict[str, Any]) -> CardAction:
    if not data.get("content"):
        raise ValueError("content is missing")
    content = _json_object(data.get("content"), "content")
    _json_object(data.get("extension"), "extension")  # nothing needed from it, but it must be well-formed
    private = _json_object(content.get("cardPrivateData"), "content.cardPrivateData")
    params = _json_object(private.get("params"), "cardPrivateData.params")
    nested = _json_object(params.get(_FORM_KEY), "params.form")
    action_ids = private.get("actionIds") or []
    if not isinstance(action_ids, list):
        raise ValueError("cardPrivateData.actionIds is not a list")
    # Nested form values win over flat keys of the same name.
    submitted = {k: src[k] for src in (params, nested) for k in PUBLIC_FIELDS if k in src}
    secret = scalar(next((src[k] for src in (nested, params) for k in _SECRET_KEYS if k in src), None))
    return CardAction(
        out_track_id=str(data.get("outTrackId") or ""),
        user_id=str(data.get("userId") or ""),
        corp_id=str(data.get("corpId") or ""),
        space_type=str(data.get("spaceType") or ""),
        space_id=str(data.get("spaceId") or ""),
        action_ids=tuple(str(a) for a in action_ids),
        params={k: scalar(v) for k, v in params.items() if k not in _NOT_PARAMS},
        form={k: scalar(v) for k, v in submitted.items()},
        secret=SecretStr(secret) if secret else None,
    )


def parse_callback(data: Any) -> CardAction:
    """The action in a callback frame's `data`; never raises: a bad payload gives `error` set."""
    ids = data if isinstance(data, dict) else {}
    try:
        if not isinstance(data, dict):
            raise ValueError("callback data is not a JSON object")
        return _read(data)
    except ValueError as exc:
        return CardAction(out_track_id=str(ids.get("outTrackId") or ""), user_id=str(ids.get("userId") or ""),
                          error=str(exc))
