"""The relay's lean MIME builder reads back like build_message's output."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

from bot.relay.mime import build_bytes


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
