"""Which provider hosts a company domain, read from the domain's MX host: a table that is data.

Thunderbird's ISPDB does not know the Chinese enterprise providers (Tencent Exmail, Alibaba and
NetEase enterprise mail), so the table is ours. Each row names its source; a row whose MX hosts
were seen only in secondary sources (resellers, tutorials, copies of vendor pages) is marked
`confirmed=False`: the detection is a proposal the admin confirms or overrides, so an unconfirmed
row still proposes, it just must not be trusted blindly when the table is revised.

This module is plain data and matching: the DNS lookup lives in the service layer
(bot.mailboxes.detect).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.providers.catalog import CATALOG


class MxRule(BaseModel):
    """One row: an MX host pattern and the mailbox type it means.

    `kind` "suffix": the host is the pattern or ends with "." + pattern (whole labels only, so
    `evilmxhichina.com` is not `mxhichina.com`). "label": the host's first label is the pattern
    followed by digits only (`qiye163mx` is a label fragment, as in `qiye163mx01.<…>`, not a suffix).
    """

    model_config = ConfigDict(frozen=True)
    pattern: str
    type: str
    kind: Literal["suffix", "label"] = "suffix"
    source: str
    confirmed: bool

    def matches(self, host: str) -> bool:
        if self.kind == "suffix":
            return host == self.pattern or host.endswith("." + self.pattern)
        first = host.split(".", 1)[0]
        return re.fullmatch(re.escape(self.pattern) + r"\d*", first) is not None


_TB = "Thunderbird ISPDB (thunderbird/autoconfig)"

# In the order; the first matching row wins (so qiye163mx01.mxmail.netease.com reports
# `mxmail.netease.com`, and the `qiye163mx` row catches such hosts under another parent domain).
MX_RULES: tuple[MxRule, ...] = (
    MxRule(pattern="mxbiz1.qq.com", type="exmail", confirmed=False,
           source="secondary only: reseller and tutorial copies give mxbiz1.qq.com (5) / mxbiz2.qq.com (10); "
                  "no Tencent Exmail help page read"),
    MxRule(pattern="mxbiz2.qq.com", type="exmail", confirmed=False,
           source="secondary only, as mxbiz1.qq.com"),
    MxRule(pattern="mxhichina.com", type="aliyun_enterprise", confirmed=True,
           source="help.aliyun.com/en/document_detail/446248.html (mxn.mxhichina.com as the alternative MX set)"),
    MxRule(pattern="qiye.aliyun.com", type="aliyun_enterprise", confirmed=True,
           source="help.aliyun.com/document_detail/36617.html and /en/document_detail/446248.html "
                  "(mx1/mx2/mx3.qiye.aliyun.com)"),
    MxRule(pattern="mxmail.netease.com", type="netease_enterprise", confirmed=False,
           source="secondary only: qiye163mx01/02.mxmail.netease.com and hzmx01/02.mxmail.netease.com seen in "
                  "public DNS; no NetEase page read"),
    MxRule(pattern="qiye163mx", type="netease_enterprise", kind="label", confirmed=False,
           source="secondary only, as mxmail.netease.com (label fragment of qiye163mx01/02)"),
    MxRule(pattern="aspmx.l.google.com", type="gmail", confirmed=True,
           source=f"{_TB} googlemail.com.xml lists google.com as an MX domain; aspmx.l.google.com and "
                  "alt1-4.aspmx.l.google.com are Workspace's classic set"),
    MxRule(pattern="smtp.google.com", type="gmail", confirmed=True,
           source=f"{_TB} googlemail.com.xml lists google.com as an MX domain; smtp.google.com (1) is the single MX "
                  "of Workspace domains set up since 2023 (copies of support.google.com/a/answer/174125)"),
    MxRule(pattern="googlemail.com", type="gmail", confirmed=False,
           source="secondary only: aspmx2-5.googlemail.com in old Google Apps MX sets (gists, pastebins)"),
    MxRule(pattern="mail.protection.outlook.com", type="microsoft365", confirmed=True,
           source=f"{_TB} office365.com.xml (<tenant>.mail.protection.outlook.com)"),
    MxRule(pattern="mx.microsoft", type="microsoft365", confirmed=False,
           source="secondary only: <tenant>.<x>-v1.mx.microsoft for domains with inbound SMTP DANE/DNSSEC "
                  "(blogs on Enable-DnssecForVerifiedDomain; Microsoft Learn page not read for the name)"),
)


def normal_host(host: str) -> str:
    """An MX target as compared: lower case, no trailing root dot."""
    return host.strip().rstrip(".").lower()


def match_mx(host: str) -> tuple[str, str] | None:
    """(type, the pattern matched) for an MX host, or None when no row knows it."""
    name = normal_host(host)
    for rule in MX_RULES:
        if rule.matches(name):
            return rule.type, rule.pattern
    return None


assert all(rule.type in CATALOG for rule in MX_RULES)
