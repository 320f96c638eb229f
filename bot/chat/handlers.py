"""Mailbox commands: each calls MailboxService with the sender as the audited actor, and renders the result."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.app import App
from bot.chat.cards import Cards
from bot.chat.messages import IncomingMessage, MarkdownReply, Reply, TextReply
from bot.chat.text import T, parse_pairs, unquote
from bot.chat.wizard import Wizard, error_lines, summary
from bot.display import shorten
from bot.errors import MailbotError
from bot.mailboxes.model import Mailbox

Handler = Callable[["Commands", IncomingMessage, dict[str, str], str], Awaitable[list[Reply]]]

SECRET_WORDS = frozenset({"密码", "授权码", "口令", "secret", "password", "app password", "授权密码"})


class Commands:
    """One method per management intent; the router has already checked the sender is an admin."""

    def __init__(self, app: App, wizard: Wizard, cards: Cards) -> None:
        self.app = app
        self.wizard = wizard
        self.cards = cards

    async def resolve(self, ref: str) -> str:
        """A mailbox by name (any case) or by its number in `邮箱列表`."""
        ref = unquote(ref)
        found = await self.app.mailboxes.find(ref)
        if found is not None:
            return found.name
        if ref.isdigit():
            boxes = await self.app.mailboxes.list()
            if 1 <= int(ref) <= len(boxes):
                return boxes[int(ref) - 1].name
        return (await self.app.mailboxes.get(ref)).name  # raises NotFound with the fix

    async def new(self, msg: IncomingMessage, args: dict[str, str], lang: str) -> list[Reply]:
        """The form card where it can be shown; the one-shot text form and the wizard otherwise."""
        rest = args.get("rest", "").strip()
        if not rest and self.cards.available("mailbox_form", msg):
            return await self.cards.form(msg, lang)
        note = [] if rest else self.cards.fallback_note("mailbox_form", msg, lang)
        return await self.wizard.start_new(msg, rest, lang) + note

    async def list(self, msg: IncomingMessage, args: dict[str, str], lang: str) -> list[Reply]:
        if self.cards.available("mailbox_list", msg):
            return await self.cards.mailbox_list(msg, lang)
        return await self._list_text(lang) + self.cards.fallback_note("mailbox_list", msg, lang)

    async def _list_text(self, lang: str) -> list[Reply]:
        boxes = await self.app.mailboxes.list()
        if not boxes:
            return [TextReply(T(zh="还没有邮箱。发送“新建邮箱”添加一个。", en="No mailboxes yet. Send 'new mailbox' to add one.")(lang))]
        lines = [f"{i}. {_line(m, lang)}" for i, m in enumerate(boxes, 1)]
        hint = T(zh="用“查看邮箱 编号”查看详情。", en="Use 'show mailbox N' for details.")(lang)
        return [MarkdownReply(title=T(zh="邮箱列表", en="Mailboxes")(lang), text="\n".join([*lines, "", hint]))]

    async def show(self, msg: IncomingMessage, args: dict[str, str], lang: str) -> list[Reply]:
        m = await self.app.mailboxes.get(await self.resolve(args["n"]))
        check = m.last_check
        checked = "—" if check is None else f"{'✓' if check.ok else '✗'} {check.at:%Y-%m-%d %H:%M} {check.code or ''}".rstrip()
        rows = [
            (T(zh="名称", en="Name"), m.name), (T(zh="类型", en="Type"), m.type), (T(zh="账号", en="Account"), m.account),
            (T(zh="服务器", en="Server"), f"{m.host}:{m.port} {m.security}"),
            (T(zh="登录方式", en="Auth"), auth_text(m, lang)),
            (T(zh="状态", en="State"), _state(m, lang)), (T(zh="发送速率", en="Pace"), _pace(m, lang)),
            (T(zh="上次检查", en="Last check"), checked),
            (T(zh="更新", en="Updated"), f"{m.updated_by} {m.updated_at:%Y-%m-%d %H:%M}"),
        ]
        return [MarkdownReply(title=m.name, text="\n".join(f"- {label(lang)}: {value}" for label, value in rows))]

    async def test(self, msg: IncomingMessage, args: dict[str, str], lang: str) -> list[Reply]:
        name = await self.resolve(args["n"])
        to = args.get("to") or None
        try:
            await self.app.mailboxes.test(name, msg.actor(), to=to)
        except MailbotError as exc:
            if self.cards.available("result", msg):
                return await self.cards.result(msg, lang, name, exc)
            return [MarkdownReply(title=T(zh="测试失败", en="Test failed")(lang), text="\n".join(["❌ " + l if i == 0 else l for i, l in enumerate(error_lines(exc, lang))]))]
        sent = T(zh=f"，测试邮件已发送到 {to}", en=f"; a test mail was sent to {to}")(lang) if to else ""
        return [TextReply(T(zh=f"✅ 邮箱“{name}”登录成功{sent}。", en=f"✅ The mailbox '{name}' logged in{sent}.")(lang))]

    async def edit(self, msg: IncomingMessage, args: dict[str, str], lang: str) -> list[Reply]:
        name = await self.resolve(args["n"])
        rest = args.get("rest", "").strip()
        if not rest and self.cards.available("mailbox_form", msg):
            return await self.cards.form(msg, lang, await self.app.mailboxes.get(name))
        if rest.lower() in SECRET_WORDS:
            return await self.wizard.start_secret_change(msg, name, lang)
        changes, unknown = parse_pairs(rest)
        if not changes or unknown:
            return [TextReply(T(
                zh=f"用法：修改邮箱 {name} 账号=… 类型=… 服务器=… 端口=… 加密=…；换授权码：修改邮箱 {name} 授权码",
                en=f"Usage: edit mailbox {name} account=… type=… host=… port=… security=…; new secret: edit mailbox {name} password")(lang))]
        try:
            result = await self.app.mailboxes.edit(name, changes, None, msg.actor())
        except MailbotError as exc:
            return [TextReply("\n".join(error_lines(exc, lang)))]
        return [TextReply("\n".join([T(zh="✅ 已修改并通过登录检查：", en="✅ Changed and verified:")(lang),
                                     summary(result.mailbox, lang), *(f"⚠️ {w.text(lang)}" for w in result.warnings)]))]

    async def reauth(self, msg: IncomingMessage, args: dict[str, str], lang: str) -> list[Reply]:
        return await self.wizard.start_reauth(msg, await self.resolve(args["n"]), lang)

    async def remove(self, msg: IncomingMessage, args: dict[str, str], lang: str) -> list[Reply]:
        return await self.wizard.start_remove(msg, await self.resolve(args["n"]), lang)

    async def enable(self, msg: IncomingMessage, args: dict[str, str], lang: str) -> list[Reply]:
        m = await self.app.mailboxes.set_enabled(await self.resolve(args["n"]), True, msg.actor())
        return [TextReply(T(zh=f"已启用邮箱“{m.name}”。", en=f"Enabled the mailbox '{m.name}'.")(lang))]

    async def disable(self, msg: IncomingMessage, args: dict[str, str], lang: str) -> list[Reply]:
        m = await self.app.mailboxes.set_enabled(await self.resolve(args["n"]), False, msg.actor())
        return [TextReply(T(zh=f"已停用邮箱“{m.name}”。", en=f"Disabled the mailbox '{m.name}'.")(lang))]

    async def default(self, msg: IncomingMessage, args: dict[str, str], lang: str) -> list[Reply]:
        m = await self.app.mailboxes.set_default(await self.resolve(args["n"]), msg.actor())
        return [TextReply(T(zh=f"已将“{m.name}”设为默认邮箱。", en=f"'{m.name}' is now the default mailbox.")(lang))]


    # -- relay ------------------------------------------------------------------------------------

    async def outbox(self, msg: IncomingMessage, args: dict[str, str], lang: str) -> list[Reply]:
        records = await self.app.relay.recent(limit=10)
        if not records:
            return [TextReply(T(zh="还没有经中继发送的邮件。", en="No mail has gone through the relay yet.")(lang))]
        more = T(zh="另有 {n} 个", en="+{n} more")(lang)
        lines = [f"- `{r.id}` {STATUS_MARK.get(r.status, '')} {r.status} · {r.mailbox} → {shorten(r.to, 60, more)} · "
                 f"{r.subject}" + (f" · {_reason(r.error_code, r.last_error)}" if r.last_error and r.status != "sent" else "")
                 for r in records]
        hint = T(zh="失败的邮件可发送“重试 ID”重新投递。", en="Send 'retry ID' to deliver a failed mail again.")(lang)
        return [MarkdownReply(title=T(zh="发送记录", en="Outbox")(lang), text="\n".join([*lines, "", hint]))]

    async def status(self, msg: IncomingMessage, args: dict[str, str], lang: str) -> list[Reply]:
        """邮箱状态 / mailbox status: per mailbox its login health, last check, last send, mails sent
        today against the daily quota, and the reason and fix when unhealthy (bot.mailboxes.health)."""
        items = await self.app.health.status(await self.app.mailboxes.list())
        title = T(zh="邮箱状态", en="Mailbox status")(lang)
        if not items:
            return [TextReply(T(zh="还没有邮箱。发送“新建邮箱”添加。", en="No mailboxes yet. Send 'new mailbox' to add one.")(lang))]
        blocks = ["\n\n".join(item.lines(lang)) for item in items]
        return [MarkdownReply(title=title, text="\n\n---\n\n".join(blocks))]

    async def retry(self, msg: IncomingMessage, args: dict[str, str], lang: str) -> list[Reply]:
        record = await self.app.relay.retry(args["id"])
        return [TextReply(T(zh=f"已重新排队邮件 {record.id}（同一 Message-ID）。",
                            en=f"Mail {record.id} is queued again (same Message-ID).")(lang))]

    async def send_test(self, msg: IncomingMessage, args: dict[str, str], lang: str) -> list[Reply]:
        name = await self.resolve(args["n"])
        [record] = await self.app.relay.send_test(1, args["to"], mailbox=name)
        return [TextReply(T(zh=f"测试邮件已进入发件队列：{record.id}，发送“发送记录”查看状态。",
                            en=f"Test mail queued as {record.id}; send 'outbox' to see its status.")(lang))]


def _reason(code: str | None, error: str, limit: int = 200) -> str:
    """The class and what the server said; the cause and fix are one `重试`/guide away.

    A stored error already starts with its code (`connect_failed: Cannot reach…`): it is named once.
    """
    flat = " ".join(error.split())
    if code and flat.startswith(f"{code}: "):
        flat = flat[len(code) + 2:]
    said = flat.split("Server reply:", 1)[1].strip() if "Server reply:" in flat else flat
    said = said if len(said) <= limit else said[: limit - 1] + "…"
    return f"{code}: {said}" if code else said


STATUS_MARK = {"sent": "✅", "failed": "❌", "retrying": "🔁", "queued": "⏳", "sending": "📤"}


def _state(m: Mailbox, lang: str) -> str:
    parts = [T(zh="已启用", en="enabled")(lang) if m.enabled else T(zh="已停用", en="disabled")(lang)]
    if m.default:
        parts.append(T(zh="默认", en="default")(lang))
    return ", ".join(parts)


def _pace(m: Mailbox, lang: str) -> str:
    """Relay pacing: its own, or the provider's marked as the default (a custom server's is no pacing)."""
    pace = m.pace_per_minute
    text = T(zh="不限速", en="no pacing")(lang) if pace is None else T(zh=f"每分钟 {pace} 封", en=f"{pace} a minute")(lang)
    return text + (T(zh="（默认）", en=" (default)")(lang) if m.rate_per_minute is None else "")


def auth_text(m: Mailbox, lang: str) -> str:
    """How the mailbox logs in, and the command to run when its sign-in is no longer valid."""
    if m.auth == "password":
        return T(zh="密码", en="password")(lang)
    if m.auth_state == "needs_reauth":
        return T(zh=f"OAuth2 · ⚠️ 需要重新登录：发送“重新登录 {m.name}”",
                 en=f"OAuth2 · ⚠️ needs sign-in: send 'reauth {m.name}'")(lang)
    return T(zh="OAuth2（浏览器登录）", en="OAuth2 (browser sign-in)")(lang)


def _line(m: Mailbox, lang: str) -> str:
    check = "" if m.last_check is None else (" ✓" if m.last_check.ok else " ✗")
    auth = f" · {auth_text(m, lang)}" if m.auth == "oauth2" else ""
    return f"{m.name} — {m.type} · {m.account} · {_state(m, lang)}{check}{auth}"
