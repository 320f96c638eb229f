"""The Stream-mode side: tickets, websocket connections, pushed frames and the ACKs that answer them."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from bot.emulator.frames import frame
from bot.emulator.models import ApiError, EmulatorError

# CONFIRMED (open-dingtalk/developerpedia docs/learn/stream/protocol.md): a ticket is valid for
# 90 seconds and opens one connection.
TICKET_TTL_S = 90.0


@dataclass(eq=False)
class _Connection:
    ws: web.WebSocketResponse
    request: web.Request
    subscriptions: list[dict[str, str]]
    closed: asyncio.Event = field(default_factory=asyncio.Event)


class StreamHub:
    """Pushes frames to the newest open connection (or a chosen one: DingTalk spreads an app's frames
    over its connections, e.g. several bot instances) and matches ACKs to them by messageId."""

    def __init__(self, app_id: str) -> None:
        self._app_id = app_id
        self._tickets: dict[str, tuple[float, list[dict[str, str]]]] = {}
        self._open: list[_Connection] = []
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ack_hooks: dict[str, Callable[[dict[str, Any]], None]] = {}
        self._changed = asyncio.Condition()
        self.connections = 0
        self.acks: list[dict[str, Any]] = []
        self.event_acks: list[tuple[str, int, str | None]] = []  # (eventId, code, status) of EVENT ACKs
        self._event_ids: dict[str, str] = {}  # messageId of a pushed EVENT frame -> its eventId

    def issue_ticket(self, subscriptions: list[dict[str, str]]) -> str:
        """One ticket per connections/open call, good for one websocket within TICKET_TTL_S."""
        ticket = secrets.token_urlsafe(16)
        self._tickets[ticket] = (time.monotonic(), subscriptions)
        return ticket

    @property
    def subscriptions(self) -> list[dict[str, str]]:
        """Topics of the current connection: a frame on any other topic would never be delivered."""
        return self._current().subscriptions

    @property
    def connected(self) -> bool:
        return bool(self._open)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        issued_at, subscriptions = self._tickets.pop(request.query.get("ticket", ""), (0.0, None))
        if subscriptions is None or time.monotonic() - issued_at > TICKET_TTL_S:
            # ASSUMED: DingTalk's answer to a bad, reused or expired ticket is not documented.
            raise ApiError(401, "invalidTicket", "ticket is invalid, expired or already used")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conn = _Connection(ws, request, subscriptions)
        self._open.append(conn)
        async with self._changed:
            self.connections += 1
            self._changed.notify_all()
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_ack(msg.data)
        finally:
            self._open.remove(conn)
            conn.closed.set()
        return ws

    def _on_ack(self, raw: str) -> None:
        """Match an ACK to its frame; anything unparsable is dropped, so its wait_ack times out."""
        try:
            ack = json.loads(raw)
        except ValueError:
            return
        if not isinstance(ack, dict):
            return
        self.acks.append(ack)
        message_id = ack.get("headers", {}).get("messageId", "")
        if message_id in self._event_ids:
            self.event_acks.append((self._event_ids[message_id], ack.get("code", 0), _status(ack)))
        hook = self._ack_hooks.pop(message_id, None)
        if hook is not None:
            hook(ack)
        future = self._acks.get(message_id)
        if future is None or future.done():
            future = self._acks[message_id] = asyncio.get_running_loop().create_future()
        future.set_result(ack)

    def _current(self, connection: int | None = None) -> _Connection:
        """The newest open connection, or the `connection`-th open one (0: the oldest)."""
        if not self._open:
            raise EmulatorError("no Stream connection is open")
        if connection is None:
            return self._open[-1]
        if not 0 <= connection < len(self._open):
            raise EmulatorError(f"no open Stream connection #{connection} ({len(self._open)} open)")
        return self._open[connection]

    def new_frame(self, frame_type: str, topic: str, data: dict[str, Any]) -> dict[str, Any]:
        return frame(frame_type, topic, data, app_id=self._app_id)

    async def push(
        self, pushed: dict[str, Any], on_ack: Callable[[dict[str, Any]], None] | None = None,
        connection: int | None = None,
    ) -> str:
        """Send a frame as is; an ACK for its messageId is awaited afresh even on redelivery.

        `on_ack` runs before `wait_ack` returns, so state an ACK carries is applied by then.
        `connection` picks an open connection by position (default: the newest).
        """
        conn = self._current(connection)
        headers = pushed["headers"]
        if pushed["type"] != "SYSTEM" and not self._subscribed(conn, pushed["type"], headers["topic"]):
            raise EmulatorError(f"client did not subscribe to {pushed['type']} {headers['topic']}")
        self._acks[headers["messageId"]] = asyncio.get_running_loop().create_future()
        if pushed["type"] == "EVENT":
            self._event_ids[headers["messageId"]] = headers.get("eventId", "")
        if on_ack is not None:
            self._ack_hooks[headers["messageId"]] = on_ack
        await conn.ws.send_str(json.dumps(pushed, ensure_ascii=False))
        return headers["messageId"]

    @staticmethod
    def _subscribed(conn: _Connection, frame_type: str, topic: str) -> bool:
        wanted = {"type": frame_type, "topic": topic if frame_type == "CALLBACK" else "*"}
        return any(sub.get("type") == wanted["type"] and sub.get("topic") == wanted["topic"]
                   for sub in conn.subscriptions)

    async def wait_ack(self, message_id: str, timeout: float = 5.0) -> dict[str, Any]:
        future = self._acks.setdefault(message_id, asyncio.get_running_loop().create_future())
        return await asyncio.wait_for(asyncio.shield(future), timeout)

    async def wait_connected(self, n: int = 1, timeout: float = 5.0) -> None:
        """Wait until `n` websockets were accepted in total, so a reconnect shows as n=2."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(lambda: self.connections >= n)

    async def ping(self, timeout: float = 5.0) -> dict[str, Any]:
        """SYSTEM ping; a live client echoes `data` back in its ACK (the SDK's SystemHandler does)."""
        data = {"opaque": str(uuid.uuid4())}  # ASSUMED payload: the SDK echoes whatever it gets
        ack = await self.wait_ack(await self.push(self.new_frame("SYSTEM", "ping", data)), timeout)
        if json.loads(ack.get("data") or "{}") != data:
            raise EmulatorError(f"ping was not echoed: {ack}")
        return ack

    async def disconnect(self, grace_s: float = 1.0) -> None:
        """SYSTEM disconnect, then close the socket unless the client left within `grace_s`."""
        conn = self._current()
        # ASSUMED payload: the SDK only looks at the topic.
        await self.push(self.new_frame("SYSTEM", "disconnect", {"reason": "emulator disconnect"}))
        try:
            await asyncio.wait_for(conn.closed.wait(), grace_s)
        except TimeoutError:
            await conn.ws.close(code=WSCloseCode.GOING_AWAY)

    async def drop_connection(self) -> None:
        """Cut the TCP connection with no close frame, like a network failure."""
        conn = self._current()
        transport = conn.request.transport
        if transport is not None:
            transport.abort()
        await conn.closed.wait()

    async def close_all(self) -> None:
        for conn in list(self._open):
            await conn.ws.close(code=WSCloseCode.GOING_AWAY)
            await conn.closed.wait()


def _status(ack: dict[str, Any]) -> str | None:
    """An event ACK's `status` (SUCCESS | LATER) from its data JSON string, which the protocol requires
    (CONFIRMED, developerpedia protocol.md); None when it is missing (e.g. data echoed back)."""
    try:
        data = json.loads(ack.get("data") or "{}")
    except (TypeError, ValueError):
        return None
    return data.get("status") if isinstance(data, dict) else None
