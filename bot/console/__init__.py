"""Local web console: the whole bot (chat, cards, mailboxes, outbox, audit) in a browser."""
