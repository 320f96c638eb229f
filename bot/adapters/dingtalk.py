"""DingTalk Stream-mode adapter on the real `dingtalk_stream` SDK, without its blocking parts.

The SDK's frame classes, handlers and `route_message` (routing + ACK) are used as they are. Its
`start()` is replaced: the connection is opened with aiohttp at `settings.dingtalk_openapi_endpoint`
(read at run time, so an emulator works), reconnects use a short backoff, and cancellation stops it.
Chat frames are ACKed at once; each conversation has its own worker so replies keep their order
while different conversations run in parallel. Replies go to the sessionWebhook, or through the
proactive robot API once that has expired.
"""

from __future__ import annotations

import asyncio
import json
import logging
import platform
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote_plus

import aiohttp
import websockets
from dingtalk_stream import (AckMessage, CallbackHandler, CallbackMessage, ChatbotMessage, Credential,
                             DingTalkStreamClient, EventHandler, EventMessage)
from dingtalk_stream.version import VERSION_STRING

from bot.chat.cards import CallbackResult
from bot.chat.messages import CardReply, CardUpdate, IncomingMessage, MarkdownReply, Reply, TextReply
from bot.chat.router import failure_reply
from bot.config import Settings
from bot.i18n import Text
from cards import CARDS

log = logging.getLogger("mailbot.dingtalk")

Handle = Callable[[IncomingMessage], Awaitable[list[Reply]]]
OnCard = Callable[[dict[str, Any]], Awaitable[CallbackResult]]
OnEvent = Callable[[str, str, dict[str, Any]], Awaitable[bool]]  # (eventType, eventId, data) → done (else: later)
CARD_TOPIC = "/v1.0/card/instances/callback"
CARD_CREATE_PATH = "/v1.0/card/instances/createAndDeliver"
CARD_UPDATE_PATH = "/v1.0/card/instances"
OPEN_PATH = "/v1.0/gateway/connections/open"
TOKEN_PATH = "/v1.0/oauth2/accessToken"
OTO_PATH = "/v1.0/robot/oToMessages/batchSend"
GROUP_PATH = "/v1.0/robot/groupMessages/send"
TOKEN_HEADER = "x-acs-dingtalk-access-token"
SESSION_GONE = 300001
WEBHOOK_MARGIN_MS = 5_000  # treat a webhook about to expire as expired
SEEN_MAX = 10_000


