"""RuleService: the one place that adds, lists, switches and removes approval notification rules.

Every front end (CLI now; chat and console later) calls this and stays thin. Rules live in the
`approval_rules` table, one row per name; changes go by compare-and-set so two instances (or a CLI
next to a running bot) never overwrite each other, and every change lands in the audit log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.audit import Actor, AuditLog
from bot.errors import Conflict, FieldError, InvalidInput, NotFound
from bot.i18n import Text
from bot.mailboxes import MailboxService
from bot.relay.templates import TemplateStore
from bot.rules.model import ApprovalEvent, Rule, parse_rule
from bot.storage import Storage

MAX_RULES = 200  # an organisation's approval forms, not an unbounded list: listing and matching stay cheap


def _not_found(name: str) -> NotFound:
    return NotFound(Text(zh=f"没有名为“{name}”的通知规则。", en=f"There is no notification rule named '{name}'."),
                    Text(zh="用 `mailbot rule list` 查看已有规则。", en="See the existing ones with `mailbot rule list`."))


def _changed(name: str) -> Conflict:
    return Conflict(Text(zh=f"规则“{name}”刚被别人改过。", en=f"The rule '{name}' was just changed by someone else."),
                    Text(zh="请重新查看后再试。", en="Look at it again and retry."))


def _field(field: str, zh: str, en: str, example: str = "") -> FieldError:
    return FieldError(field=field, problem=Text(zh=zh, en=en), example=example)


class RuleService:
    def __init__(self, storage: Storage, mailboxes: MailboxService, templates: TemplateStore, audit: AuditLog) -> None:
        self._table = storage.table("approval_rules")
        self.mailboxes = mailboxes
        self.templates = templates
        self.audit = audit
        self._cache: tuple[object, list[Rule]] | None = None  # (table version, rules): events read no rows while nothing changed

    async def list(self) -> list[Rule]:
        version = await self._table.version()
        if self._cache is None or self._cache[0] != version:
            self._cache = (version, [Rule.model_validate(doc) for _, doc in await self._table.items()])
        return list(self._cache[1])

    async def get(self, name: str) -> Rule:
        doc = await self._table.get(name)
        if doc is None:
            raise _not_found(name)
        return Rule.model_validate(doc)

    async def matching(self, event: ApprovalEvent) -> list[Rule]:
        """The enabled rules this event triggers."""
        return [rule for rule in await self.list() if rule.matches(event)]

    async def add(self, data: dict[str, Any], actor: Actor) -> Rule:
        """Validate, check that the mailbox and the template exist, then save (a taken name is refused)."""
        spec = parse_rule(data)
        errors: list[FieldError] = []
        if await self.mailboxes.find(spec.mailbox) is None:
            errors.append(_field("mailbox", f"没有名为“{spec.mailbox}”的邮箱（用 `mailbot mailbox list` 查看）",
                                 f"there is no mailbox named '{spec.mailbox}' (see `mailbot mailbox list`)"))
        try:
            await self.templates.get(spec.template)
        except NotFound:
            errors.append(_field("template", f"没有名为“{spec.template}”的模板（先用 `mailbot template add` 保存）",
                                 f"there is no template named '{spec.template}' (store it first with "
                                 "`mailbot template add`)"))
        if await self._table.get(spec.name) is not None:
            errors.append(self._taken(spec.name))
        elif await self._table.count() >= MAX_RULES:
            errors.append(_field("name", f"已有 {MAX_RULES} 条规则，达到上限；先删除不用的规则",
                                 f"there are already {MAX_RULES} rules, the limit; remove unused ones first"))
        if errors:
            raise InvalidInput(errors)
        now = datetime.now(UTC)
        rule = Rule(**spec.model_dump(), created_by=actor.label(), created_at=now, updated_by=actor.label(),
                    updated_at=now)
        if not await self._table.put_if(rule.name, rule.model_dump(mode="json"), None):
            raise InvalidInput([self._taken(rule.name)])  # another process added it meanwhile
        await self.audit.record(actor, "rule_add", rule.name, {
            k: v for k, v in rule.public().items() if k in ("process_code", "on", "result", "mailbox", "template", "to")})
        return rule

    @staticmethod
    def _taken(name: str) -> FieldError:
        return _field("name", f"名称“{name}”已被使用，请换一个", f"the name '{name}' is already taken; pick another",
                      f"{name}-2")

    async def remove(self, name: str, actor: Actor) -> Rule:
        raw = await self._table.get(name)
        if raw is None:
            raise _not_found(name)
        if not await self._table.put_if(name, None, raw):
            raise _changed(name)
        rule = Rule.model_validate(raw)
        await self.audit.record(actor, "rule_remove", name, {"process_code": rule.process_code})
        return rule

    async def set_enabled(self, name: str, enabled: bool, actor: Actor) -> Rule:
        raw = await self._table.get(name)
        if raw is None:
            raise _not_found(name)
        rule = Rule.model_validate(raw)
        if rule.enabled == enabled:
            return rule
        updated = rule.model_copy(update={"enabled": enabled, "version": rule.version + 1,
                                          "updated_by": actor.label(), "updated_at": datetime.now(UTC)})
        if not await self._table.put_if(name, updated.model_dump(mode="json"), raw):
            raise _changed(name)
        await self.audit.record(actor, "rule_enable" if enabled else "rule_disable", name,
                                {"enabled": [not enabled, enabled]})
        return updated
