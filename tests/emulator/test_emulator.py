"""Drive the real dingtalk_stream SDK client against the emulator, so its shapes stay honest."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from typing import Any
from urllib.parse import quote_plus

import aiohttp
import pytest
import websockets
from dingtalk_stream import (
    AckMessage,
    CallbackHandler,
    CallbackMessage,
    ChatbotHandler,
    ChatbotMessage,
    Credential,
    DingTalkStreamClient,
)

from bot.emulator import DingTalkEmulator
from bot.emulator import cards as cards_module

RECONNECT_DELAY_S = 0.05
CARD_TOPIC = CallbackHandler.TOPIC_CARD_CALLBACK
OPEN = "/v1.0/gateway/connections/open"
BATCH_SEND = "/v1.0/robot/oToMessages/batchSend"
GROUP_SEND = "/v1.0/robot/groupMessages/send"
CREATE_CARD = "/v1.0/card/instances/createAndDeliver"
CARDS = "/v1.0/card/instances"


class EmulatedStreamClient(DingTalkStreamClient):
    """The SDK client with its own routing and ACKs, but opening connections off the event loop.

    The SDK's start() calls blocking `requests` on the loop (which would deadlock against an
    in-process server), swallows cancellation, and sleeps 10 s before reconnecting.
    """

    async def start(self) -> None:
        self.pre_start()
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                connection = await asyncio.to_thread(self.open_connection)
                if connection:
                    await self._serve(connection, tasks)
                await asyncio.sleep(RECONNECT_DELAY_S)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(self, connection: dict[str, str], tasks: set[asyncio.Task[None]]) -> None:
        uri = f'{connection["endpoint"]}?ticket={quote_plus(connection["ticket"])}'
        try:
            async with websockets.connect(uri) as websocket:
                self.websocket = websocket
                async for raw in websocket:
                    task = asyncio.create_task(self.background_task(json.loads(raw)))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
        except websockets.exceptions.ConnectionClosedError:
            pass


class ReplyingChatbotHandler(ChatbotHandler):
    """Replies through the sessionWebhook with aiohttp, as mailbot's adapter will."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[ChatbotMessage] = []
        self.webhook_answers: list[dict[str, Any]] = []

    async def process(self, callback: CallbackMessage) -> tuple[int, str]:
        incoming = ChatbotMessage.from_dict(callback.data)
        self.received.append(incoming)
        reply = {"msgtype": "text", "text": {"content": f"echo:{incoming.text.content.strip()}"}}
        async with aiohttp.ClientSession() as session:
            async with session.post(incoming.session_webhook, json=reply) as response:
                assert response.status == 200
                self.webhook_answers.append(await response.json())
        return AckMessage.STATUS_OK, "OK"


