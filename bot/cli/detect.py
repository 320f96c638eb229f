"""`mailbot detect ADDRESS`: which mailbox type an address's domain points to (catalog, else its MX)."""

from __future__ import annotations

import argparse

from bot.cli.common import cli_lang, fail, print_fields, print_json
from bot.config import load_settings
from bot.mailboxes.detect import Detector, address_domain
from bot.providers import CATALOG


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `detect` command to the top-level parser."""
    parser = sub.add_parser(
        "detect",
        help="propose the mailbox type of an address from its domain (known domains, else DNS MX)",
        description="Known public domains answer from the catalog; other domains are looked up in DNS (MX, "
                    "MAILBOT_DNS_SERVER or the system's resolver, 2 s at most).",
    )
    parser.add_argument("address", metavar="ADDRESS", help="an e-mail address (or its domain)")
    parser.add_argument("--json", action="store_true", help="print {type, host, port, security, reason, mx}")
    parser.add_argument("--lang", choices=("zh", "en"), help="language of the reason (default: from the locale)")
    parser.set_defaults(func=_run)


async def _run(args: argparse.Namespace) -> int:
    """Exit 0 with the proposal; 1 when the domain tells nothing (the admin gives the type); 2 on bad input."""
    lang = args.lang or cli_lang()
    domain = address_domain(args.address)
    if not domain:
        return fail("mailbot detect: 地址缺少域名" if lang == "zh" else "mailbot detect: the address has no domain", 2)
    refusals = [p.refused_domains[domain] for p in CATALOG.values() if domain in p.refused_domains]
    if refusals:
        return fail(f"{domain}: {refusals[0]}")
    detection = await Detector.from_settings(load_settings()).detect(domain)
    if detection is None:
        return fail(f"无法从 DNS 判断 {domain} 的邮箱服务商（没有已知服务商的 MX 记录，或 DNS 未及时应答）；"
                    "添加邮箱时请用 --type 指定类型（类型见 mailbot providers）" if lang == "zh" else
                    f"cannot tell the provider of {domain} from DNS (no known provider's MX, or no DNS answer in "
                    "time); give --type when adding the mailbox (types: mailbot providers)")
    if args.json:
        print_json(detection.to_json(lang))
    else:
        print_fields(detection.to_json(lang))
    return 0