class DingTalkApiError(RuntimeError):
    """An OpenAPI call failed; carries DingTalk's `code` (never a credential)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code


@dataclass(frozen=True)
class ReplyTarget:
    """Where the answers to one message go."""

    webhook: str | None
    webhook_expires_ms: int
    robot_code: str
    conversation_type: str
    conversation_id: str
    staff_id: str


def incoming_from(data: dict[str, Any], admins: frozenset[str]) -> tuple[IncomingMessage, ReplyTarget]:
    """A chat frame's data → the project's message and where to answer it."""
    chat = ChatbotMessage.from_dict(data)
    text = chat.text.content if chat.message_type == "text" and chat.text and chat.text.content else ""
    staff = chat.sender_staff_id or ""
    group = chat.conversation_type == "2"
    message = IncomingMessage(
        text=text.strip(), sender_id=chat.sender_id or "", sender_staff_id=staff, sender_nick=chat.sender_nick,
        is_admin=bool(chat.is_admin) or staff in admins, conversation_id=chat.conversation_id or "",
        conversation_type="group" if group else "single", msg_id=chat.message_id or "", source="dingtalk",
    )
    target = ReplyTarget(
        webhook=chat.session_webhook, webhook_expires_ms=int(chat.session_webhook_expired_time or 0),
        robot_code=chat.robot_code or "", conversation_type=message.conversation_type,
        conversation_id=message.conversation_id, staff_id=staff,
    )
    return message, target


def webhook_body(reply: Reply) -> dict[str, Any]:
    if isinstance(reply, MarkdownReply):
        return {"msgtype": "markdown", "markdown": {"title": reply.title, "text": reply.text}}
    return {"msgtype": "text", "text": {"content": reply.text}}


def robot_param(reply: Reply) -> tuple[str, str]:
    """msgKey and msgParam (a JSON string) for the proactive robot APIs."""
    if isinstance(reply, MarkdownReply):
        return "sampleMarkdown", json.dumps({"title": reply.title, "text": reply.text}, ensure_ascii=False)
    return "sampleText", json.dumps({"content": reply.text}, ensure_ascii=False)


class OpenApi:
    """The few DingTalk OpenAPI calls the bot makes, with a cached access token."""

    def __init__(self, settings: Settings, http: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.http = http
        self._token: tuple[str, float] | None = None
        self._lock = asyncio.Lock()

    @property
    def endpoint(self) -> str:
        return self.settings.dingtalk_openapi_endpoint.rstrip("/")

    def _credentials(self) -> tuple[str, str]:
        secret = self.settings.dingtalk_client_secret
        return self.settings.dingtalk_client_id or "", secret.get_secret_value() if secret else ""

    async def _post(self, path: str, body: dict[str, Any] | None, headers: dict[str, str] | None = None,
                    method: str = "POST", params: dict[str, str] | None = None) -> Any:
        async with self.http.request(method, self.endpoint + path, json=body, headers=headers,
                                     params=params) as response:
            answer = await response.json(content_type=None)
            if response.status >= 400:
                answer = answer if isinstance(answer, dict) else {}
                raise DingTalkApiError(response.status, str(answer.get("code", "")), str(answer.get("message", "")))
            return answer

    async def open_connection(self, subscriptions: list[dict[str, str]]) -> dict[str, str]:
        client_id, client_secret = self._credentials()
        return await self._post(OPEN_PATH, {
            "clientId": client_id, "clientSecret": client_secret, "subscriptions": subscriptions,
            "ua": f"mailbot dingtalk-sdk-python/v{VERSION_STRING} Python/{platform.python_version()}", "localIp": "",
        })

    def forget_token(self) -> None:
        """DingTalk rejected the cached token (an oapi call's errcode says so): fetch a new one next time."""
        self._token = None

    async def token(self) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() >= self._token[1]:
                client_id, client_secret = self._credentials()
                answer = await self._post(TOKEN_PATH, {"appKey": client_id, "appSecret": client_secret})
                lifetime = max(60.0, float(answer.get("expireIn", 7200)) - 300)  # refresh 5 min early
                self._token = (answer["accessToken"], time.monotonic() + lifetime)
            return self._token[0]

    async def call(self, path: str, body: dict[str, Any] | None, method: str = "POST",
                   params: dict[str, str] | None = None) -> Any:
        """An authenticated call; a rejected token is dropped and the call retried once."""
        for attempt in (1, 2):
            token = await self.token()
            try:
                return await self._post(path, body, {TOKEN_HEADER: token}, method, params)
            except DingTalkApiError as exc:
                if exc.code != "InvalidAuthentication" or attempt == 2:
                    raise
                self.forget_token()
        raise AssertionError("unreachable")  # pragma: no cover


class Replier:
    """Sends reply objects: sessionWebhook first, the proactive robot API when it has expired."""

    def __init__(self, settings: Settings, api: OpenApi) -> None:
        self.settings = settings
        self.api = api

    async def send(self, target: ReplyTarget, reply: Reply) -> None:
        if isinstance(reply, CardReply):
            return await self.deliver_card(target, reply)
        if isinstance(reply, CardUpdate):
            return await self.update_card(target, reply)
        if reply.private_to:
            return await self.to_users([reply.private_to], reply)
        if target.webhook and time.time() * 1000 < target.webhook_expires_ms - WEBHOOK_MARGIN_MS:
            async with self.api.http.post(target.webhook, json=webhook_body(reply)) as response:
                answer = await response.json(content_type=None)
            errcode = answer.get("errcode", 0) if isinstance(answer, dict) else -1
            if response.status == 200 and errcode == 0:
                return
            if errcode != SESSION_GONE:
                log.warning("sessionWebhook refused a reply: HTTP %s errcode %s", response.status, errcode)
        await self.proactive(target, reply)

    async def proactive(self, target: ReplyTarget, reply: Reply) -> None:
        msg_key, msg_param = robot_param(reply)
        robot_code = target.robot_code or self.settings.dingtalk_client_id or ""
        body: dict[str, Any] = {"robotCode": robot_code, "msgKey": msg_key, "msgParam": msg_param}
        if target.conversation_type == "group":
            await self.api.call(GROUP_PATH, {**body, "openConversationId": target.conversation_id})
        else:
            await self.api.call(OTO_PATH, {**body, "userIds": [target.staff_id]})

    async def deliver_card(self, target: ReplyTarget, reply: CardReply) -> None:
        """createAndDeliver a template card; without a template id, or when DingTalk reports the
        delivery failed (HTTP 200 can hide that), the card's markdown fallback is sent instead."""
        template = card_template(self.settings, reply.card)
        if not template:
            return await self.send(target, reply.fallback)
        user = reply.private_to or target.staff_id
        if reply.private_to or target.conversation_type == "single":
            space: dict[str, Any] = {"openSpaceId": f"dtv1.card//IM_ROBOT.{user}",
                                     "imRobotOpenSpaceModel": {"supportForward": False},
                                     "imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT"}}
        else:
            space = {"openSpaceId": f"dtv1.card//IM_GROUP.{target.conversation_id}",
                     "imGroupOpenSpaceModel": {"supportForward": False},
                     "imGroupOpenDeliverModel": {"robotCode": target.robot_code or self.settings.dingtalk_client_id or ""}}
        try:
            answer = await self.api.call(CARD_CREATE_PATH, {
                "cardTemplateId": template, "outTrackId": reply.out_track_id, "callbackType": "STREAM",
                "cardData": {"cardParamMap": reply.params}, "privateData": {user: {"cardParamMap": reply.params}},
                "userIdType": 1, **space})
        except DingTalkApiError as exc:  # e.g. an unpublished template, or no card permission
            log.error("DingTalk refused card %s: %s", reply.card, exc)
            return await self.send(target, card_fallback(reply, exc))
        results = (answer.get("result") or {}).get("deliverResults") or [] if isinstance(answer, dict) else []
        failed = [r for r in results if not r.get("success")]
        if failed or not results:
            log.error("card %s was not delivered: %s", reply.card, [r.get("errorMsg") for r in failed])
            await self.send(target, card_fallback(reply, None))

    async def update_card(self, target: ReplyTarget, update: CardUpdate) -> None:
        """Change a delivered card in place, for everyone and for the user who acted on it."""
        await self.api.call(CARD_UPDATE_PATH, {
            "outTrackId": update.out_track_id, "cardData": {"cardParamMap": update.params},
            "privateData": {target.staff_id: {"cardParamMap": update.params}},
            "cardUpdateOptions": {"updateCardDataByKey": True, "updatePrivateDataByKey": True}, "userIdType": 1,
        }, method="PUT")

    async def to_users(self, user_ids: list[str], reply: Reply) -> None:
        if not user_ids:
            return
        msg_key, msg_param = robot_param(reply)
        await self.api.call(OTO_PATH, {"robotCode": self.settings.dingtalk_client_id or "", "msgKey": msg_key,
                                       "msgParam": msg_param, "userIds": user_ids})


