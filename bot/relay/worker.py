"""The delivery worker: take due mail from the outbox, send it through a pooled session, record.

One loop routes each due mail to its mailbox's Lane; a lane runs `relay_connections` senders
(each owns at most one SMTP session, so the pool is bounded), reuses idle sessions and paces
sends to the mailbox's rate; a slow or rate-limited mailbox never holds up another one. A sender
waits for its pace before it claims the mail: a mail waiting for its turn is still `queued`, not
in flight, and stop() ends such a wait at once instead of giving it the grace period.
Failures follow the RetryPolicy: temporary ones retry later, permanent ones fail at once and
alert. A session that raised is gone (SmtpSession aborts it); only sessions that just sent
successfully return to the pool.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from bot.config import Settings
from bot.errors import ConnectionLost, MailbotError, NotFound, SmtpError, StorageFailed
from bot.i18n import Text
from bot.mailboxes.model import Mailbox
from bot.relay.alerts import Alert, AlertSink, LoggingSink
from bot.relay.models import Content, MailRecord
from bot.relay.outbox import now
from bot.relay.policy import RetryPolicy
from bot.relay.service import RelayService
from bot.smtp import ServerSettings, SmtpSession

log = logging.getLogger("mailbot.relay")
PRUNE_EVERY_S = 3600.0


class InternalError(MailbotError):
    code = "internal"


@dataclass
class Lane:
    """One mailbox's share of the worker: connection slots, idle sessions, pacing, login state."""

    size: int
    interval_s: float  # 0: no pacing
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)  # due mail ids
    senders: list[asyncio.Task[None]] = field(default_factory=list)
    idle: list[tuple[SmtpSession, float]] = field(default_factory=list)
    next_at: float = 0.0
    login_alerted: bool = False
    mailbox: Mailbox | None = None
    server: ServerSettings | None = None
    loaded_at: float = -1e9

    async def pace(self, stop: asyncio.Event | None = None) -> bool:
        """Token bucket at the mailbox's per-minute rate; a burst of at most one second's share.

        Slow providers (20/min) get strict spacing; fast relays are not throttled by timer
        granularity (sleeping for fractions of a millisecond); an unpaced lane never waits.
        False when `stop` was set before the turn came (the caller sends nothing).
        """
        if self.interval_s <= 0:
            return stop is None or not stop.is_set()
        burst = max(1, int(1.0 / self.interval_s))
        t = time.monotonic()
        # next_at is when the bucket is empty again; it may lag `burst` intervals behind now
        start = max(t - (burst - 1) * self.interval_s, self.next_at)
        self.next_at = start + self.interval_s
        if start > t:
            if stop is None:
                await asyncio.sleep(start - t)
            else:
                try:
                    await asyncio.wait_for(stop.wait(), start - t)
                except TimeoutError:
                    pass
        return stop is None or not stop.is_set()

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
                 policy: RetryPolicy | None = None) -> None:
        self.relay = relay
        self.outbox = relay.outbox
        self.settings = settings
        self.alerts = alerts or LoggingSink()
        self.policy = policy or RetryPolicy.from_settings(settings)
        self._lanes: dict[str, Lane] = {}
        self._recording: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._stop = asyncio.Event()  # set with _stopping: ends senders' waits for their pace
        self._loop_task: asyncio.Task[None] | None = None

    # ---- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        await self.outbox.rescan()
        self._loop_task = asyncio.create_task(self.run(), name="relay-worker")

    async def stop(self, grace_s: float | None = None) -> None:
        """Take no new mail; let senders finish the send they are in, then cancel what is left.

        Only sends talking to a server get the grace period: a sender waiting for its pace gives
        its mail back at once. Mail not yet started stays queued on disk (and cancelled sends
        too): sent after restart.
        """
        self._stopping = True
        self._stop.set()
        self.outbox.wake()
        if self._loop_task is not None:
            await self._loop_task
        senders = []
        for lane in self._lanes.values():
            while not lane.queue.empty():
                if (mail_id := lane.queue.get_nowait()) is not None:
                    await self.outbox.release(mail_id)  # never claimed: it stays queued on disk
            for _ in lane.senders:
                lane.queue.put_nowait(None)
            senders += lane.senders
        if senders:
            _, pending = await asyncio.wait(senders, timeout=self.settings.relay_stop_grace_s
                                            if grace_s is None else grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.gather(*self._recording, return_exceptions=True)
        for lane in self._lanes.values():
            await lane.close_idle()

    async def run(self) -> None:
        """The loop: rescan now and then, route each due mail to its lane, tidy idle connections
        and, hourly (or at a tenth of a shorter keep), forget finished mail older than MAILBOT_RELAY_KEEP_DAYS."""
        rescan_at = time.monotonic() + self.settings.relay_poll_s
        prune_at = time.monotonic()
        while not self._stopping:
            if time.monotonic() >= rescan_at:
                rescan_at = time.monotonic() + self.settings.relay_poll_s
                try:
                    await self.outbox.record_unsaved()
                    await self.outbox.rescan()
                except StorageFailed as exc:  # the store is failing: /healthz says so; try again next time
                    log.warning("relay housekeeping: %s", exc.message("en").splitlines()[0])
                for lane in self._lanes.values():
                    await lane.close_idle(self.settings.relay_idle_s)
            if time.monotonic() >= prune_at:
                prune_at = time.monotonic() + min(PRUNE_EVERY_S, self.settings.relay_keep_days * 86400 / 10)
                await self._prune()  # logs its own failures
            due = await self.outbox.next_due(timeout=max(0.0, rescan_at - time.monotonic()))
            if due is None:
                continue
            mail_id, mailbox = due
            if self._stopping:
                break  # it stays queued on disk
            lane = self._lanes.get(mailbox)
            if lane is None:  # its pace is set once the sender has read the mailbox
                lane = self._lanes[mailbox] = Lane(self.settings.relay_connections, 0.0)
            lane.queue.put_nowait(mail_id)
            while len(lane.senders) < lane.size:
                lane.senders.append(asyncio.create_task(self._sender(mailbox, lane), name=f"relay-{mailbox}"))

    async def _prune(self) -> None:
        try:
            if pruned := await self.relay.prune(self.settings.relay_keep_days):
                log.info("forgot %d sent/failed mails older than %g days", pruned, self.settings.relay_keep_days)
        except Exception:  # noqa: BLE001 - housekeeping must never stop delivery
            log.exception("pruning old mail failed; trying again later")

    async def _sender(self, name: str, lane: Lane) -> None:
        """One of a lane's senders: one mail at a time, on its own (reused) connection."""
        while (mail_id := await lane.queue.get()) is not None:
            try:
                await self._deliver(name, mail_id)
            except Exception:  # noqa: BLE001 - e.g. storage trouble: keep the sender alive
                log.exception("delivery of %s failed; it stays queued", mail_id)
                await self.outbox.release(mail_id)

    # ---- one mail ---------------------------------------------------------------------------

    async def _deliver(self, name: str, mail_id: str) -> None:
        if not await self._wait_turn(name):
            await self.outbox.release(mail_id)  # stopping: never claimed, it stays queued on disk
            return
        claimed = await self.outbox.claim(mail_id)
        if claimed is None:
            return
        record, content = claimed
        if not self.outbox.accepted_here(mail_id):  # so accepted_total >= sent_total + failed_total
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
            pass  # not started when the worker stopped: released below, sent after restart
        except StorageFailed as exc:  # not the mail's fault: it stays queued and is tried again
            log.warning("mail %s stays queued: %s", mail_id, exc.message("en").splitlines()[0])
        except Exception as exc:  # noqa: BLE001 - a bug must not leave the mail in limbo
            log.exception("delivery of %s failed unexpectedly", mail_id)
            await self._fail(record, InternalError(Text(zh=f"内部错误：{type(exc).__name__}",
                                                        en=f"internal error: {type(exc).__name__}")))
            finished = True
        finally:
            if not finished:  # cancelled at shutdown: it stays queued and is sent after restart
                await self.outbox.release(mail_id)

    async def _wait_turn(self, name: str) -> bool:
        """Wait for the mailbox's pace before claiming a mail (so the wait is not in flight);
        False when the worker stops meanwhile. A removed or disabled mailbox has no pace: its
        mail is claimed at once and fails."""
        if self._stopping:
            return False
        mailbox = await self._mailbox(name)
        if mailbox is None or not mailbox.enabled:
            return True
        return await self._lane(mailbox).pace(self._stop)

    async def _mailbox(self, name: str) -> Mailbox | None:
        """The mailbox and its login, re-read at most every relay_poll_s (edits show up quickly)."""
        lane = self._lanes.get(name)
        if lane is not None and lane.mailbox is not None and time.monotonic() - lane.loaded_at < self.settings.relay_poll_s:
            return lane.mailbox
        mailbox = await self.relay.mailboxes.find(name)
        if mailbox is not None:
            lane = self._lane(mailbox)
            if lane.mailbox is None or lane.mailbox.version != mailbox.version or lane.server is None:
                lane.server = self.relay.mailboxes.server(mailbox)
                await lane.close_idle()  # settings changed: old connections belong to the old login
            lane.mailbox, lane.loaded_at = mailbox, time.monotonic()
        return mailbox

    def _recorded(self, task: asyncio.Task[None]) -> None:
        self._recording.discard(task)
        if not task.cancelled() and task.exception() is not None:  # resent after restart (same Message-ID)
            log.error("could not record a sent mail", exc_info=task.exception())

    def _lane(self, mailbox: Mailbox) -> Lane:
        lane = self._lanes.get(mailbox.name)
        interval = interval_s(mailbox)
        if lane is None:
            lane = self._lanes[mailbox.name] = Lane(self.settings.relay_connections, interval)
        lane.interval_s = interval
        return lane

    async def _attempt(self, record: MailRecord, content: Content, mailbox: Mailbox) -> None:
        lane = self._lane(mailbox)
        message = content  # .as_bytes(): the bytes built at enqueue
        recipients = [*record.to, *record.cc, *content.bcc]
        if self._stopping:  # it waited for its pace (and was claimed) before: not started yet
            raise _Shutdown
        record.attempts += 1
        try:
            assert lane.server is not None
            await self._send(lane, lane.server, message, recipients)
        except _LoginFailed as failed:
            await self._login_failed(lane, record, failed.error)
            return
        except SmtpError as exc:
            await self._failed_attempt(record, exc)
            return
        lane.login_alerted = False
        self.relay.metrics.sent += 1
        self.relay.metrics.observe_latency((now() - record.created_at).total_seconds())
        # Recording is group-committed; the sender moves on to its next mail meanwhile.
        done = asyncio.create_task(self.outbox.sent(record))
        self._recording.add(done)
        done.add_done_callback(self._recorded)

    async def _send(self, lane: Lane, server: ServerSettings, message: object, recipients: list[str]) -> None:
        """Send on an idle session, or a new one; a pooled session found dead gets one fresh retry."""
        session = lane.take_idle()
        reused = session is not None
        for _ in range(2):
            if session is None:
                try:
                    session = await SmtpSession.open(server, self.settings.smtp_timeout_s)
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

    async def _failed_attempt(self, record: MailRecord, exc: SmtpError) -> None:
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
            await self.alerts.alert(Alert.of("mail_failed", record.mailbox, exc, record.id))

    async def _login_failed(self, lane: Lane, record: MailRecord, exc: SmtpError) -> None:
        """Login rejected: the mail fails; admins hear once per mailbox until a login works again."""
        first = not lane.login_alerted
        lane.login_alerted = True
        await self._fail(record, exc, alert=False)
        if first:
            await self.alerts.alert(Alert.of("login_failing", record.mailbox, exc, record.id))


class _Shutdown(Exception):
    """A claimed mail whose send had not begun when the worker stopped."""


class _LoginFailed(Exception):
    def __init__(self, error: SmtpError) -> None:
        super().__init__(error.code)
        self.error = error
