"""Answers to "how do I get the QQ/163/Gmail 授权码?" for every built-in mailbox type.

The chat layer calls `answer(question)`; error hints use `short_guide(type, lang)`,
or `guide_for(error, lang)` when the error's fix points to it.
"""

from bot.guides.matcher import GUIDE_TYPES, match
from bot.guides.model import GuideAnswer, GuideEntry, MatchResult, SmtpInfo
from bot.guides.service import answer, get_guide, guide_for, list_guides, short_guide

__all__ = [
    "GUIDE_TYPES",
    "GuideAnswer",
    "GuideEntry",
    "MatchResult",
    "SmtpInfo",
    "answer",
    "get_guide",
    "guide_for",
    "list_guides",
    "match",
    "short_guide",
]
