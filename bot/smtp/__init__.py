"""SMTP: sessions (connect, TLS, login), failure classification and message building."""

from bot.smtp.classify import classify
from bot.smtp.message import build_message
from bot.smtp.session import ServerSettings, SmtpSession, check_login

__all__ = ["ServerSettings", "SmtpSession", "build_message", "check_login", "classify"]