class CardActionHandler(CallbackHandler):
    """Answers a card action by updating the card through its ACK."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self.before_ack: Callable[[], Awaitable[None]] | None = None  # what a sloppy handler does first

    async def process(self, callback: CallbackMessage) -> tuple[int, dict[str, Any]]:
        self.received.append(callback.data)
        if self.before_ack is not None:
            await self.before_ack()
        params = json.loads(callback.data["content"])["cardPrivateData"]["params"]
        return AckMessage.STATUS_OK, {
            "cardUpdateOptions": {"updateCardDataByKey": True, "updatePrivateDataByKey": True},
            "cardData": {"cardParamMap": {"status": f"done:{params['action']}"}},
            "userPrivateData": {"cardParamMap": {"note": "only you see this"}},
        }


@pytest.fixture
async def emu() -> AsyncIterator[DingTalkEmulator]:
    async with DingTalkEmulator() as emulator:
        yield emulator
    assert [c for c in emulator.calls if c.status is None or c.status >= 500] == []


@pytest.fixture
def open_api_at_emulator(emu: DingTalkEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    # open_connection() reads the URL from DingTalkStreamClient itself, computed at SDK import.
    monkeypatch.setattr(
        DingTalkStreamClient, "OPEN_CONNECTION_API", f"{emu.endpoint}{OPEN}"
    )


@pytest.fixture
def chat_handler() -> ReplyingChatbotHandler:
    return ReplyingChatbotHandler()


@pytest.fixture
def card_handler() -> CardActionHandler:
    return CardActionHandler()


@pytest.fixture
async def client(
    emu: DingTalkEmulator,
    open_api_at_emulator: None,
    chat_handler: ReplyingChatbotHandler,
    card_handler: CardActionHandler,
) -> AsyncIterator[EmulatedStreamClient]:
    stream_client = EmulatedStreamClient(Credential(emu.client_id, emu.client_secret))
    stream_client.register_callback_handler(ChatbotMessage.TOPIC, chat_handler)
    stream_client.register_callback_handler(CARD_TOPIC, card_handler)
    task = asyncio.create_task(stream_client.start())
    await emu.wait_connected(1)
    yield stream_client
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task


class OpenApi:
    """Plain HTTP to the emulator, the way mailbot's adapter will call DingTalk."""

    def __init__(self, http: aiohttp.ClientSession, emu: DingTalkEmulator) -> None:
        self.http = http
        self.emu = emu

    async def token(self) -> str:
        body = {"appKey": self.emu.client_id, "appSecret": self.emu.client_secret}
        status, answer = await self.call("POST", "/v1.0/oauth2/accessToken", body)
        assert status == 200 and answer["expireIn"] > 0
        return answer["accessToken"]

    async def call(
        self, method: str, path: str, body: Any, token: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        headers = {"x-acs-dingtalk-access-token": token} if token else {}
        url = f"{self.emu.endpoint}{path}"
        async with self.http.request(method, url, json=body, headers=headers) as response:
            return response.status, await response.json()


@pytest.fixture
async def api(emu: DingTalkEmulator) -> AsyncIterator[OpenApi]:
    async with aiohttp.ClientSession() as http:
        yield OpenApi(http, emu)


def _card_body(out_track_id: str, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "cardTemplateId": "tpl-1.schema",
        "outTrackId": out_track_id,
        "callbackType": "STREAM",
        "cardData": {"cardParamMap": params},
        "openSpaceId": "dtv1.card//IM_ROBOT.user1",
        "imRobotOpenSpaceModel": {"supportForward": False},
        "imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT"},
    }


def _assert_error_shape(body: dict[str, Any], code: str) -> None:
    assert set(body) == {"code", "message", "requestid"}
    assert body["code"] == code


def test_emulator_serves_loopback_only() -> None:
    with pytest.raises(ValueError):
        DingTalkEmulator(host="0.0.0.0")


async def test_client_connects_with_good_credentials(
    emu: DingTalkEmulator, client: EmulatedStreamClient
) -> None:
    assert emu.connected and emu.connections == 1
    assert {"type": "CALLBACK", "topic": ChatbotMessage.TOPIC} in emu.subscriptions
    assert {"type": "CALLBACK", "topic": CARD_TOPIC} in emu.subscriptions
    opens = [c for c in emu.calls if c.path == OPEN]
    assert opens[0].status == 200 and opens[0].json["clientSecret"] == emu.client_secret


async def test_bad_credentials_are_refused(
    emu: DingTalkEmulator, open_api_at_emulator: None, api: OpenApi
) -> None:
    wrong = EmulatedStreamClient(Credential(emu.client_id, "wrong-secret"))
    assert await asyncio.to_thread(wrong.open_connection) is None

    body = {"clientId": emu.client_id, "clientSecret": "wrong-secret", "subscriptions": []}
    status, answer = await api.call("POST", OPEN, body)
    assert status == 401
    _assert_error_shape(answer, "authFailed")

    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await api.http.ws_connect(f"{emu.endpoint}/connect?ticket=forged")
    assert refused.value.status == 401
    assert emu.connections == 0


