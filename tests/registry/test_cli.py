"""The `mailbot` CLI end to end, in subprocesses, against real SMTP servers."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.display import width
from tests.support.smtpd import SmtpServer
from tests.support.tls import LocalCA

SECRET = "qwertyuiopasdfgh"
ACCOUNT = "notice@corp.example"


@pytest.fixture
def cli(tmp_path: Path, tls_ca: LocalCA) -> Callable[..., subprocess.CompletedProcess[str]]:
    env = {**os.environ, "MAILBOT_DATA_DIR": str(tmp_path / "data"), "SSL_CERT_FILE": str(tls_ca.ca_path),
           "MAILBOT_SMTP_TIMEOUT_S": "3", "LANG": "C.UTF-8"}
    env.pop("MAILBOT_SECRET_KEY", None)

    def run(*args: str, stdin: str = "", lang: str = "C.UTF-8") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
                              env={**env, "LANG": lang}, timeout=30, cwd=tmp_path)

    return run


def add_args(srv: SmtpServer, name: str = "notice") -> list[str]:
    return ["mailbox", "add", "--name", name, "--account", ACCOUNT, "--type", "custom", "--host", "127.0.0.1",
            "--port", str(srv.port), "--security", srv.security, "--password-stdin"]


def test_providers_json(cli: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    out = cli("providers", "--json")
    assert out.returncode == 0
    rows = {r["type"]: r for r in json.loads(out.stdout)}
    assert list(rows) == ["aliyun_enterprise", "dingtalk", "exmail", "netease_enterprise", "aliyun_personal", "qq",
                          "163", "126", "gmail", "outlook", "microsoft365", "custom"]
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


def test_rate_none_and_default_round_trip(cli: Cli) -> None:
    """`none` is stored as such (no pacing), `default` goes back to the provider's: 15 for QQ, none for custom."""
    assert cli("mailbox", "add", "--name", "q", "--account", "a@qq.com", "--password-stdin", "--no-verify",
               stdin="code\n").returncode == 0
    assert cli("mailbox", "add", "--name", "own", "--account", "a@corp.example", "--type", "custom", "--host",
               "127.0.0.1", "--port", "25", "--security", "none", "--password-stdin", "--no-verify",
               stdin="pw\n").returncode == 0

    def shown(name: str) -> tuple[object, str]:
        fields = dict(line.split(None, 1) for line in cli("mailbox", "show", name).stdout.splitlines())
        return json.loads(cli("mailbox", "show", name, "--json").stdout)["rate_per_minute"], fields["rate_per_minute"]

    assert shown("own") == (None, "none (default)")  # the organisation's own server: unpaced unless set
    assert shown("q") == (None, "15 (default)")
    lifted = cli("mailbox", "rate", "q", "none", "--lang", "en")
    assert lifted.returncode == 0 and "without pacing" in lifted.stdout and "default" not in lifted.stdout
    assert shown("q") == ("none", "none")
    assert cli("mailbox", "rate", "own", "7").returncode == 0 and shown("own") == (7, "7")
    assert "不限速（默认）" in cli("mailbox", "rate", "own", "default", "--lang", "zh").stdout
    assert shown("own") == (None, "none (default)")
    assert "15 (default)" in cli("mailbox", "rate", "q", "DEFAULT", "--lang", "en").stdout
    assert shown("q") == (None, "15 (default)")
    changes = [e["changes"]["rate_per_minute"] for e in json.loads(cli("audit", "--json").stdout) if e["action"] == "rate"]
    assert changes == [[None, "none"], [None, 7], [7, None], ["none", None]]
    listed = {m["name"]: m["rate_per_minute"] for m in json.loads(cli("mailbox", "list", "--json").stdout)}
    assert listed == {"q": None, "own": None}
    bad = cli("mailbox", "rate", "q", "fast", "--lang", "en")
    assert bad.returncode == 2 and "'none'" in bad.stderr


