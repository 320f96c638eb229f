"""Credential health and daily quotas of the sending mailboxes (issue 16).

HealthService owns two tables of its own, so a check never bumps a mailbox's `version` (an open
card's expected version stays current):

- `mailbox_health`: name → {state, code, cause/fix (zh, en), provider_type, reply, since,
  checked_at, check_ok, strikes}: the last live check and whether the mailbox is `unhealthy`.
  Moves by compare-and-set, so of several writers (instances, the worker and the checker) exactly
  one makes a transition, and only that one alerts.
- `mailbox_sent`: "name|day" → {mailbox, day, count, last_sent_at, warned, reached, at}: mails sent
  per mailbox per provider day (`RateLimit.day_tz`: Asia/Shanghai for the Chinese providers).

The worker counts sends in memory (`admit` reserves a send, `settle` records its outcome) and
`flush`es once a poll: one compare-and-set add per mailbox-day, not a write per mail. A mailbox at
its quota (`Mailbox.daily_quota`: the admin's `mailbot mailbox quota`, else the catalog's
`per_day`, an estimate where the catalog marks rate_limit unconfirmed) has its mail held until the
provider's next day; admins hear once at 80% and once at 100% per mailbox-day (per quota value:
raising it re-arms them).

A login-class failure (rejected, authorization code required, revoked, SMTP off, a refused
sign-in: any failure that is not `temporary`) marks the mailbox unhealthy at once; a
connection-class one (temporary: cannot connect, timeout, 4xx, throttled) only after
CONNECTION_STRIKES checks in a row. A later check that passes, a successful send, or a newer
passing `last_check` on the mailbox (a manual test, an edit, a new sign-in) clears it.

HealthChecker runs the periodic live login check: each mailbox once per MAILBOT_HEALTH_INTERVAL_H,
at its own phase of the interval (from its name, so checks spread out), never two at once against
one provider (a lock claim in the store, so across instances too), and once per mailbox per period
across all instances (a claim on "name|period").
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import (MailbotError, OAuthError, QuotaReached, QuotaWarning, ReauthNeeded, SmtpError, SmtpTimeout,
                        StorageFailed, smtp_codes, smtp_error_from)
from bot.guides import guide_for
from bot.i18n import Text
from bot.mailboxes.model import Mailbox
from bot.providers import get_provider
from bot.state.claims import Claims
from bot.storage import Storage

log = logging.getLogger("mailbot.health")

State = Literal["healthy", "unhealthy", "unchecked", "disabled"]
_SMTP_CODES = smtp_codes()
CONNECTION_STRIKES = 3  # connection-class failures in a row before a mailbox is unhealthy (and admins hear)
WARN_AT = 0.8  # share of the daily quota at which admins get one warning
STATE_CACHE_S = 10.0  # how long the worker trusts what it last knew of a mailbox's health row
COUNT_CACHE_S = 5.0  # how long admit trusts the stored count of today (other instances' sends)
CAS_TRIES = 20
TICK_MAX_S = 60.0  # the checker looks at the mailboxes at least this often (new ones, edits)
TICK_MIN_S = 0.05
CHECKS_AT_ONCE = 4  # concurrent checks (each against another provider)
SENT_KEEP_DAYS = 8  # counter rows kept this long (today's matters; the rest says when it last sent)
PRUNE_EVERY_S = 3600.0
_SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")  # no DST since 1991: exact where tzdata is missing


def _zone(name: str) -> Any:
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        return _SHANGHAI if name == "Asia/Shanghai" else UTC


_days: dict[str, tuple[float, float, str]] = {}  # type -> (day's start, next day's start, day): once a day


def provider_day(mailbox_type: str, at: float) -> tuple[str, float]:
    """The provider's day at epoch `at` ("2025-03-01") and when its next day starts (epoch). The
    worker asks once per mail sent: the day is worked out once per type and day."""
    known = _days.get(mailbox_type)
    if known is not None and known[0] <= at < known[1]:
        return known[2], known[1]
    tz = _zone(get_provider(mailbox_type).rate_limit.day_tz)
    today = datetime.fromtimestamp(at, tz).date()
    start, end = _midnight(today, tz), _midnight(today + timedelta(days=1), tz)
    _days[mailbox_type] = (start, end, today.isoformat())
    return today.isoformat(), end


def _midnight(day: date, tz: Any) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def is_login_class(error: BaseException) -> bool:
    """A failure an admin must fix (the credentials or the account's settings), not one that may pass."""
    if isinstance(error, ReauthNeeded):
        return True
    return isinstance(error, (SmtpError, OAuthError)) and not error.temporary


def alert_kind(error: BaseException) -> Literal["needs_reauth", "login_failing"]:
    """The alert an unhealthy mailbox raises: the worker's and the checker's are the same alert."""
    return "needs_reauth" if isinstance(error, ReauthNeeded) else "login_failing"


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _dt(value: Any) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(float(value), UTC)


@dataclass(frozen=True)
class Quota:
    per_day: int
    estimated: bool  # the catalog's figure, not confirmed by the provider
    source: Literal["provider", "mailbox"]

    def to_json(self) -> dict[str, Any]:
        return {"per_day": self.per_day, "estimated": self.estimated, "source": self.source}


def quota_of(mailbox: Mailbox) -> Quota | None:
    if mailbox.quota_per_day is not None:
        return Quota(mailbox.quota_per_day, False, "mailbox")
    provider = get_provider(mailbox.type)
    if provider.rate_limit.per_day is None:
        return None
    return Quota(provider.rate_limit.per_day, "rate_limit" in provider.unconfirmed, "provider")


@dataclass
class Reason:
    code: str
    cause: Text
    fix: Text | None
    provider_type: str | None = None

    def to_json(self, lang: str) -> dict[str, Any]:
        return {"code": self.code, "message": self.cause(lang), "fix": self.fix(lang) if self.fix else None}


@dataclass
class MailboxHealth:
    """One line of `mailbot mailbox health` / the chat's 邮箱状态."""

    name: str
    type: str
    state: State
    reason: Reason | None
    checked_at: datetime | None
    check_ok: bool | None
    strikes: int
    last_sent_at: datetime | None
    sent_today: int
    quota: Quota | None

    def to_json(self, lang: str = "en") -> dict[str, Any]:
        return {"name": self.name, "state": self.state,
                "reason": self.reason.to_json(lang) if self.reason else None,
                "checked_at": self.checked_at.isoformat() if self.checked_at else None,
                "last_sent_at": self.last_sent_at.isoformat() if self.last_sent_at else None,
                "sent_today": self.sent_today, "quota": self.quota.to_json() if self.quota else None}

    def lines(self, lang: str) -> list[str]:
        """What a person reads: state, last check, last send, today's count against the quota, and
        the reason and fix when unhealthy."""
        zh = lang == "zh"
        states = {"healthy": ("正常", "healthy"), "unhealthy": ("异常", "unhealthy"),
                  "unchecked": ("未检查", "unchecked"), "disabled": ("已停用", "disabled")}
        icon = {"healthy": "✅", "unhealthy": "❌", "unchecked": "⏳", "disabled": "⏸"}[self.state]
        label = states[self.state][0 if zh else 1]

        def when(at: datetime | None) -> str:
            return ("从未" if zh else "never") if at is None else f"{at:%Y-%m-%d %H:%M} UTC"

        check = when(self.checked_at)
        if self.checked_at is not None and self.check_ok is False:
            check += "（失败）" if zh else " (failed)"
        if self.strikes and self.state != "unhealthy":
            check += (f"，连接失败 {self.strikes}/{CONNECTION_STRIKES}" if zh
                      else f", connection failed {self.strikes}/{CONNECTION_STRIKES}")
        if self.quota is None:
            today = f"{self.sent_today}" + ("（不限）" if zh else " (no limit)")
        else:
            today = f"{self.sent_today}/{self.quota.per_day}"
            if self.quota.estimated:
                today += "（估计值）" if zh else " (estimate)"
        first = (f"{icon} {self.name}：{label} · 上次检查 {check} · 上次发信 {when(self.last_sent_at)} · 今日 {today}" if zh
                 else f"{icon} {self.name}: {label} · last check {check} · last sent {when(self.last_sent_at)} · today {today}")
        out = [first]
        if self.reason is not None:
            out.append(("原因：" if zh else "Reason: ") + self.reason.cause(lang))
            if self.reason.fix is not None:
                out.append(("解决：" if zh else "Fix: ") + self.reason.fix(lang))
            if guide := self.guide(lang):
                out += [("指引：" if zh else "Guide:"), *(f"  {line}" for line in guide)]
        return out

    def guide(self, lang: str) -> list[str]:
        """The type's short guide when the reason's fix points to it (a refused login), else []. The
        health row keeps the reason's code only, so the classified error is rebuilt from it."""
        reason = self.reason
        if self.state != "unhealthy" or reason is None or reason.code not in _SMTP_CODES:
            return []
        return guide_for(smtp_error_from(reason.code, None, reason.provider_type or self.type), lang)


@dataclass
class Admission:
    """`admit`'s answer when the quota is reached: hold the mail until `until` (epoch)."""

    until: float
    error: QuotaReached
    alert: bool  # the first to reach it today: tell the admins


@dataclass
class Transition:
    """A health change worth an alert: the mailbox turned unhealthy (or its reason changed)."""

    mailbox: Mailbox
    error: MailbotError


@dataclass
class _Known:
    row: dict[str, Any] | None
    at: float  # monotonic


@dataclass
class _Count:
    stored: int = 0
    loaded_at: float = -1e18  # monotonic; never loaded
    local: int = 0  # sent here, not yet flushed
    last_sent: float = 0.0
    mailbox: Mailbox | None = None


def quota_reached(mailbox: Mailbox, quota: Quota, until: float) -> QuotaReached:
    resume = datetime.fromtimestamp(until, _zone(get_provider(mailbox.type).rate_limit.day_tz))
    return QuotaReached(
        Text(zh=f"邮箱“{mailbox.name}”今天已发送 {quota.per_day} 封，达到每日上限{'（估计值）' if quota.estimated else ''}；"
                f"其余邮件等待到 {resume:%Y-%m-%d %H:%M %Z}（服务商的次日）再发，以免账号被封。",
             en=f"The mailbox '{mailbox.name}' sent {quota.per_day} mails today, its daily quota"
                f"{' (an estimate)' if quota.estimated else ''}; further mail waits until {resume:%Y-%m-%d %H:%M %Z} "
                "(the provider's next day) rather than get the account blocked."),
        Text(zh=f"不必处理：邮件会在次日自动发出。若服务商允许更多，运行 `mailbot mailbox quota {mailbox.name} 数量` 提高上限，等待的邮件会立即发出。",
             en=f"Nothing to do: the mail goes out the next day. If the provider allows more, raise it with "
                f"`mailbot mailbox quota {mailbox.name} N` and the waiting mail goes out at once."))


def quota_warning(mailbox: Mailbox, quota: Quota, count: int) -> QuotaWarning:
    return QuotaWarning(
        Text(zh=f"邮箱“{mailbox.name}”今天已发送 {count} 封，达到每日上限 {quota.per_day} 的 {count * 100 // quota.per_day}%"
                f"{'（上限为估计值）' if quota.estimated else ''}。到达上限后，其余邮件将等到服务商的次日再发。",
             en=f"The mailbox '{mailbox.name}' sent {count} mails today, {count * 100 // quota.per_day}% of its daily quota "
                f"of {quota.per_day}{' (an estimate)' if quota.estimated else ''}. At the quota, further mail waits for the "
                "provider's next day."),
        Text(zh=f"如需更多，可分流到其他邮箱，或在服务商允许时用 `mailbot mailbox quota {mailbox.name} 数量` 提高上限。",
             en=f"Spread mail over other mailboxes, or if the provider allows more, raise it with "
                f"`mailbot mailbox quota {mailbox.name} N`."))


def _connection_unhealthy(error: MailbotError) -> Text:
    return Text(zh=f"连续 {CONNECTION_STRIKES} 次检查无法连接或登录：", en=f"{CONNECTION_STRIKES} checks in a row could not connect: ")


class HealthService:
    def __init__(self, storage: Storage, *, clock: Callable[[], float] = time.time) -> None:
        self._health = storage.table("mailbox_health")
        self._sent = storage.table("mailbox_sent", indexed=("mailbox",))
        self.clock = clock
        self._known: dict[str, _Known] = {}
        self._counts: dict[tuple[str, str], _Count] = {}  # (mailbox, day)
        self._inflight: dict[str, int] = {}
        self._pruned_at = -1e18

    # ---- health state -------------------------------------------------------------------------

    async def _row(self, name: str, *, fresh: bool = False) -> dict[str, Any] | None:
        known = self._known.get(name)
        if not fresh and known is not None and time.monotonic() - known.at < STATE_CACHE_S:
            return known.row
        row = await self._health.get(name)
        self._known[name] = _Known(row, time.monotonic())
        return row

    @staticmethod
    def _unhealthy(row: dict[str, Any] | None, mailbox: Mailbox) -> bool:
        """Whether the row's unhealthy still stands: a newer passing check on the mailbox itself (a
        manual test, an edit, a new sign-in) clears it."""
        if row is None or row.get("state") != "unhealthy":
            return False
        check = mailbox.last_check
        return not (check is not None and check.ok and check.at.timestamp() > float(row.get("since", 0)))

    async def _update(self, mailbox: Mailbox, change: Callable[[dict[str, Any] | None], dict[str, Any] | None]
                      ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Compare-and-set `change(row)` onto the health row; (before, after). `change` returning
        None leaves the row alone."""
        row = await self._row(mailbox.name, fresh=True)
        for _ in range(CAS_TRIES):
            new = change(row)
            if new is None:
                return row, row
            if await self._health.put_if(mailbox.name, new, row):
                self._known[mailbox.name] = _Known(new, time.monotonic())
                return row, new
            row = await self._row(mailbox.name, fresh=True)
        raise StorageFailed("busy", table="mailbox_health", detail="health row contention")

    def _failed_row(self, row: dict[str, Any] | None, mailbox: Mailbox, error: MailbotError, now: float, *,
                    check: bool) -> dict[str, Any]:
        base = dict(row or {})
        if check:
            base.update(checked_at=now, check_ok=False)
        was = self._unhealthy(row, mailbox)
        if is_login_class(error):
            strikes, bad = 0, True
        else:
            strikes = int(base.get("strikes", 0)) + 1
            bad = was or strikes >= CONNECTION_STRIKES
        base["strikes"] = strikes
        if not bad:
            return base
        if was and not is_login_class(error):
            return {**base, "state": "unhealthy"}  # keep the reason it had: a connection failure says nothing new
        smtp = error if isinstance(error, SmtpError) else None
        cause = error.cause if is_login_class(error) else Text(
            zh=_connection_unhealthy(error).zh + error.cause.zh, en=_connection_unhealthy(error).en + error.cause.en)
        return {**base, "state": "unhealthy", "code": error.code, "cause": cause.model_dump(),
                "fix": error.fix.model_dump() if error.fix else None,
                "provider_type": smtp.provider_type if smtp and smtp.provider_type else mailbox.type,
                "reply": smtp.reply if smtp else None, "since": now if not was else base.get("since", now)}

    async def failed(self, mailbox: Mailbox, error: MailbotError, *, check: bool = False) -> Transition | None:
        """A login or a check failed with `error`: the Transition to alert about when this made the
        mailbox unhealthy (or changed its reason), else None. Cheap when it is already known unhealthy
        for that reason (the worker calls this for every mail of a failing mailbox)."""
        if not check:
            known = self._known.get(mailbox.name)
            if (known is not None and time.monotonic() - known.at < STATE_CACHE_S
                    and self._unhealthy(known.row, mailbox) and known.row and known.row.get("code") == error.code):
                return None
        now = self.clock()
        before, after = await self._update(mailbox, lambda row: self._failed_row(row, mailbox, error, now, check=check))
        if after is None or not self._unhealthy(after, mailbox):
            return None
        if self._unhealthy(before, mailbox) and before is not None and before.get("code") == after.get("code"):
            return None
        return Transition(mailbox, error)

    async def passed(self, mailbox: Mailbox, *, check: bool = True) -> bool:
        """A check passed (or, `check=False`, a send succeeded): clear unhealthy; True when it was."""
        now = self.clock()
        if not check:
            row = await self._row(mailbox.name)
            if not self._unhealthy(row, mailbox) and not (row or {}).get("strikes"):
                return False

        def change(row: dict[str, Any] | None) -> dict[str, Any] | None:
            new = {k: v for k, v in (row or {}).items() if k in ("checked_at", "check_ok")}
            if check:
                new.update(checked_at=now, check_ok=True)
            new.update(state="healthy", strikes=0)
            return new if new != row else None

        before, _ = await self._update(mailbox, change)
        return self._unhealthy(before, mailbox)

    async def last_check(self, mailbox: Mailbox) -> tuple[float | None, int]:
        """When its login was last checked (the periodic check, or a manual test / edit / sign-in), and
        the connection failures in a row since it last passed."""
        row = await self._row(mailbox.name)
        times = [t for t in ((row or {}).get("checked_at"), _ts(mailbox.last_check.at if mailbox.last_check else None))
                 if t is not None]
        return (max(float(t) for t in times) if times else None), int((row or {}).get("strikes", 0))

    # ---- counting and quotas (the worker's hot path: memory, flushed once a poll) -----------------

    def _count(self, mailbox: Mailbox, day: str) -> _Count:
        count = self._counts.get((mailbox.name, day))
        if count is None:
            for key in [k for k in self._counts if k[0] == mailbox.name and k[1] != day and not self._counts[k].local]:
                del self._counts[key]  # yesterday's, flushed
            count = self._counts[(mailbox.name, day)] = _Count()
        count.mailbox = mailbox
        return count

    async def admit(self, mailbox: Mailbox) -> Admission | None:
        """Before a send: None reserves it (`settle` must follow); an Admission says hold the mail."""
        quota = quota_of(mailbox)
        if quota is not None:
            now = self.clock()
            day, next_day = provider_day(mailbox.type, now)
            count = self._count(mailbox, day)
            if time.monotonic() - count.loaded_at >= COUNT_CACHE_S:
                row = await self._sent.get(f"{mailbox.name}|{day}")
                count.stored, count.loaded_at = int((row or {}).get("count", 0)), time.monotonic()
            if count.stored + count.local + self._inflight.get(mailbox.name, 0) >= quota.per_day:
                return Admission(next_day, quota_reached(mailbox, quota, next_day),
                                 await self._mark_once(mailbox, day, "reached", quota.per_day))
        self._inflight[mailbox.name] = self._inflight.get(mailbox.name, 0) + 1
        return None

    def settle(self, mailbox: Mailbox, sent: bool) -> None:
        """After an admitted send: counted when it was sent (in the provider's day it went out)."""
        left = self._inflight.get(mailbox.name, 1) - 1
        if left > 0:
            self._inflight[mailbox.name] = left
        else:
            self._inflight.pop(mailbox.name, None)
        if sent:
            now = self.clock()
            count = self._count(mailbox, provider_day(mailbox.type, now)[0])
            count.local += 1
            count.last_sent = max(count.last_sent, now)

    async def _mark_once(self, mailbox: Mailbox, day: str, flag: str, per_day: int) -> bool:
        """Set `flag` to this quota on today's counter row; True for the one writer that did."""
        key = f"{mailbox.name}|{day}"
        for _ in range(CAS_TRIES):
            row = await self._sent.get(key)
            if row is not None and row.get(flag) == per_day:
                return False
            new = {**(row or self._new_row(mailbox.name, day)), flag: per_day}
            if await self._sent.put_if(key, new, row):
                return True
        return False

    def _new_row(self, name: str, day: str) -> dict[str, Any]:
        return {"mailbox": name, "day": day, "count": 0, "last_sent_at": None, "at": self.clock()}

    async def flush(self) -> list[tuple[str, Mailbox, MailbotError]]:
        """Add this process's counts to the store (one compare-and-set per mailbox-day) and clear the
        unhealthy state of mailboxes that sent. Returns the alerts due: (kind, mailbox, error), a
        warning at WARN_AT of the quota once per mailbox-day. Counts that could not be written stay
        for the next flush."""
        alerts: list[tuple[str, Mailbox, MailbotError]] = []
        for (name, day), count in list(self._counts.items()):
            if not count.local or count.mailbox is None:
                continue
            mailbox, n = count.mailbox, count.local
            quota = quota_of(mailbox)
            key = f"{name}|{day}"
            warn = False
            for _ in range(CAS_TRIES):
                row = await self._sent.get(key)
                new = dict(row or self._new_row(name, day))
                new["count"] = int(new.get("count", 0)) + n
                new["last_sent_at"] = max(float(new.get("last_sent_at") or 0), count.last_sent)
                warn = (quota is not None and new["count"] >= math.ceil(WARN_AT * quota.per_day)
                        and new.get("warned") != quota.per_day)
                if warn and quota is not None:
                    new["warned"] = quota.per_day
                if await self._sent.put_if(key, new, row):
                    count.local -= n  # sends settled meanwhile stay for the next flush
                    count.stored, count.loaded_at = int(new["count"]), time.monotonic()
                    break
            else:
                continue
            if warn and quota is not None:
                alerts.append(("quota_warning", mailbox, quota_warning(mailbox, quota, int(new["count"]))))
            try:
                await self.passed(mailbox, check=False)
            except StorageFailed as exc:
                log.warning("could not clear the health of %s: %s", name, exc.code)
        return alerts

    def forget_count(self, name: str) -> None:
        """The quota changed: the next admit reads the stored count again."""
        for key, count in self._counts.items():
            if key[0] == name:
                count.loaded_at = -1e18

    # ---- reading ----------------------------------------------------------------------------

    async def status(self, mailboxes: list[Mailbox]) -> list[MailboxHealth]:
        rows = dict(await self._health.items())
        now = self.clock()
        out = []
        for mailbox in mailboxes:
            row = rows.get(mailbox.name)
            self._known[mailbox.name] = _Known(row, time.monotonic())
            day, _ = provider_day(mailbox.type, now)
            today = await self._sent.get(f"{mailbox.name}|{day}")
            latest = today
            if latest is None or not latest.get("last_sent_at"):
                newest = await self._sent.newest(1, where={"mailbox": mailbox.name})
                latest = newest[0][1] if newest else None
            local = self._counts.get((mailbox.name, day))
            sent_today = int((today or {}).get("count", 0)) + (local.local if local else 0)
            check = mailbox.last_check
            checked = (row or {}).get("checked_at")
            check_ok = (row or {}).get("check_ok")
            if check is not None and (checked is None or check.at.timestamp() > float(checked)):
                checked, check_ok = check.at.timestamp(), check.ok
            reason = None
            if not mailbox.enabled:
                state: State = "disabled"
            elif mailbox.auth_state == "needs_reauth":
                state = "unhealthy"
                reason = Reason("needs_reauth", Text(zh=f"邮箱“{mailbox.name}”的登录已失效，需要重新登录。",
                                                     en=f"The sign-in of the mailbox '{mailbox.name}' is no longer valid."),
                                Text(zh=f"运行 `mailbot mailbox reauth {mailbox.name}`（或在聊天/控制台重新登录）。",
                                     en=f"Run `mailbot mailbox reauth {mailbox.name}` (or sign in again in chat or the console)."),
                                mailbox.type)
            elif self._unhealthy(row, mailbox):
                assert row is not None
                state = "unhealthy"
                reason = Reason(str(row.get("code")), Text(**row["cause"]), Text(**row["fix"]) if row.get("fix") else None,
                                row.get("provider_type"))
            elif (failed := self._own_check_failed(mailbox, checked, max(
                    float((latest or {}).get("last_sent_at") or 0), local.last_sent if local else 0.0))) is not None:
                state, reason = "unhealthy", failed
            elif checked is not None or (latest or {}).get("last_sent_at"):
                state = "healthy"
            else:
                state = "unchecked"
            last_sent = (latest or {}).get("last_sent_at")
            if local and local.last_sent:
                last_sent = max(float(last_sent or 0), local.last_sent)
            out.append(MailboxHealth(
                name=mailbox.name, type=mailbox.type, state=state, reason=reason, checked_at=_dt(checked),
                check_ok=check_ok, strikes=int((row or {}).get("strikes", 0)), last_sent_at=_dt(last_sent),
                sent_today=sent_today, quota=quota_of(mailbox)))
        return out

    @staticmethod
    def _own_check_failed(mailbox: Mailbox, checked: float | None, last_sent: float) -> Reason | None:
        """The mailbox's own newest check (a manual `test`, shown to the admin who ran it) failed with a
        login-class reason: it reads unhealthy until a later check or send passes."""
        check = mailbox.last_check
        if (check is None or check.ok or not check.code or checked != check.at.timestamp()
                or last_sent > check.at.timestamp()):
            return None
        error = smtp_error_from(check.code, None, mailbox.type)
        if not is_login_class(error) or error.code != check.code:  # unknown or temporary: not a verdict
            return None
        return Reason(error.code, error.cause, error.fix, mailbox.type)

    async def prune(self, names: set[str]) -> int:
        """Forget counter rows older than SENT_KEEP_DAYS (oldest first, bounded pages) and the health
        rows of mailboxes that are gone; how many rows went."""
        cutoff = self.clock() - SENT_KEEP_DAYS * 86400
        removed = 0
        for _ in range(10):
            page = await self._sent.scan(500)
            old = [key for key, doc in page.rows if float(doc.get("at", 0)) < cutoff]
            if old:
                await self._sent.write({}, delete=old)
                removed += len(old)
            if len(old) < len(page.rows) or page.cursor is None:
                break
        gone = [name for name, _ in await self._health.items() if name not in names]
        if gone:
            await self._health.write({}, delete=gone)
            removed += len(gone)
        return removed


# ---- the periodic check ---------------------------------------------------------------------------


def phase(name: str) -> float:
    """The mailbox's place in the check interval, in [0, 1): stable, and spread by its name."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big") / 2**64


def provider_key(mailbox: Mailbox) -> str:
    return f"{mailbox.type}|{mailbox.host.lower()}"


class HealthChecker:
    """Checks every enabled mailbox's login once per interval and tells `alert` what turned unhealthy.

    `alert(kind, mailbox, error)` is the caller's (the relay component builds the same alert the
    worker would). `check(mailbox)` logs in (MailboxService.check_login). `tick()` is one pass; the
    runner started by `start()` repeats it until `stop()`.
    """

    def __init__(self, health: HealthService, storage: Storage, list_mailboxes: Callable[[], Any],
                 check: Callable[[Mailbox], Any], alert: Callable[[str, Mailbox, MailbotError], Any], *,
                 interval_h: float, timeout_s: float, clock: Callable[[], float] = time.time) -> None:
        self.health = health
        self.list_mailboxes = list_mailboxes
        self.check = check
        self.alert = alert
        self.interval_s = interval_h * 3600.0
        self.retry_s = self.interval_s / 24  # after a connection failure (1 h at the default 24 h)
        self.timeout_s = timeout_s
        self.clock = clock
        keep = max(2 * self.interval_s, 86400.0)
        self.slots = Claims(storage, "health_claims", keep_s=keep, clock=clock)
        self.locks = Claims(storage, "health_locks", keep_s=keep, window_s=timeout_s + 30.0, clock=clock, lock=True)
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self.checks = 0  # checks this process ran (tests, logs)

    def slot(self, mailbox: Mailbox, now: float) -> tuple[int, float]:
        """The latest period whose slot for this mailbox has come: (index, its time)."""
        p = phase(mailbox.name)
        k = math.floor(now / self.interval_s - p)
        return k, (k + p) * self.interval_s

    async def tick(self) -> float:
        """Check every mailbox whose slot has come and that was not checked since; return when the
        next slot comes (epoch)."""
        now = self.clock()
        mailboxes = [m for m in await self.list_mailboxes() if m.enabled]
        if now - self.health._pruned_at >= PRUNE_EVERY_S:
            self.health._pruned_at = now
            try:
                await self.health.prune({m.name for m in await self.list_mailboxes()})
            except StorageFailed as exc:
                log.warning("could not prune health rows: %s", exc.code)
        due: dict[str, list[tuple[Mailbox, str]]] = {}
        next_at = now + TICK_MAX_S
        for mailbox in mailboxes:
            k, at = self.slot(mailbox, now)
            last, strikes = await self.health.last_check(mailbox)
            # A mailbox never checked waits for its first slot after it was added (a new one was just
            # verified, or saved unverified on purpose): checks stay spread out.
            if max(last or 0.0, mailbox.created_at.timestamp()) < at:
                due.setdefault(provider_key(mailbox), []).append((mailbox, f"{mailbox.name}|{k}"))
            elif strikes and now >= last + self.retry_s:  # a connection failure: look again sooner
                due.setdefault(provider_key(mailbox), []).append((mailbox, f"{mailbox.name}|{k}|{strikes}"))
            next_at = min(next_at, at + self.interval_s, *([last + self.retry_s] if strikes and last else []))
        if due:
            gate = asyncio.Semaphore(CHECKS_AT_ONCE)

            async def run(key: str, items: list[tuple[Mailbox, str]]) -> None:
                async with gate:
                    for mailbox, slot in items:  # one provider: one at a time
                        if not await self._check_one(key, mailbox, slot):
                            return  # another instance is checking this provider: the next tick tries again

            await asyncio.gather(*(run(key, items) for key, items in due.items()))
            next_at = min(next_at, self.clock() + min(5.0, self.interval_s / 10))
        return next_at

    async def _check_one(self, key: str, mailbox: Mailbox, slot: str) -> bool:
        """Check it unless another instance has this slot; False when the provider's lock is held elsewhere."""
        lock = f"provider|{key}"
        if not await self.locks.claim(lock):
            return False
        try:
            if not await self.slots.claim(slot):
                return True  # checked (or being checked) by another instance this period
            self.checks += 1
            try:
                await asyncio.wait_for(self.check(mailbox), self.timeout_s)
            except (SmtpError, OAuthError) as exc:
                await self._failed(mailbox, exc)
            except TimeoutError:
                await self._failed(mailbox, SmtpTimeout(None, provider_type=mailbox.type))
            else:
                if await self.health.passed(mailbox):
                    log.info("mailbox %s is healthy again", mailbox.name)
        finally:
            await self.locks.release(lock)
        return True

    async def _failed(self, mailbox: Mailbox, exc: MailbotError) -> None:
        log.info("health check of %s failed: %s", mailbox.name, exc.code)
        if await self.health.failed(mailbox, exc, check=True) is not None:
            await self.alert(alert_kind(exc), mailbox, exc)

    # ---- the runner ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="mailbox-health")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()  # a check in progress is dropped: its slot's claim stands, the next period checks
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                next_at = await self.tick()
            except Exception:  # noqa: BLE001 - a failing pass must not end the checks for good
                log.exception("mailbox health pass failed; trying again later")
                next_at = self.clock() + TICK_MAX_S
            wait = min(TICK_MAX_S, max(TICK_MIN_S, next_at - self.clock()))
            try:
                await asyncio.wait_for(self._stop.wait(), wait)
            except TimeoutError:
                pass
