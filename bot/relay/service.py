"""RelayService: validate, render and enqueue mail; read, list and retry it.

Every front end (HTTP API, CLI `send`/`outbox`, chat commands) calls this one service.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import binascii
import hashlib
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from bot.errors import Conflict, FieldError, InProgress, InvalidInput, NotFound, TooLarge
from bot.i18n import Text
from bot.mailboxes import MailboxService
from bot.mailboxes.model import Mailbox
from bot.relay.metrics import Metrics
from bot.relay.models import Content, InlineTemplate, MailRecord, MailRequest, Via
from bot.relay.outbox import Outbox, now
from bot.relay.templates import Renderer, TemplateStore
from bot.relay.tokens import TokenInfo, TokenStore
from bot.relay.mime import build_bytes
from bot.smtp.message import new_message_id
from bot.storage import Storage



def _field(field: str, zh: str, en: str, example: str = "") -> FieldError:
    return FieldError(field=field, problem=Text(zh=zh, en=en), example=example)


def _no_crlf(field: str, value: str | None, errors: list[FieldError]) -> None:
    if value is not None and ("\r" in value or "\n" in value):
        errors.append(_field(field, "不能包含换行符（CR/LF）", "must not contain CR or LF (header injection)"))


def _addresses(field: str, values: list[str], errors: list[FieldError]) -> list[str]:
    out = []
    for i, value in enumerate(values):
        if "\r" in value or "\n" in value:
            _no_crlf(f"{field}.{i}", value, errors)
            continue
        # Only address-sized strings are kept (RFC 5321 caps a path at 256 octets); longer ones fail anyway.
        ascii_email, problem = (_checked_address if len(value) <= 320 else _checked_address.__wrapped__)(value)
        if problem is not None:
            errors.append(_field(f"{field}.{i}", f"不是有效的邮件地址：{problem}", f"not a valid address: {problem}",
                                 "alice@example.com"))
            continue
        if ascii_email is None:
            errors.append(_field(
                f"{field}.{i}",
                "@ 前的用户名含非 ASCII 字符（如中文）：投递这种地址需要发件和收件服务器都支持 SMTPUTF8，mailbot 不发送这类地址",
                "the part before @ has non-ASCII characters (such as Chinese): delivering it needs SMTPUTF8 on every "
                "server on the way, so mailbot does not send to such addresses", "yonghu@例子.中国"))
            continue
        out.append(ascii_email)  # a non-ASCII domain goes out in its IDNA form (xn--…), which every server takes
    return out


# The everyday address, which email_validator accepts as it is (its domain lowercased): a dot-atom
# of letters, digits and _+- before the @, LDH labels after it (none with "--", which IDNA rules
# look at), an alphabetic TLD. Anything else (and special-use domains) goes through email_validator.
_PLAIN_ADDRESS = re.compile(r"([A-Za-z0-9_+-]{1,64}(?:\.[A-Za-z0-9_+-]+)*)@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
                            r"[A-Za-z0-9])?\.)+[A-Za-z]{2,63})")
_SPECIAL_USE = tuple(SPECIAL_USE_DOMAIN_NAMES)


def _plain_address(value: str) -> str | None:
    """The address as email_validator would normalize it, when it is an everyday one; else None."""
    found = _PLAIN_ADDRESS.fullmatch(value) if len(value) <= 200 else None
    if found is None:
        return None
    local, domain = found.group(1), found.group(2).lower()
    if len(local) > 64 or "--" in domain or any(domain == s or domain.endswith("." + s) for s in _SPECIAL_USE):
        return None
    return f"{local}@{domain}"


@functools.lru_cache(maxsize=4096)
def _checked_address(value: str) -> tuple[str | None, str | None]:
    """(the address in ASCII, or None when its local part is not; the problem when it is invalid).

    Workflows mail the same few people again and again: each address is parsed once (a bounded
    cache of address-sized strings); an everyday address skips email_validator's full parse.
    """
    if (plain := _plain_address(value)) is not None:
        return plain, None
    try:
        return validate_email(value, check_deliverability=False).ascii_email, None
    except EmailNotValidError as exc:
        return None, str(exc)


def _decode(req: MailRequest, errors: list[FieldError]) -> list[tuple[str, str, bytes]]:
    attachments = []
    for i, att in enumerate(req.attachments):
        try:
            attachments.append((att.filename, att.content_type, base64.b64decode(att.content_base64, validate=True)))
        except (binascii.Error, ValueError):
            errors.append(_field(f"attachments.{i}.content_base64", "不是有效的 base64", "not valid base64"))
    return attachments


def _mailbox_missing(name: str | None) -> NotFound:
    if name is None:
        return NotFound(Text(zh="没有默认邮箱。", en="There is no default mailbox."),
                        Text(zh="请在请求中指定 mailbox，或设置默认邮箱。", en="Name a mailbox, or set a default one."))
    return NotFound(Text(zh=f"邮箱“{name}”不存在或已停用。", en=f"The mailbox '{name}' does not exist or is disabled."),
                    Text(zh="用 `mailbot mailbox list` 查看可用邮箱。", en="See the usable ones with `mailbot mailbox list`."))


KEY_WAIT_S = 2.0  # a request waits this long for another enqueue of its idempotency key to finish
RESERVED_S = 10.0  # a key reserved this long without its mail is from an enqueue that never finished (a crash)


def idempotency_slot(token: str | None, key: str) -> str:
    """Idempotency keys are per token: two workflows may pick the same key."""
    return f"{token or '-'}\x1f{key}"


def body_hash(request: MailRequest) -> str:
    data = request.model_dump(mode="json", exclude={"idempotency_key"})
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class RelayService:
    def __init__(self, storage: Storage, mailboxes: MailboxService, *, max_mail_bytes: int,
                 cache_s: float = 1.0, max_recipients: int = 100, template_timeout_s: float = 2.0,
                 owner: str = "local", lease_s: float = 60.0) -> None:
        self.mailboxes = mailboxes
        self.storage = storage
        self.outbox = Outbox(storage, owner, lease_s)
        self.tokens = TokenStore(storage)
        self.templates = TemplateStore(storage, Renderer(timeout_s=template_timeout_s, max_chars=max_mail_bytes))
        self.max_recipients = max_recipients
        self.metrics = Metrics()
        self.max_mail_bytes = max_mail_bytes
        self._key_locks: dict[str, list[Any]] = {}  # idempotency key -> [lock, users]
        self._retrying = asyncio.Lock()
        # Mailbox lookups are cached briefly: a mailbox disabled by another process stops taking
        # mail within `cache_s`, and ingest skips a read. Tokens are not cached: a revoke is at once.
        self._cache_s = cache_s
        self._mailboxes: dict[str | None, tuple[float, Mailbox | None]] = {}

    async def authenticate(self, token: str | None) -> TokenInfo:
        return await self.tokens.authenticate(token)

    async def _find_mailbox(self, name: str | None) -> Mailbox | None:
        hit = self._mailboxes.get(name)
        if hit is not None and time.monotonic() - hit[0] < self._cache_s:
            return hit[1]
        mailbox = await self.mailboxes.find(name) if name is not None else await self.mailboxes.default()
        if len(self._mailboxes) > 1000:
            self._mailboxes.clear()
        self._mailboxes[name] = (time.monotonic(), mailbox)
        return mailbox

    # ---- submit ---------------------------------------------------------------------------

    async def _mailbox(self, name: str | None, token: TokenInfo | None) -> Mailbox:
        if name is not None and token is not None:
            token.require(name)
        mailbox = await self._find_mailbox(name)
        if mailbox is None or not mailbox.enabled:
            raise _mailbox_missing(name)
        if token is not None:
            token.require(mailbox.name)
        return mailbox

    async def _draft(self, req: MailRequest) -> tuple[dict[str, Any], int]:
        """Check every header and address, render the template; all problems at once."""
        errors: list[FieldError] = []
        count = len(req.to) + len(req.cc) + len(req.bcc)
        if count > self.max_recipients:  # checked before any address is parsed: the work stays bounded
            raise InvalidInput([_field(
                "to", f"收件人共 {count} 个（to + cc + bcc），超过上限 {self.max_recipients}（MAILBOT_MAX_RECIPIENTS）",
                f"{count} recipients (to + cc + bcc) are over the limit of {self.max_recipients} (MAILBOT_MAX_RECIPIENTS)",
                "split the mail, or use a mailing list address")])
        to = _addresses("to", req.to, errors)
        cc = _addresses("cc", req.cc, errors)
        bcc = _addresses("bcc", req.bcc, errors)
        if not req.to:
            errors.append(_field("to", "至少需要一个收件人", "needs at least one recipient", '["alice@example.com"]'))
        reply_to = next(iter(_addresses("reply_to", [req.reply_to], errors)), None) if req.reply_to else None
        _no_crlf("from_name", req.from_name, errors)
        subject, text, html = req.subject, req.text, req.html
        if req.template is not None:
            try:
                template = (req.template if isinstance(req.template, InlineTemplate)
                            else await self.templates.get(req.template))
                rendered = await self.templates.renderer.render(template, req.variables)
                subject = subject if subject is not None else rendered.subject
                text = text if text is not None else rendered.text
                html = html if html is not None else rendered.html
            except NotFound as exc:
                errors.append(_field("template", exc.cause.zh, exc.cause.en))
            except InvalidInput as exc:
                errors.extend(exc.errors)
        elif text is None and html is None:
            errors.append(_field("text", "需要 text、html 或 template", "needs text, html or template",
                                 '"text": "Hello"'))
        if subject is None and req.template is None:
            errors.append(_field("subject", "需要主题", "a subject is required", "Approval needed"))
        _no_crlf("subject", subject, errors)
        size = len((text or "").encode()) + len((html or "").encode())
        for i, att in enumerate(req.attachments):
            _no_crlf(f"attachments.{i}.filename", att.filename, errors)
            _no_crlf(f"attachments.{i}.content_type", att.content_type, errors)
        encoded = sum(len(att.content_base64) for att in req.attachments)
        if encoded * 3 // 4 > self.max_mail_bytes:  # too large before decoding a byte of it
            raise self.too_large()
        # Decoding megabytes of base64 would hold the loop: big attachments decode in a thread.
        attachments = (await asyncio.to_thread(_decode, req, errors) if encoded > 256 * 1024
                       else _decode(req, errors))
        size += sum(len(data) for _, _, data in attachments)
        if errors:
            raise InvalidInput(errors)
        if size > self.max_mail_bytes:
            raise self.too_large()
        draft = dict(to=to, cc=cc, bcc=bcc, subject=subject or "", text=text, html=html,
                     from_name=req.from_name, reply_to=reply_to, attachments=attachments)
        return draft, size

    def too_large(self) -> TooLarge:
        mb = self.max_mail_bytes / 1024 / 1024
        return TooLarge(Text(zh=f"邮件超过大小上限（{mb:g} MB）。", en=f"The mail is over the size limit ({mb:g} MB)."),
                        Text(zh="减小附件，或改为发送下载链接。", en="Make the attachments smaller, or send a link."))

    async def submit(self, req: MailRequest, token: TokenInfo | None = None) -> tuple[MailRecord, bool]:
        """Durable when this returns. (record, False) when the idempotency key was seen with this body."""
        mailbox = await self._mailbox(req.mailbox, token)
        draft, size = await self._draft(req)
        message_id = new_message_id(mailbox.account)
        bcc = draft.pop("bcc")

        def build() -> Content:
            raw = build_bytes(account=mailbox.account, message_id=message_id, **draft)
            return Content(bcc=bcc, raw_b64=base64.b64encode(raw).decode())

        content = await asyncio.to_thread(build) if size > 256 * 1024 else build()  # big MIME: off the loop
        if req.idempotency_key is None:
            record = await self._enqueue(req, mailbox, draft, message_id, content, token, None)
        else:
            record, new = await self._once(
                idempotency_slot(token.name if token else None, req.idempotency_key), body_hash(req),
                lambda key: self._enqueue(req, mailbox, draft, message_id, content, token, key))
            if not new:
                return record, False
        self.metrics.accepted += 1
        return record, True

    async def enqueue_built(self, mailbox: Mailbox, content: Content, *, to: list[str], cc: list[str],
                            subject: str, message_id: str, token: TokenInfo | None, via: Via,
                            idempotency_key: str | None = None, digest: str = "") -> tuple[MailRecord, bool]:
        """Enqueue a message built elsewhere (SMTP submission: the tool's own bytes) for `mailbox`,
        with submit's idempotency (the key per token; `digest` tells a resend from another mail) and
        its one durable write. Durable when this returns; (record, False) when the key named a mail."""
        stamp = now()

        async def enqueue(key: tuple[str, dict[str, Any]] | None) -> MailRecord:
            record = MailRecord(id=key[1]["id"] if key else uuid.uuid4().hex, mailbox=mailbox.name,
                                account=mailbox.account, to=to, cc=cc, subject=subject, created_at=stamp,
                                queued_at=stamp, message_id=message_id, token=token.name if token else None,
                                idempotency_key=idempotency_key, via=via)
            await self.outbox.add(record, content, key)
            return record

        if idempotency_key is None:
            record = await enqueue(None)
        else:
            record, new = await self._once(idempotency_slot(token.name if token else None, idempotency_key),
                                           digest, enqueue)
            if not new:
                return record, False
        self.metrics.accepted += 1
        return record, True

    async def _once(self, idem_key: str, digest: str,
                    enqueue: Callable[[tuple[str, dict[str, Any]]], Awaitable[MailRecord]]) -> tuple[MailRecord, bool]:
        """Enqueue under an idempotency key: (the new record, True), or (the mail the key named, False)."""
        entry = self._key_locks.setdefault(idem_key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:  # only requests with the same key in this process wait for each other
                claimed = await self._reserve_key(idem_key, digest)
                if isinstance(claimed, MailRecord):
                    return claimed, False
                try:
                    return await enqueue((idem_key, claimed)), True
                except Exception:
                    # The client gets no 202: free the key for its retry unless the mail landed
                    # after all (best effort; a reservation left behind is taken over once it is
                    # RESERVED_S old).
                    with contextlib.suppress(Exception):
                        if await self.outbox.get(claimed["id"]) is None:
                            await self.outbox.idempotency.put_if(idem_key, None, claimed)
                    raise
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._key_locks.pop(idem_key, None)

    async def _reserve_key(self, idem_key: str, digest: str) -> dict[str, Any] | MailRecord:
        """Take the idempotency key for a new mail (compare-and-set, so instances sharing the store
        agree), or return the mail it already named. A key reserved by an enqueue still in progress,
        here or in another instance, is waited for up to KEY_WAIT_S; one left by a crash (no record
        after RESERVED_S) is taken over."""
        mine = {"id": uuid.uuid4().hex, "hash": digest, "at": time.time()}
        give_up = time.monotonic() + KEY_WAIT_S
        while True:
            seen = await self.outbox.idempotency.get(idem_key)
            if seen is None:
                if await self.outbox.idempotency.put_if(idem_key, mine, None):
                    return mine
                continue
            first = await self.outbox.get(seen["id"])
            if first is not None:
                if seen["hash"] != digest:
                    raise Conflict(Text(zh="这个 idempotency_key 已用于另一封不同的邮件。",
                                        en="This idempotency_key was already used with a different body."),
                                   Text(zh="每封新邮件用新的 key；重发同一封邮件时请求体必须完全相同。",
                                        en="Use a new key per mail; a resend must have the identical body."))
                return first
            if time.time() - float(seen.get("at", 0)) > RESERVED_S:
                if await self.outbox.idempotency.put_if(idem_key, mine, seen):
                    return mine
                continue
            if time.monotonic() > give_up:
                raise InProgress(Text(zh="带这个 idempotency_key 的同一封邮件正在被接收。",
                                    en="A mail with this idempotency_key is being accepted right now."),
                               Text(zh="几秒后用相同的请求重试，会得到那封邮件。",
                                    en="Retry the same request in a few seconds: you will get that mail."))
            await asyncio.sleep(0.05)

    async def _enqueue(self, req: MailRequest, mailbox: Mailbox, draft: dict[str, Any], message_id: str,
                       content: Content, token: TokenInfo | None,
                       idempotency: tuple[str, dict[str, Any]] | None) -> MailRecord:
        stamp = now()
        record = MailRecord(id=idempotency[1]["id"] if idempotency else uuid.uuid4().hex, mailbox=mailbox.name, account=mailbox.account, to=draft["to"],
                            cc=draft["cc"], subject=draft["subject"], created_at=stamp, queued_at=stamp,
                            message_id=message_id, token=token.name if token else None,
                            idempotency_key=req.idempotency_key)
        key = None if idempotency is None else (idempotency[0], {**idempotency[1], "id": record.id})
        await self.outbox.add(record, content, key)
        return record

    # ---- read / retry ---------------------------------------------------------------------

    async def get(self, mail_id: str, token: TokenInfo | None = None) -> MailRecord:
        record = await self.outbox.get(mail_id)
        if record is None or (token is not None and not token.allows(record.mailbox)):
            raise NotFound(Text(zh=f"没有 ID 为 {mail_id} 的邮件。", en=f"There is no mail with id {mail_id}."))
        return record

    async def recent(self, *, status: str | None = None, limit: int = 20,
                     token: TokenInfo | None = None) -> list[MailRecord]:
        scope: Callable[[str], bool] | None = token.allows if token is not None else None
        return await self.outbox.recent(status=status, limit=limit, mailboxes=scope)

    async def retry(self, mail_id: str, token: TokenInfo | None = None) -> MailRecord:
        """Send a failed mail again with a fresh attempt budget and the same Message-ID.

        One retry at a time, the status read under the lock: two presses (chat, console, API) at once
        would both see `failed`, and the second would queue the mail again after the first sent it."""
        async with self._retrying:
            return await self._retry(mail_id, token)

    async def _retry(self, mail_id: str, token: TokenInfo | None) -> MailRecord:
        record = await self.get(mail_id, token)
        if record.status != "failed":
            raise Conflict(Text(zh=f"邮件 {mail_id} 的状态是 {record.status}，只有 failed 的邮件可以重试。",
                                en=f"Mail {mail_id} is {record.status}; only failed mail can be retried."))
        if not await self.outbox.has_content(mail_id):
            raise Conflict(Text(zh=f"邮件 {mail_id} 的内容已按保留期限删除，无法重试。",
                                en=f"Mail {mail_id}'s content was deleted after the retention period; it cannot be retried."),
                           Text(zh="请让工作流重新提交这封邮件。", en="Have the workflow post the mail again."))
        return await self.outbox.requeue(record)

    async def prune(self, keep_days: float) -> int:
        """Forget sent and failed mail older than `keep_days`, and the idempotency keys that named it."""
        async with self._retrying:  # a retry meanwhile would make a mail being deleted pending again
            old = await self.outbox.prune(now() - timedelta(days=keep_days))
        keys = [idempotency_slot(r.token, r.idempotency_key) for r in old if r.idempotency_key is not None]
        if keys:
            await self.outbox.idempotency.write({}, delete=keys)
        return len(old)

    async def close(self) -> None:
        await self.templates.renderer.close()

    async def send_test(self, count: int, to: str, mailbox: str | None = None) -> list[MailRecord]:
        """Chat's 测试发送 N 地址: N numbered test mails through the normal queue."""
        if not 1 <= count <= 100:
            raise InvalidInput([_field("count", "数量需在 1–100 之间", "count must be 1-100", "3")])
        records = []
        for i in range(1, count + 1):
            req = MailRequest(mailbox=mailbox, to=[to], subject=f"mailbot 测试邮件 / test mail {i}/{count}",
                              text=f"这是 mailbot 中继的测试邮件 {i}/{count}。\nThis is relay test mail {i}/{count}.\n")
            records.append((await self.submit(req))[0])
        return records

