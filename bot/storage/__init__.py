"""Storage: the contract services use (base), the embedded sqlitedict backend and PostgreSQL."""

from __future__ import annotations

from bot.config import Settings
from bot.storage.base import Page, Queue, Storage, Table
from bot.storage.sqlite import SqliteStorage

__all__ = ["Page", "Queue", "SqliteStorage", "Storage", "Table", "open_storage"]


def open_storage(settings: Settings) -> Storage:
    """PostgreSQL when MAILBOT_DATABASE_URL is set, else the embedded store in MAILBOT_DATA_DIR.
    Call `await storage.open()` before use."""
    if settings.database_url is not None:
        from bot.storage.postgres import PostgresStorage  # asyncpg is loaded only when it is used

        return PostgresStorage(settings.database_url.get_secret_value())
    return SqliteStorage(settings.data_dir)
