"""`mailbot mailbox ...`: the registry from a terminal. Secrets come from stdin or a no-echo prompt."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any, Literal

from pydantic import SecretStr

from bot.app import App, open_app
from bot.cli.common import cli_actor, cli_lang, fail, print_fields, print_json, table
from bot.config import load_settings
from bot.cli.loopback import LoopbackRedirect, loopback_redirect, stdin_lines
from bot.errors import InvalidInput, SmtpError
from bot.i18n import Text
from bot.mailboxes import Mailbox
from bot.mailboxes.service import SaveResult
from bot.mailboxes.signin import SignIn
from bot.mailboxes.health import quota_of
from bot.mailboxes.model import UNPACED, quota_from
from bot.providers import PROVIDER_TYPES


def _lang(args: argparse.Namespace) -> str:
    return args.lang or cli_lang()


def register(sub: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--lang", choices=("zh", "en"), help="language of messages (default: from the locale)")

    parser = sub.add_parser("mailbox", help="add, list, test, edit and remove sending mailboxes")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def server_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--type", choices=PROVIDER_TYPES, help="mailbox type (default: from the account's domain)")
        p.add_argument("--host", help="SMTP host (custom type, or to override)")
        p.add_argument("--port", help="SMTP port")
        p.add_argument("--security", choices=("ssl", "starttls", "none"))
        p.add_argument("--password-stdin", action="store_true", help="read the password / authorization code from stdin")
        p.add_argument("--no-verify", action="store_true", help="save without the live login check")

    add = actions.add_parser("add", parents=[common], help="register a mailbox after a live login check")
    add.add_argument("--name", required=True)
    add.add_argument("--account", required=True)
    server_flags(add)
    add.add_argument("--oauth", action="store_true",
                     help="sign in with Microsoft or Google (OAuth2) instead of a password (outlook, microsoft365, gmail)")
    add.set_defaults(func=_add)

    reauth = actions.add_parser("reauth", parents=[common], help="sign in again (OAuth2) for an existing mailbox")
    reauth.add_argument("target", metavar="NAME")
    reauth.set_defaults(func=_reauth)

    edit = actions.add_parser("edit", parents=[common], help="change a mailbox (re-verifies the login)")
    edit.add_argument("target", metavar="NAME")
    edit.add_argument("--name", help="new name")
    edit.add_argument("--account")
    server_flags(edit)
    edit.add_argument("--new-password", action="store_true", help="prompt for a new password / authorization code")
    edit.set_defaults(func=_edit)

    lst = actions.add_parser("list", parents=[common], help="list mailboxes")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_list)

    show = actions.add_parser("show", parents=[common], help="show one mailbox")
    show.add_argument("target", metavar="NAME")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_show)

    test = actions.add_parser("test", parents=[common], help="check the login; with --to, send a test mail")
    test.add_argument("target", metavar="NAME")
    test.add_argument("--to", help="send a real test mail to this address")
    test.add_argument("--json", action="store_true")
    test.set_defaults(func=_test)

    rate = actions.add_parser("rate", parents=[common], help="relay pacing for one mailbox (mails per minute)")
    rate.add_argument("target", metavar="NAME")
    rate.add_argument("per_minute", metavar="PER_MINUTE",
                      help="a number, 'none' for no pacing, or 'default' for the provider's (custom: none)")
    rate.set_defaults(func=_rate)

    health = actions.add_parser("health", parents=[common],
                                help="per mailbox: login health, last check, last send, mails sent today against the daily quota")
    health.add_argument("--json", action="store_true")
    health.set_defaults(func=_health)

    quota = actions.add_parser("quota", parents=[common], help="daily sending quota for one mailbox (mails a day)")
    quota.add_argument("target", metavar="NAME")
    quota.add_argument("per_day", metavar="PER_DAY", help="a number, or 'default' for the provider's (custom: no limit)")
    quota.set_defaults(func=_quota)

    for action, func, text in (("remove", _remove, "delete a mailbox"), ("enable", _enable, "enable a mailbox"),
                               ("disable", _disable, "disable a mailbox"), ("default", _default, "make it the default")):
        p = actions.add_parser(action, parents=[common], help=text)
        p.add_argument("target", metavar="NAME")
        p.set_defaults(func=func)


def _read_secret(args: argparse.Namespace, prompt: str) -> SecretStr:
    if args.password_stdin:
        return SecretStr(sys.stdin.readline().rstrip("\r\n"))
    if not sys.stdin.isatty():
        raise SystemExit(fail("No terminal to ask for the password: pass it on stdin with --password-stdin.", 2))
    return SecretStr(getpass.getpass(prompt))


def _server_changes(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in ("type", "host", "port", "security") if getattr(args, k) is not None}


NOT_SAVED = Text(zh="邮箱未保存。", en="The mailbox was not saved.")
UNCHANGED = Text(zh="邮箱设置未改动；上次检查结果已记为失败。",
                 en="The mailbox's settings are unchanged; its last check now shows this failure.")


def _report_failure(exc: SmtpError, lang: str, outcome: Text) -> int:
    """Reason, fix and, when the provider has one, its short guide; then what became of the mailbox."""
    lines = [exc.message(lang)]
    if exc.offers_guide and exc.provider_type and exc.provider_type != "custom":
        from bot.guides import short_guide

        lines.append("")
        lines.append("获取方法：" if lang == "zh" else "How to get it:")
        lines.extend(short_guide(exc.provider_type, lang))
    lines.append(outcome(lang))
    return fail("\n".join(lines), 1)


def _print_saved(mailbox: Mailbox, warnings: list[Any], verified: bool, lang: str, verb: str) -> None:
    check = ("登录验证通过" if lang == "zh" else "login check passed") if verified else (
        "未验证登录" if lang == "zh" else "login not verified")
    if lang == "zh":
        print(f"已{verb}邮箱“{mailbox.name}”：{mailbox.account}（{mailbox.type}，{mailbox.host}:{mailbox.port} {mailbox.security}），{check}。")
    else:
        print(f"{verb.capitalize()} mailbox '{mailbox.name}': {mailbox.account} ({mailbox.type}, "
              f"{mailbox.host}:{mailbox.port} {mailbox.security}), {check}.")
    for warning in warnings:
        print(("注意：" if lang == "zh" else "Warning: ") + warning.text(lang), file=sys.stderr)


async def _add(args: argparse.Namespace) -> int:
    lang = _lang(args)
    if args.oauth and (args.password_stdin or args.no_verify):
        return fail("--oauth signs in instead of a password, and always checks the login: drop --password-stdin "
                    "and --no-verify." if lang == "en" else "--oauth 用登录代替密码，且总会验证登录：请去掉 --password-stdin 和 --no-verify。", 2)
    data = {"name": args.name, "account": args.account, **_server_changes(args)}
    async with open_app(load_settings()) as app:
        detected = await app.mailboxes.propose_type(data)  # no type and no host: the provider from the MX
        if detected is not None:
            data["type"] = detected.type
            if detected.mx:  # a public domain needs no saying
                print(("类型按域名判断：" if lang == "zh" else "Type from the domain: ") + detected.reason(lang)
                      + ("（用 --type 可改）" if lang == "zh" else " (--type overrides)"), file=sys.stderr)
        if args.oauth:
            return await sign_in(app, lang, data=data)
        secret = _read_secret(args, "Password / authorization code: ")
        try:
            result = await app.mailboxes.add(data, secret, cli_actor(), verify=not args.no_verify)
        except SmtpError as exc:
            return _report_failure(exc, lang, NOT_SAVED)
    _print_saved(result.mailbox, result.warnings, not args.no_verify, lang, "保存" if lang == "zh" else "saved")
    return 0


async def _reauth(args: argparse.Namespace) -> int:
    async with open_app(load_settings()) as app:
        return await sign_in(app, _lang(args), reauth=args.target)


async def sign_in(app: App, lang: str, *, data: dict[str, Any] | None = None, reauth: str | None = None) -> int:
    """The OAuth2 sign-in from a terminal: Microsoft shows a code to type at its page and polls;
    Google shows a consent address, and the redirect comes back to a loopback listener here or is
    pasted. Ctrl-C or the code's expiry ends it with nothing saved."""
    async with loopback_redirect() as redirect:
        signin = await app.signins.begin(data, reauth=reauth, redirect_uri=redirect.uri)
        print(signin.instructions(lang))
        if signin.code is not None:
            print("（也可以在这里粘贴地址后回车。）" if lang == "zh" else
                  "(Or paste the address here and press Enter.)", flush=True)
        else:
            print("等待登录…（Ctrl-C 取消）" if lang == "zh" else "Waiting for the sign-in... (Ctrl-C cancels)", flush=True)
        try:
            result = await _finish(app, signin, redirect)
        except asyncio.CancelledError:
            await asyncio.shield(app.signins.cancel(signin.id))  # a Google sign-in waiting for its paste ends too
            print("已取消登录，邮箱未保存。" if lang == "zh" else "Sign-in cancelled; nothing was saved.", file=sys.stderr)
            raise
        except SmtpError as exc:
            return _report_failure(exc, lang, NOT_SAVED if reauth is None else UNCHANGED)
    verb = ("重新登录" if lang == "zh" else "signed in again") if reauth else ("保存" if lang == "zh" else "saved")
    _print_saved(result.mailbox, result.warnings, True, lang, verb)
    return 0


