"""Sample data for card tests: stored mailboxes and classified errors, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.mailboxes.model import LastCheck, Mailbox

AT = datetime(2026, 11, 29, 9, 30, tzinfo=UTC)


def mailbox(name: str, *, type_key: str = "qq", enabled: bool = True, default: bool = False,
            ok: bool | None = True, version: int = 2) -> Mailbox:
    return Mailbox(
        name=name, type=type_key, account=f"{name.lower()}@qq.com", secret_token="gAAAA-token", host="smtp.qq.com",
        port=465, security="ssl", enabled=enabled, default=default, version=version, created_by="alice",
        created_at=AT, updated_by="alice", updated_at=AT,
        last_check=None if ok is None else LastCheck(at=AT, ok=ok, code=None if ok else "auth_rejected"))
