"""The service answers in the question's language, short by default, and never hands out `custom`."""

from __future__ import annotations

import pytest

from bot.guides import GuideAnswer, answer, get_guide, list_guides, short_guide
from bot.guides.matcher import GUIDE_TYPES
from bot.providers.catalog import CATALOG

JSON_KEYS = {"type", "kind", "lang", "title", "steps", "smtp", "links", "reply"}


def test_guide_answer_follows_question_language() -> None:
    zh = answer("怎么获取QQ邮箱授权码")
    en = answer("how do I get a QQ Mail authorization code")
    assert (zh.type, zh.lang, en.type, en.lang) == ("qq", "zh", "qq", "en")
    assert "授权码" in zh.reply and "authorization code" in en.reply


@pytest.mark.parametrize(("question", "lang"), [
    ("QQ", "zh"), ("gmail", "zh"), ("zhang@vip.qq.com", "zh"), ("gmail app password", "en"),
    ("what about hotmail?", "en"), ("Gmail 应用专用密码", "zh"), ("550 User has no permission", "en"),
])
def test_language_comes_from_the_words_around_the_names(question: str, lang: str) -> None:
    assert answer(question).lang == lang


def test_lang_override() -> None:
    result = answer("怎么获取QQ邮箱授权码", lang="en")
    assert result.lang == "en" and result.title == get_guide("qq", "en").title


def test_short_by_default_full_on_request() -> None:
    short = answer("gmail 应用专用密码")
    full = answer("gmail 应用专用密码", full=True)
    asked = answer("gmail 应用专用密码 详细步骤")
    assert len(short.reply) < len(full.reply) == len(asked.reply)
    assert all(line in short.reply for line in short_guide("gmail", "zh"))
    assert short.steps == full.steps and short.smtp == full.smtp


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("type_key", GUIDE_TYPES)
def test_follow_up_hint_in_short_reply_gets_the_full_guide(type_key: str, lang: str) -> None:
    """The short reply ends with what to say for every step; saying it must work."""
    follow_up = get_guide(type_key, lang, full=False).reply.splitlines()[-1]
    quoted = follow_up.split("“")[-1].split("”")[0] if lang == "zh" else follow_up.split("'")[1]
    assert answer(quoted).model_dump() == get_guide(type_key, lang, full=True).model_dump()


def test_model_dump_is_the_cli_json() -> None:
    for question in ("qq", "怎么获取授权码", "新浪邮箱", "今天天气"):
        dumped = answer(question).model_dump()
        assert JSON_KEYS <= dumped.keys()
        assert dumped["reply"]


def test_ask_lists_every_type_when_no_provider_is_named() -> None:
    result = answer("怎么获取授权码")
    assert (result.kind, result.type, result.smtp) == ("ask", None, None)
    assert result.choices == list(GUIDE_TYPES)
    assert all(CATALOG[t].name_zh in result.reply for t in GUIDE_TYPES)
    assert "custom" in result.reply


def test_ask_between_confusables() -> None:
    result = answer("550 User has no permission")
    assert result.kind == "ask" and result.choices == ["163", "126"]
    assert "163 Mail" in result.reply and "126 Mail" in result.reply and "QQ Mail" not in result.reply
    assert answer("550 User has no permission", lang="zh").reply.endswith("1. 163邮箱 (163)\n2. 126邮箱 (126)")


def test_unsupported_points_to_custom_with_settings() -> None:
    result = answer("新浪邮箱授权码怎么获取")
    assert (result.kind, result.type) == ("unsupported", None)
    assert result.smtp is not None and result.smtp.host == "smtp.sina.com"
    assert "custom" in result.reply and "smtp.sina.com" in result.reply


def test_none_for_commands_and_off_topic() -> None:
    for question in ("新建邮箱", "邮箱列表", "今天天气怎么样"):
        result = answer(question)
        assert (result.kind, result.type, result.steps, result.links) == ("none", None, [], [])
        assert result.reply


def test_custom_and_unknown_types_have_no_guide() -> None:
    for key in ("custom", "sina", ""):
        with pytest.raises(KeyError):
            get_guide(key, "zh")
        with pytest.raises(KeyError):
            short_guide(key, "en")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_list_guides(lang: str) -> None:
    entries = list_guides(lang)
    assert [e.type for e in entries] == list(GUIDE_TYPES)
    assert all(e.name == CATALOG[e.type].name(lang) and e.title for e in entries)


def test_answer_is_a_pydantic_model() -> None:
    result = answer("hotmail")
    assert isinstance(result, GuideAnswer)
    assert GuideAnswer.model_validate(result.model_dump()) == result
