"""`mailbot guide` through its own register(), as the lead's CLI will call it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from bot.cli import guide

REPO = Path(__file__).resolve().parents[2]


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    guide.register(parser.add_subparsers())
    args = parser.parse_args(["guide", *argv])
    return args.func(args)


def test_json_answer(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--json", "怎么获取QQ邮箱授权码"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["type"] == "qq" and data["lang"] == "zh"
    assert data["smtp"] == {"host": "smtp.qq.com", "port": 465, "security": "ssl"}
    assert data["steps"] and data["links"] and data["title"] and data["reply"]


def test_json_null_type_has_reply(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--json", "--lang", "en", "怎么获取授权码"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["type"] is None and data["kind"] == "ask" and data["lang"] == "en" and data["reply"]


def test_text_answer_full(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--full", "--lang", "en", "gmail", "app", "password"]) == 0
    out = capsys.readouterr().out
    assert "2-Step Verification" in out and "smtp.gmail.com" in out


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--list", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert len(entries) == 11 and "custom" not in {e["type"] for e in entries}


def test_eval_default_path(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    assert run(["--eval"]) == 0
    out = capsys.readouterr().out
    assert "positives:" in out and "negatives:" in out


def test_eval_below_target_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "QQ邮箱", "type": "163"}\n{"text": "天气", "type": null}\n', encoding="utf-8")
    assert run(["--eval", str(bad)]) == 1
    assert "miss: 'QQ邮箱'" in capsys.readouterr().out


def test_missing_question_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([]) == 2
    assert "QUESTION" in capsys.readouterr().err


def test_eval_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    assert run(["--eval", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is True and report["positive_accuracy"] >= 0.95 and report["negative_accuracy"] >= 0.95


def test_eval_without_the_source_tree_says_where_the_set_lives(capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(guide, "DEFAULT_EVAL_SET", tmp_path / "site-packages" / "eval_set.jsonl")  # an installed package
    monkeypatch.chdir(tmp_path)
    assert run(["--eval"]) == 2
    err = capsys.readouterr().err
    assert "ships with the source tree" in err and "pass its path" in err