def test_a_bad_setting_names_its_variable_and_touches_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "MAILBOT_DATA_DIR": str(tmp_path / "data"), "MAILBOT_RELAY_KEEP_DAYS": "a month",
           "MAILBOT_HTTP_PORT": "99999"}
    done = subprocess.run([sys.executable, "-m", "bot", "mailbox", "list"], capture_output=True, text=True,
                          env=env, timeout=30, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "MAILBOT_RELAY_KEEP_DAYS: " in done.stderr and "MAILBOT_HTTP_PORT: " in done.stderr
    assert "a month" not in done.stderr  # values are never echoed: some settings are secrets
    assert not (tmp_path / "data").exists()


# ---- what a user hits (issue 12) -------------------------------------------------------------------

Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_run_on_a_port_in_use_names_it_and_the_variable_and_exits_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "MAILBOT_DATA_DIR": str(tmp_path / "data"), "MAILBOT_HTTP_PORT": str(port),
               "MAILBOT_HTTP_HOST": "127.0.0.1", "LANG": "C.UTF-8"}
        done = subprocess.run([sys.executable, "-m", "bot", "run"], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, env=env, timeout=30, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) <= 4
    assert f"127.0.0.1:{port}" in done.stderr and "already in use" in done.stderr
    assert "MAILBOT_HTTP_PORT" in done.stderr and "MAILBOT_HTTP_HOST" in done.stderr


def test_a_failed_test_of_a_saved_mailbox_does_not_say_it_was_not_saved(cli: Cli, smtp_server: Callable[..., SmtpServer]) -> None:
    srv = smtp_server(security="ssl", users={ACCOUNT: SECRET})
    assert cli(*add_args(srv), "--no-verify", stdin="old-secret\n").returncode == 0
    tested = cli("mailbox", "test", "notice")
    assert tested.returncode == 1 and "Login rejected" in tested.stderr
    assert "not saved" not in tested.stderr and "unchanged" in tested.stderr
    assert json.loads(cli("mailbox", "show", "notice", "--json").stdout)["name"] == "notice"


def test_outlook_with_a_password_is_refused_before_any_login(cli: Cli) -> None:
    started = time.monotonic()
    out = cli("mailbox", "add", "--name", "o", "--account", "me@outlook.com", "--type", "outlook", "--password-stdin",
              stdin="app-password\n")
    assert out.returncode == 2
    assert "Outlook.com" in out.stderr and "OAuth2" in out.stderr and "--oauth" in out.stderr
    assert "Server reply" not in out.stderr and "Cannot reach" not in out.stderr  # nothing was tried
    assert time.monotonic() - started < 10
    assert json.loads(cli("mailbox", "list", "--json").stdout) == []


def aligned(lines: list[str]) -> bool:
    """Whether the cells of every line start at the same display columns (cells are separated by two or
    more spaces; a line may end early when its last cells are empty)."""
    starts = [[width(line[:m.end()]) for m in re.finditer(r"\S {2,}(?=\S)", line)] for line in lines]
    longest = max(starts, key=len)
    return len(longest) >= 2 and all(s == longest[:len(s)] for s in starts)


def test_tables_line_up_with_chinese_names(cli: Cli) -> None:
    for name, account in (("审批通知", "a@corp.example"), ("ops", "b@corp.example")):
        assert cli("mailbox", "add", "--name", name, "--account", account, "--type", "custom", "--host", "127.0.0.1",
                   "--port", "2525", "--security", "ssl", "--password-stdin", "--no-verify", stdin="s\n").returncode == 0
    listed = cli("mailbox", "list").stdout.splitlines()
    assert len(listed) == 2 and aligned(listed)
    providers = cli("providers", lang="zh_CN.UTF-8").stdout.splitlines()
    assert "QQ邮箱" in "\n".join(providers) and aligned(providers)
    guides = cli("guide", "--list", lang="zh_CN.UTF-8").stdout.splitlines()
    assert "QQ邮箱" in "\n".join(guides) and aligned(guides)
    assert "审批通知" in cli("mailbox", "list", "--json").stdout  # JSON keeps Chinese readable, not \\u escapes


