"""A loopback DingTalk for tests, benchmarks and the local console: OpenAPI, Stream gateway, webhooks."""

from bot.emulator.models import (
    ApiError,
    Call,
    CardInstance,
    ChatPush,
    EmulatorError,
    RobotMessage,
    WebhookMessage,
)
from bot.emulator.server import DingTalkEmulator

__all__ = [
    "ApiError",
    "Call",
    "CardInstance",
    "ChatPush",
    "DingTalkEmulator",
    "EmulatorError",
    "RobotMessage",
    "WebhookMessage",
]
