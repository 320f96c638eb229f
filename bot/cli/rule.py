"""`mailbot rule add|list|show|remove|enable|disable`: which mail a DingTalk approval event sends.

`mailbot rule add NAME --process-code CODE --on start|finish|terminate [--result agree|refuse]
--mailbox M --template T --to originator|ADDRESS[,…]`. The mailbox and the template must exist; a
bad value exits 2 naming the field and what it should look like.
"""

from __future__ import annotations

import argparse

from bot.app import open_app
from bot.cli.common import cli_actor, cli_lang, print_fields, print_json, table
from bot.config import load_settings
from bot.rules import Rule


def _lang(args: argparse.Namespace) -> str:
    return args.lang or cli_lang()


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--lang", choices=("zh", "en"), help="language of messages (default: from the locale)")
    parser = sub.add_parser("rule", help="approval notification rules: DingTalk approval events → mail")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser("add", parents=[common], help="add a rule (the mailbox and the template must exist)")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--process-code", required=True, metavar="CODE", help="the approval form's processCode")
    # Free text, checked by the service: a bad value gets the same field message as in chat and console.
    add.add_argument("--on", required=True, metavar="start|finish|terminate", help="which change of the approval")
    add.add_argument("--result", metavar="agree|refuse", help="with --on finish: only this result (default: any)")
    add.add_argument("--mailbox", required=True, metavar="M", help="the registered mailbox that sends")
    add.add_argument("--template", required=True, metavar="T", help="a stored relay template (`mailbot template list`)")
    add.add_argument("--to", required=True, metavar="originator|ADDRESS[,…]",
                     help="originator (the applicant's e-mail) and/or fixed addresses, comma-separated")
    add.set_defaults(func=_add)

    lst = actions.add_parser("list", parents=[common], help="list rules")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_list)

    show = actions.add_parser("show", parents=[common], help="show one rule")
    show.add_argument("name", metavar="NAME")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_show)

    for action, func, text in (("remove", _remove, "delete a rule"), ("enable", _enable, "enable a rule"),
                               ("disable", _disable, "disable a rule (it stops sending mail)")):
        p = actions.add_parser(action, parents=[common], help=text)
        p.add_argument("name", metavar="NAME")
        p.set_defaults(func=func)


def _row(rule: Rule) -> list[str]:
    return [rule.name, rule.process_code, rule.when(), rule.mailbox, rule.template, ",".join(rule.to),
            "" if rule.enabled else "disabled"]


async def _add(args: argparse.Namespace) -> int:
    lang = _lang(args)
    data = {"name": args.name, "process_code": args.process_code, "on": args.on, "result": args.result,
            "mailbox": args.mailbox, "template": args.template, "to": args.to}
    async with open_app(load_settings()) as app:
        rule = await app.rules.add(data, cli_actor())
    print(f"已添加通知规则“{rule.name}”：{rule.process_code} {rule.when()} → {', '.join(rule.to)}（邮箱 {rule.mailbox}，模板 {rule.template}）。"
          if lang == "zh" else
          f"Added rule '{rule.name}': {rule.process_code} {rule.when()} → {', '.join(rule.to)} "
          f"(mailbox {rule.mailbox}, template {rule.template}).")
    return 0


async def _list(args: argparse.Namespace) -> int:
    async with open_app(load_settings()) as app:
        rules = await app.rules.list()
    if args.json:
        print_json([rule.public() for rule in rules])
    elif not rules:
        print("还没有通知规则。" if _lang(args) == "zh" else "No rules yet.")
    else:
        for line in table([_row(rule) for rule in rules]):
            print(line)
    return 0


async def _show(args: argparse.Namespace) -> int:
    async with open_app(load_settings()) as app:
        rule = await app.rules.get(args.name)
    if args.json:
        print_json(rule.public())
    else:
        print_fields(rule.model_dump())
    return 0


async def _switch(args: argparse.Namespace, action: str) -> int:
    lang = _lang(args)
    async with open_app(load_settings()) as app:
        if action == "remove":
            rule = await app.rules.remove(args.name, cli_actor())
        else:
            rule = await app.rules.set_enabled(args.name, action == "enable", cli_actor())
    done = {"remove": ("已删除", "Removed"), "enable": ("已启用", "Enabled"), "disable": ("已停用", "Disabled")}[action]
    print(f"{done[0]}通知规则“{rule.name}”。" if lang == "zh" else f"{done[1]} rule '{rule.name}'.")
    return 0


async def _remove(args: argparse.Namespace) -> int:
    return await _switch(args, "remove")


async def _enable(args: argparse.Namespace) -> int:
    return await _switch(args, "enable")


async def _disable(args: argparse.Namespace) -> int:
    return await _switch(args, "disable")