async def test_chat_reaches_handler_and_is_acked(
    emu: DingTalkEmulator, client: EmulatedStreamClient, chat_handler: ReplyingChatbotHandler
) -> None:
    push = await emu.send_chat("hello", sender_staff_id="alice", sender_nick="Alice", is_admin=True)
    ack = await emu.wait_ack(push.message_id)

    assert ack["code"] == 200 and ack["headers"]["messageId"] == push.message_id
    [incoming] = chat_handler.received
    assert incoming.message_id == push.msg_id
    assert incoming.text.content == "hello"
    assert incoming.conversation_type == "1"
    assert (incoming.sender_staff_id, incoming.sender_nick) == ("alice", "Alice")
    assert incoming.is_admin is True
    assert incoming.robot_code == emu.client_id
    assert incoming.session_webhook.startswith(emu.endpoint)
    assert incoming.session_webhook_expired_time > incoming.create_at


async def test_group_text_keeps_the_mention_space(
    emu: DingTalkEmulator, client: EmulatedStreamClient, chat_handler: ReplyingChatbotHandler
) -> None:
    push = await emu.send_chat("status", conversation_type="2", conversation_id="cid-ops")
    await emu.wait_ack(push.message_id)
    [incoming] = chat_handler.received
    assert incoming.text.content == " status"
    assert incoming.is_in_at_list is True
    assert incoming.at_users[0].dingtalk_id == incoming.chatbot_user_id


async def test_webhook_reply_is_recorded(
    emu: DingTalkEmulator, client: EmulatedStreamClient, chat_handler: ReplyingChatbotHandler
) -> None:
    push = await emu.send_chat("ping me", conversation_id="cid-a")
    await emu.wait_ack(push.message_id)

    assert chat_handler.webhook_answers == [{"errcode": 0, "errmsg": "ok"}]
    [reply] = emu.webhook_messages("cid-a")
    assert reply.body == {"msgtype": "text", "text": {"content": "echo:ping me"}}
    assert reply.sender_staff_id == "user1"
    assert emu.webhook_messages("cid-other") == []


async def test_expired_webhook_answers_like_dingtalk(
    emu: DingTalkEmulator, client: EmulatedStreamClient, chat_handler: ReplyingChatbotHandler
) -> None:
    push = await emu.send_chat("too late", webhook_ttl_s=0)
    await emu.wait_ack(push.message_id)

    assert chat_handler.webhook_answers == [{"errcode": 300001, "errmsg": "session 不存在"}]
    assert emu.webhook_messages() == []


async def test_resend_redelivers_the_same_message(
    emu: DingTalkEmulator, client: EmulatedStreamClient, chat_handler: ReplyingChatbotHandler
) -> None:
    push = await emu.send_chat("once")
    await emu.wait_ack(push.message_id)
    again = await emu.resend(push.frame)
    await emu.wait_ack(again)

    assert again != push.message_id
    assert [m.message_id for m in chat_handler.received] == [push.msg_id, push.msg_id]


async def test_ping_is_echoed(emu: DingTalkEmulator, client: EmulatedStreamClient) -> None:
    ack = await emu.ping()
    assert ack["code"] == 200


async def test_disconnect_makes_the_client_reconnect(
    emu: DingTalkEmulator, client: EmulatedStreamClient
) -> None:
    await emu.disconnect()
    await emu.wait_connected(2)
    assert (await emu.ping())["code"] == 200


async def test_dropped_connection_makes_the_client_reconnect(
    emu: DingTalkEmulator, client: EmulatedStreamClient
) -> None:
    await emu.drop_connection()
    await emu.wait_connected(2)
    assert (await emu.ping())["code"] == 200


