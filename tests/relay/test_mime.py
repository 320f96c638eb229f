"""The relay's lean MIME builder reads back like build_message's output."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email import policy
from email._policybase import Compat32
from email.generator import Generator
from email.parser import BytesParser
from unittest.mock import patch

import pytest

from bot.relay import mime
from bot.relay.mime import QUICK_FOLD, build_bytes


def parse(raw: bytes):  # type: ignore[no-untyped-def]
    return BytesParser(policy=policy.default).parsebytes(raw)


def test_headers_bodies_and_attachments_round_trip() -> None:
    msg = parse(build_bytes(
        account="bot@example.com", to=["a@example.com", "b@example.com"], cc=["c@example.com"],
        subject="审批 Approval " + "x" * 100, message_id="<1@example.com>", text="你好\nline2",
        html="<p>你好</p>", from_name="审批流 Bot", reply_to="r@example.com",
        attachments=[("报告.pdf", "application/pdf", b"%PDF-1"), ("a.txt", "text/plain", b"hi")]))
    assert msg["Subject"] == "审批 Approval " + "x" * 100
    assert msg["From"].addresses[0].display_name == "审批流 Bot"
    assert msg["From"].addresses[0].addr_spec == "bot@example.com"
    assert msg["To"] == "a@example.com, b@example.com" and msg["Cc"] == "c@example.com"
    assert msg["Reply-To"] == "r@example.com" and msg["Message-ID"] == "<1@example.com>" and msg["Date"]
    assert msg.get_body(("plain",)).get_content().strip() == "你好\nline2"
    assert msg.get_body(("html",)).get_content().strip() == "<p>你好</p>"
    assert [(p.get_filename(), p.get_content_type()) for p in msg.iter_attachments()] == [
        ("报告.pdf", "application/pdf"), ("a.txt", "text/plain")]
    assert all(not part.defects for part in msg.walk())


def test_long_ascii_lines_are_wrapped_and_html_only_works() -> None:
    raw = build_bytes(account="b@example.com", to=["a@example.com"], subject="s", message_id="<1@x>", text="a" * 3000)
    assert max(len(line) for line in raw.splitlines()) <= 998
    assert parse(raw).get_body(("plain",)).get_content().strip() == "a" * 3000
    html = parse(build_bytes(account="b@example.com", to=["a@example.com"], subject="s", message_id="<1@x>",
                             html="<b>x</b>"))
    assert html.get_content_type() == "text/html"


def test_non_ascii_address_falls_back_to_build_message() -> None:
    msg = parse(build_bytes(account="bot@example.com", to=["用户@example.com"], subject="s", message_id="<1@x>",
                            text="t"))
    assert msg["To"].addresses[0].addr_spec == "用户@example.com"


def _header_values() -> list[str]:
    """Values the quick path takes and values it must hand to the stdlib, around every edge it checks."""
    rng = random.Random(7)
    alphabet = "ab Z9;,:<>@.\t()\"=-_" + "é审"
    values = ["", " ", "x", " lead", "trail ", "two  spaces", "tab\there", "a;b,c d", "=?utf-8?q?x?=",
              "<1@example.com>", "Sun, 29 Nov 2026 07:48:14 +0000", "a" * 200, "w " * 40, "审批"]
    values += ["y" * n for n in range(60, 80)]
    values += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 120))) for _ in range(3000)]
    return values


@pytest.mark.parametrize("name", ["To", "Subject", "X-A-Rather-Long-Header-Name"])
def test_quick_folding_writes_what_the_stdlib_writes(name: str) -> None:
    stdlib = Compat32()
    for value in _header_values():
        assert QUICK_FOLD.fold_binary(name, value) == stdlib.fold_binary(name, value), value


def test_whole_messages_match_the_stdlib_byte_for_byte() -> None:
    kwargs = dict(account="bot@example.com", to=["a@example.com", "b@example.com"], cc=["c@example.com"],
                  subject="Approval needed: expense report #4411 from the finance workflow, please review",
                  message_id="<1@example.com>", text="hello\n" * 20, html="<p>x</p>", from_name="Bot",
                  reply_to="r@example.com", date=datetime(2026, 11, 29, tzinfo=UTC))
    with patch.object(Generator, "_make_boundary", classmethod(lambda cls, text=None: "=====b")):
        quick = build_bytes(**kwargs)  # type: ignore[arg-type]
        with patch.object(mime, "QUICK_FOLD", Compat32()):
            assert build_bytes(**kwargs) == quick  # type: ignore[arg-type]
    assert b"=====b" in quick and b"Subject: Approval needed" in quick


def _direct_cases() -> list[dict[str, object]]:
    rng = random.Random(11)
    bodies = ["", "x", "hello\n", "a\r\nb\rc\n", "é", "你好\nline2", "a" * 3000, "a" * 998, "a" * 999, "x\n" * 5,
              "line\x0bvt", "=", "From me\n", "--=====b\n", " trailing \n", "\t tab", "é\r\nx\r", "x" * 80 + "é",
              "a\n\n\n", "=====b", "😀 emoji"]
    subjects = ["s", "", "审批 Approval " + "x" * 100, "Approval needed: expense report #4411 from the finance workflow",
                "a  b", "=?utf-8?q?x?=", " lead"]
    cases: list[dict[str, object]] = [dict(text=None, html=None)]
    for _ in range(3000):
        case: dict[str, object] = dict(to=rng.choice([["a@example.com"], ["a@example.com", "b@x.org"]]),
                                       subject=rng.choice(subjects))
        kind = rng.randrange(3)
        if kind in (0, 2):
            case["text"] = rng.choice(bodies) + rng.choice(bodies)
        if kind in (1, 2):
            case["html"] = rng.choice(bodies)
        if rng.random() < 0.3:
            case["cc"] = ["c@example.com", "d@example.com"]
        if rng.random() < 0.3:
            case["reply_to"] = "r@example.com"
        if rng.random() < 0.3:
            case["from_name"] = rng.choice(["Bot", "审批流 Bot", 'a "q" b', "x" * 90])
        cases.append(case)
    return cases


def test_direct_path_writes_what_email_mime_writes() -> None:
    """Mail without attachments is written directly: the same bytes as email.mime + BytesGenerator."""
    with patch.object(Generator, "_make_boundary", classmethod(lambda cls, text=None: "=====b")):
        for case in _direct_cases():
            kwargs = dict(account="bot@example.com", message_id="<1@example.com>",
                          date=datetime(2026, 11, 29, 7, 48, 14, tzinfo=UTC), **{"to": ["a@example.com"], "subject": "s",
                                                                                  **case})
            assert build_bytes(**kwargs) == mime.build_stdlib_bytes(**kwargs), case  # type: ignore[arg-type]


def test_direct_path_boundary_avoids_the_body_and_date_is_now() -> None:
    raw = build_bytes(account="b@example.com", to=["a@example.com"], subject="s", message_id="<1@x>",
                      text="x", html="y")
    msg = parse(raw)
    assert msg.get_content_type() == "multipart/alternative" and not msg.defects
    assert [p.get_content() for p in msg.iter_parts()] == ["x", "y"]
    assert b"--" + msg.get_boundary().encode() + b"--\n" in raw
    sent = parse(build_bytes(account="b@example.com", to=["a@example.com"], subject="s", message_id="<1@x>", text="t"))
    assert abs((sent["Date"].datetime - datetime.now(UTC)).total_seconds()) < 5
