"""DingTalk's workflow and contacts APIs for approval events: HTTP only, no decisions.

`DingTalkDirectory` implements bot.rules.events.Directory over the Stream adapter's OpenAPI client
(one cached access token for everything): the instance from `GET /v1.0/workflow/processInstances`
(new OpenAPI, token in a header), the member from `POST /topapi/v2/user/get` (old "oapi" host,
DINGTALK_OAPI_ENDPOINT, token in the query, errors as HTTP 200 + errcode). Answers that need the
admin become DirectoryRefused; what may pass by itself becomes DirectoryUnavailable (try later).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp

from bot.adapters.dingtalk import DingTalkApiError, OnEvent, OpenApi
from bot.app import App
from bot.relay.alerts import AlertSink
from bot.rules.events import ApprovalEvents, DirectoryRefused, DirectoryUnavailable
from bot.rules.model import DingTalkUser, ProcessInstance

INSTANCE_PATH = "/v1.0/workflow/processInstances"
USER_PATH = "/topapi/v2/user/get"
# oapi errcodes that pass by themselves: system busy, and the rate limits (DingTalk's global error table).
OAPI_TRANSIENT = frozenset({-1, 88, 90002, 90006, 90018})
OAPI_BAD_TOKEN = frozenset({40014, 42001})  # invalid / expired access_token: fetch a new one, once
OAPI_NO_PERMISSION = frozenset({60011, 60020})  # no permission to call it / the server's IP is not allowed


class DingTalkDirectory:
    def __init__(self, api: OpenApi) -> None:
        self.api = api

    @property
    def oapi(self) -> str:
        return self.api.settings.dingtalk_oapi_endpoint.rstrip("/")

    async def instance(self, instance_id: str) -> ProcessInstance:
        try:
            answer = await self.api.call(INSTANCE_PATH, None, method="GET", params={"processInstanceId": instance_id})
        except DingTalkApiError as exc:
            if exc.status in (429,) or exc.status >= 500 or "Throttling" in exc.code:
                raise DirectoryUnavailable(f"workflow API: {exc}") from None
            permission = exc.status == 403 or "AccessDenied" in exc.code or "Forbidden" in exc.code
            raise DirectoryRefused("instance", exc.code or f"HTTP {exc.status}", str(exc), permission=permission) from None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise DirectoryUnavailable(f"workflow API: {type(exc).__name__}") from None
        result = answer.get("result") if isinstance(answer, dict) else None
        if not isinstance(result, dict):
            raise DirectoryUnavailable("workflow API: an answer without result")
        return ProcessInstance.from_api(result)

    async def user(self, user_id: str) -> DingTalkUser:
        for attempt in (1, 2):
            answer = await self._user_call(user_id)
            errcode = int(answer.get("errcode", -1)) if isinstance(answer, dict) else -1
            if errcode == 0 and isinstance(answer.get("result"), dict):
                return DingTalkUser.model_validate(answer["result"])
            if errcode in OAPI_BAD_TOKEN and attempt == 1:
                self.api.forget_token()
                continue
            message = str(answer.get("errmsg", "")) if isinstance(answer, dict) else ""
            if errcode in OAPI_TRANSIENT:
                raise DirectoryUnavailable(f"contacts API: errcode {errcode} {message}")
            raise DirectoryRefused("user", f"errcode {errcode}", message, permission=errcode in OAPI_NO_PERMISSION)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _user_call(self, user_id: str) -> Any:
        token = await self.api.token()
        try:
            async with self.api.http.post(self.oapi + USER_PATH, params={"access_token": token},
                                          json={"userid": user_id, "language": "zh_CN"}) as response:
                if response.status == 403:
                    raise DirectoryRefused("user", "HTTP 403", "forbidden", permission=True)
                if response.status >= 400:
                    raise DirectoryUnavailable(f"contacts API: HTTP {response.status}")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise DirectoryUnavailable(f"contacts API: {type(exc).__name__}") from None


def approval_events(app: App, alerts: AlertSink) -> Callable[[OpenApi], OnEvent]:
    """For DingTalkAdapter(events=…): approval events handled by the rules, alerts to `alerts`."""

    def handler(api: OpenApi) -> OnEvent:
        return ApprovalEvents(app.rules, app.relay, DingTalkDirectory(api), alerts, app.audit, app.storage).on_event

    return handler
