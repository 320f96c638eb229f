"""Mail templates: jinja2 in a sandbox, StrictUndefined, HTML autoescaped (text is not).

Templates come from token holders, so rendering one is untrusted work: it runs in child processes
(`render_child.py`) that the bot kills past `MAILBOT_TEMPLATE_TIMEOUT_S`, whose memory is capped and
whose output stops at the mail size limit. The event loop only waits on a pipe; a template bomb
costs one child, restarted on the next render, and its sender gets a clear 422.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import sys
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.errors import FieldError, InvalidInput, NotFound
from bot.i18n import Text
from bot.relay.models import InlineTemplate
from bot.storage import Storage

log = logging.getLogger("mailbot.templates")
CHILD = Path(__file__).with_name("render_child.py")
BASE_MEMORY = 256 << 20  # the child's own interpreter and jinja2 stay well under this
OFF_LOOP_BYTES = 64 * 1024


def _bad(field: str, zh: str, en: str, example: str = "") -> InvalidInput:
    return InvalidInput([FieldError(field=field, problem=Text(zh=zh, en=en), example=example)])


class _Child:
    """One renderer process and its pipes; used by one request at a time."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, memory: int) -> _Child:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-I", str(CHILD), str(memory), env={},  # no secret of the bot's environment
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        return cls(proc)

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    async def ask(self, request: bytes) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(struct.pack(">I", len(request)) + request)
        await self.proc.stdin.drain()
        (length,) = struct.unpack(">I", await self.proc.stdout.readexactly(4))
        raw = await self.proc.stdout.readexactly(length)
        # an answer may carry megabytes of rendered mail: decoding it would hold the loop
        answer: dict[str, Any] = json.loads(raw) if length <= OFF_LOOP_BYTES else await asyncio.to_thread(json.loads, raw)
        return answer

    async def kill(self) -> None:
        if self.alive:
            with suppress(ProcessLookupError):
                self.proc.kill()
        await self.proc.wait()
        if self.proc.stdin is not None:
            self.proc.stdin.close()


class Renderer:
    """A small pool of renderer processes (started on first use), bounded in time, memory and output."""

    def __init__(self, *, timeout_s: float, max_chars: int, processes: int = 2) -> None:
        self.timeout_s = timeout_s
        self.max_chars = max_chars
        self._memory = BASE_MEMORY + 12 * max_chars  # str of max_chars (up to 4 bytes each), join and JSON copies
        self._slots: asyncio.Queue[_Child | None] = asyncio.Queue()
        for _ in range(processes):
            self._slots.put_nowait(None)
        self._all: set[_Child] = set()
        self._closed = False

    async def check(self, template: InlineTemplate, field: str = "template") -> None:
        """Compile every part: a syntax error is an InvalidInput on `field.part`."""
        if template.text is None and template.html is None:
            raise _bad(field, "模板需要 text 或 html", "a template needs text or html", '{"subject": "..", "text": ".."}')
        await self._run("check", template, {}, field)

    async def render(self, template: InlineTemplate, variables: dict[str, Any], field: str = "template") -> InlineTemplate:
        """Render every part; a missing variable is an InvalidInput on `variables` naming it."""
        out = await self._run("render", template, variables, field)
        return InlineTemplate.model_validate(out)

    async def _run(self, op: str, template: InlineTemplate, variables: dict[str, Any], field: str) -> dict[str, Any]:
        if self._closed:
            raise RuntimeError("renderer closed")
        request = {"op": op, "template": template.model_dump(), "variables": variables, "max_chars": self.max_chars}
        data = json.dumps(request, ensure_ascii=False, default=str).encode() if not variables else \
            await asyncio.to_thread(lambda: json.dumps(request, ensure_ascii=False, default=str).encode())
        child = await self._slots.get()
        try:
            if child is None or not child.alive:
                child = await _Child.start(self._memory)
                self._all.add(child)
            try:
                answer = await asyncio.wait_for(child.ask(data), self.timeout_s)
            except BaseException as exc:
                # Its answer may still come: a child interrupted mid-request never serves another one.
                await self._discard(child)
                child = None
                if isinstance(exc, TimeoutError):
                    log.warning("template %s stopped: over %g s", op, self.timeout_s)
                    raise self._too_slow(field) from None
                if isinstance(exc, (asyncio.IncompleteReadError, ConnectionError)):
                    log.warning("template %s stopped: the renderer died", op)
                    raise self._too_much(field) from None
                raise
        finally:
            self._slots.put_nowait(child)
        if "ok" in answer:
            return dict(answer["ok"])
        raise self._error(answer, field)

    async def _discard(self, child: _Child) -> None:
        self._all.discard(child)
        await child.kill()

    def _too_slow(self, field: str) -> InvalidInput:
        s = f"{self.timeout_s:g}"
        return _bad(field, f"模板渲染超过 {s} 秒，已中止（循环或计算过多）",
                    f"the template took longer than {s} s to render and was stopped (too many loops or too much work)")

    def _too_much(self, field: str) -> InvalidInput:
        return _bad(field, "模板渲染用尽了内存上限，已中止", "the template used up its memory limit and was stopped")

    def _error(self, answer: dict[str, Any], field: str) -> InvalidInput:
        kind, part, detail = answer["error"], answer.get("part") or "", answer.get("detail") or ""
        where = f"{field}.{part}" if part else field
        if kind == "undefined":
            return _bad("variables", f"模板变量缺失：{detail}", f"template variable missing: {detail}", '{"name": "Alice"}')
        if kind == "syntax":
            return _bad(where, f"模板语法错误：{detail}", f"template syntax error: {detail}")
        if kind == "too_big":
            mb = f"{self.max_chars / 1024 / 1024:g}"
            return _bad(where, f"模板输出超过邮件大小上限（{mb} MB），已中止",
                        f"the template's output passed the mail size limit ({mb} MB) and was stopped")
        if kind == "memory":
            return self._too_much(where)
        return _bad(where, f"模板无法渲染：{detail}", f"template cannot render: {detail}")

    async def close(self) -> None:
        self._closed = True
        for child in list(self._all):
            await self._discard(child)


class TemplateStore:
    def __init__(self, storage: Storage, renderer: Renderer) -> None:
        self._table = storage.table("templates")
        self.renderer = renderer

    async def add(self, name: str, template: InlineTemplate) -> dict[str, Any]:
        if not name or len(name) > 64:
            raise _bad("name", "名称需 1–64 个字符", "the name needs 1-64 characters", "approval")
        await self.renderer.check(template)
        doc = {"name": name, **template.model_dump(), "updated_at": datetime.now(UTC).isoformat()}
        await self._table.put(name, doc)
        return doc

    async def get(self, name: str) -> InlineTemplate:
        doc = await self._table.get(name)
        if doc is None:
            raise NotFound(Text(zh=f"没有名为“{name}”的模板。", en=f"There is no template named '{name}'."),
                           Text(zh="用 `mailbot template list` 查看已有模板。",
                                en="See the stored ones with `mailbot template list`."))
        return InlineTemplate(subject=doc["subject"], text=doc.get("text"), html=doc.get("html"))

    async def show(self, name: str) -> dict[str, Any]:
        await self.get(name)
        return await self._table.get(name) or {}

    async def list(self) -> list[dict[str, Any]]:
        return [doc for _, doc in await self._table.items()]

    async def remove(self, name: str) -> None:
        if not await self._table.delete(name):
            await self.get(name)
