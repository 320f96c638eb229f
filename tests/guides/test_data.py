"""Every guide has every part, in both languages, with SMTP facts taken from the catalog."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.guides import data, get_guide, short_guide
from bot.guides.matcher import GUIDE_TYPES, UNSUPPORTED_KEYS
from bot.providers.catalog import CATALOG, PROVIDER_TYPES

LANGS = ("zh", "en")
CJK = re.compile(r"[\u3400-\u9fff]")
SEEDS = Path("/work/shared/seeds")


def test_one_guide_per_type_and_never_custom() -> None:
    assert GUIDE_TYPES == tuple(t for t in PROVIDER_TYPES if t != "custom")
    assert "custom" not in data.GUIDES


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("type_key", GUIDE_TYPES)
def test_full_guide_has_every_part(type_key: str, lang: str) -> None:
    guide, provider = data.GUIDES[type_key], CATALOG[type_key]
    answer = get_guide(type_key, lang, full=True)
    assert answer.type == type_key and answer.kind == "guide" and answer.lang == lang
    assert answer.title and len(answer.steps) >= 4 and all(answer.steps)
    assert answer.smtp is not None
    assert (answer.smtp.host, answer.smtp.port, answer.smtp.security) == (provider.host, provider.port,
                                                                           provider.security)
    assert provider.help_url in answer.links and all(u.startswith("https://") for u in answer.links)
    assert len(answer.pitfalls) >= 3
    for part in (*answer.steps, guide.enable_smtp(lang), guide.secret(lang), *answer.pitfalls, provider.host):
        assert part in answer.reply
    assert f"{provider.port}" in answer.reply


@pytest.mark.parametrize("type_key", GUIDE_TYPES)
def test_texts_are_in_their_language(type_key: str) -> None:
    guide = data.GUIDES[type_key]
    texts = [guide.title, guide.path, *guide.steps, guide.enable_smtp, guide.secret, *guide.pitfalls,
             *(link.label for link in guide.links)]
    for text in texts:
        assert CJK.search(text.zh), text.zh
        assert not CJK.search(text.en), text.en


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("type_key", GUIDE_TYPES)
def test_short_form_is_three_to_five_lines_with_the_server(type_key: str, lang: str) -> None:
    lines = short_guide(type_key, lang)
    assert 3 <= len(lines) <= 5 and all(lines)
    assert any(CATALOG[type_key].host in line for line in lines)
    short = get_guide(type_key, lang, full=False)
    assert all(line in short.reply for line in lines)
    assert len(short.reply) < len(get_guide(type_key, lang, full=True).reply)


# The pitfalls the issue names, as words that must appear somewhere in the guide.
REQUIRED_POINTS: list[tuple[str, str, str]] = [
    ("qq", "一次", "once"),
    ("qq", "不是登录密码", "not the login password"),
    ("163", "不是登录密码", "not the login password"),
    ("126", "不是登录密码", "not the login password"),
    ("gmail", "两步验证", "2-Step Verification"),
    ("gmail", "Workspace", "Workspace"),
    ("outlook", "OAuth2", "OAuth2"),
    ("outlook", "应用密码", "app passwords"),
    ("dingtalk", "阿里邮箱", "Alibaba Mail"),
    ("aliyun_enterprise", "管理员", "admin"),
    ("dingtalk", "管理员", "admin"),
    ("exmail", "管理员", "admin"),
    ("netease_enterprise", "管理员", "admin"),
    # Issue 14: the OAuth2 sign-in, its app registration and the Microsoft 365 mailbox switch.
    ("outlook", "MAILBOT_OAUTH_MICROSOFT_CLIENT_ID", "MAILBOT_OAUTH_MICROSOFT_CLIENT_ID"),
    ("outlook", "--oauth", "--oauth"),
    ("outlook", "microsoft.com/devicelogin", "microsoft.com/devicelogin"),
    ("outlook", "SMTP.Send", "SMTP.Send"),
    ("outlook", "mailbot mailbox reauth", "mailbot mailbox reauth"),
    ("microsoft365", "经过身份验证的 SMTP", "Authenticated SMTP"),
    ("microsoft365", "SmtpClientAuthenticationDisabled $false", "SmtpClientAuthenticationDisabled $false"),
    ("microsoft365", "MAILBOT_OAUTH_MICROSOFT_AUTHORITY", "MAILBOT_OAUTH_MICROSOFT_AUTHORITY"),
    ("microsoft365", "550 5.7.30", "550 5.7.30"),
    ("microsoft365", "2026 年 12 月底", "end of December 2026"),
    ("microsoft365", "smtp.partner.outlook.cn", "smtp.partner.outlook.cn"),
    ("gmail", "应用专用密码", "app password"),
    ("gmail", "桌面应用", "Desktop app"),
    ("gmail", "MAILBOT_OAUTH_GOOGLE_CLIENT_SECRET", "MAILBOT_OAUTH_GOOGLE_CLIENT_SECRET"),
    ("gmail", "7 天", "7 days"),
]


@pytest.mark.parametrize(("type_key", "zh", "en"), REQUIRED_POINTS)
def test_named_pitfalls_are_covered(type_key: str, zh: str, en: str) -> None:
    assert zh in get_guide(type_key, "zh").reply
    assert en.lower() in get_guide(type_key, "en").reply.lower()


@pytest.mark.parametrize("type_key", GUIDE_TYPES)
def test_every_guide_says_whether_smtp_must_be_enabled(type_key: str) -> None:
    guide = data.GUIDES[type_key]
    assert "SMTP" in guide.enable_smtp.zh and "SMTP" in guide.enable_smtp.en


def _ngrams(text: str, n: int) -> set[str]:
    """Runs of n characters that are mostly Chinese prose (URLs and menu names do not count)."""
    compact = re.sub(r"\s+", "", text)
    grams = (compact[i:i + n] for i in range(len(compact) - n + 1))
    return {g for g in grams if len(CJK.findall(g)) >= n * 2 // 3}


@pytest.mark.skipif(not SEEDS.is_dir(), reason="seed pages not available")
def test_guides_do_not_copy_the_seed_sentences() -> None:
    """A 12-character Chinese run shared with the seed page would be a copied sentence."""
    seed = "".join(p.read_text(encoding="utf-8") for p in SEEDS.glob("*.txt"))
    seed_grams = _ngrams(seed, 12)
    for guide in data.GUIDES.values():
        for text in (guide.title, guide.path, *guide.steps, guide.enable_smtp, guide.secret, *guide.pitfalls):
            shared = _ngrams(text.zh, 12) & seed_grams
            assert not shared, (guide.type, shared)


def test_matcher_tables_point_at_known_keys() -> None:
    known = set(GUIDE_TYPES) | set(UNSUPPORTED_KEYS)
    assert not set(UNSUPPORTED_KEYS) & set(PROVIDER_TYPES)
    assert set(data.ENTERPRISE_TYPES) <= set(GUIDE_TYPES)
    assert set(data.EXTRA_ALIASES) <= set(GUIDE_TYPES)
    for family in data.FAMILIES:
        assert set(family.members) <= set(GUIDE_TYPES), family
    for types in data.WEB_HOSTS.values():
        assert set(types) <= set(GUIDE_TYPES)
    for signature in data.ERROR_SIGNATURES:
        assert set(signature.types) <= known, signature
        re.compile(signature.pattern)
