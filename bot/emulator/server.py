"""DingTalkEmulator: one loopback aiohttp server playing DingTalk's OpenAPI, Stream and webhooks."""

from __future__ import annotations

import copy
import functools
import ipaddress
import json
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from aiohttp import web

from bot.emulator import cards as cards_module
from bot.emulator.cards import CardStore
from bot.emulator.frames import (
    CARD_CALLBACK_TOPIC,
    CHAT_TOPIC,
    card_callback_data,
    chat_data,
    event_frame,
    new_message_id,
)
from bot.emulator.models import (
    ApiError,
    Call,
    CardInstance,
    ChatPush,
    EmulatorError,
    EventPush,
    RobotMessage,
    WebhookMessage,
    now_ms,
)
from bot.emulator.robots import RobotApi
from bot.emulator.stream import StreamHub
from bot.emulator.webhooks import SessionWebhooks
from bot.emulator.workflow import Instance, WorkflowApi

TOKEN_HEADER = "x-acs-dingtalk-access-token"
_PUBLIC_PATHS = {"/v1.0/gateway/connections/open", "/v1.0/oauth2/accessToken"}
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BODY = web.RequestKey("json_body", object)  # the request body, parsed once by the recorder
_dumps = functools.partial(json.dumps, ensure_ascii=False)


def _reply(body: Any, status: int = 200) -> web.Response:
    """JSON with raw UTF-8, as DingTalk sends its Chinese messages."""
    return web.json_response(body, status=status, dumps=_dumps)