async def test_openapi_requires_a_valid_token(emu: DingTalkEmulator, api: OpenApi) -> None:
    send = {"robotCode": emu.client_id, "userIds": ["alice"], "msgKey": "sampleText",
            "msgParam": json.dumps({"content": "hi"})}
    status, answer = await api.call("POST", BATCH_SEND, send)
    assert status == 400
    _assert_error_shape(answer, "InvalidAuthentication")

    bad_creds = {"appKey": emu.client_id, "appSecret": "nope"}
    status, answer = await api.call("POST", "/v1.0/oauth2/accessToken", bad_creds)
    assert status == 400
    _assert_error_shape(answer, "invalidClientIdOrSecret")

    token = await api.token()
    status, answer = await api.call("POST", BATCH_SEND, send, token)
    assert status == 200 and answer["processQueryKey"]
    assert emu.calls[-1].headers["x-acs-dingtalk-access-token"] == "***"

    emu.revoke_access_tokens()
    status, _ = await api.call("POST", BATCH_SEND, send, token)
    assert status == 400


async def test_robot_messages_are_validated_and_recorded(
    emu: DingTalkEmulator, api: OpenApi
) -> None:
    token = await api.token()
    group = {"robotCode": emu.client_id, "openConversationId": "cid-ops", "msgKey": "sampleMarkdown",
             "msgParam": json.dumps({"title": "Alert", "text": "**down**"})}
    status, answer = await api.call("POST", GROUP_SEND, group, token)
    assert status == 200 and answer["processQueryKey"]

    not_a_string = {**group, "msgParam": {"title": "Alert", "text": "x"}}
    status, answer = await api.call("POST", GROUP_SEND, not_a_string, token)
    assert status == 400
    _assert_error_shape(answer, "invalidParameter.msgParam.invalid")

    [message] = emu.robot_messages
    assert (message.kind, message.open_conversation_id) == ("group", "cid-ops")
    assert message.msg_param == {"title": "Alert", "text": "**down**"}


async def test_card_with_non_string_param_is_rejected(emu: DingTalkEmulator, api: OpenApi) -> None:
    token = await api.token()
    body = _card_body("card-1", {"title": "ok", "count": 3})
    status, answer = await api.call("POST", CREATE_CARD, body, token)
    assert status == 400
    _assert_error_shape(answer, "param.invalid")
    assert emu.cards == {}
    assert emu.card_calls[-1].status == 400


async def test_failed_delivery_still_answers_200(emu: DingTalkEmulator, api: OpenApi) -> None:
    token = await api.token()
    emu.fail_deliveries = True
    body = _card_body("card-2", {"title": "t"})
    status, answer = await api.call("POST", CREATE_CARD, body, token)
    assert status == 200 and answer["success"] is True
    [result] = answer["result"]["deliverResults"]
    assert result["success"] is False and result["errorMsg"]
    assert (result["spaceType"], result["spaceId"]) == ("IM_ROBOT", "user1")


async def test_card_update_merges_or_replaces(emu: DingTalkEmulator, api: OpenApi) -> None:
    token = await api.token()
    await api.call("POST", CREATE_CARD, _card_body("card-3", {"title": "t", "status": "new"}), token)

    merge = {"outTrackId": "card-3", "cardData": {"cardParamMap": {"status": "busy"}},
             "cardUpdateOptions": {"updateCardDataByKey": True}}
    assert await api.call("PUT", CARDS, merge, token) == (200, {"success": True, "result": True})
    assert emu.cards["card-3"] == {"title": "t", "status": "busy"}

    replace = {"outTrackId": "card-3", "cardData": {"cardParamMap": {"status": "done"}}}
    await api.call("PUT", CARDS, replace, token)
    assert emu.cards["card-3"] == {"status": "done"}

    status, answer = await api.call("PUT", CARDS, {**replace, "outTrackId": "nope"}, token)
    assert status == 400
    _assert_error_shape(answer, "param.cardNotExist")
    for body, code in (({**replace, "outTrackId": ""}, "param.outTrackIdEmpty"),
                       ({"outTrackId": "card-3"}, "param.cardDataAndPrivateDataBothEmpty")):
        status, answer = await api.call("PUT", CARDS, body, token)
        assert status == 400 and answer["code"] == answer["message"] == code
    assert emu.cards["card-3"] == {"status": "done"}


