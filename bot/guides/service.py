"""Guide answers for the chat layer and the CLI: text in, a ready reply out, nothing DingTalk-specific."""

from __future__ import annotations

import re

from bot.errors import SmtpError
from bot.guides import data
from bot.guides.matcher import GUIDE_TYPES, match
from bot.guides.model import GuideAnswer, GuideEntry, MatchResult, SmtpInfo, Unsupported
from bot.i18n import Lang, Text, detect_lang
from bot.providers.catalog import CATALOG, Provider

_FULL = re.compile(data.FULL_PATTERN)
_UNSUPPORTED = {u.key: u for u in data.UNSUPPORTED}

_WHERE = Text(zh="去哪里：", en="Where: ")
_SECRET = Text(zh="密码栏：", en="Password field: ")
_SERVER = Text(zh="服务器：", en="Server: ")
_WATCH = Text(zh="注意：", en="Watch out: ")
_ENABLE = Text(zh="开启 SMTP：", en="Turning on SMTP: ")
_STEPS = Text(zh="步骤：", en="Steps:")
_PITFALLS = Text(zh="常见问题：", en="Common problems:")
_LINKS = Text(zh="官方帮助：", en="Official help:")
_OFFICIAL = Text(zh="官方说明", en="Official page")
_MORE = Text(zh="想看完整步骤，可以说“{name} 详细步骤”。", en="For every step, ask for the '{name} full guide'.")
_SERVER_LINE = Text(zh="{host}，端口 {port}（{security}）", en="{host}, port {port} ({security})")
_ALT_SERVER = Text(zh="；也可用端口 {port}（{security}）", en="; port {port} ({security}) also works")
_SECURITY = {"ssl": Text(zh="SSL", en="SSL"), "starttls": Text(zh="STARTTLS", en="STARTTLS"),
             "none": Text(zh="不加密", en="no encryption")}
_ASK_TITLE = Text(zh="请确认邮箱类型", en="Which mailbox?")
_ASK_SOME = Text(zh="请问是哪一种邮箱？回复名称即可：", en="Which of these mailboxes is it? Reply with its name:")
_ASK_ALL = Text(zh="请问要设置哪种邮箱？目前有指南的类型：", en="Which mailbox are you setting up? Guides exist for:")
_ASK_OTHER = Text(zh="其他邮箱可以用“自定义 SMTP”（custom）添加。",
                  en="Any other mailbox can be added as custom SMTP.")
_UNSUPPORTED_TITLE = Text(zh="{name}：没有内置类型，可用自定义 SMTP 添加",
                          en="{name}: no built-in type, add it as custom SMTP")
_UNSUPPORTED_INTRO = Text(zh="{name}没有内置指南，但可以选“自定义 SMTP”（custom）添加：",
                          en="There is no built-in guide for {name}, but it works as custom SMTP:")
_ACCOUNT = Text(zh="账号：完整邮箱地址", en="Account: the full address")
_UNSUPPORTED_CHECK = Text(zh="以上为常用设置，以该邮箱的官方帮助为准。",
                          en="These are the usual settings; the provider's own help page has the final word.")
_NONE = Text(zh="这条消息不是在问邮箱授权码或 SMTP 设置，没有对应的指南。",
             en="This does not look like a question about a mailbox password or SMTP settings, so there is no guide.")


def _lang(lang: str) -> Lang:
    """Anything but "en" means Chinese, the project default."""
    return "en" if lang == "en" else "zh"


def _provider(type_key: str) -> Provider:
    """The catalog entry of a guide type; `custom` and unknown keys are refused."""
    if type_key not in data.GUIDES:
        raise KeyError(f"no guide for mailbox type {type_key!r}; known: {', '.join(GUIDE_TYPES)}")
    return CATALOG[type_key]


def _smtp(provider: Provider) -> SmtpInfo:
    assert provider.host and provider.port and provider.security, provider.type
    return SmtpInfo(host=provider.host, port=provider.port, security=provider.security)


def _server_line(provider: Provider, lang: str, with_alt: bool) -> str:
    smtp = _smtp(provider)
    line = _SERVER_LINE.format(host=smtp.host, port=smtp.port, security=_SECURITY[smtp.security](lang))(lang)
    if with_alt and provider.alt_port and provider.alt_security:
        line += _ALT_SERVER.format(port=provider.alt_port, security=_SECURITY[provider.alt_security](lang))(lang)
    return line


def _links(type_key: str) -> list[tuple[str, Text]]:
    """The catalog help page first, then the guide's own links, without repeats."""
    help_url = _provider(type_key).help_url
    pairs = [(help_url, _OFFICIAL)] if help_url else []
    pairs += [(link.url, link.label) for link in data.GUIDES[type_key].links]
    return list({url: (url, label) for url, label in pairs}.values())


def _numbered(lines: list[str]) -> list[str]:
    return [f"{i}. {line}" for i, line in enumerate(lines, 1)]