class _ChatFrames(CallbackHandler):
    """SDK handler for chat frames: hand over and ACK at once; the work happens in the background."""

    def __init__(self, accept: Callable[[dict[str, Any]], None]) -> None:
        super().__init__()
        self.logger = log
        self._accept = accept

    async def process(self, message: CallbackMessage) -> tuple[int, str]:
        self._accept(message.data)
        return AckMessage.STATUS_OK, "OK"


class _CardFrames(CallbackHandler):
    """SDK handler for card callbacks: the quick part answers in the ACK, slow work runs after."""

    def __init__(self, on_card: OnCard, follow_up: Callable[[CallbackResult], None]) -> None:
        super().__init__()
        self.logger = log
        self._on_card = on_card
        self._follow_up = follow_up
        self._waiting: list[CallbackResult] = []

    async def process(self, message: CallbackMessage) -> tuple[int, Any]:
        result = await self._on_card(message.data if isinstance(message.data, dict) else {})
        self._waiting.append(result)
        if result.ack is None:
            return AckMessage.STATUS_OK, {}
        params = result.ack.params
        return AckMessage.STATUS_OK, {
            "cardUpdateOptions": {"updateCardDataByKey": True, "updatePrivateDataByKey": True},
            "cardData": {"cardParamMap": params}, "userPrivateData": {"cardParamMap": params}}

    def acked(self) -> None:
        """Start the slow work once the ACK is on the wire: DingTalk asks for no card update calls
        while a callback is unanswered, and an answer within 2 seconds."""
        waiting, self._waiting = self._waiting, []
        for result in waiting:
            self._follow_up(result)


