"""Mailbox records and the validation of what a user types for one.

`MailboxSpec` is what a user submits (CLI flags, chat, card form); `Mailbox` is the stored
record, which holds the secret only as a Fernet token. Every invalid field becomes a FieldError
that names the field, says what is wrong and shows a valid example, in zh and en.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from bot.errors import FieldError, InvalidInput
from bot.i18n import Text
from bot.providers import CATALOG, PROVIDER_TYPES, OAuthRoute, Security, detect_type, get_provider

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")

# What to say for an error pydantic raises itself (missing field, not a number...).
FIELD_RULES: dict[str, tuple[Text, str]] = {
    "name": (Text(zh="必填，1–64 个字符，不能含换行等控制字符", en="required, 1–64 characters without control characters"),
             "审批通知"),
    "type": (Text(zh="必须是以下之一：" + "、".join(PROVIDER_TYPES), en="must be one of: " + ", ".join(PROVIDER_TYPES)),
             "qq"),
    "account": (Text(zh="必填，完整的邮箱地址", en="required, a full e-mail address"), "notice@example.com"),
    "secret": (Text(zh="必填，不能为空", en="required, cannot be empty"), "abcdefghijklmnop"),
    "host": (Text(zh="SMTP 服务器域名或 IP", en="an SMTP host name or IP address"), "smtp.example.com"),
    "port": (Text(zh="1–65535 之间的整数", en="a whole number from 1 to 65535"), "465"),
    "security": (Text(zh="必须是 ssl、starttls 或 none", en="must be ssl, starttls or none"), "ssl"),
}


def _fail(zh: str, en: str, example: str = "") -> PydanticCustomError:
    return PydanticCustomError("mailbot", en, {"zh": zh, "en": en, "example": example})


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Turn pydantic's errors into one FieldError per field, in the order of the form."""
    found: dict[str, FieldError] = {}
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "input"
        if field in found:
            continue
        ctx = err.get("ctx") or {}
        if err["type"] == "mailbot":
            found[field] = FieldError(field=field, problem=Text(zh=ctx["zh"], en=ctx["en"]), example=ctx["example"])
        else:
            problem, example = FIELD_RULES.get(field, (Text(zh="无效", en="invalid"), ""))
            found[field] = FieldError(field=field, problem=problem, example=example)
    order = list(FIELD_RULES)
    return sorted(found.values(), key=lambda e: order.index(e.field) if e.field in order else len(order))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Caveat(BaseModel):
    """Something allowed but probably a mistake; shown to the user, never blocks."""

    model_config = ConfigDict(frozen=True)
    code: str
    text: Text