def guide_for(error: SmtpError, lang: str) -> list[str]:
    """The mailbox type's short guide when the error's fix points to it ("see the guide below",
    "见下方指引": a refused login that offers it), for a type that has one (not custom)."""
    if error.offers_guide and error.provider_type in GUIDE_TYPES:
        return short_guide(error.provider_type, lang)
    return []


def short_guide(type_key: str, lang: str) -> list[str]:
    """Four lines for a chat reply or an error hint: where, password field, server, main pitfall."""
    provider, guide = _provider(type_key), data.GUIDES[type_key]
    return [
        _WHERE(lang) + guide.path(lang),
        _SECRET(lang) + guide.secret(lang),
        _SERVER(lang) + _server_line(provider, lang, with_alt=False),
        _WATCH(lang) + guide.pitfalls[0](lang),
    ]


def _full_reply(type_key: str, lang: str) -> list[str]:
    provider, guide = _provider(type_key), data.GUIDES[type_key]
    return [
        _STEPS(lang),
        *_numbered([step(lang) for step in guide.steps]),
        _ENABLE(lang) + guide.enable_smtp(lang),
        _SECRET(lang) + guide.secret(lang),
        _SERVER(lang) + _server_line(provider, lang, with_alt=True),
        _PITFALLS(lang),
        *(f"- {pitfall(lang)}" for pitfall in guide.pitfalls),
        _LINKS(lang),
        *(f"- {label(lang)}: {url}" for url, label in _links(type_key)),
    ]


def get_guide(type_key: str, lang: str, full: bool = True) -> GuideAnswer:
    """The guide for one type; KeyError for `custom` or an unknown key."""
    provider, guide = _provider(type_key), data.GUIDES[type_key]
    title = guide.title(lang)
    if full:
        body = _full_reply(type_key, lang)
    else:
        links = _links(type_key)
        body = [*_numbered(short_guide(type_key, lang)), f"{links[0][1](lang)}: {links[0][0]}",
                _MORE.format(name=provider.name(lang))(lang)]
    return GuideAnswer(
        type=type_key,
        kind="guide",
        lang=_lang(lang),
        title=title,
        steps=[step(lang) for step in guide.steps],
        smtp=_smtp(provider),
        links=[url for url, _ in _links(type_key)],
        reply="\n".join([title, *body]),
        pitfalls=[pitfall(lang) for pitfall in guide.pitfalls],
    )


def _ask(result: MatchResult, lang: Lang) -> GuideAnswer:
    every = set(result.candidates) == set(GUIDE_TYPES)
    names = [f"{CATALOG[t].name(lang)} ({t})" for t in result.candidates]
    lines = [(_ASK_ALL if every else _ASK_SOME)(lang), *_numbered(names)]
    if every:
        lines.append(_ASK_OTHER(lang))
    return GuideAnswer(type=None, kind="ask", lang=lang, title=_ASK_TITLE(lang), steps=[], smtp=None, links=[],
                       reply="\n".join(lines), choices=list(result.candidates))


def _unsupported(other: Unsupported, lang: Lang) -> GuideAnswer:
    name = other.name(lang)
    smtp = SmtpInfo(host=other.host, port=other.port, security=other.security)
    server = _SERVER_LINE.format(host=smtp.host, port=smtp.port, security=_SECURITY[smtp.security](lang))(lang)
    lines = [_SERVER(lang) + server, _ACCOUNT(lang), _SECRET(lang) + other.secret(lang)]
    reply = [_UNSUPPORTED_INTRO.format(name=name)(lang), *_numbered(lines), _UNSUPPORTED_CHECK(lang)]
    return GuideAnswer(type=None, kind="unsupported", lang=lang, title=_UNSUPPORTED_TITLE.format(name=name)(lang),
                       steps=[], smtp=smtp, links=[], reply="\n".join(reply))


def _none(lang: Lang) -> GuideAnswer:
    return GuideAnswer(type=None, kind="none", lang=lang, title="", steps=[], smtp=None, links=[],
                       reply=_NONE(lang))


def answer(question: str, lang: str | None = None, full: bool = False) -> GuideAnswer:
    """Answer a free-form question in its own language (or `lang`); "详细/full" in it asks for every step.

    The language comes from the words around the provider names, so a bare "QQ" or an address gets the
    project default (Chinese) while "QQ mail app password" gets English.
    """
    result = match(question)
    chosen = _lang(lang) if lang else result.lang or detect_lang(question)
    if result.kind == "guide" and result.type:
        return get_guide(result.type, chosen, full=full or bool(_FULL.search(question.lower())))
    if result.kind == "ask":
        return _ask(result, chosen)
    if result.kind == "unsupported" and result.unsupported:
        return _unsupported(_UNSUPPORTED[result.unsupported], chosen)
    return _none(chosen)


def list_guides(lang: str) -> list[GuideEntry]:
    """Every type that has a guide, in catalog order."""
    return [GuideEntry(type=t, name=CATALOG[t].name(lang), title=data.GUIDES[t].title(lang)) for t in GUIDE_TYPES]