async def test_card_spaces_and_deliver_models_are_checked(emu: DingTalkEmulator, api: OpenApi) -> None:
    token = await api.token()
    lower = {**_card_body("card-6", {"title": "t"}), "openSpaceId": "dtv1.card//im_robot.user1"}
    status, answer = await api.call("POST", CREATE_CARD, lower, token)
    assert status == 200 and answer["result"]["deliverResults"][0]["spaceType"] == "IM_ROBOT"
    assert "carrierId" not in answer["result"]["deliverResults"][0]  # only the IM space has one
    no_model = {k: v for k, v in _card_body("card-7", {"title": "t"}).items() if k != "imRobotOpenDeliverModel"}
    no_space = {**_card_body("card-8", {"title": "t"}), "openSpaceId": ""}
    for body, code in ((no_model, "param.openDeliverModelEmpty"), (no_space, "param.openSpaceIdEmpty")):
        status, answer = await api.call("POST", CREATE_CARD, body, token)
        assert status == 400 and answer["code"] == answer["message"] == code
    assert set(emu.cards) == {"card-6"}


async def test_what_dingtalk_refuses_during_a_callback_is_reported(
    emu: DingTalkEmulator, client: EmulatedStreamClient, card_handler: CardActionHandler, api: OpenApi,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A card update call while the callback is unanswered, and an ACK after the 2 s limit."""
    token = await api.token()
    assert (await api.call("POST", CREATE_CARD, _card_body("card-9", {"status": "new"}), token))[0] == 200
    content = {"cardPrivateData": {"actionIds": ["approve"], "params": {"action": "approve"}}}

    async def put_first() -> None:
        await api.call("PUT", CARDS, {"outTrackId": "card-9", "cardData": {"cardParamMap": {"status": "x"}}}, token)

    card_handler.before_ack = put_first
    await emu.wait_ack(await emu.send_card_callback("card-9", "alice", content))
    assert emu.card_errors == ["card-9: PUT while a callback on it was unanswered"]

    monkeypatch.setattr(cards_module, "CARD_ACK_TIMEOUT_S", 0.05)
    card_handler.before_ack = lambda: asyncio.sleep(0.2)
    await emu.wait_ack(await emu.send_card_callback("card-9", "alice", content))
    assert emu.cards["card-9"]["status"] == "done:approve"  # from the first, timely ACK only
    assert emu.card_errors[-1] == "card-9: ACK after 0.05 s; its card update is lost"
    emu.card_errors.clear()  # this test's violations were on purpose


async def test_recreating_a_card_keeps_its_data(emu: DingTalkEmulator, api: OpenApi) -> None:
    token = await api.token()
    await api.call("POST", CREATE_CARD, _card_body("card-5", {"title": "first"}), token)
    status, _ = await api.call("POST", CREATE_CARD, _card_body("card-5", {"title": "second"}), token)
    assert status == 200
    assert emu.cards["card-5"] == {"title": "first"}


async def test_card_callback_ack_updates_the_card(
    emu: DingTalkEmulator,
    client: EmulatedStreamClient,
    card_handler: CardActionHandler,
    api: OpenApi,
) -> None:
    token = await api.token()
    card = _card_body("card-4", {"title": "Mailbox", "status": "pending"})
    assert (await api.call("POST", CREATE_CARD, card, token))[0] == 200

    content = {"cardPrivateData": {"actionIds": ["approve"], "params": {"action": "approve"}}}
    message_id = await emu.send_card_callback("card-4", "alice", content, extension={"k": "v"})
    ack = await emu.wait_ack(message_id)

    assert ack["code"] == 200
    assert emu.cards["card-4"] == {"title": "Mailbox", "status": "done:approve"}
    assert emu.card_instances["card-4"].private_data == {"alice": {"note": "only you see this"}}
    assert emu.card_errors == []
    [data] = card_handler.received
    assert (data["outTrackId"], data["userId"], data["type"]) == ("card-4", "alice", "actionCallback")
    assert (data["spaceType"], data["spaceId"]) == ("IM_ROBOT", "user1")
    assert json.loads(data["content"]) == content and json.loads(data["extension"]) == {"k": "v"}
