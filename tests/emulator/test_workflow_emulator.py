"""The emulator's approval side against the real dingtalk_stream SDK and plain HTTP: EVENT frames
(with redelivery of the same eventId) and the ACKs they get, the workflow instance API and the
oapi user API, including refused permissions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Any

import pytest
from dingtalk_stream import AckMessage, Credential, EventHandler, EventMessage

from bot.emulator import DingTalkEmulator
from bot.emulator.models import EmulatorError
from tests.emulator.test_emulator import EmulatedStreamClient, OpenApi, api, emu, open_api_at_emulator  # noqa: F401

INSTANCE = "/v1.0/workflow/processInstances"
USER = "/topapi/v2/user/get"


class RecordingEventHandler(EventHandler):
    """The SDK's own event ACK (raw_process untouched): it echoes the data, with no `status`."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[EventMessage] = []

    async def process(self, event: EventMessage) -> tuple[int, str]:
        self.received.append(event)
        return AckMessage.STATUS_OK, "OK"


@pytest.fixture
async def events(emu: DingTalkEmulator, open_api_at_emulator: None) -> AsyncIterator[RecordingEventHandler]:
    handler = RecordingEventHandler()
    client = EmulatedStreamClient(Credential(emu.client_id, emu.client_secret))
    client.register_all_event_handler(handler)
    task = asyncio.create_task(client.start())
    await emu.wait_connected(1)
    yield handler
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task


async def test_event_frames_reach_the_sdk_with_their_headers_and_are_redelivered(
        emu: DingTalkEmulator, events: RecordingEventHandler) -> None:
    assert emu.subscriptions == [{"type": "EVENT", "topic": "*"}]
    instance = emu.start_approval("PROC-1", "u-alice", title="报销", form={"金额": "10"})
    push = await emu.approval_event(instance, "finish", "refuse")
    ack = await emu.wait_ack(push.message_id)
    again = await emu.resend(push.frame)
    await emu.wait_ack(again)
    first, second = events.received
    assert first.headers.event_type == "bpms_instance_change" and first.headers.event_id == push.event_id
    assert second.headers.event_id == push.event_id and second.headers.message_id == again != push.message_id
    assert first.headers.event_corp_id == emu.corp_id and first.headers.event_born_time > 0
    data = first.data
    assert (data["processInstanceId"], data["processCode"], data["type"], data["result"], data["staffId"]) == (
        instance.instance_id, "PROC-1", "finish", "refuse", "u-alice")
    assert data["title"] == "报销" and data["finishTime"] >= data["createTime"] and data["url"]
    # The SDK 0.24.3 echoes the event's data instead of {"status": ...}: the emulator records that as no status.
    assert ack["code"] == 200 and json.loads(ack["data"]) == data
    assert emu.event_acks == [(push.event_id, 200, None), (push.event_id, 200, None)]


async def test_start_and_terminate_events_carry_no_result(emu: DingTalkEmulator, events: RecordingEventHandler) -> None:
    instance = emu.start_approval("PROC-1", "u-alice")
    for change in ("start", "terminate"):
        await emu.wait_ack((await emu.approval_event(instance, change)).message_id)
    started, ended = (e.data for e in events.received)
    assert started["type"] == "start" and "result" not in started and "finishTime" not in started
    assert ended["type"] == "terminate" and "result" not in ended and ended["finishTime"]
    assert emu.workflow.instances[instance.instance_id].status == "TERMINATED"


async def test_an_event_needs_the_event_subscription(emu: DingTalkEmulator, open_api_at_emulator: None) -> None:
    client = EmulatedStreamClient(Credential(emu.client_id, emu.client_secret))
    client.register_callback_handler("/v1.0/im/bot/messages/get", EventHandler())  # type: ignore[arg-type]
    task = asyncio.create_task(client.start())
    await emu.wait_connected(1)
    try:
        with pytest.raises(EmulatorError, match="did not subscribe"):
            await emu.send_event("bpms_instance_change", {})
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def test_workflow_instance_api(emu: DingTalkEmulator, api: OpenApi) -> None:
    instance = emu.start_approval("PROC-1", "u-alice", title="报销", form={"金额": "10", "事由": "出差"})
    token = await api.token()
    url = f"{emu.endpoint}{INSTANCE}?processInstanceId={instance.instance_id}"
    async with api.http.get(url, headers={"x-acs-dingtalk-access-token": token}) as response:
        assert response.status == 200
        answer = await response.json()
    result = answer["result"]
    assert answer["success"] is True and result["originatorUserId"] == "u-alice" and result["title"] == "报销"
    assert result["status"] == "RUNNING" and result["finishTime"] is None and result["createTime"].endswith("Z")
    assert [(v["name"], v["value"]) for v in result["formComponentValues"]] == [("金额", "10"), ("事由", "出差")]

    async with api.http.get(url) as response:  # no token
        assert response.status == 400 and (await response.json())["code"] == "InvalidAuthentication"
    async with api.http.get(f"{emu.endpoint}{INSTANCE}?processInstanceId=nope",
                            headers={"x-acs-dingtalk-access-token": token}) as response:
        assert response.status == 400 and (await response.json())["code"] == "InvalidParameter"
    emu.workflow.refuse_instances = True
    async with api.http.get(url, headers={"x-acs-dingtalk-access-token": token}) as response:
        body = await response.json()
        assert response.status == 403 and body["code"] == "Forbidden.AccessDenied.AccessTokenPermissionDenied"
        assert set(body) == {"code", "message", "requestid"}
    assert [c.query["processInstanceId"] for c in emu.calls if c.path == INSTANCE] == [instance.instance_id,
                                                                                        instance.instance_id, "nope",
                                                                                        instance.instance_id]


async def test_user_api(emu: DingTalkEmulator, api: OpenApi) -> None:
    emu.workflow.add_user("u-alice", "Alice", email="a@home.example", org_email="a@corp.example")
    token = await api.token()

    async def get(userid: str, access_token: str = token) -> dict[str, Any]:
        async with api.http.post(f"{emu.endpoint}{USER}", params={"access_token": access_token},
                                 json={"userid": userid}) as response:
            assert response.status == 200  # oapi answers 200 and puts the outcome in errcode
            return dict(await response.json())

    alice = await get("u-alice")
    assert alice["errcode"] == 0 and alice["result"]["org_email"] == "a@corp.example"
    assert alice["result"]["email"] == "a@home.example" and alice["result"]["name"] == "Alice"
    assert (await get("nobody"))["errcode"] == 60121
    assert (await get("u-alice", "bad-token"))["errcode"] == 40014
    emu.workflow.refuse_users = True
    assert (await get("u-alice"))["errcode"] == 60011
    recorded = [c for c in emu.calls if c.path == USER]
    assert {c.query["access_token"] for c in recorded} == {"***"} and recorded[0].json == {"userid": "u-alice"}


async def test_a_user_without_email(emu: DingTalkEmulator) -> None:
    emu.workflow.add_user("u-bob", "Bob")
    assert "email" not in emu.workflow.get_user({"userid": "u-bob"})["result"]