async def _finish(app: App, signin: SignIn, redirect: LoopbackRedirect) -> SaveResult:
    """Device flow: wait for it. Code flow: the first of the browser's redirect or a pasted line;
    an unreadable paste asks again."""
    if signin.code is None:
        return await app.signins.finish(signin, cli_actor())
    lines = await stdin_lines()
    while True:
        pasted = await _first(redirect.next(), lines.readline())
        try:
            return await app.signins.finish(signin, cli_actor(), pasted.strip())
        except InvalidInput as exc:
            print(exc.message(cli_lang()), file=sys.stderr)


async def _first(*calls: Any) -> Any:
    tasks = [asyncio.ensure_future(c) for c in calls]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return next(iter(done)).result()


async def _edit(args: argparse.Namespace) -> int:
    lang = _lang(args)
    secret = _read_secret(args, "New password / authorization code: ") if (args.password_stdin or args.new_password) else None
    changes = {"name": args.name, "account": args.account, **_server_changes(args)}
    async with open_app(load_settings()) as app:
        try:
            result = await app.mailboxes.edit(args.target, changes, secret, cli_actor(), verify=not args.no_verify)
        except SmtpError as exc:
            return _report_failure(exc, lang, NOT_SAVED)
    _print_saved(result.mailbox, result.warnings, not args.no_verify, lang, "更新" if lang == "zh" else "updated")
    return 0


