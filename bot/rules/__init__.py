"""Approval notification rules (issue 15): DingTalk approval events turned into relay mail."""

from bot.rules.model import ApprovalEvent, Rule, RuleSpec
from bot.rules.service import RuleService

__all__ = ["ApprovalEvent", "Rule", "RuleService", "RuleSpec"]
