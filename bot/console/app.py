"""The console's aiohttp application: page, static files, and a JSON API over the same services.

Handlers only translate HTTP to service calls (MailboxService, RelayService, AuditLog, the chat
adapter) and back; all rules live in those services. Mount it with `mount(parent, console)`: the
console answers under /console and `/` redirects there, so it shares a server with the relay API.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import SecretStr

from bot.adapters.console import GROUP, PERSONAS, ConsoleChat
from bot.app import App
from bot.audit import Actor
from bot.chat.router import Router
from bot.console import access as acc
from bot.console import present
from bot.console.outbox import snapshot, stream
from bot.console.signin import ConsoleSignIns, failure
from bot.errors import Conflict, FieldError, InvalidInput, MailbotError, NotFound, SmtpError, TooLarge
from bot.i18n import Text
from bot.mailboxes.model import quota_from
from bot.relay.service import RelayService

PREFIX = "/console"
STATIC = Path(__file__).parent / "static"
ACTOR = Actor(id="console", name="web console", source="console", is_admin=True)
CONVERSATIONS = ("admin", "member", GROUP)
AUDIT_PAGE, AUDIT_MAX = 50, 200
FAVICON = STATIC / "favicon.svg"


class RelayOff(MailbotError):
    code = "relay_not_running"


STATUS_OF: tuple[tuple[type[MailbotError], int], ...] = (
    (NotFound, 404), (Conflict, 409), (InvalidInput, 422), (RelayOff, 503), (TooLarge, 413))
LOGIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>mailbot console · login</title>
<link rel="icon" href="static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="static/app.css"></head><body class="login"><main>
<h1>mailbot</h1><form method="post" action="login">
<label for="token">Console token / 控制台令牌</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button class="btn primary" type="submit">Log in / 登录</button>{error}</form></main></body></html>"""
CALLBACK_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>mailbot · {title}</title>
<link rel="stylesheet" href="{prefix}/static/app.css"></head><body class="login"><main id="signin-result" data-state="{state}">
<h1>{title}</h1><p class="{css}" role="status">{body}</p>{guide}
<p><a class="btn primary" href="{prefix}/#mailboxes">{back}</a></p></main></body></html>"""
MAILBOX_FIELDS = ("name", "account", "type", "host", "port", "security")  # what the add form sends
RULE_FIELDS = ("name", "process_code", "on", "result", "mailbox", "template", "to")  # RuleService.add's data
RULE_NAME = Text(zh="必填，规则的名称", en="required, the rule's name")
QUOTA_MISSING = Text(zh="必填：每天的封数，或 default", en="required: mails a day, or default")
SIGNIN_ENDED = Text(zh="这次登录已结束或已过期。请在控制台重新开始登录。",
                    en="This sign-in has ended or expired. Start the sign-in again in the console.")


@dataclass
class Services:
    """What the console needs from the running bot; `relay` is None while the relay is not running."""

    app: App
    router: Router
    relay: RelayService | None = None


def _lang(request: web.Request) -> str:
    return "en" if request.headers.get("X-Console-Lang", request.query.get("lang", "")) == "en" else "zh"


def _browser_lang(request: web.Request) -> str:
    """For a page reached by a redirect from Google, which sends no X-Console-Lang."""
    return "en" if request.headers.get("Accept-Language", "").lower().startswith("en") else "zh"


def _callback_uri(request: web.Request) -> str:
    """Where Google sends the browser back: this console on loopback (Google takes only loopback
    for installed apps). Reached through a tunnel, the redirect cannot land; the page offers a paste box."""
    if acc.is_loopback(request.url.host or ""):
        return f"http://{request.host}{PREFIX}/oauth/callback"
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    port = sockname[1] if sockname else request.url.port
    return f"http://127.0.0.1:{port}{PREFIX}/oauth/callback"


def _mailbox_fields(body: dict[str, Any]) -> dict[str, Any]:
    return {k: body[k] for k in MAILBOX_FIELDS if body.get(k) not in (None, "")}


@web.middleware
async def errors_as_json(request: web.Request, handler: acc.Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except MailbotError as exc:
        status = next((code for cls, code in STATUS_OF if isinstance(exc, cls)), 400)
        body: dict[str, Any] = {"error": exc.code, "message": exc.message(_lang(request))}
        if isinstance(exc, InvalidInput):  # each problem shown under its field, in the page's language
            body["fields"] = [{"field": e.field, "problem": e.problem(_lang(request)), "example": e.example}
                              for e in exc.errors]
        return web.json_response(body, status=status)


NOT_JSON = Text(zh="请求体必须是 JSON 对象。", en="The body must be a JSON object.")


MAX_BODY_BYTES = 64 * 1024  # a chat line or a card callback; the relay's mail-sized limit is not the console's


async def _json_body(request: web.Request) -> dict[str, Any]:
    """Errors are MailbotErrors so the page gets them as JSON in its language (errors_as_json)."""
    if request.content_length is None or request.content_length > MAX_BODY_BYTES:
        raise TooLarge(Text(zh=f"请求体太大（上限 {MAX_BODY_BYTES // 1024} KB）。",
                            en=f"The request body is too large (at most {MAX_BODY_BYTES // 1024} KB)."))
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise MailbotError(NOT_JSON) from None
    if not isinstance(data, dict):
        raise MailbotError(NOT_JSON)
    return data


def _int_param(request: web.Request, name: str, low: int, high: int) -> int | None:
    """A query parameter that, when given, must be a whole number in [low, high]: a 422 naming the range if not."""
    raw = request.query.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 16 and low <= int(raw) <= high):
        raise InvalidInput([FieldError(field=name, problem=Text(
            zh=f"必须是 {low}–{high} 之间的整数", en=f"must be a whole number from {low} to {high}"))])
    return int(raw)


def _rule_name(body: dict[str, Any]) -> str:
    """The rule a body names ({"name": NAME}); the service says whether there is one."""
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInput([FieldError(field="name", problem=RULE_NAME, example="报销通过")])
    return name


class Console:
    def __init__(self, services: Services, access: acc.Access) -> None:
        self.services = services
        self.access = access
        self.chat = ConsoleChat(services.router.handle, services.router.cards.handle)
        services.router.pushes["console"] = self.chat.push  # a chat sign-in's outcome, told when it ends
        self.signins = ConsoleSignIns(services.app.signins, ACTOR)
        self.closing = asyncio.Event()

    # ---- page and login -------------------------------------------------------------------

    async def index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def login_page(self, request: web.Request) -> web.Response:
        if not self.access.login_required:
            raise web.HTTPSeeOther(f"{PREFIX}/")
        return web.Response(text=LOGIN_PAGE.format(error=""), content_type="text/html")

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        if not self.access.check_token(str(form.get("token", ""))):
            await asyncio.sleep(0.5)  # slows guessing; the token should be long anyway
            error = '<p class="error" role="alert">Wrong token / 令牌不对</p>'
            return web.Response(text=LOGIN_PAGE.format(error=error), content_type="text/html", status=401)
        sid, _ = self.access.new_session()
        response = web.Response(status=303, headers={"Location": f"{PREFIX}/"})
        self.access.set_cookie(request, response, sid)
        return response

    async def session(self, request: web.Request) -> web.Response:
        session = request[acc.SESSION]
        return web.json_response({"csrf": session.csrf, "relay": self.services.relay is not None,
                                  "login_required": self.access.login_required,
                                  "personas": {k: p.staff_id for k, p in PERSONAS.items()},
                                  "types": present.provider_types()})

    # ---- chat -----------------------------------------------------------------------------

    @staticmethod
    def _conversation(request: web.Request) -> str:
        name = request.match_info["conversation"]
        if name not in CONVERSATIONS:
            raise NotFound(Text(zh=f"没有会话“{name}”。", en=f"No conversation '{name}'."))
        return name

    async def history(self, request: web.Request) -> web.Response:
        return web.json_response({"entries": self.chat.history(self._conversation(request))})

    async def say(self, request: web.Request) -> web.Response:
        conversation = self._conversation(request)
        body = await _json_body(request)
        persona = conversation if conversation != GROUP else str(body.get("persona", "admin"))
        text = body.get("text")
        if persona not in PERSONAS or not isinstance(text, str) or not text.strip():
            raise MailbotError(Text(zh="需要发言身份（admin 或 member）和非空的消息。",
                                    en="Needs a persona (admin or member) and a non-empty text."))
        entries = await self.chat.send(conversation, persona, text)  # type: ignore[arg-type]
        return web.json_response({"entries": entries,
                                  "expects_secret": self.chat.expects_secret(conversation, persona)})

    async def card_callback(self, request: web.Request) -> web.Response:
        """The body is DingTalk's callback shape: {outTrackId, userId, content: JSON string}."""
        return web.json_response({"entries": await self.chat.callback(await _json_body(request))})

    # ---- mailboxes ------------------------------------------------------------------------

    async def mailboxes(self, request: web.Request) -> web.Response:
        """Each mailbox with its `health` as HealthService.status gives it (state, reason and fix,
        last check, last send, sent today against the daily quota)."""
        app, lang = self.services.app, _lang(request)
        listed = sorted(await app.mailboxes.list(), key=lambda m: m.name.casefold())
        health = await app.health.status(listed)
        return web.json_response({"mailboxes": [present.mailbox(m, lang, h) for m, h in zip(listed, health)]})

    async def mailbox_action(self, request: web.Request) -> web.Response:
        service, name, action = self.services.app.mailboxes, request.match_info["name"], request.match_info["action"]
        if action == "test":
            try:
                mailbox = await service.test(name, ACTOR)
            except SmtpError as exc:
                return web.json_response({"ok": False, "message": exc.message(_lang(request))})
        elif action in ("enable", "disable"):
            mailbox = await service.set_enabled(name, action == "enable", ACTOR)
        elif action == "default":
            mailbox = await service.set_default(name, ACTOR)
        else:
            raise NotFound(Text(zh=f"没有操作“{action}”。", en=f"No action '{action}'."))
        return web.json_response({"ok": True, "mailbox": mailbox.public()})

    async def mailbox_quota(self, request: web.Request) -> web.Response:
        """{"quota_per_day": N | null | "default"}: the daily quota, as `mailbot mailbox quota NAME N|default`
        sets it; a 422 under `quota_per_day` when it is no number or out of the service's range."""
        app, lang = self.services.app, _lang(request)
        body = await _json_body(request)
        if "quota_per_day" not in body:
            raise InvalidInput([FieldError(field="quota_per_day", problem=QUOTA_MISSING, example="500")])
        value = quota_from(body["quota_per_day"])
        mailbox = await app.mailboxes.set_quota(request.match_info["name"], value, ACTOR)
        [health] = await app.health.status([mailbox])
        return web.json_response({"ok": True, "mailbox": present.mailbox(mailbox, lang, health)})

    async def mailbox_add(self, request: web.Request) -> web.Response:
        """A new mailbox with a password: checked by logging in, then saved."""
        body = await _json_body(request)
        password = body.get("password")
        secret = SecretStr(password) if isinstance(password, str) else None
        try:
            result = await self.services.app.mailboxes.add(_mailbox_fields(body), secret, ACTOR)
        except SmtpError as exc:
            return web.json_response({"ok": False, **failure(exc, _lang(request))})
        lang = _lang(request)
        return web.json_response({"ok": True, "mailbox": present.mailbox(result.mailbox, lang),
                                  "warnings": [w.text(lang) for w in result.warnings]})

    async def detect(self, request: web.Request) -> web.Response:
        """The type the add form preselects for `account`, with the reason shown under the field;
        `{"detection": null}`: unknown or DNS gave no answer within ~2 s, so the admin chooses."""
        detection = await self.services.app.mailboxes.propose_type({"account": request.query.get("account", "")})
        return web.json_response({"detection": detection.to_json(_lang(request)) if detection else None})

    async def mailbox_delete(self, request: web.Request) -> web.Response:
        mailbox = await self.services.app.mailboxes.remove(request.match_info["name"], ACTOR)
        return web.json_response({"ok": True, "mailbox": mailbox.public()})

    # ---- approval notification rules ----------------------------------------------------

    async def rules(self, request: web.Request) -> web.Response:
        """The rules, and the mailbox and template names the add form offers (the service checks them)."""
        app, lang = self.services.app, _lang(request)
        return web.json_response({
            "rules": [present.rule(r, lang) for r in sorted(await app.rules.list(), key=lambda r: r.name.casefold())],
            "mailboxes": sorted(m.name for m in await app.mailboxes.list()),
            "templates": sorted(str(t["name"]) for t in await app.relay.templates.list())})

    async def rule_add(self, request: web.Request) -> web.Response:
        """A new rule; a 422 lists every bad field (errors_as_json)."""
        body = await _json_body(request)
        rule = await self.services.app.rules.add({k: body[k] for k in RULE_FIELDS if k in body}, ACTOR)
        return web.json_response({"ok": True, "rule": present.rule(rule, _lang(request))})

    async def rule_action(self, request: web.Request) -> web.Response:
        enabled = request.match_info["action"] == "enable"
        rule = await self.services.app.rules.set_enabled(request.match_info["name"], enabled, ACTOR)
        return web.json_response({"ok": True, "rule": present.rule(rule, _lang(request))})

    async def rule_delete(self, request: web.Request) -> web.Response:
        rule = await self.services.app.rules.remove(request.match_info["name"], ACTOR)
        return web.json_response({"ok": True, "rule": present.rule(rule, _lang(request))})

    async def rule_change(self, request: web.Request) -> web.Response:
        """POST {"name": NAME} to enable, disable or remove: what the page sends, as any name a rule may
        have works there. In the path (the routes above) `.` and `..` cannot be sent at all (browsers
        resolve them as dot segments, percent-encoded too), and a proxy in front may refuse or decode
        an encoded `/`."""
        name, action = _rule_name(await _json_body(request)), request.match_info["action"]
        rules = self.services.app.rules
        rule = (await rules.remove(name, ACTOR) if action == "remove"
                else await rules.set_enabled(name, action == "enable", ACTOR))
        return web.json_response({"ok": True, "rule": present.rule(rule, _lang(request))})

    # ---- OAuth2 sign-in -------------------------------------------------------------------

    async def signin_begin(self, request: web.Request) -> web.Response:
        """{reauth: NAME}, or a new mailbox's fields: what to show the admin (no secret in it)."""
        body = await _json_body(request)
        reauth = body.get("reauth")
        signin = await self.signins.begin(None if isinstance(reauth, str) else _mailbox_fields(body),
                                          reauth if isinstance(reauth, str) else None, _callback_uri(request))
        return web.json_response({"id": signin.id, "state": "waiting", "signin": signin.view()})

    async def signin_status(self, request: web.Request) -> web.Response:
        return web.json_response(await self.signins.status(request.match_info["id"], _lang(request)))

    async def signin_paste(self, request: web.Request) -> web.Response:
        """The address Google sent the browser to (or its code), when it could not land on the callback."""
        signin_id = request.match_info["id"]
        pasted = (await _json_body(request)).get("pasted")
        try:
            await self.signins.finish_code(signin_id, pasted if isinstance(pasted, str) else "")
        except InvalidInput:
            raise  # unreadable: the admin pastes again (422 with what is wrong)
        except MailbotError:
            pass  # the sign-in ended: the status below says how
        return web.json_response(await self.signins.status(signin_id, _lang(request)))

    async def signin_cancel(self, request: web.Request) -> web.Response:
        await self.signins.cancel(request.match_info["id"])
        return web.json_response({"ok": True})

    async def oauth_callback(self, request: web.Request) -> web.Response:
        """Google's redirect: its `state` names the sign-in (and is the proof, as no session cookie
        comes along a cross-site redirect); the sign-in is finished here and its outcome shown."""
        lang = _browser_lang(request)
        signin = await self.services.app.signins.find_state(request.query.get("state", ""))
        if signin is None:
            return self._callback_page(lang, 400, "failed", {"message": SIGNIN_ENDED(lang), "guide": []})
        try:
            result = await self.signins.finish_code(signin.id, str(request.url))
        except MailbotError as exc:
            return self._callback_page(lang, 400, "failed", failure(exc, lang))
        done = Text(zh=f"邮箱“{result.mailbox.name}”已登录并保存（{result.mailbox.account}，登录验证通过）。",
                    en=f"Mailbox '{result.mailbox.name}' is signed in and saved ({result.mailbox.account}, "
                       "login check passed).")
        return self._callback_page(lang, 200, "saved", {"message": done(lang), "guide": []})

    @staticmethod
    def _callback_page(lang: str, status: int, state: str, outcome: dict[str, Any]) -> web.Response:
        ok = state == "saved"
        title = (Text(zh="登录完成", en="Signed in") if ok else Text(zh="登录未完成", en="Sign-in failed"))(lang)
        guide = "".join(f"<li>{escape(line, quote=False)}</li>" for line in outcome["guide"])
        page = CALLBACK_PAGE.format(
            prefix=PREFIX, lang=lang, title=title, state=state, css="ok" if ok else "error",
            body=escape(outcome["message"], quote=False).replace("\n", "<br>"), guide=f"<ul>{guide}</ul>" if guide else "",
            back=Text(zh="打开邮箱列表", en="Open the mailboxes")(lang))
        # The address holds Google's one-time code: no caching, and no Referer to the next page.
        return web.Response(text=page, content_type="text/html", status=status,
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    # ---- outbox and audit -----------------------------------------------------------------

    async def outbox(self, request: web.Request) -> web.Response:
        return web.json_response(await snapshot(self.services.relay, _lang(request)))

    async def outbox_events(self, request: web.Request) -> web.StreamResponse:
        return await stream(request, self.services.relay, self.closing, _lang(request))

    async def retry(self, request: web.Request) -> web.Response:
        if self.services.relay is None:
            raise RelayOff(Text(zh="中继未运行。", en="The relay is not running."))
        mail = await self.services.relay.retry(request.match_info["id"])
        return web.json_response({"ok": True, "mail": mail.view()})

    async def audit(self, request: web.Request) -> web.Response:
        """Newest first, a page at a time: `limit` (1–200) entries below the cursor `before`; the
        answer's `next` is the cursor of the next, older page (null on the last one)."""
        limit = _int_param(request, "limit", 1, AUDIT_MAX) or AUDIT_PAGE
        before = _int_param(request, "before", 1, 2**53)
        entries, cursor = await self.services.app.audit.page(limit, before)
        lang = _lang(request)
        return web.json_response({"entries": [present.audit_entry(e, lang) for e in entries],
                                  "next": cursor or None})

    async def _close(self, app: web.Application) -> None:
        self.closing.set()
        await self.signins.close()


def build_console(services: Services, access: acc.Access) -> web.Application:
    """The console as an aiohttp application, to be mounted at PREFIX."""
    console = Console(services, access)
    app = web.Application(middlewares=[acc.middleware(access, PREFIX), errors_as_json])
    app.on_shutdown.append(console._close)
    app.add_routes([
        web.get("/", console.index),
        web.get("/login", console.login_page),
        web.post("/login", console.login),
        web.static("/static", STATIC, append_version=False),
        web.get("/api/session", console.session),
        web.get("/api/chat/{conversation}", console.history),
        web.post("/api/chat/{conversation}", console.say),
        web.post("/api/cards/callback", console.card_callback),
        web.get("/api/mailboxes", console.mailboxes),
        web.post("/api/mailboxes", console.mailbox_add),
        web.get("/api/detect", console.detect),
        web.post("/api/mailboxes/{name}/quota", console.mailbox_quota),  # before {action}, which would take it
        web.post("/api/mailboxes/{name}/{action}", console.mailbox_action),
        web.delete("/api/mailboxes/{name}", console.mailbox_delete),
        web.get("/api/rules", console.rules),
        web.post("/api/rules", console.rule_add),
        web.post("/api/rules/{action:enable|disable|remove}", console.rule_change),  # the name in the body
        web.post("/api/rules/{name}/{action:enable|disable}", console.rule_action),
        web.delete("/api/rules/{name}", console.rule_delete),
        web.post("/api/signins", console.signin_begin),
        web.get("/api/signins/{id}", console.signin_status),
        web.post("/api/signins/{id}/paste", console.signin_paste),
        web.delete("/api/signins/{id}", console.signin_cancel),
        web.get("/oauth/callback", console.oauth_callback),
        web.get("/api/outbox", console.outbox),
        web.get("/api/outbox/events", console.outbox_events),
        web.post("/api/outbox/{id}/retry", console.retry),
        web.get("/api/audit", console.audit),
    ])
    return app


def mount(parent: web.Application, console: web.Application) -> None:
    """Serve the console under /console on `parent` (the relay's app) and send `/` there."""
    async def to_console(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"{PREFIX}/")

    async def favicon(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(FAVICON, headers={"Content-Type": "image/svg+xml", "Cache-Control": "max-age=86400"})

    parent.router.add_get("/", to_console)
    parent.router.add_get("/favicon.ico", favicon)  # browsers ask the site root for it
    parent.add_subapp(PREFIX, console)
