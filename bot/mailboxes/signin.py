"""OAuth2 sign-ins in progress, for every front end (CLI, chat, cards, console).

`begin` checks what can be checked before the admin signs in (the fields, a free name, a configured
client), then starts the issuer's flow: a device code to type (Microsoft) or a consent address
(Google). `finish` waits for the device sign-in, or takes the pasted redirect, then the mailbox
service checks the login with XOAUTH2 and saves (a new mailbox, or `reauth` of one).

A sign-in lives in the store (table `oauth_signins`), so any instance sharing it can go on with it:
DingTalk hands each chat message to one of the connected instances, so the Google address an admin
pastes, or their 取消, may reach another instance than the one that began. The device code and the
PKCE verifier are sealed with the secret key like passwords. Finishing takes the row away first
(compare-and-set), so a sign-in is finished once; a device sign-in polled by one instance stops when
its row is gone (cancelled anywhere), and says every WATCH_S that it still polls: a device sign-in
whose instance was killed reads as ended. A front end holds only the sign-in's id and `SignIn.view`.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import Any


from bot.audit import Actor
from bot.errors import MailbotError, SignInEnded, StorageFailed
from bot.i18n import Text
from bot.mailboxes.model import oauth_route_of
from bot.mailboxes.service import MailboxService, SaveResult
from bot.oauth import CodeGrant, DeviceGrant, TokenSet, parse_redirect
from bot.providers import OAuthRoute
from bot.secrets import SecretBox
from bot.storage import Storage

KEEP_S = 1800.0  # a sign-in nobody finished is forgotten after this
MAX_OPEN = 100  # sign-ins kept at once (the oldest go first)
WATCH_S = 2.0  # a device sign-in being polled says so this often, and sees whether it was cancelled elsewhere
STALE_S = 5 * WATCH_S  # a device sign-in nobody said they poll for this long is over (its instance died)
SECRET_FIELDS = ("password", "secret", "secret_token")  # never stored with a sign-in's mailbox fields


def _ended() -> SignInEnded:
    return SignInEnded(Text(zh="这次登录已结束或已过期。", en="This sign-in has ended or expired."),
                    Text(zh="重新开始登录。", en="Start the sign-in again."))


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
    def __init__(self, mailboxes: MailboxService, storage: Storage, box: SecretBox) -> None:
        self.mailboxes = mailboxes
        self._box = box
        self._table = storage.table("oauth_signins", indexed=("state",))

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
            fields = {k: v for k, v in (data or {}).items() if v not in (None, "") and k not in SECRET_FIELDS}
        route = oauth_route_of(type_key)
        client.check_configured(route)
        signin = SignIn(id=secrets.token_urlsafe(12), type=type_key, account=account, route=route, data=fields,
                        reauth=name)
        if route.flow == "device":
            signin.device = await client.start_device(route)
        else:
            signin.code = client.start_code(route, redirect_uri, login_hint=account)
        await self._keep(signin)
        return signin

    async def _keep(self, signin: SignIn) -> None:
        """Store it; sign-ins past KEEP_S, and the oldest beyond MAX_OPEN, are forgotten meanwhile."""
        rows = await self._table.items()  # at most MAX_OPEN
        cutoff = time.time() - KEEP_S
        gone = [key for key, doc in rows if float(doc.get("started_at", 0)) < cutoff]
        left = [key for key, _ in rows if key not in gone]
        gone += left[:max(0, len(left) - MAX_OPEN + 1)]
        await self._table.write({signin.id: self._dump(signin)}, gone)

    def _dump(self, signin: SignIn) -> dict[str, Any]:
        doc: dict[str, Any] = {"type": signin.type, "account": signin.account, "data": signin.data,
                               "reauth": signin.reauth, "started_at": signin.started_at, "state": ""}
        if signin.device is not None:
            doc["polled_at"] = signin.started_at
            doc["device"] = {**signin.device.model_dump(exclude={"device_code"}),
                             "device_code": self._box.encrypt(signin.device.device_code.get_secret_value())}
        if signin.code is not None:
            doc["code"] = {**signin.code.model_dump(exclude={"verifier"}),
                           "verifier": self._box.encrypt(signin.code.verifier.get_secret_value())}
            doc["state"] = signin.code.state
        return doc

    def _load(self, signin_id: str, doc: dict[str, Any] | None) -> SignIn | None:
        now = time.time()
        if doc is None or float(doc.get("started_at", 0)) < now - KEEP_S:
            return None
        if doc.get("device") is not None and float(doc.get("polled_at", 0)) < now - STALE_S:
            return None  # the instance polling it stopped without a word (killed): nobody would save it
        try:
            signin = SignIn(id=signin_id, type=doc["type"], account=doc["account"], route=oauth_route_of(doc["type"]),
                            data=doc.get("data") or {}, reauth=doc.get("reauth"), started_at=float(doc["started_at"]))
            if (device := doc.get("device")) is not None:
                signin.device = DeviceGrant.model_validate(
                    {**device, "device_code": self._box.decrypt(device["device_code"])})
            if (code := doc.get("code")) is not None:
                signin.code = CodeGrant.model_validate({**code, "verifier": self._box.decrypt(code["verifier"])})
        except (MailbotError, KeyError, ValueError):  # sealed with a key rotated away since, or unreadable
            return None
        return signin

    async def get(self, signin_id: str) -> SignIn:
        signin = self._load(signin_id, await self._table.get(signin_id)) if signin_id else None
        if signin is None:
            raise _ended()
        return signin

    async def find_state(self, state: str) -> SignIn | None:
        """The code-flow sign-in a redirect's `state` belongs to (the console's own callback)."""
        if not state:
            return None
        page = await self._table.scan(1, where={"state": state})
        return next((self._load(key, doc) for key, doc in page.rows), None)

    async def cancel(self, signin_id: str) -> None:
        if signin_id:
            await self._table.delete(signin_id)

    async def _take(self, signin_id: str) -> None:
        """Take the sign-in out of the store, so this caller alone finishes it; SignInEnded when it ended
        (finished or cancelled here or on another instance, or expired)."""
        doc = await self._table.get(signin_id)
        if self._load(signin_id, doc) is None or not await self._table.put_if(signin_id, None, doc):
            raise _ended()

    async def _poll(self, signin: SignIn) -> TokenSet:
        """The device grant's tokens; SignInEnded as soon as the sign-in is gone from the store. A
        store that fails for a moment does not end it (the admin may be signing in right now)."""
        client = self.mailboxes.oauth
        assert client is not None and signin.device is not None
        poll = asyncio.ensure_future(client.poll_device(signin.route, signin.device))
        try:
            while True:
                done, _ = await asyncio.wait([poll], timeout=WATCH_S)
                if done:
                    return poll.result()
                try:
                    doc = await self._table.get(signin.id)
                    if doc is not None:
                        await self._table.put_if(signin.id, {**doc, "polled_at": time.time()}, doc)  # still polled
                except StorageFailed:
                    continue
                if doc is None:
                    raise _ended()
        finally:
            if not poll.done():
                poll.cancel()
                await asyncio.gather(poll, return_exceptions=True)

    async def finish(self, signin: SignIn, actor: Actor, pasted: str | None = None) -> SaveResult:
        """Device flow: wait until the admin signed in (cancel the task to stop; a cancel on any
        instance stops it too, with SignInEnded). Code flow: the pasted redirect address or code. Then
        the XOAUTH2 login check, then save. The sign-in is over either way, except when a pasted
        address was unreadable (the admin may paste again)."""
        client = self.mailboxes.oauth
        assert client is not None
        if signin.device is not None:
            try:
                tokens = await self._poll(signin)
            except BaseException:
                await asyncio.shield(self._forget(signin.id))
                raise
            await self._take(signin.id)
        else:
            assert signin.code is not None
            code = parse_redirect(pasted or "", signin.code.state)  # InvalidInput: paste again
            await self._take(signin.id)
            tokens = await client.finish_code(signin.route, signin.code, code)
        if signin.reauth is not None:
            mailbox = await self.mailboxes.reauth(signin.reauth, tokens, actor)
            return SaveResult(mailbox, [])
        return await self.mailboxes.add_oauth(signin.data, tokens, actor)

    async def _forget(self, signin_id: str) -> None:
        try:
            await self.cancel(signin_id)
        except MailbotError:  # the store is failing: the row expires instead
            pass
