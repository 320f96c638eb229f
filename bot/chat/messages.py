"""Plain data passed between adapters and the router: what a user said, what the bot answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.audit import Actor
from bot.i18n import Lang, detect_lang

ConversationType = Literal["single", "group"]


@dataclass(frozen=True)
class IncomingMessage:
    """One chat message; `is_admin` is already resolved (platform admin flag or MAILBOT_ADMINS).

    `text` may be a secret (the wizard's secret step), so repr never shows it.
    """

    text: str
    sender_id: str
    sender_staff_id: str
    sender_nick: str | None = None
    is_admin: bool = False
    conversation_id: str = ""
    conversation_type: ConversationType = "single"
    msg_id: str = ""
    lang: Lang | None = None
    source: str = "dingtalk"

    def __repr__(self) -> str:
        return (f"IncomingMessage(sender={self.sender_staff_id!r}, conversation={self.conversation_id!r}, "
                f"type={self.conversation_type}, msg_id={self.msg_id!r}, text=<{len(self.text)} chars>)")

    @property
    def language(self) -> Lang:
        return self.lang or detect_lang(self.text)

    @property
    def private(self) -> bool:
        return self.conversation_type == "single"

    def actor(self) -> Actor:
        return Actor(id=self.sender_staff_id, name=self.sender_nick, source=self.source, is_admin=self.is_admin)


@dataclass(frozen=True)
class TextReply:
    """Plain text. `expects_secret` tells a terminal front end to read the next line without echo;
    `private_to` sends it to that user's single chat with the bot instead of the current conversation."""

    text: str
    expects_secret: bool = False
    private_to: str | None = None


@dataclass(frozen=True)
class MarkdownReply:
    """DingTalk markdown; `title` is what the notification preview shows."""

    title: str
    text: str
    expects_secret: bool = False
    private_to: str | None = None


@dataclass(frozen=True)
class CardReply:
    """An interactive card: `card` is a key of `cards.CARDS`, `params` its cardParamMap (strings only).

    `out_track_id` identifies the card instance; later `CardUpdate`s with the same id change it in
    place. `fallback` is what a front end without that card template shows instead. `private_to`
    sends it to that user's single chat with the bot instead of the current conversation.
    """

    card: str
    params: dict[str, str]
    out_track_id: str
    fallback: MarkdownReply
    private_to: str | None = None
    lang: str = "zh"  # of the card, for what a front end adds when it cannot show it


@dataclass(frozen=True)
class CardUpdate:
    """New values for variables of a delivered card (merged by key, as DingTalk's update does)."""

    out_track_id: str
    params: dict[str, str]


Reply = TextReply | MarkdownReply | CardReply | CardUpdate
