"""The guide card: a display-only StandardCard built in code, so it needs no template id.

StandardCard (`/v1.0/im/v1.0/robot/interactiveCards/send`) has markdown and `openLink` buttons, which
is all a guide needs; its `request` buttons give no Stream callback, so none are used here.
Shape as in dingtalk-stream's `interactive_card.py` samples.
"""

from __future__ import annotations

from typing import Any

from bot.guides import get_guide
from bot.guides.data import GUIDES
from bot.i18n import Text
from bot.providers import CATALOG
from cards.common import lang_of

_OPEN = Text(zh="打开官方说明", en="Open the official page")


def links(type_key: str) -> list[tuple[str, Text]]:
    """(url, label): the catalog's help page first, then the guide's own pages, without repeats."""
    help_url = CATALOG[type_key].help_url
    found: dict[str, Text] = {help_url: _OPEN} if help_url else {}
    for link in GUIDES[type_key].links:
        found.setdefault(link.url, link.label)
    return list(found.items())


def guide_card(lang: str, type_key: str) -> dict[str, Any]:
    """StandardCard JSON with the full guide for `type_key`; KeyError for `custom` or an unknown type."""
    lang = lang_of(lang)
    guide = get_guide(type_key, lang, full=True)
    body = guide.reply.split("\n", 1)[1] if "\n" in guide.reply else guide.reply
    buttons = [
        {"type": "button", "label": {"type": "text", "text": label(lang), "id": f"guide_link_label_{i}"},
         "actionType": "openLink", "url": {"all": url}, "status": "primary" if i == 0 else "normal",
         "id": f"guide_link_{i}"}
        for i, (url, label) in enumerate(links(type_key))
    ]
    return {
        "config": {"autoLayout": True, "enableForward": True},
        "header": {"title": {"type": "text", "text": guide.title}},
        "contents": [{"type": "markdown", "text": body.replace("\n", "\n\n"), "id": "guide_steps"},
                     {"type": "action", "actions": buttons, "id": "guide_links"}],
    }
