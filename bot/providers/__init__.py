"""The provider catalog: one data entry per mailbox type."""

from bot.providers.catalog import (
    CATALOG,
    PROVIDER_TYPES,
    Provider,
    Security,
    detect_type,
    get_provider,
)

__all__ = ["CATALOG", "PROVIDER_TYPES", "Provider", "Security", "detect_type", "get_provider"]
