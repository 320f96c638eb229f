"""Language of a text and bilingual strings: replies follow the language the user wrote in."""

from __future__ import annotations

import os
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

Lang = Literal["zh", "en"]

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def detect_lang(text: str, default: Lang = "zh") -> Lang:
    """'zh' when the text has any CJK ideograph, 'en' when it has Latin words only."""
    if _CJK.search(text):
        return "zh"
    if _LATIN_WORD.search(text):
        return "en"
    return default


class Text(BaseModel):
    """A sentence in both languages."""

    model_config = ConfigDict(frozen=True)
    zh: str
    en: str

    def __call__(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def format(self, **kwargs: object) -> "Text":
        return Text(zh=self.zh.format(**kwargs), en=self.en.format(**kwargs))


def locale_lang() -> str:
    """Messages for a terminal follow the locale: zh for a Chinese locale, en otherwise."""
    locale = os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG") or ""
    return "zh" if locale.lower().startswith("zh") else "en"