def _row(m: Mailbox) -> list[str]:
    flags = [("default" if m.default else ""), ("" if m.enabled else "disabled")]
    check = "-" if m.last_check is None else ("ok" if m.last_check.ok else f"failed ({m.last_check.code})")
    return [m.name, m.type, m.account, f"{m.host}:{m.port}", m.security, f"check={check}", " ".join(f for f in flags if f)]


async def _list(args: argparse.Namespace) -> int:
    async with open_app(load_settings()) as app:
        mailboxes = await app.mailboxes.list()
    if args.json:
        print_json([m.public() for m in mailboxes])
    elif not mailboxes:
        print("还没有邮箱。" if _lang(args) == "zh" else "No mailboxes yet.")
    else:
        for line in table([_row(m) for m in mailboxes]):
            print(line)
    return 0


def _rate_text(m: Mailbox) -> str:
    """Its own pacing, or the provider's marked as the default; 'none' is no pacing (as typed to `rate`)."""
    pace = "none" if m.pace_per_minute is None else str(m.pace_per_minute)
    return pace if m.rate_per_minute is not None else f"{pace} (default)"


def _last_check(m: Mailbox) -> str:
    check = m.last_check
    if check is None:
        return "never"
    result = "ok" if check.ok else f"failed ({check.code})"
    return f"{result} at {check.at:%Y-%m-%d %H:%M:%S} UTC" + (f": {check.reason}" if check.reason else "")


async def _show(args: argparse.Namespace) -> int:
    async with open_app(load_settings()) as app:
        mailbox = await app.mailboxes.get(args.target)
    if args.json:
        print_json(mailbox.public())
    else:
        fields = mailbox.model_dump(exclude={"secret_token"})
        fields["rate_per_minute"] = _rate_text(mailbox)
        fields["last_check"] = _last_check(mailbox)
        print_fields(fields)
    return 0


async def _test(args: argparse.Namespace) -> int:
    lang = _lang(args)
    async with open_app(load_settings()) as app:
        try:
            mailbox = await app.mailboxes.test(args.target, cli_actor(), to=args.to)
        except SmtpError as exc:
            if args.json:
                print_json({"name": args.target, "ok": False, **exc.to_dict(lang)})
            return _report_failure(exc, lang, UNCHANGED) if not args.json else 1
    if args.json:
        print_json({"name": mailbox.name, "ok": True, "sent_to": args.to})
    elif args.to:
        print(f"测试邮件已发送到 {args.to}。" if lang == "zh" else f"Test mail sent to {args.to}.")
    else:
        print("登录验证通过。" if lang == "zh" else "Login check passed.")
    return 0


