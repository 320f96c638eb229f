"""Provider detection from the domain (issue 16): the MX table, the service against our own DNS server, the
cache and the MAILBOT_DNS_SERVER setting."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import dns.asyncquery
import dns.message
import dns.rcode
import dns.rdatatype
import pytest
from pydantic import ValidationError

from bot.config import Settings, dns_server_address, load_settings
from bot.errors import InvalidInput
from bot.mailboxes.detect import Detector
from bot.providers import CATALOG
from bot.providers.mx import MX_RULES, match_mx
from tests.support.dns import DnsServer

MakeDns = Callable[..., DnsServer]

# One real-looking MX host per row of the table, and the row it must report.
ROW_HOSTS = {
    "mxbiz1.qq.com": "mxbiz1.qq.com",
    "mxbiz2.qq.com": "mxbiz2.qq.com",
    "mxhichina.com": "mxw.mxhichina.com",
    "qiye.aliyun.com": "mx1.qiye.aliyun.com",
    "mxmail.netease.com": "qiye163mx01.mxmail.netease.com",
    "qiye163mx": "qiye163mx02.netease.example",
    "aspmx.l.google.com": "alt1.aspmx.l.google.com",
    "smtp.google.com": "smtp.google.com",
    "googlemail.com": "aspmx2.googlemail.com",
    "mail.protection.outlook.com": "acme-cn.mail.protection.outlook.com",
    "mx.microsoft": "acme-cn.o-v1.mx.microsoft",
}


# --- the table ------------------------------------------------------------------------------------------


def test_every_row_has_a_sample_a_known_type_and_a_source() -> None:
    assert sorted(ROW_HOSTS) == sorted(rule.pattern for rule in MX_RULES)
    for rule in MX_RULES:
        assert rule.type in CATALOG and rule.source


@pytest.mark.parametrize("pattern", sorted(ROW_HOSTS))
def test_each_row_matches_its_host(pattern: str) -> None:
    rule = next(r for r in MX_RULES if r.pattern == pattern)
    assert match_mx(ROW_HOSTS[pattern]) == (rule.type, pattern)
    assert match_mx(ROW_HOSTS[pattern].upper() + ".") == (rule.type, pattern)


def test_the_table_rows_as_the_issue_lists_them() -> None:
    assert {r.pattern: r.type for r in MX_RULES} == {
        "mxbiz1.qq.com": "exmail", "mxbiz2.qq.com": "exmail",
        "mxhichina.com": "aliyun_enterprise", "qiye.aliyun.com": "aliyun_enterprise",
        "mxmail.netease.com": "netease_enterprise", "qiye163mx": "netease_enterprise",
        "aspmx.l.google.com": "gmail", "smtp.google.com": "gmail", "googlemail.com": "gmail",
        "mail.protection.outlook.com": "microsoft365", "mx.microsoft": "microsoft365",
    }
    assert {r.pattern for r in MX_RULES if not r.confirmed} == {
        "mxbiz1.qq.com", "mxbiz2.qq.com", "mxmail.netease.com", "qiye163mx", "googlemail.com", "mx.microsoft"}


@pytest.mark.parametrize("host", [
    "evilmxhichina.com",  # a suffix matches whole labels only
    "mxhichina.com.attacker.example",
    "mx.qq.com",  # QQ Mail's own MX, not Exmail's
    "mail.acme.cn",
    "notqiye163mx01.example",  # the fragment starts the first label…
    "mx.qiye163mx01.example",  # …and only the first
    "qiye163mxa.example",  # digits only after it
])
def test_hosts_that_no_row_knows(host: str) -> None:
    assert match_mx(host) is None


def test_the_label_fragment_reports_the_suffix_first_when_both_apply() -> None:
    assert match_mx("qiye163mx01.mxmail.netease.com") == ("netease_enterprise", "mxmail.netease.com")
    assert match_mx("qiye163mx.example") == ("netease_enterprise", "qiye163mx")


# --- the service ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", sorted(ROW_HOSTS))
async def test_detection_for_each_row(dns_server: MakeDns, pattern: str) -> None:
    rule = next(r for r in MX_RULES if r.pattern == pattern)
    host = ROW_HOSTS[pattern]
    srv = dns_server({"acme.cn": [(10, host)]})
    found = await Detector(srv.address).detect("notice@acme.cn")
    provider = CATALOG[rule.type]
    assert found is not None
    assert (found.type, found.host, found.port, found.security, found.mx) == (
        rule.type, provider.host, provider.port, provider.security, (host,))
    assert found.reason("en") == f"acme.cn receives mail at {host}: {provider.name_en}"
    assert found.reason("zh") == f"acme.cn 的邮件由 {host} 接收：{provider.name_zh}"
    assert srv.queries == [("acme.cn", "MX")]


async def test_exmail_example_of_the_issue(dns_server: MakeDns) -> None:
    srv = dns_server({"acme.cn": [(5, "mxbiz1.qq.com."), (10, "mxbiz2.qq.com.")]})
    found = await Detector(srv.address).detect("Notice@ACME.cn")
    assert found is not None
    assert found.to_json("en") == {
        "type": "exmail", "host": "smtp.exmail.qq.com", "port": 465, "security": "ssl",
        "reason": "acme.cn receives mail at mxbiz1.qq.com: Tencent Exmail", "mx": ["mxbiz1.qq.com", "mxbiz2.qq.com"]}
    assert found.to_json("zh")["reason"] == "acme.cn 的邮件由 mxbiz1.qq.com 接收：腾讯企业邮箱"


async def test_the_lowest_preference_decides_and_ties_go_by_name(dns_server: MakeDns) -> None:
    srv = dns_server({
        "a.example": [(20, "aspmx.l.google.com"), (5, "mx1.qiye.aliyun.com"), (10, "mxbiz1.qq.com")],
        "b.example": [(10, "mxw.mxhichina.com"), (10, "alt2.aspmx.l.google.com")],
        "c.example": [(0, "mx.own-server.example"), (10, "mxbiz1.qq.com")],  # the primary is unknown: ask
    })
    detector = Detector(srv.address)
    a = await detector.detect("x@a.example")
    assert a is not None and a.type == "aliyun_enterprise"
    assert a.mx == ("mx1.qiye.aliyun.com", "mxbiz1.qq.com", "aspmx.l.google.com")
    b = await detector.detect("x@b.example")
    assert b is not None and b.type == "gmail" and b.mx[0] == "alt2.aspmx.l.google.com"
    assert await detector.detect("x@c.example") is None


@pytest.mark.parametrize("address, type_key", [
    ("someone@qq.com", "qq"), ("someone@gmail.com", "gmail"), ("a@exmail.qq.com", "exmail"),
    ("a@Outlook.COM", "outlook"), ("163.com", "163"),
])
async def test_a_public_domain_answers_from_the_catalog_without_a_query(
        dns_server: MakeDns, address: str, type_key: str) -> None:
    srv = dns_server({})
    found = await Detector(srv.address).detect(address)
    assert found is not None and found.type == type_key and found.mx == ()
    assert found.host == CATALOG[type_key].host
    assert "no DNS lookup" in found.reason("en") and "无需查询 DNS" in found.reason("zh")
    assert srv.query_count == 0


async def test_a_refused_domain_is_not_looked_up(dns_server: MakeDns) -> None:
    srv = dns_server({"dingtalk.com": [(10, "mx1.qiye.aliyun.com")]})
    assert await Detector(srv.address).detect("someone@dingtalk.com") is None
    assert srv.query_count == 0


@pytest.mark.parametrize("address", ["", "someone@", "@", "  "])
async def test_no_domain_no_query(dns_server: MakeDns, address: str) -> None:
    srv = dns_server({})
    assert await Detector(srv.address).detect(address) is None
    assert srv.query_count == 0


async def test_nxdomain_no_mx_null_mx_and_unknown_mx_are_none(dns_server: MakeDns, caplog: pytest.LogCaptureFixture) -> None:
    srv = dns_server({"empty.example": [], "null.example": [(0, ".")], "own.example": [(10, "mail.own.example")]})
    detector = Detector(srv.address)
    with caplog.at_level(logging.DEBUG, logger="bot.mailboxes.detect"):
        for domain in ("missing.example", "empty.example", "null.example", "own.example"):
            assert await detector.detect(f"x@{domain}") is None
    assert srv.query_count == 4
    logged = caplog.text
    assert "missing.example" in logged and "does not exist" in logged
    assert "mail.own.example is no provider" in logged


@pytest.mark.parametrize("rcode", [dns.rcode.SERVFAIL, dns.rcode.REFUSED])
async def test_a_server_failure_is_none_and_not_cached(dns_server: MakeDns, rcode: dns.rcode.Rcode,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    srv = dns_server({"acme.cn": [(5, "mxbiz1.qq.com")]}, rcode=rcode)
    detector = Detector(srv.address)
    with caplog.at_level(logging.DEBUG, logger="bot.mailboxes.detect"):
        assert await detector.detect("x@acme.cn") is None
    assert "no MX answer" in caplog.text
    srv.rcode = None  # the server recovers: the next dialog detects at once
    found = await detector.detect("x@acme.cn")
    assert found is not None and found.type == "exmail"


async def test_no_answer_in_time_gives_up_and_returns_none(dns_server: MakeDns) -> None:
    srv = dns_server({"acme.cn": [(5, "mxbiz1.qq.com")]}, delay_s=8)
    started = time.monotonic()
    assert await Detector(srv.address).detect("x@acme.cn") is None
    assert time.monotonic() - started < 5  # it gave up (at 2 s), it did not wait for the late answer
    assert srv.query_count >= 1


async def test_a_dead_server_is_none(dns_server: MakeDns) -> None:
    srv = dns_server({})
    address = srv.address
    srv.stop()  # nothing listens there any more (ICMP port unreachable, or silence)
    started = time.monotonic()
    assert await Detector(address).detect("x@acme.cn") is None
    assert time.monotonic() - started < 5


# --- the cache ------------------------------------------------------------------------------------------


async def test_the_cache_respects_the_answers_ttl(dns_server: MakeDns) -> None:
    srv = dns_server({"acme.cn": [(5, "mxbiz1.qq.com")]}, ttl=1)
    detector = Detector(srv.address)
    assert (await detector.detect("a@acme.cn")) is not None
    assert (await detector.detect("b@acme.cn")) is not None
    assert srv.query_count == 1  # the second came from the cache
    await asyncio.sleep(1.2)
    srv.zones["acme.cn"] = [(5, "mx1.qiye.aliyun.com")]  # the domain moved provider meanwhile
    found = await detector.detect("a@acme.cn")
    assert srv.query_count == 2 and found is not None and found.type == "aliyun_enterprise"


async def test_negative_answers_are_cached_briefly(dns_server: MakeDns) -> None:
    srv = dns_server({"empty.example": []})
    detector = Detector(srv.address, negative_ttl_s=0.5)
    for _ in range(2):
        assert await detector.detect("x@missing.example") is None
        assert await detector.detect("x@empty.example") is None
    assert srv.query_count == 2
    await asyncio.sleep(0.7)
    srv.zones["missing.example"] = [(5, "mxbiz1.qq.com")]
    found = await detector.detect("x@missing.example")
    assert found is not None and found.type == "exmail" and srv.query_count == 3


async def test_the_cache_is_bounded(dns_server: MakeDns) -> None:
    srv = dns_server({f"d{i}.example": [(5, "mxbiz1.qq.com")] for i in range(3)})
    detector = Detector(srv.address, cache_domains=2)
    for i in (0, 1, 0, 2):  # d0 was used again, so d1 is the one that goes
        await detector.detect(f"x@d{i}.example")
    assert srv.query_count == 3
    await detector.detect("x@d0.example")
    assert srv.query_count == 3
    await detector.detect("x@d1.example")
    assert srv.query_count == 4


# --- MAILBOT_DNS_SERVER ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    ("10.0.0.2", ("10.0.0.2", 53)), ("127.0.0.1:5353", ("127.0.0.1", 5353)), (" 8.8.8.8:53 ", ("8.8.8.8", 53)),
    ("::1", ("::1", 53)), ("[::1]:5353", ("::1", 5353)), ("[2001:db8::1]", ("2001:db8::1", 53)),
])
def test_dns_server_values(value: str, expected: tuple[str, int]) -> None:
    assert dns_server_address(value) == expected
    assert Settings(dns_server=value).dns_server == value.strip()


@pytest.mark.parametrize("value", [
    "dns.example", "10.0.0.2:", "10.0.0.2:0", "10.0.0.2:65536", "10.0.0.2:x53", "10.0.0.256", "[::1", "[::1]5353",
    "[dns.example]:53", "1.2.3.4:53:53",
])
def test_bad_dns_server_values_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        dns_server_address(value)
    with pytest.raises(ValidationError):
        Settings(dns_server=value)


def test_a_bad_dns_server_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILBOT_DNS_SERVER", "resolver.corp:53")
    with pytest.raises(InvalidInput) as caught:
        load_settings()
    message = caught.value.message("en")
    assert "MAILBOT_DNS_SERVER" in message and "not an IP address" in message
    assert "resolver.corp" not in message  # settings errors never echo the value


def test_blank_or_unset_means_the_systems_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILBOT_DNS_SERVER", "")
    assert load_settings().dns_server is None
    monkeypatch.delenv("MAILBOT_DNS_SERVER")
    assert load_settings().dns_server is None


def test_the_detector_takes_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError):
        Detector("not-an-ip")
    monkeypatch.setenv("MAILBOT_DNS_SERVER", "127.0.0.1:5353")
    assert isinstance(Detector.from_settings(load_settings()), Detector)


# --- the test server itself -----------------------------------------------------------------------------


async def test_the_test_server_answers_over_tcp_too(dns_server: MakeDns) -> None:
    srv = dns_server({"acme.cn": [(5, "mxbiz1.qq.com")]}, ttl=42)
    reply = await dns.asyncquery.tcp(dns.message.make_query("acme.cn", "MX"), "127.0.0.1", port=srv.port, timeout=2)
    assert [(rrset.ttl, [r.to_text() for r in rrset]) for rrset in reply.answer] == [(42, ["5 mxbiz1.qq.com."])]
    missing = await dns.asyncquery.udp(dns.message.make_query("nope.cn", "MX"), "127.0.0.1", port=srv.port, timeout=2)
    assert missing.rcode() == dns.rcode.NXDOMAIN and missing.authority[0].rdtype == dns.rdatatype.SOA
    assert srv.queries == [("acme.cn", "MX"), ("nope.cn", "MX")]
