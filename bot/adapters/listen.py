"""An address a front end cannot listen on (the HTTP API, the SMTP door): a setting to change, said
with the address, the reason and the variables that move it; not a crash (exit 2)."""

from __future__ import annotations

import errno

from bot.errors import MailbotError
from bot.i18n import Text

LISTEN_ERRORS = {
    errno.EADDRINUSE: Text(zh="端口已被占用（也许另一个 mailbot run 正在运行）",
                           en="the port is already in use (perhaps by another `mailbot run`)"),
    errno.EACCES: Text(zh="没有权限使用这个端口（1024 以下的端口需要特权）",
                       en="no permission to use this port (ports below 1024 need privileges)"),
    errno.EADDRNOTAVAIL: Text(zh="本机没有这个地址", en="this machine has no such address"),
}


class CannotListen(MailbotError):
    code = "cannot_listen"
    exit_code = 2


def cannot_listen(exc: OSError, host: str, port: int, what: Text, variables: tuple[str, str],
                  off: Text | None = None) -> CannotListen | None:
    """`what` (e.g. "the SMTP door") cannot listen on host:port; `variables` are the port's and the
    host's settings, `off` how to turn it off where it can be. None for an OS error that is not about
    the address."""
    why = LISTEN_ERRORS.get(exc.errno or 0)
    if why is None:
        return None
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    port_var, host_var = variables
    return CannotListen(
        Text(zh=f"{what.zh}无法在 {address} 上监听：{why.zh}。", en=f"{what.en} cannot listen on {address}: {why.en}."),
        Text(zh=f"用 {port_var} 换一个空闲端口（或用 {host_var} 换地址{off.zh if off else ''}）后重新运行 `mailbot run`。",
             en=f"Set {port_var} to a free port (or {host_var} to another address{off.en if off else ''}) "
                "and run `mailbot run` again."))
