"""The mailbox registry: model, validation and the service every front end uses."""

from bot.mailboxes.model import LastCheck, Mailbox, MailboxSpec, Caveat
from bot.mailboxes.service import Actor, MailboxService

__all__ = ["Actor", "LastCheck", "Mailbox", "MailboxService", "MailboxSpec", "Caveat"]
