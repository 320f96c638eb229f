"""Dialog flows ("新建邮箱", remove confirmation, new secret): one small JSON document per user and
conversation in the `wizards` table, so an open flow survives a restart and is seen by every
instance on the store.

A step is a compare-and-set against the document as it was loaded: when two instances take a step
of the same flow at once (two messages of one user handled in two places), one wins and the other
gets `Superseded` and answers nothing, so a flow never moves on twice or forks. Starting a flow
replaces whatever the key held (a newer dialog replaces an older one).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.storage import Storage

PRIVATE = "@private"  # the conversation key of a flow moved to the user's single chat


class Superseded(Exception):
    """Another instance (or another message) changed the flow since it was loaded: this step is not
    taken; the caller answers nothing (the winner answers)."""


@dataclass
class Flow:
    """A conversation's open flow. `state` is a step field, "secret", "signin" (an OAuth2 sign-in: `data`
    holds its id, never its device code or verifier), "failed", "amend" or "confirm_remove"."""

    kind: str  # "new" | "edit_secret" | "remove" | "reauth"
    state: str
    lang: str
    data: dict[str, Any]
    touched: float
    origin: str = ""
    run: str = ""  # App.run_id of the run that last saved it
    stored: dict[str, Any] | None = field(default=None, compare=False, repr=False)  # as loaded: what a step expects

    def dump(self) -> dict[str, Any]:
        """A copy: changing the flow later never changes what a step expects."""
        return copy.deepcopy({k: v for k, v in self.__dict__.items() if k != "stored"})

    @classmethod
    def load(cls, raw: dict[str, Any]) -> Flow:
        fields = copy.deepcopy({k: v for k, v in raw.items() if k in cls.__dataclass_fields__ and k != "stored"})
        return cls(**fields, stored=raw)


@dataclass
class Loaded:
    key: str | None
    flow: Flow | None
    expired: bool = False


class Flows:
    """Flows by `user|conversation`; stale ones expire on read.

    The set of open keys is cached until the table's version changes (any writer, any process), so
    the common message with no open flow costs no storage read.
    """

    def __init__(self, storage: Storage, idle_s: float, clock: Callable[[], float] = time.time, run: str = "") -> None:
        self._table = storage.table("wizards")
        self._keys: set[str] = set()
        self._version: object = object()
        self.idle_s = idle_s
        self.clock = clock
        self.run = run
        self.started = clock()

    def resumed(self, flow: Flow) -> bool:
        """Left open by an earlier run of the bot (a restart, the last `mailbot shell`): last saved by
        another run before this one started. A flow another instance moved on meanwhile is live."""
        return flow.run != self.run and flow.touched < self.started

    async def _open_keys(self) -> set[str]:
        version = await self._table.version()  # before reading: a change meanwhile shows at the next call
        if version != self._version:
            self._keys = {key for key, _ in await self._table.items()}
            self._version = version
        return self._keys

    @staticmethod
    def key(user: str, conversation: str) -> str:
        return f"{user}|{conversation}"

    async def load(self, user: str, conversation: str, *, private: bool) -> Loaded:
        """The sender's open flow here; single chats also pick up flows moved to @private. An expired
        one is dropped and returned with `expired` set."""
        keys = [self.key(user, conversation)] + ([self.key(user, PRIVATE)] if private else [])
        open_keys = await self._open_keys()
        for key in keys:
            raw = await self._table.get(key) if key in open_keys else None
            if raw is None:
                continue
            flow = Flow.load(raw)
            if self.clock() - flow.touched > self.idle_s and self.clock() > float(flow.data.get("wait_until", 0)):
                await self._table.put_if(key, None, raw)  # lost: another instance already moved it on or dropped it
                return Loaded(key, flow, expired=True)
            return Loaded(key, flow)
        return Loaded(None, None)

    async def get(self, key: str) -> Flow | None:
        """The flow at `key` as stored now (work that outlives a message, e.g. a sign-in wait, checks
        its flow is still the one it started before it moves it on)."""
        raw = await self._table.get(key)
        return None if raw is None else Flow.load(raw)

    async def start(self, key: str, flow: Flow) -> None:
        """Open `flow` at `key`, replacing any flow there."""
        doc = self._stamp(flow)
        await self._table.put(key, doc)
        flow.stored = doc

    async def save(self, key: str, flow: Flow) -> None:
        """Take a step: store `flow` if the key still holds what it was loaded as (else Superseded).
        A flow never stored (just built) is started."""
        if flow.stored is None:
            return await self.start(key, flow)
        doc = self._stamp(flow)
        if not await self._table.put_if(key, doc, flow.stored):
            raise Superseded(key)
        flow.stored = doc

    async def drop(self, key: str, flow: Flow | None = None) -> None:
        """Close the flow at `key`; with `flow`, only if it is still as loaded (else Superseded)."""
        if flow is None or flow.stored is None:
            await self._table.delete(key)
        elif not await self._table.put_if(key, None, flow.stored):
            raise Superseded(key)
        if flow is not None:
            flow.stored = None

    def _stamp(self, flow: Flow) -> dict[str, Any]:
        flow.touched = self.clock()
        flow.run = self.run
        return flow.dump()
