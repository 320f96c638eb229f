"""Stored mail templates: jinja2 in a sandbox, StrictUndefined, HTML autoescaped (text is not)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jinja2 import StrictUndefined, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from bot.errors import FieldError, InvalidInput, NotFound
from bot.i18n import Text
from bot.relay.models import InlineTemplate
from bot.storage import Storage

_TEXT = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_HTML = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True, keep_trailing_newline=True)


def _bad(field: str, zh: str, en: str, example: str = "") -> InvalidInput:
    return InvalidInput([FieldError(field=field, problem=Text(zh=zh, en=en), example=example)])


def check_syntax(template: InlineTemplate, field: str = "template") -> None:
    for part, env in (("subject", _TEXT), ("text", _TEXT), ("html", _HTML)):
        source = getattr(template, part)
        if source is None:
            continue
        try:
            env.from_string(source)
        except TemplateError as exc:
            raise _bad(f"{field}.{part}", f"模板语法错误：{exc}", f"template syntax error: {exc}") from None
    if template.text is None and template.html is None:
        raise _bad(field, "模板需要 text 或 html", "a template needs text or html", '{"subject": "..", "text": ".."}')


def render(template: InlineTemplate, variables: dict[str, Any]) -> InlineTemplate:
    """Render every part; a missing variable is an InvalidInput on `variables` naming it."""
    out: dict[str, str | None] = {}
    for part, env in (("subject", _TEXT), ("text", _TEXT), ("html", _HTML)):
        source = getattr(template, part)
        try:
            out[part] = None if source is None else env.from_string(source).render(variables)
        except UndefinedError as exc:
            raise _bad("variables", f"模板变量缺失：{exc.message}", f"template variable missing: {exc.message}",
                       '{"name": "Alice"}') from None
        except TemplateError as exc:
            raise _bad("template", f"模板无法渲染：{exc}", f"template cannot render: {exc}") from None
    return InlineTemplate.model_validate(out)


class TemplateStore:
    def __init__(self, storage: Storage) -> None:
        self._table = storage.table("templates")

    async def add(self, name: str, template: InlineTemplate) -> dict[str, Any]:
        if not name or len(name) > 64:
            raise _bad("name", "名称需 1–64 个字符", "the name needs 1-64 characters", "approval")
        check_syntax(template)
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
