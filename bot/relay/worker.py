"""The delivery worker: claim due mail from the outbox, send it through a pooled session, record.

One loop claims what is due in bounded batches (a lease each, so several processes share the
queue) and routes each mail to its mailbox's Lane; a lane runs `relay_connections` senders (each
owns at most one SMTP session, so the pool is bounded) and reuses idle sessions; a slow or
rate-limited mailbox never holds up another one. A paced mailbox's mail gets a send time from the
pace every process shares: one due within the poll interval waits in its sender (stop() ends that
wait at once: it is not in flight), a later one goes back to the queue with that time as its due,
so mail waiting for its turn costs nothing until then.
Failures follow the RetryPolicy: temporary ones retry later, permanent ones fail at once and
alert. With a HealthService (bot.mailboxes.health), each send is admitted against the mailbox's
daily quota first (at the quota its mail is held as `retrying` until the provider's next day, or
until the quota is raised), sends are counted in memory and flushed once a poll, and a login-class
failure marks the mailbox unhealthy: admins hear once per unhealthy spell, the same alert the
periodic health check raises. A session that raised is gone (SmtpSession aborts it); only sessions that just sent
successfully return to the pool.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from bot.config import Settings
from bot.errors import (ConnectionLost, MailbotError, NotFound, OAuthError, OAuthTokenRejected, ReauthNeeded, SmtpError,
                        StorageFailed)
from bot.i18n import Text
from bot.mailboxes.health import Admission, HealthService, alert_kind
from bot.mailboxes.model import Mailbox
from bot.relay.alerts import Alert, AlertSink, LoggingSink
from bot.relay.models import Content, MailRecord
from bot.relay.outbox import now
from bot.relay.policy import RetryPolicy
from bot.relay.service import RelayService
from bot.smtp import SmtpSession

log = logging.getLogger("mailbot.relay")
PRUNE_EVERY_S = 3600.0
COUNT_EVERY_S = 10.0  # /healthz's "queued": recounted this often, kept up to date in between
CLAIM_BATCH = 64  # mails claimed per read of the queue
BACKLOG = 256  # claimed and not finished, per process: the rest waits in the store
HOLD_S = 300.0  # mail of a mailbox that needs a new sign-in is looked at again this often (and at once after it)


class InternalError(MailbotError):
    code = "internal"


@dataclass
class Lane:
    """One mailbox's share of the worker: connection slots, idle sessions, pace, login state."""

    size: int
    interval_s: float  # 0: no pacing
    queue: asyncio.Queue[tuple[str, float, bool] | None] = field(default_factory=asyncio.Queue)  # (id, send at, counted)
    senders: list[asyncio.Task[None]] = field(default_factory=list)
    idle: list[tuple[SmtpSession, float]] = field(default_factory=list)
    login_alerted: bool = False
    mailbox: Mailbox | None = None
    loaded_at: float = -1e9

    def take_idle(self) -> SmtpSession | None:
        while self.idle:
            session, _ = self.idle.pop()
            if session.is_connected:
                return session
        return None

    async def close_idle(self, older_than_s: float = 0.0) -> None:
        cutoff = time.monotonic() - older_than_s
        keep, stale = [], []
        for session, used in self.idle:
            (stale if used <= cutoff else keep).append((session, used))
        self.idle = keep
        for session, _ in stale:
            await session.close()


def interval_s(mailbox: Mailbox) -> float:
    """Seconds between send starts for the mailbox's pace; 0 when it is unpaced."""
    pace = mailbox.pace_per_minute
    return 0.0 if pace is None else 60.0 / pace


