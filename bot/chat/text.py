"""Chat-side text helpers: normalising what users type, and the shared bilingual phrases."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from bot.i18n import Text

_CJK_GAP = re.compile(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])(?![^\s=]*=)")
_TRAILING = re.compile(r"[\s.。!！?？~～,，;；]+$")
_QUOTES = "\"'“”‘’「」『』《》<>`"
PAIR = re.compile(r"([A-Za-z_\u3400-\u9fff]+)\s*[=:]\s*(\"[^\"]*\"|'[^']*'|\S+)")

FIELD_KEYS: dict[str, str] = {
    "名称": "name", "名字": "name", "name": "name",
    "账号": "account", "帐号": "account", "邮箱": "account", "地址": "account", "account": "account",
    "email": "account", "address": "account", "user": "account",
    "类型": "type", "type": "type", "provider": "type",
    "服务器": "host", "主机": "host", "host": "host", "server": "host", "smtp": "host",
    "端口": "port", "port": "port",
    "加密": "security", "加密方式": "security", "security": "security", "tls": "security",
    "登录方式": "auth", "认证方式": "auth", "验证方式": "auth", "auth": "auth", "login": "auth",
}


def normalize(text: str, *, lower: bool = True) -> str:
    """Full-width → half-width, single spaces, no trailing punctuation, lower case unless asked not to."""
    folded = unicodedata.normalize("NFKC", text).replace("\u3000", " ").strip()
    folded = _TRAILING.sub("", " ".join(folded.split()))
    return folded.lower() if lower else folded


def compact(text: str, *, lower: bool = True) -> str:
    """`normalize` plus no spaces between CJK words ("新建 邮箱" → "新建邮箱"); `key=value` tokens stay apart."""
    return _CJK_GAP.sub("", normalize(text, lower=lower))


def unquote(value: str) -> str:
    return value.strip().strip(_QUOTES).strip()


def parse_pairs(text: str, keys: Mapping[str, str] = FIELD_KEYS) -> tuple[dict[str, str], list[str]]:
    """`名称=X 账号=Y` / `name=X account=Y` → ({field: value}, unknown keys); `keys` maps what users
    type to fields (a mailbox's by default, a rule's for 新建通知规则)."""
    fields: dict[str, str] = {}
    unknown: list[str] = []
    for key, value in PAIR.findall(unicodedata.normalize("NFKC", text)):
        field = keys.get(key.lower())
        if field is None:
            unknown.append(key)
        else:
            fields[field] = unquote(value)
    return fields, unknown


T = Text  # short alias for the phrase tables below

CANCELLED = T(zh="已取消。", en="Cancelled.")
ERROR = T(zh="抱歉，处理这条消息时出错了，请稍后再试。", en="Sorry, something went wrong handling that message. Please try again.")
REFUSED = T(
    zh="只有管理员可以管理邮箱：钉钉组织的管理员，或 MAILBOT_ADMINS 中列出的用户。"
       "你可以问我各类邮箱的授权码怎么获取，或发送“帮助”。",
    en="Only admins can manage mailboxes: the DingTalk organisation's admins, or users listed in MAILBOT_ADMINS. "
       "You can ask me how to get a mailbox's app password, or send 'help'.",
)
