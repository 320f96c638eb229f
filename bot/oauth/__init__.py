"""OAuth2 sign-in for mailboxes whose providers refuse passwords (XOAUTH2 on SMTP)."""

from bot.oauth.client import CodeGrant, DeviceGrant, OAuthClient, TokenSet
from bot.oauth.redirect import parse_redirect

__all__ = ["CodeGrant", "DeviceGrant", "OAuthClient", "TokenSet", "parse_redirect"]
