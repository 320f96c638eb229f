"""A loopback DingTalk for tests, benchmarks and the local console: OpenAPI, Stream gateway, webhooks;
and loopback Microsoft / Google OAuth issuers for XOAUTH2 sign-in."""

from bot.emulator.models import (
    ApiError,
    Call,
    CardInstance,
    ChatPush,
    EmulatorError,
    RobotMessage,
    WebhookMessage,
)
from bot.emulator.oauth import OAuthEmulator
from bot.emulator.server import DingTalkEmulator

__all__ = [
    "ApiError",
    "Call",
    "CardInstance",
    "ChatPush",
    "DingTalkEmulator",
    "EmulatorError",
    "OAuthEmulator",
    "RobotMessage",
    "WebhookMessage",
]