class _EventFrames(EventHandler):
    """SDK handler for EVENT frames (DingTalk's event subscriptions, e.g. approvals).

    The SDK's own `raw_process` (0.24.3) echoes the event's data back as the ACK data, but the
    protocol asks for `{"status": "SUCCESS" | "LATER", "message"}` there (developerpedia
    docs/learn/stream/protocol.md), and the official Go SDK sends exactly that, with code 500 for
    LATER. So the ACK is built here. LATER makes DingTalk push the event again later."""

    def __init__(self, on_event: OnEvent) -> None:
        super().__init__()
        self.logger = log
        self._on_event = on_event

    async def raw_process(self, event_message: EventMessage) -> AckMessage:
        headers = event_message.headers
        data = event_message.data if isinstance(event_message.data, dict) else {}
        try:
            done = await self._on_event(headers.event_type or "", headers.event_id or "", data)
        except Exception:  # noqa: BLE001 - a bug must not lose the event: DingTalk retries it
            log.exception("event %s (%s) failed", headers.event_id, headers.event_type)
            done = False
        ack = AckMessage()
        ack.code = AckMessage.STATUS_OK if done else AckMessage.STATUS_SYSTEM_EXCEPTION
        ack.headers.message_id = headers.message_id
        ack.headers.content_type = "application/json"
        ack.message = "OK" if done else "later"
        ack.data = {"status": "SUCCESS", "message": "success"} if done else {"status": "LATER", "message": "later"}
        return ack


# Why DingTalk refused a card, and what the admin does about it (codes from DingTalk's API docs and
# reports of real answers); anything else gets the general advice.
CARD_REFUSALS: dict[str, Text] = {
    "param.templateUnpublished": Text(
        zh="卡片模板还没有发布：在卡片平台打开这个模板，点“发布”。",
        en="The card template is not published: open it in the card platform and publish it."),
    "Forbidden.AccessDenied.AccessTokenPermissionDenied": Text(
        zh="应用没有“互动卡片实例写权限”（Card.Instance.Write）：在开发者后台的权限管理里开通。",
        en="The app lacks the Card.Instance.Write permission: add it under the app's permissions in the developer console."),
}
CARD_REFUSED = Text(zh="钉钉拒绝了这张卡片（{code}）：检查 {env} 是否为本应用已发布模板的 id（见 cards/README.md）。",
                    en="DingTalk refused this card ({code}): check that {env} is the id of a published template "
                       "linked to this app (see cards/README.md).")
CARD_UNAVAILABLE = Text(zh="钉钉暂时没能发出卡片（{code}），稍后再试。", en="DingTalk could not send the card just now ({code}); try again later.")
NOT_DELIVERED = Text(zh="卡片没有送达（钉钉报告投放失败）。", en="The card was not delivered (DingTalk reported a failed delivery).")


def card_fallback(reply: CardReply, error: DingTalkApiError | None) -> MarkdownReply:
    """The card's text stand-in, with why the card is missing and what to do; sent where the card
    would have gone (a form meant for the admin's single chat stays there)."""
    lang = reply.lang if reply.lang in ("zh", "en") else "zh"
    if error is None:
        why = NOT_DELIVERED(lang)
    elif error.code in CARD_REFUSALS:
        why = CARD_REFUSALS[error.code](lang)
    elif error.status in (400, 403, 404) and error.code:  # the request itself: the template or its app
        why = CARD_REFUSED(lang).format(code=error.code, env=CARDS[reply.card].env_var)
    else:  # throttling, a DingTalk outage: nothing for the admin to fix
        why = CARD_UNAVAILABLE(lang).format(code=error.code or f"HTTP {error.status}")
    return replace(reply.fallback, text=f"{reply.fallback.text}\n\n⚠️ {why}", private_to=reply.private_to)


def card_template(settings: Settings, card: str) -> str | None:
    setting = CARDS[card].setting if card in CARDS else None
    return getattr(settings, setting) if setting else None


