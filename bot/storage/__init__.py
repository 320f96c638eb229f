"""Storage: a small async table interface and its embedded sqlitedict backend."""

from bot.storage.base import Storage, Table
from bot.storage.sqlite import SqliteStorage

__all__ = ["SqliteStorage", "Storage", "Table"]
