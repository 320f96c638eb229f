"""mailbot: a DingTalk chat-ops bot that keeps sending mailboxes and relays workflow mail."""

__version__ = "0.1.0"