def test_show_prints_values_a_person_reads(cli: Cli) -> None:
    assert cli("mailbox", "add", "--name", "q", "--account", "a@qq.com", "--password-stdin", "--no-verify",
               stdin="code\n").returncode == 0
    shown = cli("mailbox", "show", "q").stdout
    assert "None" not in shown and "{'" not in shown and "True" not in shown
    fields = dict(line.split(None, 1) for line in shown.splitlines())
    assert fields["last_check"] == "never" and fields["enabled"] == "yes"
    assert fields["rate_per_minute"] == "15 (default)" and fields["created_at"].endswith(" UTC")
    assert "'" not in cli("audit").stdout  # changes as `field: value`, not a Python dict


def test_guide_list_and_providers_speak_the_same_language(cli: Cli) -> None:
    for lang, qq in (("C.UTF-8", "QQ Mail"), ("zh_CN.UTF-8", "QQ邮箱")):
        assert qq in cli("providers", lang=lang).stdout
        listed = cli("guide", "--list", lang=lang).stdout
        assert qq in listed and (("邮箱" in listed) == (lang != "C.UTF-8"))


def test_guide_eval_runs_outside_the_repository(cli: Cli, tmp_path: Path) -> None:
    assert not (tmp_path / "tests").exists()
    out = cli("guide", "--eval")
    assert out.returncode == 0, out.stderr
    assert "positives:" in out.stdout


def test_a_negative_rate_says_it_must_be_positive(cli: Cli) -> None:
    assert cli("mailbox", "add", "--name", "q", "--account", "a@qq.com", "--password-stdin", "--no-verify",
               stdin="code\n").returncode == 0
    out = cli("mailbox", "rate", "q", "-5", "--lang", "en")
    assert out.returncode == 2 and "positive whole number" in out.stderr


def test_output_cut_short_by_a_pipe_is_not_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "MAILBOT_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(f"'{sys.executable}' -m bot providers --json | head -c 1", shell=True, capture_output=True,
                          text=True, env=env, timeout=30, cwd=tmp_path)
    assert done.stdout == "[" and "Traceback" not in done.stderr


def test_the_data_dir_and_everything_in_it_are_owner_only(cli: Cli, smtp_server: Callable[..., SmtpServer],
                                                          tmp_path: Path, tls_ca: LocalCA) -> None:
    """Mail bodies, sealed passwords, the key and the audit log: nobody but the owner reads them."""
    srv = smtp_server(security="ssl", users={ACCOUNT: SECRET})
    body = tmp_path / "t.json"
    body.write_text(json.dumps({"subject": "Hi {{ name }}", "text": "Hello {{ name }}"}))
    runs = [cli(*add_args(srv), stdin=SECRET + "\n"), cli("token", "create", "wf"), cli("template", "add", "hi", str(body)),
            cli("send", "--to", "boss@example.org", "--subject", "机密", "--text", "the mail body"), cli("audit")]
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    data = tmp_path / "data"
    env = {**os.environ, "MAILBOT_DATA_DIR": str(data), "SSL_CERT_FILE": str(tls_ca.ca_path), "MAILBOT_HTTP_PORT": "0",
           "LANG": "C.UTF-8"}
    running = subprocess.Popen([sys.executable, "-m", "bot", "run"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert running.stderr is not None
        said = ""
        while "HTTP API:" not in said and (line := running.stderr.readline()):
            said += line
        assert "HTTP API:" in said, said
        srv.wait_for_messages(1)  # the queued mail went out: every table is open, with its -wal and -shm files
        while_running = {p.name: stat.S_IMODE(p.stat().st_mode) for p in data.iterdir()}
        running.terminate()
        said += running.communicate(timeout=30)[1]
    finally:
        running.kill()
        running.communicate()
    assert running.returncode == 0, said
    assert {"secret.key", "audit.sqlite", "outbox.sqlite", "outbox.sqlite-wal",
            "outbox.sqlite-shm"} <= set(while_running)
    after = {p.name: stat.S_IMODE(p.stat().st_mode) for p in data.iterdir()}
    assert {name: mode for name, mode in {**while_running, **after}.items() if mode != 0o600} == {}
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert "others can read" not in said + "".join(r.stderr for r in runs)


def test_a_data_dir_others_can_read_is_warned_about_once(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)
    out = cli("mailbox", "list")
    assert out.returncode == 0
    assert out.stderr.count("others can read") == 1
    assert f"{data.resolve()} (755)" in out.stderr and f"chmod 700 {data.resolve()}" in out.stderr