async def _simple(args: argparse.Namespace, action: str) -> int:
    lang = _lang(args)
    async with open_app(load_settings()) as app:
        service = app.mailboxes
        if action == "remove":
            mailbox = await service.remove(args.target, cli_actor())
        elif action == "default":
            mailbox = await service.set_default(args.target, cli_actor())
        else:
            mailbox = await service.set_enabled(args.target, action == "enable", cli_actor())
    done = {"remove": ("已删除", "Removed"), "enable": ("已启用", "Enabled"), "disable": ("已停用", "Disabled"),
            "default": ("已设为默认", "Default is now")}[action]
    print(f"{done[0]}邮箱“{mailbox.name}”。" if lang == "zh" else f"{done[1]} mailbox '{mailbox.name}'.")
    if action == "remove" and mailbox.default:
        print("它原是默认邮箱：请用 `mailbot mailbox default NAME` 指定新的默认邮箱。" if lang == "zh"
              else "It was the default mailbox: choose a new one with `mailbot mailbox default NAME`.", file=sys.stderr)
    return 0


async def _rate(args: argparse.Namespace) -> int:
    lang = _lang(args)
    word = args.per_minute.strip().lower()
    if word not in ("default", UNPACED) and not word.isdigit():
        return fail("PER_MINUTE must be a positive whole number (at least 1), 'none' or 'default'." if lang == "en"
                    else "PER_MINUTE 须为正整数（至少 1）、none 或 default。", 2)
    value: int | Literal["none"] | None = None if word == "default" else UNPACED if word == UNPACED else int(word)
    async with open_app(load_settings()) as app:
        mailbox = await app.mailboxes.set_rate(args.target, value, cli_actor())
    default = " (default)" if mailbox.rate_per_minute is None else ""
    if mailbox.pace_per_minute is None:
        print(f"“{mailbox.name}”发信不限速{'（默认）' if default else ''}。" if lang == "zh"
              else f"'{mailbox.name}' sends without pacing{default}.")
    else:
        shown = _rate_text(mailbox)
        print(f"“{mailbox.name}”每分钟最多发 {shown} 封。" if lang == "zh" else f"'{mailbox.name}' sends at most {shown} mails a minute.")
    return 0


async def _remove(args: argparse.Namespace) -> int:
    return await _simple(args, "remove")


async def _enable(args: argparse.Namespace) -> int:
    return await _simple(args, "enable")


async def _disable(args: argparse.Namespace) -> int:
    return await _simple(args, "disable")


async def _default(args: argparse.Namespace) -> int:
    return await _simple(args, "default")


async def _health(args: argparse.Namespace) -> int:
    """`mailbot mailbox health [--json]`: a list of {name, state, reason, checked_at, last_sent_at,
    sent_today, quota}; state is healthy, unhealthy, unchecked or disabled."""
    lang = _lang(args)
    async with open_app(load_settings()) as app:
        items = await app.health.status(await app.mailboxes.list())
    if args.json:
        print_json([item.to_json(lang) for item in items])
    elif not items:
        print("还没有邮箱。" if lang == "zh" else "No mailboxes yet.")
    else:
        for item in items:
            print("\n".join(item.lines(lang)))
    return 0


async def _quota(args: argparse.Namespace) -> int:
    lang = _lang(args)
    per_day = quota_from(args.per_day)  # InvalidInput (exit 2) before the store is opened
    async with open_app(load_settings()) as app:
        mailbox = await app.mailboxes.set_quota(args.target, per_day, cli_actor())
    quota = quota_of(mailbox)
    if quota is None:
        print(f"“{mailbox.name}”每日发信不限量。" if lang == "zh" else f"'{mailbox.name}' has no daily quota.")
    else:
        note = ("（服务商默认，估计值）" if quota.estimated else "（服务商默认）") if quota.source == "provider" else ""
        note_en = (" (the provider's default, an estimate)" if quota.estimated else " (the provider's default)") \
            if quota.source == "provider" else ""
        print(f"“{mailbox.name}”每天最多发 {quota.per_day} 封{note}。" if lang == "zh"
              else f"'{mailbox.name}' sends at most {quota.per_day} mails a day{note_en}.")
    return 0
