"""One Settings object for the whole bot: env vars (MAILBOT_*, DINGTALK_*) and an optional .env."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Read once per process; every front end (CLI, chat, HTTP) gets the same values."""

    model_config = SettingsConfigDict(env_prefix="MAILBOT_", env_file=".env", extra="ignore")

    data_dir: Path = Path("./data")
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
    # chat (issue 5)
    wizard_idle_s: float = Field(600.0, gt=0)
    dingtalk_reconnect_s: float = Field(1.0, ge=0)
    dingtalk_reconnect_max_s: float = Field(30.0, ge=0)
    dingtalk_http_timeout_s: float = Field(10.0, gt=0)

    @property
    def admin_ids(self) -> frozenset[str]:
        return frozenset(part.strip() for part in self.admins.split(",") if part.strip())


def load_settings() -> Settings:
    return Settings()
