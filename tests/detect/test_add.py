"""`mailbot mailbox add` without --type: the type comes from the domain's MX (said, overridable), and DNS
trouble falls back to asking for --type; queries go to our own DNS server via MAILBOT_DNS_SERVER."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.dns import DnsServer

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def srv() -> Iterator[DnsServer]:
    with DnsServer({"acme.cn": [(5, "mxbiz1.qq.com")], "contoso.com": [(0, "contoso-com.mail.protection.outlook.com")]},
                   ttl=60) as server:
        yield server


@pytest.fixture
def cli(tmp_path: Path, srv: DnsServer) -> Cli:
    env = {**os.environ, "MAILBOT_DATA_DIR": str(tmp_path / "data"), "MAILBOT_DNS_SERVER": srv.address,
           "LANG": "C.UTF-8"}

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
                              env=env, timeout=30, cwd=tmp_path)

    return run


def add(cli: Cli, name: str, account: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli("mailbox", "add", "--name", name, "--account", account, "--password-stdin", "--no-verify",
               "--lang", "en", *extra, stdin="secret-code\n")


def test_the_type_comes_from_the_mx_and_the_reason_is_said(cli: Cli) -> None:
    out = add(cli, "ops", "ops@acme.cn")
    assert out.returncode == 0, out.stderr
    assert "acme.cn" in out.stderr and "mxbiz1.qq.com" in out.stderr and "--type overrides" in out.stderr
    shown = json.loads(cli("mailbox", "show", "ops", "--json").stdout)
    assert (shown["type"], shown["host"], shown["port"]) == ("exmail", "smtp.exmail.qq.com", 465)
    m365 = add(cli, "m365", "ops@contoso.com")
    assert m365.returncode == 0, m365.stderr
    assert json.loads(cli("mailbox", "show", "m365", "--json").stdout)["type"] == "microsoft365"


def test_a_given_type_wins_and_no_dns_is_asked(cli: Cli, srv: DnsServer) -> None:
    out = add(cli, "ops", "ops@acme.cn", "--type", "aliyun_enterprise")
    assert out.returncode == 0, out.stderr
    assert json.loads(cli("mailbox", "show", "ops", "--json").stdout)["type"] == "aliyun_enterprise"
    assert srv.query_count == 0 and "Type from the domain" not in out.stderr


def test_dns_that_does_not_answer_falls_back_to_asking_for_the_type(cli: Cli, srv: DnsServer) -> None:
    srv.delay_s = 10.0
    started = time.monotonic()
    out = add(cli, "ops", "ops@acme.cn")
    assert out.returncode == 2 and "cannot tell the type" in out.stderr and "aliyun_enterprise" in out.stderr
    assert time.monotonic() - started < 8  # gave up on DNS after about 2 s, not 10
