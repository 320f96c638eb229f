"""Interactive cards: template files, the builders of their data, and the reader of their callbacks.

`CARDS` is the registry the chat layer and the relay use: which template a card needs (and the env
var holding its id once imported into the card platform), which variables it has, and the function
that builds its `cardParamMap`. Builders are plain functions of data: no DingTalk, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cards.alert import alert_params
from cards.callback import CardAction, parse_callback
from cards.common import Action, outcome_markdown
from cards.guide import guide_card
from cards.mailbox_form import mailbox_form_params
from cards.mailbox_list import mailbox_list_params
from cards.result import result_params
from cards.templates.build import TEMPLATES, path_of


@dataclass(frozen=True)
class CardSpec:
    """One card. `kind="template"` cards need an imported template id; `"standard"` ones are built whole."""

    name: str
    kind: Literal["template", "standard"]
    builder: Callable[..., dict[str, Any]]
    template: Path | None = None
    env_var: str | None = None
    variables: frozenset[str] = frozenset()

    @property
    def setting(self) -> str | None:
        """The Settings field reading `env_var` (prefix MAILBOT_ stripped, lower case)."""
        return self.env_var.removeprefix("MAILBOT_").lower() if self.env_var else None


def _template_card(name: str, env_var: str, builder: Callable[..., dict[str, str]]) -> CardSpec:
    return CardSpec(name=name, kind="template", builder=builder, template=path_of(name), env_var=env_var,
                    variables=TEMPLATES[name]().variable_names)


CARDS: dict[str, CardSpec] = {
    spec.name: spec
    for spec in (
        _template_card("mailbox_form", "MAILBOT_CARD_TEMPLATE_MAILBOX_FORM", mailbox_form_params),
        _template_card("result", "MAILBOT_CARD_TEMPLATE_RESULT", result_params),
        _template_card("mailbox_list", "MAILBOT_CARD_TEMPLATE_MAILBOX_LIST", mailbox_list_params),
        _template_card("alert", "MAILBOT_CARD_TEMPLATE_ALERT", alert_params),
        CardSpec(name="guide", kind="standard", builder=guide_card),
    )
}

__all__ = [
    "CARDS",
    "Action",
    "CardAction",
    "CardSpec",
    "alert_params",
    "guide_card",
    "mailbox_form_params",
    "mailbox_list_params",
    "outcome_markdown",
    "parse_callback",
    "result_params",
]