class MailboxSpec(BaseModel):
    """What a user submits for a mailbox; `resolve()` fills in the rest from the catalog."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    type: str | None = None
    account: str
    host: str | None = None
    port: int | None = Field(None, ge=1, le=65535)
    security: Security | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if _CONTROL.search(value):
            raise _fail("不能含换行或控制字符", "must not contain line breaks or control characters", "审批通知")
        if not value.strip("."):  # "." and ".." are no name a console address can carry (browsers resolve them)
            raise _fail("不能只由“.”组成", "must not be only dots", "审批通知")
        return value

    @field_validator("type", "host", "port", "security", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: Any) -> Any:
        """Forms and chat send "" for a field left empty: that means "not given"."""
        if isinstance(value, str):
            value = value.strip()
            return value.lower() if value else None
        return value

    @field_validator("type")
    @classmethod
    def _type(cls, value: str | None) -> str | None:
        if value is not None and value not in PROVIDER_TYPES:
            raise _fail(f"不认识的类型“{value}”，可选：" + "、".join(PROVIDER_TYPES),
                        f"unknown type '{value}'; choose one of: " + ", ".join(PROVIDER_TYPES), "qq")
        return value

    @field_validator("account")
    @classmethod
    def _account(cls, value: str) -> str:
        try:
            checked = validate_email(value, check_deliverability=False)
        except EmailNotValidError:
            raise _fail(f"“{value}”不是有效的邮箱地址", f"'{value}' is not a valid e-mail address",
                        "notice@example.com") from None
        account = checked.normalized
        domain = account.rsplit("@", 1)[1].lower()
        for provider in CATALOG.values():
            if domain in provider.refused_domains:
                raise _fail(f"{domain} 个人地址不能用于第三方客户端，请使用企业邮箱地址",
                            f"{provider.refused_domains[domain]}; use an enterprise address", "notice@yourcompany.com")
        return account

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ipaddress.ip_address(value)
            return value
        except ValueError:
            pass
        if not _HOST.match(value):
            raise _fail(f"“{value}”不是有效的服务器地址", f"'{value}' is not a valid host name", "smtp.example.com")
        return value


class Resolved(BaseModel):
    """A spec with type and server settings filled in, plus the warnings found on the way."""

    type: str
    host: str
    port: int
    security: Security
    warnings: list[Caveat] = []


def resolve(spec: MailboxSpec) -> Resolved:
    """Fill type and server from the catalog; InvalidInput when something essential is missing."""
    detected = detect_type(spec.account)
    type_key = spec.type or detected or ("custom" if spec.host else None)
    if type_key is None:
        domain = spec.account.rsplit("@", 1)[1]
        raise InvalidInput([FieldError(
            field="type",
            problem=Text(zh=f"无法从域名 {domain} 判断邮箱类型，请指定类型（企业邮箱选对应服务商，其他选 custom 并填写服务器）",
                         en=f"cannot tell the type from the domain {domain}; give the type (your enterprise mail provider, or custom with a host)"),
            example="aliyun_enterprise",
        )])
    warnings: list[Caveat] = []
    if spec.type and detected and detected != spec.type:
        warnings.append(Caveat(code="type_domain_mismatch", text=Text(
            zh=f"类型 {spec.type} 与账号域名（看起来是 {detected}）不一致，请确认。",
            en=f"The type {spec.type} does not match the account's domain (which looks like {detected}); please check.")))
    provider = get_provider(type_key)
    host = spec.host or provider.host
    security = spec.security or provider.security
    port = spec.port or provider.port
    if spec.security and not spec.port and provider.host and spec.security == provider.alt_security:
        port = provider.alt_port
    missing = [f for f, v in (("host", host), ("port", port), ("security", security)) if not v]
    if missing:
        examples = {"host": "smtp.example.com", "port": "465", "security": "ssl"}
        raise InvalidInput([FieldError(
            field=f,
            problem=Text(zh="自定义 SMTP 必须填写此项", en="required for custom SMTP"),
            example=examples[f],
        ) for f in missing])
    assert host and port and security
    if security == "none" and not _is_loopback(host):
        warnings.append(Caveat(code="insecure", text=Text(
            zh="加密方式为 none：密码将以明文在网络上传输，建议改用 ssl 或 starttls。",
            en="Security is none: the password crosses the network in clear text; use ssl or starttls if you can.")))
    if provider.basic_auth_disabled:
        warnings.append(Caveat(code="basic_auth_disabled", text=Text(zh=provider.notes_zh, en=provider.notes_en)))
    return Resolved(type=type_key, host=host, port=port, security=security, warnings=warnings)


def parse_spec(data: dict[str, Any]) -> MailboxSpec:
    """Validate raw input; InvalidInput lists every bad field at once."""
    try:
        return MailboxSpec.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(field_errors(exc)) from None


def check_secret(secret: SecretStr | None, type_key: str) -> SecretStr:
    """A non-empty secret; Gmail's grouped app password loses its spaces."""
    value = secret.get_secret_value() if secret is not None else ""
    if get_provider(type_key).type == "gmail":
        value = value.replace(" ", "")
    value = value.strip()
    if not value or _CONTROL.search(value) or len(value) > 512:
        provider = get_provider(type_key)
        raise InvalidInput([FieldError(
            field="secret",
            problem=Text(zh=f"请填写{provider.secret_name_zh}（不能为空，不能含换行）",
                         en=f"enter the {provider.secret_name_en} (not empty, no line breaks)"),
            example="abcdefghijklmnop",
        )])
    return SecretStr(value)