class DingTalkEmulator:
    """Start it, point DINGTALK_OPENAPI_ENDPOINT at `.endpoint`, then drive the bot as DingTalk would.

    Error shapes marked CONFIRMED below were read from DingTalk's docs, its official SDKs or bodies
    quoted in public bug reports; ASSUMED ones have no public evidence and may differ in detail.
    """

    def __init__(
        self,
        client_id: str = "test-id",
        client_secret: str = "test-secret",
        host: str = "127.0.0.1",
        corp_id: str = "dingemulatorcorp",
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the emulator serves loopback only, not {host}")
        self.client_id = client_id
        self.client_secret = client_secret
        self.host = host
        self.corp_id = corp_id
        self.endpoint = ""
        self.fail_deliveries = False
        # Answer createAndDeliver with this error, as DingTalk does for an unpublished template
        # (400 param.templateUnpublished) or an app without Card.Instance.Write (403
        # Forbidden.AccessDenied.AccessTokenPermissionDenied).
        self.refuse_cards: tuple[int, str] | None = None
        self.calls: list[Call] = []
        self._stream = StreamHub(app_id=client_id)
        self._webhooks = SessionWebhooks()
        self._robots = RobotApi(robot_code=client_id)  # an internal app's robotCode is its AppKey
        self._cards = CardStore()
        self.workflow = WorkflowApi()  # approval instances and members (set refuse_instances / refuse_users)
        self._tokens: set[str] = set()
        self._runner: web.AppRunner | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[self._record])
        app.add_routes([
            web.post("/v1.0/gateway/connections/open", self._open_connection),
            web.get("/connect", self._stream.handle),
            web.post("/v1.0/oauth2/accessToken", self._access_token),
            web.post("/robot/sendBySession", self._session_webhook),
            web.post("/v1.0/robot/oToMessages/batchSend", self._json_api(self._robots.batch_send)),
            web.post("/v1.0/robot/groupMessages/send", self._json_api(self._robots.group_send)),
            web.post("/v1.0/card/instances/createAndDeliver", self._json_api(self._create_card)),
            web.put("/v1.0/card/instances", self._json_api(self._cards.update)),
            web.get("/v1.0/workflow/processInstances", self._process_instance),
            web.post("/topapi/v2/user/get", self._user_get),
        ])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, 0).start()
        host, port = self._runner.addresses[0][:2]
        self.endpoint = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is None:
            return
        await self._stream.close_all()
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> DingTalkEmulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- HTTP plumbing -------------------------------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """Record every call, enforce the access token, and render ApiError as DingTalk does."""
        body: Any = None
        if request.can_read_body:
            raw = await request.text()
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        request[BODY] = body
        headers = {k.lower(): v for k, v in request.headers.items()}
        if TOKEN_HEADER in headers:
            headers[TOKEN_HEADER] = "***"
        query = dict(request.query)
        if "access_token" in query:  # the oapi (topapi) style puts the token in the query
            query["access_token"] = "***"
        call = Call(request.method, request.path, query, headers, body)
        self.calls.append(call)
        try:
            if request.path.startswith("/v1.0/") and request.path not in _PUBLIC_PATHS:
                self._check_token(request)
            response = await handler(request)
        except ApiError as exc:
            response = _reply(exc.body(), exc.status)
        except web.HTTPException as exc:
            call.status = exc.status
            raise
        except Exception:
            call.status = 500  # an emulator bug: visible to tests that assert on `calls`
            raise
        call.status = response.status
        return response

    def _check_token(self, request: web.Request) -> None:
        if request.headers.get(TOKEN_HEADER) not in self._tokens:
            # CONFIRMED (bodies quoted in public reports): a bad or expired token is HTTP 400, not 401.
            raise ApiError(400, "InvalidAuthentication", "不合法的access_token")

    @staticmethod
    def _json_api(action: Callable[[dict[str, Any]], dict[str, Any]]) -> _Handler:
        async def handler(request: web.Request) -> web.Response:
            body = request[BODY]
            if not isinstance(body, dict):
                raise ApiError(400, "param.empty", "request body must be a JSON object")
            return _reply(action(body))

        return handler

    # -- endpoints -----------------------------------------------------------------------------

    async def _open_connection(self, request: web.Request) -> web.Response:
        body = request[BODY] if isinstance(request[BODY], dict) else {}
        if (body.get("clientId"), body.get("clientSecret")) != (self.client_id, self.client_secret):
            # CONFIRMED: HTTP 401 with this body (quoted from the SDK's error log in public issues).
            raise ApiError(401, "authFailed", "鉴权失败")
        ticket = self._stream.issue_ticket(list(body.get("subscriptions") or []))
        endpoint = self.endpoint.replace("http://", "ws://", 1) + "/connect"
        return _reply({"endpoint": endpoint, "ticket": ticket})

    async def _access_token(self, request: web.Request) -> web.Response:
        body = request[BODY] if isinstance(request[BODY], dict) else {}
        if (body.get("appKey"), body.get("appSecret")) != (self.client_id, self.client_secret):
            # CONFIRMED (DingTalk's API doc error table).
            raise ApiError(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
        if not self._tokens:
            self._tokens.add(secrets.token_hex(16))
        # DingTalk hands out the same token until it expires (LIKELY); 7200 s is the usual lifetime.
        return _reply({"accessToken": next(iter(self._tokens)), "expireIn": 7200})

    async def _session_webhook(self, request: web.Request) -> web.Response:
        return _reply(self._webhooks.post(request.query.get("session", ""), request[BODY]))

    def _create_card(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.refuse_cards is not None:
            raise ApiError(*self.refuse_cards, self.refuse_cards[1])
        return self._cards.create_and_deliver(body, fail=self.fail_deliveries)

    async def _process_instance(self, request: web.Request) -> web.Response:
        return _reply(self.workflow.get_instance(request.query.get("processInstanceId", "")))

    async def _user_get(self, request: web.Request) -> web.Response:
        if request.query.get("access_token") not in self._tokens:
            # CONFIRMED (oapi's documented global errcode): HTTP 200, errcode 40014.
            return _reply({"errcode": 40014, "errmsg": "不合法的access_token"})
        body = request[BODY]
        return _reply(self.workflow.get_user(body if isinstance(body, dict) else {}))

    # -- driving the bot -----------------------------------------------------------------------

    async def send_chat(
        self,
        text: str,
        *,
        conversation_type: str = "1",
        sender_staff_id: str = "user1",
        sender_nick: str | None = None,
        is_admin: bool = False,
        conversation_id: str | None = None,
        msg_id: str | None = None,
        webhook_ttl_s: float = 3600,
        connection: int | None = None,
    ) -> ChatPush:
        """Push a text message typed by `sender_staff_id`; conversation_type "1" single, "2" group.
        `connection` picks which open Stream connection gets it (default: the newest)."""
        if conversation_type not in ("1", "2"):
            raise ValueError("conversation_type is '1' (single chat) or '2' (group)")
        if conversation_id is None:
            conversation_id = f"cid-oto-{sender_staff_id}" if conversation_type == "1" else "cid-group-1"
        msg_id = msg_id or f"msg{uuid.uuid4().hex}"
        token, expires_ms = self._webhooks.open(conversation_id, sender_staff_id, webhook_ttl_s)
        data = chat_data(
            text=text,
            conversation_type=conversation_type,
            conversation_id=conversation_id,
            sender_staff_id=sender_staff_id,
            sender_nick=sender_nick or sender_staff_id,
            is_admin=is_admin,
            msg_id=msg_id,
            client_id=self.client_id,
            corp_id=self.corp_id,
            session_webhook=f"{self.endpoint}/robot/sendBySession?session={token}",
            webhook_expires_ms=expires_ms,
        )
        frame = self._stream.new_frame("CALLBACK", CHAT_TOPIC, data)
        return ChatPush(await self._stream.push(frame, connection=connection), msg_id, frame)

    async def resend(self, frame: dict[str, Any], *, same_message_id: bool = False,
                     connection: int | None = None) -> str:
        """Redeliver a frame as DingTalk does when an ACK is late: same data (same msgId), to the
        newest connection or the `connection`-th open one (another instance of the bot)."""
        again = copy.deepcopy(frame)
        again["headers"]["time"] = str(now_ms())
        if not same_message_id:
            again["headers"]["messageId"] = new_message_id()
        return await self._stream.push(again, connection=connection)

    async def send_card_callback(
        self,
        out_track_id: str,
        user_id: str,
        content: dict[str, Any],
        *,
        extension: dict[str, Any] | None = None,
        connection: int | None = None,
    ) -> str:
        """Push a card action; updates the handler's ACK carries are in `cards` once wait_ack returns.
        `connection` picks which open Stream connection gets it (default: the newest)."""
        card = self._cards.instances.get(out_track_id)
        if card is None:
            raise EmulatorError(f"no card {out_track_id!r} was created")
        if card.callback_type != "STREAM":
            # CONFIRMED: only cards created with callbackType STREAM call back over the Stream socket.
            raise EmulatorError(f"card {out_track_id!r} has callbackType {card.callback_type!r}")
        space_type, space_id = card.spaces[0]
        data = card_callback_data(
            out_track_id=out_track_id,
            user_id=user_id,
            corp_id=self.corp_id,
            space_type=space_type,
            space_id=space_id,
            content=content,
            extension=extension,
        )

        pushed_at = self._cards.callback_pushed(out_track_id)

        def apply(ack: dict[str, Any]) -> None:
            self._cards.callback_answered(out_track_id, pushed_at)
            limit = cards_module.CARD_ACK_TIMEOUT_S
            if time.monotonic() - pushed_at > limit:
                self._cards.errors.append(f"{out_track_id}: ACK after {limit:g} s; its card update is lost")
            elif ack.get("code") == 200:
                self._cards.apply_callback_response(out_track_id, user_id, _ack_response(ack))

        pushed = self._stream.new_frame("CALLBACK", CARD_CALLBACK_TOPIC, data)
        try:
            return await self._stream.push(pushed, apply, connection)
        except BaseException:
            self._cards.callback_answered(out_track_id, pushed_at)
            raise

    async def send_event(self, event_type: str, data: dict[str, Any], *, event_id: str | None = None,
                         connection: int | None = None) -> EventPush:
        """Push an EVENT frame (the app must have subscribed EVENT "*"); redeliver it with `resend`."""
        event_id = event_id or uuid.uuid4().hex
        pushed = event_frame(event_type, event_id, data, app_id=self.client_id, corp_id=self.corp_id)
        return EventPush(await self._stream.push(pushed, connection=connection), event_id, pushed)

    def start_approval(self, process_code: str, originator: str, *, title: str = "Emulated approval",
                       form: dict[str, str] | None = None, instance_id: str | None = None) -> Instance:
        """A running approval instance, readable through the workflow API."""
        instance = Instance(instance_id or f"inst-{uuid.uuid4().hex[:12]}", process_code, originator, title,
                            dict(form or {}))
        self.workflow.instances[instance.instance_id] = instance
        return instance

    async def approval_event(self, instance: Instance, change: str, result: str | None = None, *,
                             event_id: str | None = None, connection: int | None = None) -> EventPush:
        """Move `instance` (start | finish with agree/refuse | terminate) and push its bpms_instance_change."""
        if change == "finish":
            instance.status, instance.result, instance.finish_ms = "COMPLETED", result or "agree", now_ms()
        elif change == "terminate":
            instance.status, instance.finish_ms = "TERMINATED", now_ms()
        url = f"{self.endpoint}/approval/{instance.instance_id}"  # ASSUMED shape; real ones open the DingTalk app
        return await self.send_event("bpms_instance_change", instance.event_data(change, url),
                                     event_id=event_id, connection=connection)

    async def wait_ack(self, message_id: str, timeout: float = 5.0) -> dict[str, Any]:
        return await self._stream.wait_ack(message_id, timeout)

    async def wait_connected(self, n: int = 1, timeout: float = 5.0) -> None:
        await self._stream.wait_connected(n, timeout)

    async def ping(self, timeout: float = 5.0) -> dict[str, Any]:
        return await self._stream.ping(timeout)

    async def disconnect(self, grace_s: float = 1.0) -> None:
        await self._stream.disconnect(grace_s)

    async def drop_connection(self) -> None:
        await self._stream.drop_connection()

    def revoke_access_tokens(self) -> None:
        """Expire every issued token, to test the bot's refresh on InvalidAuthentication."""
        self._tokens.clear()

    # -- views for assertions ------------------------------------------------------------------

    @property
    def connections(self) -> int:
        return self._stream.connections

    @property
    def connected(self) -> bool:
        return self._stream.connected

    @property
    def subscriptions(self) -> list[dict[str, str]]:
        return self._stream.subscriptions

    @property
    def acks(self) -> list[dict[str, Any]]:
        return self._stream.acks

    @property
    def event_acks(self) -> list[tuple[str, int, str | None]]:
        """(eventId, ACK code, ACK data status) for every ACK of an EVENT frame, in arrival order."""
        return self._stream.event_acks

    def webhook_messages(self, conversation_id: str | None = None) -> list[WebhookMessage]:
        return [m for m in self._webhooks.messages if conversation_id in (None, m.conversation_id)]

    @property
    def robot_messages(self) -> list[RobotMessage]:
        return self._robots.messages

    @property
    def cards(self) -> dict[str, dict[str, str]]:
        """outTrackId -> the card's current shared cardParamMap."""
        return {out_track_id: card.data for out_track_id, card in self._cards.instances.items()}

    @property
    def card_instances(self) -> dict[str, CardInstance]:
        return self._cards.instances

    @property
    def card_errors(self) -> list[str]:
        """Card updates from callback ACKs that DingTalk would have rejected."""
        return self._cards.errors

    @property
    def card_calls(self) -> list[Call]:
        return [c for c in self.calls if c.path.startswith("/v1.0/card/")]


def _ack_response(ack: dict[str, Any]) -> Any:
    """The SDK wraps a callback handler's return value as ACK data `{"response": ...}`."""
    try:
        data = json.loads(ack.get("data") or "{}")
    except ValueError:
        return None
    return data.get("response") if isinstance(data, dict) else None
