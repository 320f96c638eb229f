"""What an admin pastes after Google's consent page: the address the browser was sent to, or
only the code. The `state` in a pasted address must match the sign-in's (RFC 6749 §10.12)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from bot.errors import InvalidInput, FieldError, SignInCancelled
from bot.i18n import Text

MAX_PASTE = 4096


def parse_redirect(pasted: str, state: str) -> str:
    """The authorization code in `pasted`; InvalidInput when it holds none, SignInCancelled when the
    issuer reported a refusal (`error=access_denied`)."""
    text = pasted.strip()
    if not text or len(text) > MAX_PASTE or any(c in text for c in "\r\n\t "):
        raise _bad()
    if "://" not in text and "=" not in text:
        return text  # only the code
    query = parse_qs(urlsplit(text).query if "://" in text else text.lstrip("?"))
    if "error" in query:
        raise SignInCancelled(Text(zh="谷歌登录没有完成：授权被拒绝。", en="The Google sign-in did not finish: access was denied."),
                              Text(zh="重新开始登录，并在同意页面点“允许”。", en="Start again and choose Allow on the consent page."),
                              detail=query["error"][0][:100])
    code = (query.get("code") or [""])[0]
    if not code:
        raise _bad()
    if (query.get("state") or [""])[0] != state:
        raise InvalidInput([FieldError(field="code", problem=Text(
            zh="这个地址不属于当前这次登录（state 不一致），请粘贴本次登录后浏览器跳转到的地址",
            en="this address belongs to another sign-in (state differs); paste the address of this sign-in's redirect"))])
    return code


def _bad() -> InvalidInput:
    return InvalidInput([FieldError(field="code", problem=Text(
        zh="请粘贴登录后浏览器跳转到的完整地址（含 code=），或只粘贴 code 的值",
        en="paste the whole address the browser was sent to after signing in (it contains code=), or only the code"),
        example="http://127.0.0.1/?state=…&code=4/0Ab…")])
