"""HTTP API (aiohttp): routes only. Parse and validate with pydantic, call RelayService, answer JSON.

Errors come from the one MailbotError hierarchy and map to status codes here. A failing data store
(StorageFailed) is 507 Insufficient Storage for a mail that could not be accepted, 503 elsewhere, and
/healthz says 503 naming the store while its last write failed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.errors import (Conflict, FieldError, InvalidInput, MailbotError, NotFound, PermissionDenied, StorageFailed,
                        TooLarge, Unauthorized)
from bot.i18n import Text
from bot.relay.models import STATUSES, MailRequest
from bot.relay.service import RelayService
from bot.relay.tokens import TokenInfo

STATUS_OF: tuple[tuple[type[MailbotError], int], ...] = (
    (Unauthorized, 401), (PermissionDenied, 403), (NotFound, 404), (Conflict, 409),
    (TooLarge, 413), (InvalidInput, 422), (StorageFailed, 503),
)
MAILS = "/v1/mails"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OFF_LOOP_BYTES = 64 * 1024  # bodies bigger than this are parsed in a thread


def _lang(request: web.Request) -> str:
    return "zh" if request.headers.get("Accept-Language", "").lower().startswith("zh") else "en"


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except MailbotError as exc:
        status = next((code for cls, code in STATUS_OF if isinstance(exc, cls)), 500)
        if (isinstance(exc, StorageFailed) and exc.kind != "unavailable" and request.method == "POST"
                and request.path == MAILS):
            status = 507  # the mail could not be stored: not accepted (mail accepted before is safe)
        return web.json_response(exc.to_dict(_lang(request)), status=status)


def _bad_body(problem_zh: str, problem_en: str) -> InvalidInput:
    return InvalidInput([FieldError(field="body", problem=Text(zh=problem_zh, en=problem_en))])


class Api:
    def __init__(self, relay: RelayService) -> None:
        self.relay = relay

    async def _token(self, request: web.Request) -> TokenInfo:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return await self.relay.authenticate(token.strip() if scheme.lower() == "bearer" else None)

    async def post_mail(self, request: web.Request) -> web.Response:
        token = await self._token(request)
        if (request.content_length or 0) > self.relay.max_mail_bytes * 2:
            raise self.relay.too_large()
        raw = await request.read()

        def parse() -> MailRequest:
            try:
                data = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                raise _bad_body("请求体不是有效的 JSON", "the body is not valid JSON") from None
            return MailRequest.parse(data)

        # A body may be up to twice MAILBOT_MAX_MAIL_BYTES: parsing a big one would hold the loop for 100s of ms.
        mail_request = await asyncio.to_thread(parse) if len(raw) > OFF_LOOP_BYTES else parse()
        mail, _ = await self.relay.submit(mail_request, token)
        return web.json_response({"id": mail.id, "status": "queued" if mail.status == "sending" else mail.status},
                                 status=202)

    async def get_mail(self, request: web.Request) -> web.Response:
        token = await self._token(request)
        return web.json_response((await self.relay.get(request.match_info["id"], token)).view())

    async def list_mails(self, request: web.Request) -> web.Response:
        token = await self._token(request)
        status = request.query.get("status") or None
        if status is not None and status not in STATUSES:
            raise InvalidInput([FieldError(field="status", problem=Text(zh="未知状态", en="unknown status"),
                                           example="failed")])
        try:
            limit = max(1, min(1000, int(request.query.get("limit", "50"))))
        except ValueError:
            raise InvalidInput([FieldError(field="limit", problem=Text(zh="需要整数", en="must be an integer"),
                                           example="50")]) from None
        mails = await self.relay.recent(status=status, limit=limit, token=token)
        return web.json_response({"mails": [m.view() for m in mails]})

    async def retry(self, request: web.Request) -> web.Response:
        token = await self._token(request)
        mail = await self.relay.retry(request.match_info["id"], token)
        return web.json_response({"id": mail.id, "status": mail.status}, status=202)

    async def healthz(self, request: web.Request) -> web.Response:
        """200 ok, or 503 naming the store and its failing tables while their last write failed
        (polled often: costs nothing while healthy; while failing, a small write is retried ≤ 1/s)."""
        health = self.relay.storage.health
        if (failure := await health.check()) is not None:
            return web.json_response({**failure.to_dict(_lang(request)), "status": "failing", "store": health.store,
                                      "tables": health.failing, "queued": self.relay.outbox.pending}, status=503)
        return web.json_response({"status": "ok", "queued": self.relay.outbox.pending})

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(text=self.relay.metrics.render(self.relay.outbox.pending),
                            content_type="text/plain", headers={"X-Content-Format": "prometheus 0.0.4"})


def make_app(relay: RelayService) -> web.Application:
    # Bodies up to twice the mail limit reach the handler (base64 + JSON overhead) so the size
    # check there answers with the JSON 413; anything larger aiohttp refuses itself.
    app = web.Application(middlewares=[errors_as_json], client_max_size=relay.max_mail_bytes * 2 + 65536)
    api = Api(relay)
    app.add_routes([
        web.post(MAILS, api.post_mail),
        web.get(MAILS, api.list_mails),
        web.get("/v1/mails/{id}", api.get_mail),
        web.post("/v1/mails/{id}/retry", api.retry),
        web.get("/healthz", api.healthz),
        web.get("/metrics", api.metrics),
    ])
    return app
