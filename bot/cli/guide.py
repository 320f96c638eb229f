"""`mailbot guide`: answer "how do I get the 授权码" questions, list the guides, or score the matcher."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli.common import cli_lang, fail, print_json, table
from bot.guides import answer, list_guides
from bot.guides.eval import DEFAULT_EVAL_SET, evaluate, load_items


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `guide` command to the top-level parser."""
    parser = sub.add_parser(
        "guide",
        help="how to get the SMTP password / 授权码 for a mailbox type",
        description="Answer a free-form question such as '怎么获取QQ邮箱授权码' with the matching guide.",
    )
    parser.add_argument("question", nargs="*", metavar="QUESTION", help="the question, in Chinese or English")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--lang", choices=("zh", "en"), help="reply language (default: the question's)")
    parser.add_argument("--full", action="store_true", help="every step instead of the short form")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--list", action="store_true", help="list the mailbox types that have a guide")
    mode.add_argument("--eval", nargs="?", const=str(DEFAULT_EVAL_SET), metavar="PATH", type=str,
                      help="score the matcher on a JSONL set (default: tests/guides/eval_set.jsonl of the source tree)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    """--eval, --list, or answer the question; exit 0 whenever an answer was printed (even "ask")."""
    if args.eval is not None:
        return _run_eval(Path(args.eval), args.json)
    if args.list:
        return _run_list(args.lang or cli_lang(), args.json)
    question = " ".join(args.question).strip()
    if not question:
        return fail("mailbot guide: a QUESTION is required (or --list / --eval)", 2)
    result = answer(question, lang=args.lang, full=args.full)
    if args.json:
        print_json(result.model_dump())
    else:
        print(result.reply)
    return 0


def _run_list(lang: str, as_json: bool) -> int:
    entries = list_guides(lang)
    if as_json:
        print_json([e.model_dump() for e in entries])
    else:
        for line in table([[e.type, e.name, e.title] for e in entries]):
            print(line)
    return 0


def _run_eval(path: Path, as_json: bool) -> int:
    if not path.is_file():
        hint = (" The labelled set ships with the source tree (tests/guides/eval_set.jsonl), not with an installed"
                " package: pass its path." if path == DEFAULT_EVAL_SET else "")
        return fail(f"mailbot guide: no eval set at {path}.{hint}", 2)
    report = evaluate(load_items(path))
    if as_json:
        print_json(report.model_dump())
    else:
        print("\n".join(report.lines()))
    return 0 if report.passed else 1

