"""Provider catalog as data: SMTP settings, address domains and secret rules per mailbox type.

Facts come from shared/reference/mail_providers.md. A fact marked UNCONFIRMED there is listed in
the entry's `unconfirmed` field: the bot uses it as a default and warns, it never rejects on it.
Code that needs a provider fact reads it from here; no provider-specific branches elsewhere.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Security = Literal["ssl", "starttls", "none"]

PROVIDER_TYPES: tuple[str, ...] = (
    "aliyun_enterprise",
    "dingtalk",
    "exmail",
    "netease_enterprise",
    "aliyun_personal",
    "qq",
    "163",
    "126",
    "gmail",
    "outlook",
    "microsoft365",
    "custom",
)


class RateLimit(BaseModel):
    """Default pacing for the relay; providers keep real limits secret, so these are cautious.

    `per_minute` None: no pacing (a custom server is the organisation's own; it sets a pace with
    `mailbot mailbox rate NAME N` if its server needs one). `per_day`: the daily sending quota the
    relay keeps under (bot.mailboxes.health; an admin overrides it with `mailbot mailbox quota`),
    counted in the provider's day (`day_tz`: Asia/Shanghai for the Chinese providers; Google and
    Microsoft count a rolling 24 h, which UTC days approximate).
    """

    model_config = ConfigDict(frozen=True)
    per_minute: int | None = Field(20, ge=1)
    per_day: int | None = None
    # The zone whose midnight starts the provider's sending day (the daily quota's count resets then).
    day_tz: str = "UTC"


Issuer = Literal["microsoft", "google"]


class OAuthRoute(BaseModel):
    """How a type signs in with OAuth2 (XOAUTH2 on SMTP). The endpoints are settings per issuer
    (MAILBOT_OAUTH_*), so the whole flow runs against an emulator; the facts here are the provider's.

    `flow`: "device" (RFC 8628: the admin types a code at the issuer's page; Microsoft) or "code"
    (an installed-app authorization code with a loopback redirect and PKCE; Google refuses Gmail
    scopes on its device flow). `password_too`: a password login is still possible (app passwords,
    tenants that allow SMTP AUTH), so the admin chooses.
    """

    model_config = ConfigDict(frozen=True)
    issuer: Issuer
    flow: Literal["device", "code"]
    scopes: tuple[str, ...]
    password_too: bool


MICROSOFT_SMTP = OAuthRoute(issuer="microsoft", flow="device", password_too=False,
                            scopes=("https://outlook.office.com/SMTP.Send", "offline_access"))


class Provider(BaseModel):
    """One mailbox type: everything the bot needs to know to log in and to explain failures."""

    model_config = ConfigDict(frozen=True)

    type: str
    name_zh: str
    name_en: str
    aliases: tuple[str, ...] = ()
    host: str | None = None
    port: int | None = None
    security: Security | None = None
    alt_port: int | None = None
    alt_security: Security | None = None
    domains: tuple[str, ...] = ()
    refused_domains: dict[str, str] = Field(default_factory=dict)
    needs_app_password: bool = False
    secret_name_zh: str = "密码"
    secret_name_en: str = "password"
    notes_zh: str = ""
    notes_en: str = ""
    help_url: str | None = None
    basic_auth_disabled: bool = False
    oauth: OAuthRoute | None = None
    rate_limit: RateLimit = RateLimit()
    unconfirmed: tuple[str, ...] = ()

    def name(self, lang: str) -> str:
        return self.name_zh if lang == "zh" else self.name_en

    def secret_name(self, lang: str) -> str:
        return self.secret_name_zh if lang == "zh" else self.secret_name_en

    def notes(self, lang: str) -> str:
        return self.notes_zh if lang == "zh" else self.notes_en


_ALIMAIL_NOTE_ZH = "新开通的企业默认关闭第三方客户端，需要管理员在后台允许；开启“三方客户端安全密码”后只能用该密码登录。"
_ALIMAIL_NOTE_EN = (
    "New organisations have third-party clients disabled by default: an admin must allow them. "
    "When the 'third-party client security password' is on, only that password works."
)

CATALOG: dict[str, Provider] = {
    p.type: p
    for p in (
        Provider(
            type="aliyun_enterprise",
            name_zh="阿里邮箱企业版",
            name_en="Alibaba Mail (enterprise)",
            aliases=("阿里企业邮箱", "阿里云企业邮箱", "阿里企业邮", "阿里云邮箱企业版", "alimail", "aliyun enterprise",
                     "alibaba mail enterprise", "qiye.aliyun.com", "mxhichina"),
            host="smtp.qiye.aliyun.com",
            port=465,
            security="ssl",
            alt_port=25,
            alt_security="none",
            domains=("qiye.aliyun.com",),
            secret_name_zh="密码或三方客户端安全密码",
            secret_name_en="password or third-party client security password",
            notes_zh=_ALIMAIL_NOTE_ZH,
            notes_en=_ALIMAIL_NOTE_EN,
            help_url="https://help.aliyun.com/document_detail/36687.html",
            rate_limit=RateLimit(per_minute=20, per_day=500, day_tz="Asia/Shanghai"),
            unconfirmed=("rate_limit", "secret format (16 chars)", "587/STARTTLS support"),
        ),
        Provider(
            type="dingtalk",
            name_zh="钉钉企业邮箱",
            name_en="DingTalk enterprise mail",
            aliases=("钉钉邮箱", "钉钉企业邮", "钉邮", "dingtalk mail", "dingtalk enterprise mail", "onaliyun.com"),
            host="smtp.qiye.aliyun.com",
            port=465,
            security="ssl",
            alt_port=25,
            alt_security="none",
            domains=("onaliyun.com",),
            refused_domains={
                "dingtalk.com": "personal @dingtalk.com addresses cannot be used by third-party clients",
            },
            secret_name_zh="密码或三方客户端安全密码",
            secret_name_en="password or third-party client security password",
            notes_zh="钉钉企业邮箱底层就是阿里邮箱，使用同一台 SMTP 服务器；第三方客户端开关默认关闭，需管理员在 管理后台→通讯录→邮箱管理→安全策略→第三方客户端管理 中开启。",
            notes_en=(
                "DingTalk enterprise mail is Alibaba Mail underneath and uses the same SMTP server. Third-party "
                "clients are off by default: an admin turns them on under Admin console → Contacts → Mail → "
                "Security policy → Third-party clients."
            ),
            help_url="https://help.aliyun.com/document_detail/36687.html",
            rate_limit=RateLimit(per_minute=20, per_day=500, day_tz="Asia/Shanghai"),
            unconfirmed=("port", "rate_limit", "secret format"),
        ),
        Provider(
            type="exmail",
            name_zh="腾讯企业邮箱",
            name_en="Tencent Exmail",
            aliases=("腾讯企业邮", "腾讯企业邮件", "企业微信邮箱", "企业微信邮件", "exmail", "tencent exmail",
                     "tencent enterprise mail", "wecom mail", "exmail.qq.com"),
            host="smtp.exmail.qq.com",
            port=465,
            security="ssl",
            alt_port=587,
            alt_security="starttls",
            domains=("exmail.qq.com",),
            secret_name_zh="密码或客户端专用密码",
            secret_name_en="password or client-specific password",
            notes_zh="开启“安全登录”（微信绑定）后必须使用 设置→邮箱绑定 中生成的客户端专用密码；还需在 设置→收发信设置 中开启 IMAP/SMTP。",
            notes_en=(
                "With secure login (WeChat binding) on, use the client-specific password from Settings → "
                "Account binding; IMAP/SMTP must also be on under Settings → Sending and receiving."
            ),
            help_url="https://service.exmail.qq.com/cgi-bin/help?subtype=1&&id=28&&no=1000585",
            rate_limit=RateLimit(per_minute=20, per_day=500, day_tz="Asia/Shanghai"),
            unconfirmed=("alt_port", "rate_limit", "secret format"),
        ),
        Provider(
            type="netease_enterprise",
            name_zh="网易企业邮箱",
            name_en="NetEase enterprise mail",
            aliases=("网易企业邮", "网易企业邮件", "163企业邮箱", "网易免费企业邮", "netease enterprise",
                     "netease enterprise mail", "qiye.163.com", "ym.163.com"),
            host="smtp.qiye.163.com",
            port=465,
            security="ssl",
            alt_port=994,
            alt_security="ssl",
            domains=("qiye.163.com", "ym.163.com"),
            needs_app_password=True,
            secret_name_zh="客户端授权密码",
            secret_name_en="client authorization password",
            notes_zh="客户端授权密码在网页版 设置→客户端设置 中生成，需要先绑定手机。",
            notes_en="Generate the client authorization password in webmail under Settings → Client settings; a bound phone is required.",
            help_url="https://qiye.163.com/",
            rate_limit=RateLimit(per_minute=15, per_day=1000, day_tz="Asia/Shanghai"),
            unconfirmed=("host", "needs_app_password", "rate_limit", "help_url"),
        ),
        Provider(
            type="aliyun_personal",
            name_zh="阿里邮箱个人版",
            name_en="Alibaba Mail (personal)",
            aliases=("阿里个人邮箱", "阿里云邮箱", "阿里邮箱个人", "aliyun mail", "aliyun personal", "alibaba mail personal"),
            host="smtp.aliyun.com",
            port=465,
            security="ssl",
            alt_port=25,
            alt_security="none",
            domains=("aliyun.com", "aliyun.cn"),
            secret_name_zh="密码或客户端专用密码",
            secret_name_en="password or client-specific password",
            notes_zh="若开启了客户端专用密码，只能用该密码登录第三方客户端。",
            notes_en="If a client-specific password is enabled, only that password works in third-party clients.",
            help_url="https://help.aliyun.com/document_detail/444269.html",
            rate_limit=RateLimit(per_minute=20, per_day=500, day_tz="Asia/Shanghai"),
            unconfirmed=("domains: aliyun.cn", "secret rules", "settings path", "rate_limit"),
        ),
        Provider(
            type="qq",
            name_zh="QQ邮箱",
            name_en="QQ Mail",
            aliases=("qq邮箱", "qq mail", "qqmail", "foxmail", "qq"),
            host="smtp.qq.com",
            port=465,
            security="ssl",
            alt_port=587,
            alt_security="starttls",
            domains=("qq.com", "foxmail.com", "vip.qq.com"),
            needs_app_password=True,
            secret_name_zh="授权码",
            secret_name_en="authorization code",
            notes_zh="必须先开启 POP3/IMAP/SMTP 服务并生成授权码；授权码只显示一次，修改 QQ 密码后授权码失效。",
            notes_en=(
                "POP3/IMAP/SMTP must be turned on and an authorization code generated; the code is shown once "
                "and stops working when the QQ password changes."
            ),
            help_url="https://service.mail.qq.com/cgi-bin/help?subtype=1&&id=28&&no=1001256",
            rate_limit=RateLimit(per_minute=15, per_day=500, day_tz="Asia/Shanghai"),
            unconfirmed=("rate_limit",),
        ),
        Provider(
            type="163",
            name_zh="163邮箱",
            name_en="163 Mail",
            aliases=("163邮箱", "网易163", "网易邮箱163", "163 mail", "163"),
            host="smtp.163.com",
            port=465,
            security="ssl",
            alt_port=994,
            alt_security="ssl",
            domains=("163.com", "vip.163.com"),
            needs_app_password=True,
            secret_name_zh="客户端授权码",
            secret_name_en="client authorization code",
            notes_zh="必须在 设置→POP3/SMTP/IMAP 中开启 SMTP 服务并生成授权码，否则服务器回复 550 User has no permission。",
            notes_en="SMTP must be turned on under Settings → POP3/SMTP/IMAP and an authorization code generated, otherwise the server answers 550 User has no permission.",
            help_url="https://help.163.com/09/1223/14/5R7P3QI100753VB8.html",
            rate_limit=RateLimit(per_minute=15, day_tz="Asia/Shanghai"),
            unconfirmed=("domains: vip.163.com", "rate_limit"),
        ),
        Provider(
            type="126",
            name_zh="126邮箱",
            name_en="126 Mail",
            aliases=("126邮箱", "网易126", "网易邮箱126", "126 mail", "126"),
            host="smtp.126.com",
            port=465,
            security="ssl",
            alt_port=994,
            alt_security="ssl",
            domains=("126.com",),
            needs_app_password=True,
            secret_name_zh="客户端授权码",
            secret_name_en="client authorization code",
            notes_zh="与 163 邮箱相同：先开启 SMTP 服务，再生成客户端授权码。",
            notes_en="Same as 163 Mail: turn on SMTP, then generate a client authorization code.",
            help_url="https://help.163.com/09/1221/09/5R20C4CM00753VB9.html",
            rate_limit=RateLimit(per_minute=15, day_tz="Asia/Shanghai"),
            unconfirmed=("alt_port", "rate_limit"),
        ),
        Provider(
            type="gmail",
            name_zh="Gmail邮箱",
            name_en="Gmail",
            aliases=("gmail", "google mail", "googlemail", "谷歌邮箱", "google workspace"),
            host="smtp.gmail.com",
            port=465,
            security="ssl",
            alt_port=587,
            alt_security="starttls",
            domains=("gmail.com", "googlemail.com"),
            needs_app_password=True,
            secret_name_zh="应用专用密码",
            secret_name_en="app password",
            notes_zh="需要先开启两步验证再生成 16 位应用专用密码（去掉空格填写）；Workspace 管理员可能禁用了应用专用密码。",
            notes_en=(
                "Turn on 2-Step Verification, then create a 16-character app password (enter it without spaces); "
                "Workspace admins may have disabled app passwords."
            ),
            help_url="https://support.google.com/accounts/answer/185833",
            oauth=OAuthRoute(issuer="google", flow="code", scopes=("https://mail.google.com/",), password_too=True),
            rate_limit=RateLimit(per_minute=20, per_day=500),
            unconfirmed=("rate_limit",),
        ),
        Provider(
            type="outlook",
            name_zh="Outlook邮箱",
            name_en="Outlook.com",
            aliases=("outlook", "hotmail", "live", "msn", "微软邮箱", "outlook.com", "hotmail.com", "live.com"),
            host="smtp-mail.outlook.com",
            port=587,
            security="starttls",
            domains=("outlook.com", "hotmail.com", "live.com", "msn.com", "windowslive.com", "live.cn",
                     "outlook.de", "hotmail.co.uk", "outlook.fr", "hotmail.fr", "outlook.jp", "live.co.uk"),
            needs_app_password=False,
            basic_auth_disabled=True,
            secret_name_zh="密码",
            secret_name_en="password",
            notes_zh="自 2024-09-16 起 Outlook.com 不再接受密码（含应用密码）登录 SMTP，只支持 OAuth2；密码登录会被拒绝。",
            notes_en=(
                "Since 2024-09-16 Outlook.com no longer accepts passwords (app passwords included) for SMTP: "
                "only OAuth2 works, so a password login is refused."
            ),
            help_url="https://support.microsoft.com/office/pop-imap-and-smtp-settings-8361e398-8af4-4e97-b147-6c6c4ac95353",
            oauth=MICROSOFT_SMTP,
            rate_limit=RateLimit(per_minute=10, per_day=300),
            unconfirmed=("rate_limit",),
        ),
        Provider(
            type="microsoft365",
            name_zh="Microsoft 365 企业邮箱",
            name_en="Microsoft 365 (Exchange Online)",
            aliases=("microsoft365", "microsoft 365", "365", "office365", "office 365", "o365", "exchange online",
                     "exchange", "世纪互联", "21vianet"),
            host="smtp.office365.com",
            port=587,
            security="starttls",
            secret_name_zh="密码",
            secret_name_en="password",
            notes_zh=("公司域名的 Exchange Online 邮箱。推荐 OAuth2 登录（需管理员在 Entra ID 注册应用）；2026 年底起租户默认关闭"
                      "SMTP 密码登录（550 5.7.30），仍允许时也可用密码。世纪互联版请把服务器改为 smtp.partner.outlook.cn。"),
            notes_en=("Exchange Online on a company domain. Sign in with OAuth2 (an admin registers an app in Entra ID); "
                      "SMTP password login is off by default for tenants from the end of 2026 (550 5.7.30), where it "
                      "is still allowed a password works too. For 21Vianet use the host smtp.partner.outlook.cn."),
            help_url="https://learn.microsoft.com/exchange/clients-and-mobile-in-exchange-online/authenticated-client-smtp-submission",
            oauth=MICROSOFT_SMTP.model_copy(update={"password_too": True}),
            rate_limit=RateLimit(per_minute=30, per_day=10000),
            unconfirmed=("rate_limit",),
        ),
        Provider(
            type="custom",
            name_zh="自定义 SMTP",
            name_en="Custom SMTP",
            aliases=("custom", "自定义", "其他", "other", "smtp"),
            notes_zh="填写服务器地址、端口和加密方式（ssl 常用 465，starttls 常用 587）。",
            notes_en="Enter the server host, port and security (ssl usually on 465, starttls on 587).",
            rate_limit=RateLimit(per_minute=None),  # the organisation's own server: unpaced unless set
        ),
    )
}

assert tuple(CATALOG) == PROVIDER_TYPES


def get_provider(type_key: str) -> Provider:
    """The catalog entry for a type key; KeyError on an unknown key (validate input first)."""
    return CATALOG[type_key]


def detect_type(account: str) -> str | None:
    """The type whose address domains contain the account's domain (None when unknown)."""
    domain = account.rsplit("@", 1)[-1].strip().lower()
    for provider in CATALOG.values():
        if domain in provider.domains:
            return provider.type
    return None


def default_port(security: Security) -> int:
    """Conventional port for a security mode, as most clients default (465/587/25)."""
    return {"ssl": 465, "starttls": 587, "none": 25}[security]