def oauth_route_of(type_key: str) -> OAuthRoute:
    """The type's OAuth2 route; InvalidInput naming the types that have one when it has none."""
    route = get_provider(type_key).oauth
    if route is None:
        able = [t for t, p in CATALOG.items() if p.oauth is not None]
        raise InvalidInput([FieldError(field="type", problem=Text(
            zh=f"{get_provider(type_key).name_zh}不支持 OAuth2 登录，请用密码/授权码；支持 OAuth2 的类型：" + "、".join(able),
            en=f"{get_provider(type_key).name_en} has no OAuth2 sign-in; use its password. Types with OAuth2: " + ", ".join(able)),
            example=able[0])])
    return route


UNPACED = "none"  # a mailbox's explicit "no pacing" (`mailbot mailbox rate NAME none`)
_WHOLE = re.compile(r"\s*([+-]?)([0-9]+)\s*")


def quota_from(raw: object) -> int | None:
    """A daily quota as the CLI and the console take it: a whole number (or its digits), or null /
    "default" for the provider's. InvalidInput under `quota_per_day` for anything else; the range is
    `MailboxService.set_quota`'s to check."""
    if raw is None or (isinstance(raw, str) and raw.strip().lower() == "default"):
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and (number := _WHOLE.fullmatch(raw)):
        sign, digits = number.groups()
        value = int(digits) if len(digits) <= 18 else 10**18  # out of range either way, and no huge int() of it
        return -value if sign == "-" else value
    raise InvalidInput([FieldError(field="quota_per_day", example="500", problem=Text(
        zh="须为每天的封数（整数），或 default 表示恢复服务商的默认值",
        en="must be a number of mails a day (a whole number), or default for the provider's"))])


class LastCheck(BaseModel):
    at: datetime
    ok: bool
    code: str | None = None
    reason: str | None = None


Auth = Literal["password", "oauth2"]
AuthState = Literal["ok", "needs_reauth"]


class Mailbox(BaseModel):
    """A stored mailbox. The secret exists here only as `secret_token` (Fernet): the password, or
    for `auth` "oauth2" the refresh token (the access token lives in memory only)."""

    model_config = ConfigDict(extra="ignore")

    name: str
    type: str
    account: str
    secret_token: str = Field(repr=False)
    host: str
    port: int
    security: Security
    enabled: bool = True
    default: bool = False
    # Relay pacing: mails a minute, "none" for no pacing, None for the provider's default.
    rate_per_minute: int | Literal["none"] | None = None
    # Daily sending quota: mails a day, None for the provider's (`mailbot mailbox quota NAME N|default`).
    quota_per_day: int | None = None
    version: int = 1
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    last_check: LastCheck | None = None
    auth: Auth = "password"
    auth_state: AuthState = "ok"  # needs_reauth: the issuer refused the refresh token; mail waits
    auth_reason: str | None = None  # why it needs a new sign-in (the issuer's error code), for the admin

    @property
    def pace_per_minute(self) -> int | None:
        """How many mails a minute the relay sends through it at most; None: no pacing."""
        if self.rate_per_minute == UNPACED:
            return None
        return self.rate_per_minute or get_provider(self.type).rate_limit.per_minute

    @property
    def daily_quota(self) -> int | None:
        """The most mails a day the relay sends through it (its own quota, else the provider's); None: no limit."""
        return self.quota_per_day or get_provider(self.type).rate_limit.per_day

    def public(self) -> dict[str, Any]:
        """Everything but the secret, JSON-ready: what list/show/API print."""
        data = self.model_dump(mode="json", exclude={"secret_token"})
        return data
