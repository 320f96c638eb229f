"""The provider catalog: one data entry per mailbox type."""

from bot.providers.catalog import (
    CATALOG,
    OAuthRoute,
    PROVIDER_TYPES,
    Provider,
    Security,
    detect_type,
    get_provider,
)

__all__ = ["CATALOG", "OAuthRoute", "PROVIDER_TYPES", "Provider", "Security", "detect_type", "get_provider"]