class MailbotStreamClient(DingTalkStreamClient):
    """The SDK client with a non-blocking, cancellable, endpoint-honouring `start()`."""

    def __init__(self, settings: Settings, api: OpenApi) -> None:
        super().__init__(Credential(settings.dingtalk_client_id, "***"), logger=logging.getLogger("mailbot.dingtalk.sdk"))
        self.settings = settings
        self.api = api
        self.connected = asyncio.Event()
        self._events: set[asyncio.Task[None]] = set()  # EVENT frames being handled, off the read loop

    def _subscriptions(self) -> list[dict[str, str]]:
        topics = [{"type": "EVENT", "topic": "*"}] if self._is_event_required else []
        return topics + [{"type": "CALLBACK", "topic": topic} for topic in self.callback_handler_map]

    async def start(self) -> None:
        self.pre_start()
        delay = self.settings.dingtalk_reconnect_s
        while True:
            try:
                await self._session()
                delay = self.settings.dingtalk_reconnect_s
                continue  # a clean close (server disconnect): reconnect at once
            except (OSError, aiohttp.ClientError, websockets.exceptions.WebSocketException,
                    DingTalkApiError, ValueError, KeyError, TimeoutError) as exc:
                log.warning("stream connection failed (%s); reconnecting in %.1fs", exc, delay)
            finally:
                self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(max(delay * 2, 0.05), self.settings.dingtalk_reconnect_max_s)

    async def _session(self) -> None:
        connection = await self.api.open_connection(self._subscriptions())
        uri = f'{connection["endpoint"]}?ticket={quote_plus(connection["ticket"])}'
        async with websockets.connect(uri) as websocket:
            self.websocket = websocket
            self.connected.set()
            log.info("stream connected")
            async for raw in websocket:
                try:
                    frame = json.loads(raw)
                    if frame.get("type") == EventMessage.TYPE:  # may call DingTalk's APIs: chat frames keep flowing
                        self._spawn_event(frame)
                        continue
                    try:
                        disconnect = await self.route_message(frame) == self.TAG_DISCONNECT  # ACK sent in here
                    finally:  # also when the ACK could not be sent: the admin's submit is acted on once
                        for handler in self.callback_handler_map.values():
                            if isinstance(handler, _CardFrames):
                                handler.acked()
                    if disconnect:
                        await websocket.close()
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    log.warning("dropped a malformed frame: %s", type(exc).__name__)

    def _spawn_event(self, frame: dict[str, Any]) -> None:
        task = asyncio.create_task(self._event(frame))
        self._events.add(task)
        task.add_done_callback(self._events.discard)

    async def _event(self, frame: dict[str, Any]) -> None:
        """Handle one EVENT frame and send its ACK; a lost connection leaves it unACKed (DingTalk pushes it again)."""
        try:
            await self.route_message(frame)
        except (OSError, websockets.exceptions.WebSocketException, ValueError, KeyError, TypeError) as exc:
            log.warning("event frame not acknowledged: %s", type(exc).__name__)

    async def stop_events(self) -> None:
        for task in list(self._events):
            task.cancel()
        await asyncio.gather(*self._events, return_exceptions=True)


