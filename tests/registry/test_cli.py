"""The `mailbot` CLI end to end, in subprocesses, against real SMTP servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.smtpd import SmtpServer
from tests.support.tls import LocalCA

SECRET = "qwertyuiopasdfgh"
ACCOUNT = "notice@corp.example"


@pytest.fixture
def cli(tmp_path: Path, tls_ca: LocalCA) -> Callable[..., subprocess.CompletedProcess[str]]:
    env = {**os.environ, "MAILBOT_DATA_DIR": str(tmp_path / "data"), "SSL_CERT_FILE": str(tls_ca.ca_path),
           "MAILBOT_SMTP_TIMEOUT_S": "3", "LANG": "C.UTF-8"}
    env.pop("MAILBOT_SECRET_KEY", None)

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
                              env=env, timeout=30, cwd=tmp_path)

    return run


def add_args(srv: SmtpServer, name: str = "notice") -> list[str]:
    return ["mailbox", "add", "--name", name, "--account", ACCOUNT, "--type", "custom", "--host", "127.0.0.1",
            "--port", str(srv.port), "--security", srv.security, "--password-stdin"]


def test_providers_json(cli: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    out = cli("providers", "--json")
    assert out.returncode == 0
    rows = {r["type"]: r for r in json.loads(out.stdout)}
    assert list(rows) == ["aliyun_enterprise", "dingtalk", "exmail", "netease_enterprise", "aliyun_personal", "qq",
                          "163", "126", "gmail", "outlook", "custom"]
    assert (rows["qq"]["host"], rows["qq"]["port"], rows["qq"]["security"]) == ("smtp.qq.com", 465, "ssl")
    assert rows["outlook"]["security"] == "starttls"


def test_registry_lifecycle(cli: Callable[..., subprocess.CompletedProcess[str]],
                            smtp_server: Callable[..., SmtpServer], tmp_path: Path) -> None:
    srv = smtp_server(security="ssl", users={ACCOUNT: SECRET})
    added = cli(*add_args(srv), stdin=SECRET + "\n")
    assert added.returncode == 0, added.stderr
    assert "login check passed" in added.stdout
    listed = json.loads(cli("mailbox", "list", "--json").stdout)
    assert [(m["name"], m["type"], m["account"], m["host"], m["port"], m["security"], m["enabled"], m["default"])
            for m in listed] == [("notice", "custom", ACCOUNT, "127.0.0.1", srv.port, "ssl", True, True)]
    assert listed[0]["last_check"]["ok"] is True
    assert json.loads(cli("mailbox", "show", "notice", "--json").stdout)["name"] == "notice"

    sent = cli("mailbox", "test", "notice", "--to", "boss@example.org")
    assert sent.returncode == 0, sent.stderr
    assert srv.wait_for_messages(1)[0].rcpt_tos == ["boss@example.org"]

    edited = cli("mailbox", "edit", "notice", "--name", "approvals")
    assert edited.returncode == 0, edited.stderr
    for action in ("disable", "enable", "default"):
        assert cli("mailbox", action, "approvals").returncode == 0
    assert cli("mailbox", "remove", "approvals").returncode == 0
    assert json.loads(cli("mailbox", "list", "--json").stdout) == []

    audit = json.loads(cli("audit", "--json").stdout)
    assert [a["action"] for a in audit] == ["add", "test", "edit", "disable", "enable", "default", "remove"]
    outputs = "".join(p.stdout + p.stderr for p in (added, sent, edited)) + json.dumps(audit)
    assert SECRET not in outputs
    for path in (tmp_path / "data").iterdir():
        assert SECRET.encode() not in path.read_bytes()


def test_wrong_password_is_explained_and_nothing_saved(cli: Callable[..., subprocess.CompletedProcess[str]],
                                                       smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(security="ssl", users={ACCOUNT: SECRET})
    out = cli(*add_args(srv), "--lang", "zh", stdin="wrong-secret\n")
    assert out.returncode == 1
    assert "登录被拒绝" in out.stderr and "邮箱未保存" in out.stderr
    assert "wrong-secret" not in out.stderr + out.stdout
    assert json.loads(cli("mailbox", "list", "--json").stdout) == []


def test_failed_qq_login_shows_the_qq_guide(cli: Callable[..., subprocess.CompletedProcess[str]],
                                            smtp_server: Callable[..., SmtpServer]) -> None:
    reply = ("535 Login fail. Account is abnormal, service is not open, password is incorrect, login frequency "
             "limited, or system is busy. More information at https://help.mail.qq.com/detail/108/1023")
    srv = smtp_server(security="ssl", reject_all_logins=True, auth_reply=reply)
    out = cli("mailbox", "add", "--name", "qq", "--account", "12345@qq.com", "--type", "qq", "--host", "127.0.0.1",
              "--port", str(srv.port), "--password-stdin", "--lang", "en", stdin="my-qq-password\n")
    assert out.returncode == 1
    assert "authorization code" in out.stderr
    assert "Server reply: 535 Login fail" in out.stderr
    assert "How to get it:" in out.stderr and "POP3" in out.stderr
    assert json.loads(cli("mailbox", "list", "--json").stdout) == []


def test_invalid_fields_exit_2_with_reasons(cli: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    out = cli("mailbox", "add", "--name", "x", "--account", "not-an-address", "--port", "70000", "--password-stdin",
              "--lang", "en", stdin="s\n")
    assert out.returncode == 2
    assert "Account (account)" in out.stderr and "Port (port)" in out.stderr and "e.g." in out.stderr


def test_no_verify_saves_without_a_server(cli: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    out = cli("mailbox", "add", "--name", "later", "--account", "a@qq.com", "--password-stdin", "--no-verify",
              stdin="code\n")
    assert out.returncode == 0, out.stderr
    [mailbox] = json.loads(cli("mailbox", "list", "--json").stdout)
    assert mailbox["type"] == "qq" and mailbox["last_check"] is None


def test_unknown_mailbox_exits_nonzero_with_the_reason(cli: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    out = cli("mailbox", "show", "ghost", "--lang", "en")
    assert out.returncode == 1 and "no mailbox named 'ghost'" in out.stderr


def test_secrets_rotate_reencrypts(cli: Callable[..., subprocess.CompletedProcess[str]],
                                   smtp_server: Callable[..., SmtpServer], tmp_path: Path) -> None:
    srv = smtp_server(security="ssl", users={ACCOUNT: SECRET})
    assert cli(*add_args(srv), stdin=SECRET + "\n").returncode == 0
    key_file = tmp_path / "data" / "secret.key"
    old_key = key_file.read_text()
    rotated = cli("secrets", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert key_file.read_text() != old_key and len(key_file.read_text().split()) == 1
    assert cli("mailbox", "test", "notice").returncode == 0
    key_file.write_text(old_key)
    stale = cli("mailbox", "list")
    assert stale.returncode == 1 and "Wrong key" in stale.stderr


def test_rate_override_is_set_shown_and_reset(cli: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    assert cli("mailbox", "add", "--name", "q", "--account", "a@qq.com", "--password-stdin", "--no-verify",
               stdin="code\n").returncode == 0
    assert cli("mailbox", "rate", "q", "5").returncode == 0
    assert json.loads(cli("mailbox", "show", "q", "--json").stdout)["rate_per_minute"] == 5
    bad = cli("mailbox", "rate", "q", "0", "--lang", "en")
    assert bad.returncode == 2 and "1–10000" in bad.stderr
    reset = cli("mailbox", "rate", "q", "default", "--lang", "en")
    assert "15 (default)" in reset.stdout
    assert json.loads(cli("audit", "--json").stdout)[-1]["action"] == "rate"


def test_a_bad_setting_names_its_variable_and_touches_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "MAILBOT_DATA_DIR": str(tmp_path / "data"), "MAILBOT_RELAY_KEEP_DAYS": "a month",
           "MAILBOT_HTTP_PORT": "99999"}
    done = subprocess.run([sys.executable, "-m", "bot", "mailbox", "list"], capture_output=True, text=True,
                          env=env, timeout=30, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "MAILBOT_RELAY_KEEP_DAYS: " in done.stderr and "MAILBOT_HTTP_PORT: " in done.stderr
    assert "a month" not in done.stderr  # values are never echoed: some settings are secrets
    assert not (tmp_path / "data").exists()
