"""The chat layer: message objects, the intent router, command handlers and the "new mailbox" wizard.

Nothing here knows DingTalk: adapters (`bot.adapters`) turn their frames into `IncomingMessage`
and send the reply objects back.
"""

from bot.chat.messages import IncomingMessage, MarkdownReply, Reply, TextReply
from bot.chat.router import Router

__all__ = ["IncomingMessage", "MarkdownReply", "Reply", "Router", "TextReply"]