class DingTalkAdapter:
    """A run-loop component: Stream connection in, replies out, messages through `handle`."""

    name = "dingtalk"

    def __init__(self, settings: Settings, handle: Handle, on_card: OnCard | None = None,
                 events: Callable[[OpenApi], OnEvent] | None = None) -> None:
        """`events`: given this adapter's OpenAPI client, the handler of EVENT frames; with it the
        connection subscribes to events (DingTalk pushes the types chosen in the developer console)."""
        self.settings = settings
        self.handle = handle
        self.on_card = on_card
        self.events = events
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._queues: dict[str, asyncio.Queue[tuple[IncomingMessage, ReplyTarget]]] = {}
        self._workers: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self.api: OpenApi | None = None
        self.replier: Replier | None = None
        self.client: MailbotStreamClient | None = None

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.settings.dingtalk_http_timeout_s)
        self._http = aiohttp.ClientSession(timeout=timeout)
        self.api = OpenApi(self.settings, self._http)
        self.replier = Replier(self.settings, self.api)
        self.client = MailbotStreamClient(self.settings, self.api)
        self.client.register_callback_handler(ChatbotMessage.TOPIC, _ChatFrames(self._accept))
        if self.on_card is not None:
            self.client.register_callback_handler(CARD_TOPIC, _CardFrames(self.on_card, self._card_follow_up))
        if self.events is not None:
            self.client.register_all_event_handler(_EventFrames(self.events(self.api)))
        self._task = asyncio.create_task(self.client.start(), name="dingtalk-stream")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._workers) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.client is not None:
            await self.client.stop_events()
        if self._http is not None:
            await self._http.close()

    async def wait_connected(self) -> None:
        assert self.client is not None
        await self.client.connected.wait()

    async def idle(self) -> None:
        """Wait until every accepted message has been handled and answered (tests, benchmarks)."""
        while self._workers:
            await asyncio.gather(*list(self._workers), return_exceptions=True)

    async def send_private(self, replies: list[Reply]) -> None:
        """Replies addressed with `private_to` (alert cards), outside any conversation."""
        assert self.replier is not None
        for reply in replies:
            user = getattr(reply, "private_to", None) or ""
            target = ReplyTarget(webhook=None, webhook_expires_ms=0, robot_code=self.settings.dingtalk_client_id or "",
                                 conversation_type="single", conversation_id="", staff_id=user)
            await self.replier.send(target, reply)

    async def notify_admins(self, text: str, title: str | None = None) -> None:
        """Proactive message to every MAILBOT_ADMINS user (alerts from other services)."""
        assert self.replier is not None
        reply: Reply = MarkdownReply(title=title, text=text) if title else TextReply(text)
        await self.replier.to_users(sorted(self.settings.admin_ids), reply)

    # -- inbound -------------------------------------------------------------------------------

    def _accept(self, data: dict[str, Any]) -> None:
        """Dedupe by msgId and queue per conversation; never awaits, so frame order is kept.

        `_seen` is only the fast path for a redelivery to this process: the router claims each msgId
        in the store (chat_seen) before acting, so a message redelivered to another instance on the
        same store is answered once too. A card callback carries no id of its own to dedupe on (a
        redelivery gets a new frame id); its card's state moves by compare-and-set instead."""
        message, target = incoming_from(data, self.settings.admin_ids)
        if message.msg_id:
            if message.msg_id in self._seen:
                log.info("redelivered message %s ignored", message.msg_id)
                return
            self._seen[message.msg_id] = None
            if len(self._seen) > SEEN_MAX:
                self._seen.popitem(last=False)
        queue = self._queues.get(target.conversation_id)
        if queue is None:
            queue = self._queues[target.conversation_id] = asyncio.Queue()
            worker = asyncio.create_task(self._drain(target.conversation_id, queue))
            self._workers.add(worker)
            worker.add_done_callback(self._workers.discard)
        queue.put_nowait((message, target))

    def _card_follow_up(self, result: CallbackResult) -> None:
        """Run a callback's slow work (a live SMTP check) after its ACK; then send what it produced."""
        if result.later is None and not result.extra:
            return
        target = ReplyTarget(webhook=None, webhook_expires_ms=0, robot_code=self.settings.dingtalk_client_id or "",
                             conversation_type="single", conversation_id="", staff_id=result.user_id)

        async def run() -> None:
            assert self.replier is not None
            try:
                replies = [*result.extra, *(await result.later() if result.later else [])]
                for reply in replies:
                    await self.replier.send(target, reply)
            except Exception:
                log.exception("card follow-up failed")

        worker = asyncio.create_task(run())
        self._workers.add(worker)
        worker.add_done_callback(self._workers.discard)

    async def _drain(self, conversation_id: str, queue: asyncio.Queue[tuple[IncomingMessage, ReplyTarget]]) -> None:
        try:
            while not queue.empty():
                await self._process(*queue.get_nowait())
        finally:
            del self._queues[conversation_id]

    async def _process(self, message: IncomingMessage, target: ReplyTarget) -> None:
        assert self.replier is not None
        try:
            replies = await self.handle(message)
        except Exception:
            log.exception("handling message %s failed", message.msg_id)
            replies = [failure_reply(message)]
        for reply in replies:
            try:
                await self.replier.send(target, reply)
            except (aiohttp.ClientError, TimeoutError, DingTalkApiError, ValueError) as exc:
                log.error("could not deliver a reply to %s: %s", target.conversation_id, exc)
