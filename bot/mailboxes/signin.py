"""OAuth2 sign-ins in progress, for every front end (CLI, chat, cards, console).

`begin` checks what can be checked before the admin signs in (the fields, a free name, a configured
client), then starts the issuer's flow: a device code to type (Microsoft) or a consent address
(Google). `finish` waits for the device sign-in, or takes the pasted redirect, then the mailbox
service checks the login with XOAUTH2 and saves (a new mailbox, or `reauth` of one).

The device code and the PKCE verifier stay in this process's memory; a front end holds only the
sign-in's id and what it shows the admin (`SignIn.view`).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from bot.audit import Actor
from bot.errors import InvalidInput, NotFound
from bot.i18n import Text
from bot.mailboxes.model import oauth_route_of
from bot.mailboxes.service import MailboxService, SaveResult
from bot.oauth import CodeGrant, DeviceGrant, parse_redirect
from bot.providers import OAuthRoute

KEEP_S = 1800.0  # a sign-in nobody finished is forgotten after this
MAX_OPEN = 100  # sign-ins kept at once (the oldest go first)


@dataclass
class SignIn:
    id: str
    type: str
    account: str
    route: OAuthRoute
    data: dict[str, Any]  # the mailbox's fields (a new mailbox), or {} for a reauth
    reauth: str | None = None  # the mailbox signed in again
    device: DeviceGrant | None = None
    code: CodeGrant | None = None
    started_at: float = field(default_factory=time.time)

    @property
    def name(self) -> str:
        return self.reauth or str(self.data.get("name", ""))

    def view(self) -> dict[str, Any]:
        """What the admin is shown: where to sign in, and the code to type. No secret."""
        if self.device is not None:
            return {"id": self.id, "flow": "device", "verification_uri": self.device.verification_uri,
                    "user_code": self.device.user_code, "expires_at": self.device.expires_at, "account": self.account}
        assert self.code is not None
        return {"id": self.id, "flow": "code", "url": self.code.url, "redirect_uri": self.code.redirect_uri,
                "account": self.account}

    def instructions(self, lang: str) -> str:
        """One paragraph telling the admin what to do now."""
        if self.device is not None:
            minutes = max(1, round((self.device.expires_at - time.time()) / 60))
            return (f"请用浏览器打开 {self.device.verification_uri} ，输入代码 {self.device.user_code} ，并以 {self.account} 登录"
                    f"（{minutes} 分钟内有效）。登录完成后 mailbot 会自动检查并保存。" if lang == "zh" else
                    f"Open {self.device.verification_uri} in a browser, enter the code {self.device.user_code} and sign in "
                    f"as {self.account} (valid for {minutes} minutes). mailbot checks and saves by itself once you are done.")
        assert self.code is not None
        return (f"请用浏览器打开下面的地址，以 {self.account} 登录谷歌并允许访问；然后把浏览器跳转到的完整地址（含 code=）"
                f"粘贴回来。\n{self.code.url}" if lang == "zh" else
                f"Open the address below in a browser, sign in to Google as {self.account} and allow access; then paste "
                f"back the whole address the browser was sent to (it contains code=).\n{self.code.url}")


class SignIns:
    def __init__(self, mailboxes: MailboxService) -> None:
        self.mailboxes = mailboxes
        self._open: dict[str, SignIn] = {}

    async def begin(self, data: dict[str, Any] | None = None, *, reauth: str | None = None,
                    redirect_uri: str = "http://127.0.0.1/") -> SignIn:
        """Start a sign-in for a new mailbox (`data`: its fields) or for an existing one (`reauth`)."""
        client = self.mailboxes.oauth
        assert client is not None
        if reauth is not None:
            mailbox = await self.mailboxes.get(reauth)
            type_key, account, fields, name = mailbox.type, mailbox.account, {}, mailbox.name
        else:
            spec, resolved = await self.mailboxes.check_oauth_name(data or {})
            type_key, account, name = resolved.type, spec.account, None
            fields = {k: v for k, v in (data or {}).items() if v not in (None, "")}
        route = oauth_route_of(type_key)
        client.check_configured(route)
        signin = SignIn(id=secrets.token_urlsafe(12), type=type_key, account=account, route=route, data=fields,
                        reauth=name)
        if route.flow == "device":
            signin.device = await client.start_device(route)
        else:
            signin.code = client.start_code(route, redirect_uri, login_hint=account)
        self._keep(signin)
        return signin

    def _keep(self, signin: SignIn) -> None:
        cutoff = time.time() - KEEP_S
        for key in [k for k, s in self._open.items() if s.started_at < cutoff]:
            del self._open[key]
        while len(self._open) >= MAX_OPEN:
            self._open.pop(next(iter(self._open)))
        self._open[signin.id] = signin

    def get(self, signin_id: str) -> SignIn:
        signin = self._open.get(signin_id)
        if signin is None:
            raise NotFound(Text(zh="这次登录已结束或已过期。", en="This sign-in has ended or expired."),
                           Text(zh="重新开始登录。", en="Start the sign-in again."))
        return signin

    def find_state(self, state: str) -> SignIn | None:
        """The code-flow sign-in a redirect's `state` belongs to (the console's own callback)."""
        return next((s for s in self._open.values() if s.code is not None and s.code.state == state), None)

    def cancel(self, signin_id: str) -> None:
        self._open.pop(signin_id, None)

    async def finish(self, signin: SignIn, actor: Actor, pasted: str | None = None) -> SaveResult:
        """Device flow: wait until the admin signed in (cancel the task to stop). Code flow: the pasted
        redirect address or code. Then the XOAUTH2 login check, then save. The sign-in is over
        either way, except when a pasted address was unreadable (the admin may paste again)."""
        client = self.mailboxes.oauth
        assert client is not None
        try:
            if signin.device is not None:
                tokens = await client.poll_device(signin.route, signin.device)
            else:
                assert signin.code is not None
                code = parse_redirect(pasted or "", signin.code.state)  # InvalidInput: paste again
                tokens = await client.finish_code(signin.route, signin.code, code)
        except BaseException as exc:
            if not isinstance(exc, InvalidInput):  # an unreadable paste: the admin may paste again
                self.cancel(signin.id)
            raise
        self.cancel(signin.id)
        if signin.reauth is not None:
            mailbox = await self.mailboxes.reauth(signin.reauth, tokens, actor)
            return SaveResult(mailbox, [])
        return await self.mailboxes.add_oauth(signin.data, tokens, actor)
