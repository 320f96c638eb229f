"""`mailbot rule ...` as real subprocesses: add, list, show, enable, disable, remove, and bad input exiting 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.relay.test_cli import mailbot


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data dir with a mailbox `ops` (unverified: no server needed to keep rules) and a template `approved`."""
    data = tmp_path / "data"
    added = mailbot(data, "mailbox", "add", "--name", "ops", "--account", "bot@example.com", "--type", "custom",
                    "--host", "127.0.0.1", "--port", "2525", "--security", "none", "--password-stdin", "--no-verify",
                    stdin="pw\n")
    assert added.returncode == 0, added.stderr
    body = tmp_path / "t.json"
    body.write_text(json.dumps({"subject": "{{ title }}: {{ result }}", "text": "{{ originator }}"}))
    assert mailbot(data, "template", "add", "approved", str(body)).returncode == 0
    return data


ADD = ["rule", "add", "报销通过", "--process-code", "PROC-EXPENSE-1", "--on", "finish", "--result", "agree",
       "--mailbox", "ops", "--template", "approved", "--to", "originator, Finance@Example.com", "--lang", "en"]


def test_rule_lifecycle(data: Path) -> None:
    added = mailbot(data, *ADD)
    assert added.returncode == 0, added.stderr
    assert "报销通过" in added.stdout and "finish/agree" in added.stdout
    listed = json.loads(mailbot(data, "rule", "list", "--json").stdout)
    assert [(r["name"], r["process_code"], r["on"], r["result"], r["to"], r["enabled"]) for r in listed] == [
        ("报销通过", "PROC-EXPENSE-1", "finish", "agree", ["originator", "Finance@example.com"], True)]
    text = mailbot(data, "rule", "list", "--lang", "en").stdout
    assert "报销通过" in text and "PROC-EXPENSE-1" in text and "originator,Finance@example.com" in text
    shown = json.loads(mailbot(data, "rule", "show", "报销通过", "--json").stdout)
    assert shown["mailbox"] == "ops" and shown["template"] == "approved" and shown["created_by"].startswith("cli:")
    assert "process_code" in mailbot(data, "rule", "show", "报销通过").stdout

    assert mailbot(data, "rule", "disable", "报销通过").returncode == 0
    assert json.loads(mailbot(data, "rule", "show", "报销通过", "--json").stdout)["enabled"] is False
    assert "disabled" in mailbot(data, "rule", "list").stdout
    assert mailbot(data, "rule", "enable", "报销通过").returncode == 0
    assert json.loads(mailbot(data, "rule", "show", "报销通过", "--json").stdout)["enabled"] is True

    again = mailbot(data, *ADD)
    assert again.returncode == 2 and "already taken" in again.stderr

    assert mailbot(data, "rule", "remove", "报销通过").returncode == 0
    assert json.loads(mailbot(data, "rule", "list", "--json").stdout) == []
    gone = mailbot(data, "rule", "show", "报销通过", "--lang", "en")
    assert gone.returncode == 1 and "no notification rule named" in gone.stderr

    audit = json.loads(mailbot(data, "audit", "--json").stdout)
    assert [(e["action"], e["target"]) for e in audit if e["action"].startswith("rule_")] == [
        ("rule_add", "报销通过"), ("rule_disable", "报销通过"), ("rule_enable", "报销通过"), ("rule_remove", "报销通过")]


@pytest.mark.parametrize(("change", "reason"), [
    ({"--mailbox": "nope"}, "no mailbox named 'nope'"),
    ({"--template": "nope"}, "no template named 'nope'"),
    ({"--on": "approve"}, "'approve' is invalid: must be start, finish or terminate"),
    ({"--result": "maybe"}, "'maybe' is invalid: must be agree or refuse"),
    ({"--on": "start"}, "--result goes with --on finish only"),
    ({"--to": "originator,not-an-address"}, "'not-an-address' is neither originator nor a valid e-mail address"),
    ({"--to": " , "}, "originator and/or e-mail addresses"),
    ({"--process-code": "PROC 1"}, "processCode"),
])
def test_bad_input_exits_2_with_the_reason(data: Path, change: dict[str, str], reason: str) -> None:
    args = list(ADD)
    for flag, value in change.items():
        args[args.index(flag) + 1] = value
    result = mailbot(data, *args)
    assert result.returncode == 2, result.stdout
    assert reason in result.stderr
    assert json.loads(mailbot(data, "rule", "list", "--json").stdout) == []


def test_bad_name_and_every_problem_at_once(data: Path) -> None:
    result = mailbot(data, "rule", "add", "two words", "--process-code", "P", "--on", "finish", "--mailbox", "nope",
                     "--template", "approved", "--to", "originator", "--lang", "en")
    assert result.returncode == 2
    assert "without spaces" in result.stderr
    zh = mailbot(data, "rule", "add", "x", "--process-code", "P", "--on", "finish", "--mailbox", "nope",
                 "--template", "nope", "--to", "originator", "--lang", "zh")
    assert zh.returncode == 2 and "没有名为“nope”的邮箱" in zh.stderr and "没有名为“nope”的模板" in zh.stderr
