"""Matcher behaviour by intent: a guide needs a provider; vague or tied clues ask; the rest is none."""

from __future__ import annotations

import pytest

from bot.guides import match
from bot.guides.matcher import GUIDE_TYPES, _tables
from bot.providers.catalog import CATALOG

GUIDE_CASES: list[tuple[str, str]] = [
    ("怎么获取QQ邮箱授权码", "qq"),
    ("QQ", "qq"),
    ("gmail", "gmail"),
    ("foxmail 授权码", "qq"),
    ("网易163", "163"),
    ("腾讯企业邮", "exmail"),
    ("企业微信邮箱", "exmail"),
    ("QQ企业邮箱的专用密码", "exmail"),
    ("hotmail", "outlook"),
    ("live邮箱授权码", "outlook"),
    ("gmial", "gmail"),
    ("hotmial smtp", "outlook"),
    ("Ｑｑ邮箱", "qq"),
    ("QQ油箱授权码", "qq"),
    ("郵箱是163的 授權碼", "163"),
    ("zhang@vip.qq.com", "qq"),
    ("qiye.163.com", "netease_enterprise"),
    ("user@gmial.com", "gmail"),
    ("service.exmail.qq.com", "exmail"),
    ("535 Login fail. Account is abnormal, service is not open, password is incorrect, login frequency "
     "limited, or system is busy. More information at https://help.mail.qq.com/detail/108/1023", "qq"),
    ("534-5.7.9 Application-specific password required", "gmail"),
    ("535 5.7.139 Authentication unsuccessful, basic authentication is disabled", "outlook"),
    ("550 User has no permission 126邮箱", "126"),
    ("526 Authentication failure[0] 钉钉邮箱", "dingtalk"),
    ("526 Authentication failure[0] smtp.qiye.aliyun.com", "aliyun_enterprise"),
    ("公司的网易邮箱授权码", "netease_enterprise"),
    ("个人阿里邮箱", "aliyun_personal"),
    ("在Outlook里配置163邮箱", "163"),
    ("新建邮箱时QQ邮箱的密码填什么", "qq"),
    ("@mailbot gmail app password", "gmail"),
    # Issue 14: OAuth2 sign-in, Microsoft 365 as its own type, Gmail's second route.
    ("office 365 怎么配置", "microsoft365"),
    ("how do I set up microsoft 365", "microsoft365"),
    ("exchange online smtp", "microsoft365"),
    ("世纪互联邮箱", "microsoft365"),
    ("公司用的是 Office 365，机器人密码填什么", "microsoft365"),
    ("微软企业邮箱怎么设置", "microsoft365"),
    ("M365 app password", "microsoft365"),
    ("365邮箱", "microsoft365"),
    ("zhang@contoso.onmicrosoft.com", "microsoft365"),
    ("smtp.partner.outlook.cn 登录失败", "microsoft365"),
    ("550 5.7.30 Basic authentication is not supported for Client Submission.", "microsoft365"),
    ("535 5.7.139 SmtpClientAuthentication is disabled for the Tenant", "microsoft365"),
    ("outlook 授权码", "outlook"),
    ("outlook oauth", "outlook"),
    ("hotmail oauth2 怎么弄", "outlook"),
    ("用微软账号登录 outlook", "outlook"),
    ("gmail 登录谷歌账号", "gmail"),
    ("sign in with google for gmail", "gmail"),
    ("google workspace oauth smtp", "gmail"),
]


@pytest.mark.parametrize(("text", "type_key"), GUIDE_CASES)
def test_guide(text: str, type_key: str) -> None:
    result = match(text)
    assert (result.kind, result.type) == ("guide", type_key), result


