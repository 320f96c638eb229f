"""`mailbot detect` in a subprocess, its DNS queries sent to our own server through MAILBOT_DNS_SERVER."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.dns import DnsServer

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def srv() -> Iterator[DnsServer]:
    with DnsServer({"acme.cn": [(10, "mxbiz2.qq.com"), (5, "mxbiz1.qq.com")], "own.example": [(10, "mail.own.example")]},
                   ttl=60) as server:
        yield server


@pytest.fixture
def cli(tmp_path: Path, srv: DnsServer) -> Cli:
    env = {**os.environ, "MAILBOT_DATA_DIR": str(tmp_path / "data"), "MAILBOT_DNS_SERVER": srv.address}

    def run(*args: str, lang: str = "C.UTF-8", **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", "detect", *args], capture_output=True, text=True,
                              env={**env, "LANG": lang, **extra}, timeout=30, cwd=tmp_path)

    return run


def test_json_has_exactly_the_keys(cli: Cli, srv: DnsServer) -> None:
    out = cli("notice@acme.cn", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {
        "type": "exmail", "host": "smtp.exmail.qq.com", "port": 465, "security": "ssl",
        "reason": "acme.cn receives mail at mxbiz1.qq.com: Tencent Exmail", "mx": ["mxbiz1.qq.com", "mxbiz2.qq.com"]}
    assert srv.queries == [("acme.cn", "MX")]


def test_reason_language_follows_lang_then_locale(cli: Cli) -> None:
    assert json.loads(cli("notice@acme.cn", "--json", "--lang", "zh").stdout)["reason"] == \
        "acme.cn 的邮件由 mxbiz1.qq.com 接收：腾讯企业邮箱"
    assert json.loads(cli("notice@acme.cn", "--json", lang="zh_CN.UTF-8").stdout)["reason"] == \
        "acme.cn 的邮件由 mxbiz1.qq.com 接收：腾讯企业邮箱"


def test_human_output(cli: Cli) -> None:
    out = cli("notice@acme.cn")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["type", "exmail"]
    assert "mxbiz1.qq.com, mxbiz2.qq.com" in lines[-1]


def test_a_public_domain_answers_from_the_catalog(cli: Cli, srv: DnsServer) -> None:
    out = cli("someone@qq.com", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert (data["type"], data["host"], data["mx"]) == ("qq", "smtp.qq.com", [])
    assert "no DNS lookup" in data["reason"]
    assert srv.query_count == 0


@pytest.mark.parametrize("address", ["notice@own.example", "notice@missing.example"])
def test_an_unknown_domain_exits_1_and_says_what_to_do(cli: Cli, address: str) -> None:
    out = cli(address, "--json")
    assert out.returncode == 1 and out.stdout == ""
    domain = address.split("@")[1]
    assert f"cannot tell the provider of {domain} from DNS" in out.stderr and "--type" in out.stderr
    zh = cli(address, "--lang", "zh")
    assert zh.returncode == 1 and f"无法从 DNS 判断 {domain} 的邮箱服务商" in zh.stderr


def test_no_dns_answer_exits_1_within_the_time_limit(cli: Cli, srv: DnsServer) -> None:
    srv.delay_s = 10
    out = cli("notice@acme.cn")
    assert out.returncode == 1 and "cannot tell the provider of acme.cn" in out.stderr


def test_refused_domain_and_bad_input(cli: Cli) -> None:
    refused = cli("someone@dingtalk.com")
    assert refused.returncode == 1 and "third-party clients" in refused.stderr
    assert cli("someone@").returncode == 2
    bad = cli("notice@acme.cn", MAILBOT_DNS_SERVER="resolver.corp")
    assert bad.returncode == 2 and "MAILBOT_DNS_SERVER" in bad.stderr
