"""In-process chat adapter for the web console: page requests → IncomingMessage, replies → JSON.

It plays DingTalk's part: who is speaking (a console admin or member), in which conversation (a
single chat per persona, one group), and it keeps what a DingTalk client would show — the
transcript and each delivered card's current data, so a CardUpdate re-renders the card in place.
A message sent right after a reply that asked for a secret is shown masked and never kept.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.chat.cards import CallbackResult
from bot.chat.router import MAX_MESSAGE_CHARS
from bot.chat.messages import CardReply, CardUpdate, IncomingMessage, MarkdownReply, Reply, TextReply
from bot.console.markdown import text_to_html, to_html
from bot.console.render import render_card

Handle = Callable[[IncomingMessage], Awaitable[list[Reply]]]
OnCallback = Callable[[dict[str, Any]], Awaitable[CallbackResult]]
PersonaName = Literal["admin", "member"]
ConversationName = Literal["admin", "member", "group"]
MASK = "••••••"
MAX_TRANSCRIPT = 300


@dataclass(frozen=True)
class Persona:
    staff_id: str
    nick: str
    is_admin: bool


PERSONAS: dict[str, Persona] = {
    "admin": Persona("console-admin", "Console admin", True),
    "member": Persona("console-member", "Console member", False),
}
GROUP = "group"


@dataclass
class _Card:
    card: str
    params: dict[str, str]
    fallback: str
    conversation: str
    entry: dict[str, Any]


@dataclass
class _Conversation:
    entries: list[dict[str, Any]] = field(default_factory=list)
    expects_secret: set[str] = field(default_factory=set)  # personas whose next message is a secret


class ConsoleChat:
    """Conversations "admin" and "member" are single chats with that persona; "group" has both."""

    def __init__(self, handle: Handle, on_callback: OnCallback) -> None:
        self.handle = handle
        self.on_callback = on_callback
        self._conversations: dict[str, _Conversation] = {}
        self._cards: dict[str, _Card] = {}
        self._ids = itertools.count(1)

    def _conversation(self, name: str) -> _Conversation:
        return self._conversations.setdefault(name, _Conversation())

    def history(self, conversation: str) -> list[dict[str, Any]]:
        return list(self._conversation(conversation).entries)

    def _add(self, conversation: str, entry: dict[str, Any]) -> dict[str, Any]:
        entries = self._conversation(conversation).entries
        entry["id"] = next(self._ids)
        entries.append(entry)
        del entries[:-MAX_TRANSCRIPT]
        return entry

    async def send(self, conversation: ConversationName, persona: PersonaName, text: str) -> list[dict[str, Any]]:
        """One message from the page; returns the new transcript entries (the message and the replies)."""
        who = PERSONAS[persona]
        state = self._conversation(conversation)
        secret = persona in state.expects_secret
        state.expects_secret.discard(persona)
        group = conversation == GROUP
        shown = text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + "…"  # the router refuses it
        out = [self._add(conversation, {"from": "user", "persona": persona, "kind": "text", "secret": secret,
                                        "html": MASK if secret else text_to_html(shown)})]
        msg = IncomingMessage(
            text=text, sender_id=who.staff_id, sender_staff_id=who.staff_id, sender_nick=who.nick,
            is_admin=who.is_admin, conversation_id=f"console-{'group' if group else 'single-' + persona}",
            conversation_type="group" if group else "single", msg_id=f"console-{next(self._ids)}", source="console",
        )
        replies = await self.handle(msg)
        if any(getattr(r, "expects_secret", False) for r in replies):
            state.expects_secret.add(persona)
        return out + self._replies(conversation, replies)

    async def push(self, replies: list[Reply]) -> None:
        """Messages nobody typed a line for (a sign-in that finished meanwhile): into the single chat of
        the persona they are for; the page picks them up when it next reads the transcript."""
        for reply in replies:
            to = getattr(reply, "private_to", None)
            persona = next((name for name, who in PERSONAS.items() if who.staff_id == to), "admin")
            self._replies(persona, [reply])

    def expects_secret(self, conversation: str, persona: str) -> bool:
        """Whether the page should take the next message as a password (no echo, no autocomplete)."""
        return persona in self._conversation(conversation).expects_secret

    async def callback(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        """A card button or form submit, in DingTalk's callback shape, to the card callback handler.

        As the DingTalk adapter does: the ACK's update first, then the slow part's replies.
        """
        card = self._cards.get(str(data.get("outTrackId", "")))
        result = await self.on_callback(data)
        replies: list[Reply] = ([result.ack] if result.ack else []) + list(result.extra)
        if result.later is not None:
            replies += await result.later()
        return self._replies(card.conversation if card else "admin", replies)

    def _replies(self, conversation: str, replies: list[Reply]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for reply in replies:
            if isinstance(reply, CardUpdate):
                if (update := self._update(reply)) is not None:
                    out.append(update)
            elif isinstance(reply, CardReply):
                out.append(self._deliver(conversation, reply))
            elif isinstance(reply, MarkdownReply):
                out.append(self._add(conversation, {"from": "bot", "kind": "markdown", "html": to_html(reply.text)}))
            elif isinstance(reply, TextReply):
                out.append(self._add(conversation, {"from": "bot", "kind": "text", "html": text_to_html(reply.text)}))
        return out

    def _deliver(self, conversation: str, reply: CardReply) -> dict[str, Any]:
        entry = self._add(conversation, {"from": "bot", "kind": "card", "card_id": reply.out_track_id, "html": ""})
        card = _Card(reply.card, dict(reply.params), reply.fallback.text, conversation, entry)
        self._cards[reply.out_track_id] = card
        entry["html"] = self._render(reply.out_track_id, card)
        return entry

    def _update(self, reply: CardUpdate) -> dict[str, Any] | None:
        card = self._cards.get(reply.out_track_id)
        if card is None:
            return None
        card.params.update(reply.params)
        card.entry["html"] = self._render(reply.out_track_id, card)
        return {"kind": "card_update", "card_id": reply.out_track_id, "html": card.entry["html"]}

    @staticmethod
    def _render(card_id: str, card: _Card) -> str:
        return render_card(card.card, card.params, card_id=card_id, fallback_markdown=card.fallback)
