"""Shapes of the guide knowledge base and of what the matcher and the service hand back."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.i18n import Lang, Text
from bot.providers.catalog import Security

AnswerKind = Literal["guide", "ask", "unsupported", "none"]


class Link(BaseModel):
    """An official help page, labelled so a chat reply can say what it is for."""

    model_config = ConfigDict(frozen=True)
    url: str
    label: Text


class Guide(BaseModel):
    """How to get the login secret for one mailbox type; SMTP facts come from the catalog."""

    model_config = ConfigDict(frozen=True)
    type: str
    title: Text
    path: Text = Field(description="one line: where to click, for the short form")
    steps: tuple[Text, ...]
    enable_smtp: Text = Field(description="whether SMTP must be switched on, and how")
    secret: Text = Field(description="what goes into the bot's password field")
    pitfalls: tuple[Text, ...] = Field(description="the first is the one the short form shows")
    links: tuple[Link, ...] = Field(description="official pages besides the catalog's help_url")


class Unsupported(BaseModel):
    """A provider with no built-in type: the user can still add it as `custom` with these settings."""

    model_config = ConfigDict(frozen=True)
    key: str
    name: Text
    aliases: tuple[str, ...]
    domains: tuple[str, ...] = ()
    host: str
    port: int
    security: Security
    secret: Text


class Family(BaseModel):
    """A vague name ("网易邮箱", "企业邮箱") covering several types; qualifiers may narrow it."""

    model_config = ConfigDict(frozen=True)
    aliases: tuple[str, ...]
    members: tuple[str, ...]
    needs: Literal["context", "intent", "adjacent"]


class ErrorSignature(BaseModel):
    """Text a provider's SMTP server puts in its replies, pointing at one or more types."""

    model_config = ConfigDict(frozen=True)
    pattern: str
    types: tuple[str, ...]
    weight: float = 1.0


class SmtpInfo(BaseModel):
    """Server settings shown with a guide."""

    model_config = ConfigDict(frozen=True)
    host: str
    port: int
    security: Security


class MatchResult(BaseModel):
    """What the matcher concluded from free text, with the evidence it used (for debugging)."""

    model_config = ConfigDict(frozen=True)
    kind: AnswerKind
    type: str | None = None
    candidates: tuple[str, ...] = ()
    unsupported: str | None = None
    evidence: tuple[str, ...] = ()
    lang: Lang | None = Field(None, description="language of the words around the names ('QQ' alone says nothing)")


class GuideAnswer(BaseModel):
    """One reply for the chat layer and the CLI; `model_dump()` is the CLI's --json object."""

    type: str | None
    kind: AnswerKind
    lang: Literal["zh", "en"]
    title: str
    steps: list[str]
    smtp: SmtpInfo | None
    links: list[str]
    reply: str
    pitfalls: list[str] = Field(default_factory=list)
    choices: list[str] = Field(default_factory=list, description="type keys to pick from when kind is 'ask'")


class GuideEntry(BaseModel):
    """One line of `list_guides`."""

    model_config = ConfigDict(frozen=True)
    type: str
    name: str
    title: str
