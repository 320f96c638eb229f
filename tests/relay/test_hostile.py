"""Hostile and careless input to the relay: bombs are refused with a reason, and nothing stalls the API."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from bot.relay.models import InlineTemplate

BOMB = "{% for i in range(100000) %}{% for j in range(100000) %}a{% endfor %}{% endfor %}"
MAIL: dict[str, Any] = {"to": ["alice@example.com"], "subject": "Hi", "text": "Hello"}


async def _healthz_while(relay: Any, work: Any) -> tuple[Any, float]:
    """Run `work` and poll /healthz meanwhile; the worst /healthz latency seen."""
    worst = 0.0
    task = asyncio.ensure_future(work)
    while not task.done():
        start = time.perf_counter()
        async with relay.http.get(relay.url + "/healthz") as resp:
            assert resp.status == 200
        worst = max(worst, time.perf_counter() - start)
        await asyncio.sleep(0.01)
    return await task, worst


SLOW, HUGE, LONG = "took longer than 0.5 s", "memory limit", "passed the mail size limit"


@pytest.mark.parametrize("text, reasons", [
    (BOMB, (LONG, SLOW)),  # the bomb: whichever bound it reaches first
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", (SLOW,)),  # no output
    ("{{ 'a' * 10**10 }}", (HUGE,)),  # one huge allocation
    ("{{ 'x'.ljust(10**10) }}", (HUGE,)),
    ("{{ ((10 ** 10) ** 10) ** 100000 }}", (SLOW, "cannot render")),  # a giant integer
    ("{% for i in range(100000) %}{{ 'a' * 1000 }}{% endfor %}", (LONG, SLOW)),
])
async def test_a_template_bomb_is_a_422_and_never_stalls_the_api(smtp_server: Any, relay_factory: Any,
                                                                   text: str, reasons: tuple[str, ...]) -> None:
    async with relay_factory(smtp_server(), template_timeout_s=0.5, max_mail_bytes=1 << 20) as relay:
        (status, answer), worst = await _healthz_while(relay, relay.post({**MAIL, "text": None, "template": {
            "subject": "x", "text": text}}))
        assert status == 422, answer
        assert any(reason in answer["message"] for reason in reasons), answer
        assert worst < 5.0, f"/healthz waited {worst:.3f} s behind the template"  # liveness; latency is in bench/
        # the renderer is back for the next mail
        status, body = await relay.post({**MAIL, "text": None, "template": {"subject": "s", "text": "Hi {{ n }}"},
                                         "variables": {"n": "Bob"}})
        assert status == 202, body


async def test_template_output_at_the_limit_renders_and_past_it_is_refused(smtp_server: Any,
                                                                            relay_factory: Any) -> None:
    limit = 64 * 1024
    async with relay_factory(smtp_server(), max_mail_bytes=limit) as relay:
        at = {**MAIL, "text": None, "template": {"subject": "", "text": "{{ 'a' * n }}"}, "variables": {"n": limit}}
        assert (await relay.post(at))[0] == 202
        status, answer = await relay.post({**at, "variables": {"n": limit + 1}})
        assert status == 422 and "64 KB" not in answer["message"]
        assert "size limit" in answer["fields"]["template.text"]


async def test_a_stored_template_bomb_is_refused_when_saved(smtp_server: Any, relay_factory: Any) -> None:
    from bot.errors import InvalidInput

    async with relay_factory(smtp_server(), template_timeout_s=0.5) as relay:
        store = relay.component.relay.templates
        with pytest.raises(InvalidInput) as caught:
            await store.add("deep", InlineTemplate(subject="x", text="{{" + "(" * 5000 + "1" + ")" * 5000 + "}}"))
        assert "template.text: template cannot render: nested too deeply" in caught.value.message("en")
        assert await store.list() == []
        # a stored template that only explodes with certain variables fails at POST with the reason
        await store.add("grow", InlineTemplate(subject="x", text="{% for i in range(n) %}{{ 'a' * n }}{% endfor %}"))
        status, answer = await relay.post({**MAIL, "text": None, "template": "grow", "variables": {"n": 100000}})
        assert status == 422 and "template.text" in answer["fields"]


async def test_unicode_domains_are_sent_in_idna_and_unicode_local_parts_refused(smtp_server: Any,
                                                                                  relay_factory: Any) -> None:
    server = smtp_server()
    async with relay_factory(server) as relay:
        status, answer = await relay.post({**MAIL, "to": ["用户@例子.中国"]})
        assert status == 422
        assert "SMTPUTF8" in answer["fields"]["to.0"] and "server reply" not in answer["message"].lower()
        status, body = await relay.post({**MAIL, "to": ["boss@例子.中国"], "cc": ["x@bücher.de"],
                                         "reply_to": "r@例子.中国"})
        assert status == 202, body
        view = await relay.wait_status(body["id"], "sent", "failed")
        assert view["status"] == "sent", view
        [msg] = await server.wait_for_messages_async(1)
        assert set(msg.rcpt_tos) == {"boss@xn--fsqu00a.xn--fiqs8s", "x@xn--bcher-kva.de"}
        assert msg.message["To"] == "boss@xn--fsqu00a.xn--fiqs8s"
        assert msg.message["Reply-To"] == "r@xn--fsqu00a.xn--fiqs8s"


async def test_recipients_are_limited_to_max_recipients(smtp_server: Any, relay_factory: Any) -> None:
    async with relay_factory(smtp_server(), max_recipients=5) as relay:
        at = {**MAIL, "to": ["a@example.com", "b@example.com"], "cc": ["c@example.com", "d@example.com"],
              "bcc": ["e@example.com"]}
        assert (await relay.post(at))[0] == 202
        status, answer = await relay.post({**at, "bcc": ["e@example.com", "f@example.com"]})
        assert status == 422
        assert "6 recipients" in answer["fields"]["to"] and "MAILBOT_MAX_RECIPIENTS" in answer["fields"]["to"]


async def test_ten_thousand_recipients_are_refused_by_default(smtp_server: Any, relay_factory: Any) -> None:
    async with relay_factory(smtp_server()) as relay:
        many = [f"u{i}@example.com" for i in range(10_000)]
        status, answer = await relay.post({**MAIL, "to": many})
        assert status == 422 and "over the limit of 100" in answer["fields"]["to"]
        assert (await relay.post({**MAIL, "to": many[:100]}))[0] == 202


def test_an_encoding_failure_is_not_blamed_on_the_server() -> None:
    """Mail queued before the door refused such addresses fails with our reason, not as a 'server reply'."""
    from bot.smtp.classify import classify

    error = classify(UnicodeEncodeError("ascii", "用户", 0, 1, "ordinal not in range(128)"), "rcpt", provider_type="qq")
    assert error.code == "not_encodable" and not error.temporary
    assert "Server reply" not in error.message("en") and "not the server's doing" in error.message("en")


async def test_a_render_cancelled_midway_never_answers_another_mail() -> None:
    """A render whose caller went away (e.g. shutdown) must not leave its answer for the next render."""
    import asyncio as aio

    from bot.relay.templates import Renderer

    renderer = Renderer(timeout_s=5.0, max_chars=1 << 20, processes=1)
    try:
        slow = aio.ensure_future(renderer.render(InlineTemplate(subject="first", text=(
            "{% for i in range(20000) %}{% for j in range(300) %}{% endfor %}{% endfor %}first")), {}))
        await aio.sleep(0.3)  # the child is busy with it
        slow.cancel()
        second = await renderer.render(InlineTemplate(subject="second", text="second {{ n }}"), {"n": 2})
        assert (second.subject, second.text) == ("second", "second 2")
    finally:
        await renderer.close()