class Worker:
    def __init__(self, relay: RelayService, settings: Settings, alerts: AlertSink | None = None,
                 policy: RetryPolicy | None = None, health: HealthService | None = None) -> None:
        self.relay = relay
        self.health = health
        self._quotas: dict[str, int | None] = {}  # mailbox -> the daily quota its held mail was last woken for
        self.outbox = relay.outbox
        self.settings = settings
        self.alerts = alerts or LoggingSink()
        self.policy = policy or RetryPolicy.from_settings(settings)
        self._lanes: dict[str, Lane] = {}
        self._full = False  # the loop waits for senders to make room
        self._rates: dict[str, int] = {}  # mailbox -> the version whose rate its queue is paced at
        self._recording: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._stop = asyncio.Event()  # set with _stopping: ends senders' waits for their pace
        self._loop_task: asyncio.Task[None] | None = None

    # ---- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        await self.outbox.recover()
        self._loop_task = asyncio.create_task(self.run(), name="relay-worker")

    async def stop(self, grace_s: float | None = None) -> None:
        """Take no new mail; let senders finish the send they are in, then cancel what is left.

        Only sends talking to a server get the grace period: a sender waiting for its pace gives
        its mail back at once. Mail not yet started goes back to the queue on disk (and cancelled
        sends too): sent after restart, or by another instance at once.
        """
        self._stopping = True
        self._stop.set()
        self.outbox.wake()
        if self._loop_task is not None:
            await self._loop_task
        senders, unstarted = [], {}
        for lane in self._lanes.values():
            while not lane.queue.empty():
                if (item := lane.queue.get_nowait()) is not None:
                    unstarted[item[0]] = None
            for _ in lane.senders:
                lane.queue.put_nowait(None)
            senders += lane.senders
        await self._give_back(unstarted)
        if senders:
            _, pending = await asyncio.wait(senders, timeout=self.settings.relay_stop_grace_s
                                            if grace_s is None else grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.gather(*self._recording, return_exceptions=True)
        await self._flush_health()
        for lane in self._lanes.values():
            await lane.close_idle()

    async def _give_back(self, mail_ids: dict[str, float | None]) -> None:
        try:
            await self.outbox.release(mail_ids)
        except StorageFailed as exc:  # their leases run out instead
            log.warning("could not give back %d claimed mails: %s", len(mail_ids), exc.message("en").splitlines()[0])

    async def run(self) -> None:
        """The loop: claim what is due and route it, and now and then tidy idle connections, renew
        the leases of claimed mail, recount the queue and, hourly (or at a tenth of a shorter keep),
        forget finished mail older than MAILBOT_RELAY_KEEP_DAYS."""
        poll_s = self.settings.relay_poll_s
        house_at = renew_at = count_at = time.monotonic()
        prune_at = time.monotonic()
        while not self._stopping:
            t = time.monotonic()
            try:
                if t >= house_at:
                    house_at = t + poll_s
                    await self.outbox.record_unsaved()
                    await self._flush_health()
                    await self._watch_mailboxes()
                    for lane in self._lanes.values():
                        await lane.close_idle(self.settings.relay_idle_s)
                if t >= renew_at:
                    renew_at = t + self.settings.relay_lease_s / 3
                    await self.outbox.renew()
                if t >= count_at:
                    count_at = t + COUNT_EVERY_S
                    await self.outbox.count_pending()
                if t >= prune_at:
                    prune_at = t + min(PRUNE_EVERY_S, self.settings.relay_keep_days * 86400 / 10)
                    await self._prune()  # logs its own failures
                room = BACKLOG - len(self.outbox.inflight)
                taken = await self.outbox.claim(min(CLAIM_BATCH, room)) if room > 0 else []
                if taken:
                    try:
                        await self._route(taken)
                    except BaseException:  # none was handed to a lane: give them back, or they stay leased for good
                        await self._give_back({i: None for i, _ in taken if i in self.outbox.inflight})
                        raise
                if len(taken) == CLAIM_BATCH or self._stopping:
                    continue  # more may be due right now
                self._full = room <= len(taken)  # no room left: a sender wakes the loop once half is done
                await self.outbox.wait(max(0.0, min(house_at, renew_at) - time.monotonic()), room=not self._full)
            except Exception as exc:  # noqa: BLE001 - the loop must outlive any failure, or nothing is sent again
                if isinstance(exc, StorageFailed):  # the store is failing: /healthz says so; try again shortly
                    log.warning("relay worker: %s", exc.message("en").splitlines()[0])
                else:
                    log.exception("relay worker: unexpected error; going on")
                try:
                    await asyncio.wait_for(self._stop.wait(), poll_s)
                except TimeoutError:
                    pass

    async def _watch_mailboxes(self) -> None:
        """Act on mailboxes that changed (here, in the CLI, another instance, or while the bot was down):
        a new rate re-paces the queue (mail deferred to the old pace would keep its old times); an OAuth2
        mailbox that can send again sends the mail held for its new sign-in at once; a raised quota
        sends the mail held for the quota."""
        for mailbox in await self.relay.mailboxes.list():
            if self._rates.get(mailbox.name) != mailbox.version:
                await self.outbox.check_pace(mailbox.name, interval_s(mailbox))
                if mailbox.auth == "oauth2" and mailbox.auth_state == "ok":  # maybe a new sign-in: held mail goes
                    await self.outbox.wake_held(mailbox.name)
                quota, before = mailbox.daily_quota, self._quotas.get(mailbox.name)
                if self.health is not None and mailbox.name in self._quotas and quota != before and (
                        quota is None or before is None or quota > before):  # raised: mail held for it goes
                    self.health.forget_count(mailbox.name)
                    await self.outbox.wake_held(mailbox.name)
                self._quotas[mailbox.name] = quota
                self._rates[mailbox.name] = mailbox.version

    async def _route(self, taken: list[tuple[str, dict[str, Any]]]) -> None:
        """Hand claimed mail to its mailbox's lane, each with its send time from the shared pace;
        mail whose time is beyond the next poll goes back to the queue, due then."""
        by_mailbox: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        ready: list[tuple[Lane, str, list[tuple[str, float, bool]]]] = []  # read ahead, then handed out
        for mail_id, entry in taken:
            by_mailbox.setdefault(str(entry.get("mailbox", "")), []).append((mail_id, entry))
        for name, items in by_mailbox.items():
            mailbox = await self._mailbox(name)
            lane = self._lanes.get(name)
            if lane is None:  # a removed or disabled mailbox: its mail is claimed at once and fails
                lane = self._lanes[name] = Lane(self.settings.relay_connections, 0.0)
            paced = mailbox is not None and mailbox.enabled and lane.interval_s > 0
            times = [0.0] * len(items)
            if paced:
                # A mail that went back to the queue for its turn keeps the time it was given.
                fresh = [i for i, (_, entry) in enumerate(items) if entry.get("slot") != entry.get("due")]
                new = await self.outbox.take_slots(name, lane.interval_s, len(fresh)) if fresh else []
                for i, at in zip(fresh, new):
                    times[i] = at
                for i, (_, entry) in enumerate(items):
                    if i not in fresh:
                        times[i] = float(entry["slot"])
            horizon = time.time() + self.settings.relay_poll_s
            later = {mail_id: (entry, at) for (mail_id, entry), at in zip(items, times) if at > horizon}
            if later:
                await self.outbox.defer({mail_id: {**entry, "due": at, "slot": at} for mail_id, (entry, at) in later.items()})
            ready.append((lane, name, [(mail_id, at, entry.get("origin") == self.outbox.origin)
                                       for (mail_id, entry), at in zip(items, times) if mail_id not in later]))
        await self.outbox.prefetch([item[0] for _, _, items in ready for item in items])
        for lane, name, items in ready:
            for item in items:
                lane.queue.put_nowait(item)
            while len(lane.senders) < lane.size:
                lane.senders.append(asyncio.create_task(self._sender(name, lane), name=f"relay-{name}"))

    async def _prune(self) -> None:
        try:
            if pruned := await self.relay.prune(self.settings.relay_keep_days):
                log.info("forgot %d sent/failed mails older than %g days", pruned, self.settings.relay_keep_days)
        except Exception:  # noqa: BLE001 - housekeeping must never stop delivery
            log.exception("pruning old mail failed; trying again later")

    async def _sender(self, name: str, lane: Lane) -> None:
        """One of a lane's senders: one mail at a time, on its own (reused) connection."""
        while (item := await lane.queue.get()) is not None:
            mail_id, at, counted = item
            try:
                await self._deliver(name, mail_id, at, counted)
            except Exception:  # noqa: BLE001 - e.g. storage trouble: keep the sender alive
                log.exception("delivery of %s failed; it stays queued", mail_id)
                await self._give_back({mail_id: None})
            if self._full and len(self.outbox.inflight) <= BACKLOG // 2:
                self._full = False
                self.outbox.wake()  # room to claim more

    # ---- one mail ---------------------------------------------------------------------------

    async def _deliver(self, name: str, mail_id: str, at: float, counted: bool) -> None:
        if not await self._wait_until(at):
            await self._give_back({mail_id: None})  # stopping: not started, it stays queued on disk
            return
        claimed = await self.outbox.load(mail_id)
        if claimed is None:
            return
        record, content = claimed
        if not counted:  # queued by another process or an earlier run: so accepted_total >= sent_total + failed_total
            self.relay.metrics.accepted += 1
        finished = False
        try:
            mailbox = await self._mailbox(record.mailbox)
            if mailbox is None or not mailbox.enabled:
                await self._fail(record, NotFound(
                    Text(zh=f"邮箱“{record.mailbox}”已删除或停用。", en=f"The mailbox '{record.mailbox}' was removed or disabled."),
                    Text(zh="启用或重新添加该邮箱后重试这封邮件。", en="Enable or re-add it, then retry this mail.")))
            else:
                await self._attempt(record, content, mailbox)
            finished = True
        except _Shutdown:
            pass  # not started when the worker stopped: given back below, sent after restart
        except StorageFailed as exc:  # not the mail's fault: it stays queued and is tried again
            log.warning("mail %s stays queued: %s", mail_id, exc.message("en").splitlines()[0])
        except Exception as exc:  # noqa: BLE001 - a bug must not leave the mail in limbo
            log.exception("delivery of %s failed unexpectedly", mail_id)
            await self._fail(record, InternalError(Text(zh=f"内部错误：{type(exc).__name__}",
                                                        en=f"internal error: {type(exc).__name__}")))
            finished = True
        finally:
            if not finished:  # cancelled at shutdown: it stays queued and is sent after restart
                await self._give_back({mail_id: None})

    async def _wait_until(self, at: float) -> bool:
        """Wait for the mail's send time (its pace); False when the worker stops meanwhile."""
        wait = at - time.time()
        if wait > 0 and not self._stopping:
            try:
                await asyncio.wait_for(self._stop.wait(), wait)
            except TimeoutError:
                pass
        return not self._stopping

    async def _mailbox(self, name: str) -> Mailbox | None:
        """The mailbox and its login, re-read at most every relay_poll_s (edits show up quickly).
        A changed rate re-paces the mailbox's queue."""
        lane = self._lanes.get(name)
        if lane is not None and lane.mailbox is not None and time.monotonic() - lane.loaded_at < self.settings.relay_poll_s:
            return lane.mailbox
        mailbox = await self.relay.mailboxes.find(name)
        if mailbox is not None:
            lane = self._lanes.get(name)
            if lane is None:
                lane = self._lanes[name] = Lane(self.settings.relay_connections, interval_s(mailbox))
            if lane.mailbox is None or lane.mailbox.version != mailbox.version:
                lane.interval_s = interval_s(mailbox)
                await lane.close_idle()  # settings changed: old connections belong to the old login
            lane.mailbox, lane.loaded_at = mailbox, time.monotonic()
        return mailbox

    def _recorded(self, task: asyncio.Task[None]) -> None:
        self._recording.discard(task)
        if not task.cancelled() and task.exception() is not None:  # resent after restart (same Message-ID)
            log.error("could not record a sent mail", exc_info=task.exception())

    async def _attempt(self, record: MailRecord, content: Content, mailbox: Mailbox) -> None:
        lane = self._lanes[mailbox.name]
        message = content  # .as_bytes(): the bytes built at enqueue
        recipients = [*record.to, *record.cc, *content.bcc]
        if self._stopping:  # it waited for its pace (and was claimed) before: not started yet
            raise _Shutdown
        if self.health is not None and (held := await self.health.admit(mailbox)) is not None:
            await self._hold_quota(record, held)
            return
        record.attempts += 1
        sent = False
        try:
            await self._send(lane, mailbox, message, recipients)
            sent = True
        except ReauthNeeded as exc:  # not an attempt: it waits for an admin's new sign-in
            record.attempts -= 1
            await self._hold(lane, record, exc)
            return
        except OAuthError as exc:
            if exc.temporary:  # the issuer is unreachable: retried like a server that is down
                await self._failed_attempt(record, exc)
            else:  # the app registration is wrong: like a rejected login
                await self._login_failed(lane, record, exc)
            return
        except _LoginFailed as failed:
            await self._login_failed(lane, record, failed.error)
            return
        except SmtpError as exc:
            await self._failed_attempt(record, exc)
            return
        finally:
            if self.health is not None:
                self.health.settle(mailbox, sent)
        lane.login_alerted = False
        self.relay.metrics.sent += 1
        self.relay.metrics.observe_latency((now() - record.created_at).total_seconds())
        # Recording is group-committed; the sender moves on to its next mail meanwhile.
        done = asyncio.create_task(self.outbox.sent(record))
        self._recording.add(done)
        done.add_done_callback(self._recorded)

    async def _send(self, lane: Lane, mailbox: Mailbox, message: object, recipients: list[str]) -> None:
        """Send on an idle session, or a new one; a pooled session found dead gets one fresh retry,
        and so does a login whose OAuth2 access token the server refused (revoked early: refreshed)."""
        session = lane.take_idle()
        reused = session is not None
        token_retry = mailbox.auth == "oauth2"
        for _ in range(3):
            if session is None:
                try:
                    server = await self.relay.mailboxes.login(mailbox)
                    session = await SmtpSession.open(server, self.settings.smtp_timeout_s)
                except OAuthTokenRejected as exc:
                    self.relay.mailboxes.forget_token(mailbox.name)
                    if token_retry:
                        token_retry = False
                        continue
                    raise _LoginFailed(exc) from None
                except SmtpError as exc:
                    raise _LoginFailed(exc) if not exc.temporary else exc
            try:
                await session.send(message, recipients)  # type: ignore[arg-type]
            except ConnectionLost:
                if not reused:
                    raise
                session, reused = None, False  # the idle connection had died; try once more
                continue
            except BaseException:
                await session.abort()  # cancelled mid-send: the state is unclear, never reuse
                raise
            lane.idle.append((session, time.monotonic()))
            return

    async def _failed_attempt(self, record: MailRecord, exc: SmtpError | OAuthError) -> None:
        record.last_error, record.error_code = f"{exc.code}: {exc.message('en')}", exc.code
        age = (now() - record.queued_at).total_seconds()
        delay = self.policy.delay(record.attempts)
        if exc.temporary and not self.policy.gives_up(record.attempts, age, delay):
            self.relay.metrics.retries += 1
            log.info("mail %s: %s, retry in %.1fs", record.id, exc.code, delay)
            await self.outbox.retry_later(record, delay)
        else:
            await self._fail(record, exc)

    async def _fail(self, record: MailRecord, exc: MailbotError, *, alert: bool = True) -> None:
        record.last_error, record.error_code = f"{exc.code}: {exc.message('en')}", exc.code
        self.relay.metrics.failed += 1
        await self.outbox.failed(record)
        if alert:
            await self.alerts.alert(Alert.of("mail_failed", record.mailbox, exc, record.id, attempt=record.attempts))

    async def _hold(self, lane: Lane, record: MailRecord, exc: ReauthNeeded) -> None:
        """The mailbox needs a new sign-in: its mail waits as `retrying` with that reason (not failed,
        no attempt spent) until `reauth` (then `wake_held` sends it at once) or the mail's max age;
        admins hear once per mailbox."""
        record.last_error, record.error_code = f"{exc.code}: {exc.message('en')}", exc.code
        age = (now() - record.queued_at).total_seconds()
        if self.policy.gives_up(0, age, HOLD_S):
            await self._fail(record, exc, alert=False)
        else:
            await self.outbox.retry_later(record, HOLD_S, hold=exc.code)
        if await self._unhealthy(lane, exc):
            # About the mailbox, not one mail: markdown with the reauth command and the guide, no retry card.
            await self.alerts.alert(Alert.of("needs_reauth", record.mailbox, exc,
                                             provider_type=lane.mailbox.type if lane.mailbox else None))

    async def _login_failed(self, lane: Lane, record: MailRecord, exc: MailbotError) -> None:
        """Login rejected: the mail fails; the mailbox is unhealthy at once, and admins hear once per
        mailbox until a login works again (the health check's alert and this one are the same)."""
        first = await self._unhealthy(lane, exc)
        await self._fail(record, exc, alert=False)
        if first:
            await self.alerts.alert(Alert.of(alert_kind(exc), record.mailbox, exc, record.id,
                                             provider_type=lane.mailbox.type if lane.mailbox else None))

    async def _unhealthy(self, lane: Lane, exc: MailbotError) -> bool:
        """Mark the lane's mailbox unhealthy; True when this is news (alert). Without a health service,
        or when the store cannot say, once per lane until a send works."""
        first = not lane.login_alerted
        lane.login_alerted = True
        if self.health is not None and lane.mailbox is not None:
            try:
                return await self.health.failed(lane.mailbox, exc) is not None
            except StorageFailed as exc_store:
                log.warning("could not record the health of %s: %s", lane.mailbox.name, exc_store.code)
        return first

    async def _hold_quota(self, record: MailRecord, held: Admission) -> None:
        """The mailbox sent its daily quota: the mail waits as `retrying` (no attempt spent) until the
        provider's next day, or until the quota is raised (`wake_held`); admins hear once."""
        exc = held.error
        record.last_error, record.error_code = f"{exc.code}: {exc.message('en')}", exc.code
        delay = max(1.0, held.until - time.time())
        age = (now() - record.queued_at).total_seconds()
        if self.policy.gives_up(0, age, delay):
            await self._fail(record, exc, alert=False)
        else:
            await self.outbox.retry_later(record, delay, hold="quota")
        if held.alert:
            await self.alerts.alert(Alert.of("quota_reached", record.mailbox, exc))

    async def _flush_health(self) -> None:
        """Write this process's send counts (one compare-and-set per mailbox-day) and raise the quota
        warnings they crossed."""
        if self.health is None:
            return
        try:
            warnings = await self.health.flush()
        except StorageFailed as exc:  # the counts stay in memory for the next flush
            log.warning("could not record send counts: %s", exc.code)
            return
        for kind, mailbox, error in warnings:
            await self.alerts.alert(Alert.of(kind, mailbox.name, error))  # type: ignore[arg-type]


class _Shutdown(Exception):
    """A claimed mail whose send had not begun when the worker stopped."""


class _LoginFailed(Exception):
    def __init__(self, error: SmtpError) -> None:
        super().__init__(error.code)
        self.error = error
