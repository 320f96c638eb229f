"""One Settings object for the whole bot: env vars (MAILBOT_*, DINGTALK_*) and an optional .env."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import FieldError, InvalidInput
from bot.i18n import Text


class Settings(BaseSettings):
    """Read once per process; every front end (CLI, chat, HTTP) gets the same values."""

    model_config = SettingsConfigDict(env_prefix="MAILBOT_", env_file=".env", extra="ignore")

    data_dir: Path = Path("./data")
    # storage (issue 13): unset, the embedded store in data_dir; postgresql://user:pass@host:port/db, PostgreSQL
    database_url: SecretStr | None = None
    relay_lease_s: float = Field(60.0, ge=5)  # a claimed mail is another instance's to send once this runs out
    secret_key: SecretStr | None = None
    smtp_timeout_s: float = Field(15.0, gt=0)
    admins: str = ""

    dingtalk_client_id: str | None = Field(None, validation_alias=AliasChoices("DINGTALK_CLIENT_ID"))
    dingtalk_client_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("DINGTALK_CLIENT_SECRET")
    )
    dingtalk_openapi_endpoint: str = Field(
        "https://api.dingtalk.com", validation_alias=AliasChoices("DINGTALK_OPENAPI_ENDPOINT")
    )
    # approval events (issue 15): the older OpenAPI host that serves the contacts API (user e-mail)
    dingtalk_oapi_endpoint: str = Field(
        "https://oapi.dingtalk.com", validation_alias=AliasChoices("DINGTALK_OAPI_ENDPOINT")
    )
    # chat (issue 5)
    wizard_idle_s: float = Field(600.0, gt=0)
    dingtalk_reconnect_s: float = Field(1.0, ge=0)
    dingtalk_reconnect_max_s: float = Field(30.0, ge=0)
    dingtalk_http_timeout_s: float = Field(10.0, gt=0)
    # relay (issue 7)
    http_host: str = "127.0.0.1"
    http_port: int = Field(8750, ge=0, le=65535)
    retry_base_s: float = Field(10.0, ge=0)
    retry_max_attempts: int = Field(8, ge=1)
    retry_max_age_s: float = Field(86400.0, gt=0)
    max_mail_bytes: int = Field(20 * 1024 * 1024, gt=0)
    relay_connections: int = Field(4, ge=1)  # per mailbox: bounded SMTP connection pool
    relay_poll_s: float = Field(1.0, gt=0)  # the worker looks for due mail queued by other processes (CLI) at least this often
    relay_idle_s: float = Field(20.0, gt=0)  # close a pooled connection unused this long
    relay_stop_grace_s: float = Field(20.0, ge=0)  # SIGTERM: wait this long for in-flight sends
    max_recipients: int = Field(100, ge=1)  # to + cc + bcc of one mail
    template_timeout_s: float = Field(2.0, gt=0)  # a template render is stopped (and its mail refused) past this
    relay_keep_days: float = Field(30.0, gt=0)  # sent/failed mail records (and their idempotency keys) kept this long
    # credential health (issue 16): every enabled mailbox's login is checked once per this many hours (fractions allowed)
    health_interval_h: float = Field(24.0, gt=0)
    # OAuth2 sign-in (issue 14): the organisation's own public clients; every endpoint overridable (emulators)
    oauth_microsoft_client_id: str | None = None
    oauth_microsoft_authority: str = "https://login.microsoftonline.com/common"  # or a tenant id, or 21Vianet's
    oauth_google_client_id: str | None = None
    oauth_google_client_secret: SecretStr | None = None  # an installed app's "secret" (Google requires it)
    oauth_google_auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    oauth_google_token_url: str = "https://oauth2.googleapis.com/token"
    # provider detection (issue 16): IP[:PORT] ([IPv6]:PORT) of the DNS server for MX lookups; unset, the system's
    dns_server: str | None = None
    # SMTP submission door (issue 15): tools that only speak SMTP log in with a relay token; port 0 turns it off.
    # Off loopback it needs STARTTLS (cert and key, PEM files): AUTH is never taken in the clear there.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(8587, ge=0, le=65535)
    smtp_tls_cert: Path | None = None
    smtp_tls_key: Path | None = None
    # console (issue 8): required to serve the web console on a non-loopback address
    console_token: SecretStr | None = None

    # cards (issue 6): ids of the templates imported from cards/templates/ (see cards/README.md)
    card_template_mailbox_form: str | None = None
    card_template_result: str | None = None
    card_template_mailbox_list: str | None = None
    card_template_alert: str | None = None

    @field_validator("dns_server")
    @classmethod
    def _dns_server_format(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None  # MAILBOT_DNS_SERVER= (blank) means the system's resolver, as unset
        dns_server_address(value)
        return value.strip()

    @property
    def admin_ids(self) -> frozenset[str]:
        return frozenset(part.strip() for part in self.admins.split(",") if part.strip())


def dns_server_address(value: str) -> tuple[str, int]:
    """(ip, port) of MAILBOT_DNS_SERVER: `IP`, `IP:PORT` or `[IPv6]:PORT` (port 53 when left out). An IP, not a
    name: the resolver cannot resolve its own server's name. ValueError says what is wrong (without the value, as
    every settings error)."""
    text = value.strip()
    port_text: str | None = None
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError("expected [IPv6]:PORT, e.g. [::1]:5353")
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host = text  # IPv4, or a bare IPv6 address
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError("not an IP address; expected IP[:PORT], e.g. 10.0.0.2 or 127.0.0.1:5353") from None
    if port_text is None:
        return str(ip), 53
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError("the port must be a number from 1 to 65535")
    return str(ip), int(port_text)


def load_settings() -> Settings:
    """Settings from the environment; a bad value is an InvalidInput naming its variable (never its value,
    which may be a secret), not a traceback."""
    try:
        return Settings()
    except ValidationError as exc:
        raise InvalidInput([FieldError(field=env_var(str(err["loc"][0])), problem=Text(zh=err["msg"], en=err["msg"]))
                            for err in exc.errors()]) from None


def env_var(field: str) -> str:
    """The environment variable that sets a Settings field (or is already named by the error)."""
    info = Settings.model_fields.get(field)
    if info is None:
        return field
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"MAILBOT_{field.upper()}"