ASK_CASES: list[tuple[str, tuple[str, ...]]] = [
    ("550 User has no permission", ("163", "126")),
    ("526 Authentication failure[0]", ("aliyun_enterprise", "dingtalk", "aliyun_personal")),
    ("网易邮箱", ("netease_enterprise", "163", "126")),
    ("阿里邮箱授权码", ("aliyun_enterprise", "aliyun_personal")),
    ("腾讯邮箱的授权码", ("exmail", "qq")),
    ("163和126有什么区别", ("163", "126")),
    ("how do I get a QQ/163/Gmail 授权码", ("qq", "163", "gmail")),
    ("企业邮箱授权码在哪", ("aliyun_enterprise", "dingtalk", "exmail", "netease_enterprise", "microsoft365")),
    ("Error: 535 5.7.3 Authentication unsuccessful", ("outlook", "microsoft365")),
    ("535 5.7.3 Authentication unsuccessful [SN4PR0201CA0070.namprd02.prod.outlook.com]", ("outlook", "microsoft365")),
    ("entra 应用注册 smtp", ("outlook", "microsoft365")),
    ("AADSTS7000218 client_assertion", ("outlook", "microsoft365")),
    ("Outlook 365 邮箱授权码", ("outlook", "microsoft365")),
    ("怎么获取授权码", GUIDE_TYPES),
    ("what goes in the SMTP password field?", GUIDE_TYPES),
    ("zhang@acme.com 怎么设置", GUIDE_TYPES),
    ("我的邮箱登录不上", GUIDE_TYPES),
    ("which email password goes into the smtp settings", GUIDE_TYPES),
]


@pytest.mark.parametrize(("text", "candidates"), ASK_CASES)
def test_ask(text: str, candidates: tuple[str, ...]) -> None:
    result = match(text)
    assert result.kind == "ask" and result.type is None
    assert set(result.candidates) == set(candidates)


NONE_CASES = [
    "新建邮箱", "邮箱列表", "删除邮箱 2", "help", "帮助", "新建邮箱 QQ", "帮我新建一个QQ邮箱", "/status",
    "今天天气怎么样", "QQ群怎么建", "谷歌翻译怎么用", "钉钉打卡怎么补卡", "今天开会来了126个人", "163路公交车几点发车",
    "I live in Shanghai", "Outlook 日历怎么共享", "新浪微博", "谢谢，QQ邮箱已经好了", "thanks", "",
    "一年365天都在加班", "exchange rate usd to cny", "office 365 激活码", "office 365 怎么安装", "微软账号密码忘了",
]


@pytest.mark.parametrize("text", NONE_CASES)
def test_none(text: str) -> None:
    result = match(text)
    assert (result.kind, result.type) == ("none", None), result


@pytest.mark.parametrize(("text", "key"), [
    ("新浪邮箱授权码怎么获取", "sina"), ("sina mail smtp", "sina"), ("搜狐邮箱怎么开启smtp", "sohu"),
    ("139邮箱授权码", "139"), ("Yahoo mail app password", "yahoo"), ("iCloud 邮箱的 app 专用密码", "icloud"),
    ("zhang@sina.com 密码填什么", "sina"), ("yeah.net", "yeah"),
    ("zoho mail smtp", "zoho"),
])
def test_unsupported(text: str, key: str) -> None:
    result = match(text)
    assert (result.kind, result.type, result.unsupported) == ("unsupported", None, key)


@pytest.mark.parametrize("type_key", GUIDE_TYPES)
def test_every_catalog_domain_and_name_finds_its_type(type_key: str) -> None:
    provider = CATALOG[type_key]
    for domain in provider.domains:
        assert match(f"user@{domain}").type == type_key, domain
    for name in (provider.name_zh, provider.name_en):
        assert match(name).type == type_key, name


def test_aliases_never_point_at_custom_and_are_consistent() -> None:
    tables = _tables()
    assert all("custom" not in alias.types for alias in tables.aliases.values())
    assert all("custom" not in types for types in tables.domains.values())
    for text in CATALOG["custom"].aliases:
        assert match(f"{text} 授权码").type is None


def test_deterministic() -> None:
    text = "526 Authentication failure[0] 公司的阿里邮箱"
    assert {match(text) for _ in range(5)} == {match(text)}
