"""Card → HTML: every card of `cards.CARDS`, built by its own builder, drawn with its controls."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest

from bot.console.markdown import text_to_html, to_html
from bot.console.render import RENDERERS, render_card
from bot.errors import AppPasswordRequired, FieldError
from bot.i18n import Text
from bot.mailboxes.model import LastCheck, Mailbox
from bot.providers import PROVIDER_TYPES
from cards import CARDS, Action


class Tags(HTMLParser):
    """Start tags with their attributes, for asserting on structure rather than on strings."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text += data

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def mailbox(name: str = "ops", **extra: Any) -> Mailbox:
    now = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    values: dict[str, Any] = dict(name=name, type="qq", account="ops@qq.com", secret_token="x", host="smtp.qq.com",
                                  port=465, security="ssl", created_by="t", created_at=now, updated_by="t",
                                  updated_at=now, version=3)
    values.update(extra)
    return Mailbox(**values)


def render(card: str, params: dict[str, str], fallback: str = "fallback") -> Tags:
    return Tags(render_card(card, params, card_id="c1", fallback_markdown=fallback))


def test_every_card_in_cards_has_a_renderer() -> None:
    assert set(CARDS) <= set(RENDERERS)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_mailbox_form_has_real_fields_and_never_a_secret(lang: str) -> None:
    values = {"name": "ops", "type": "custom", "account": "a@b.c", "host": "smtp.b.c", "port": 465,
              "security": "ssl", "password": "TOPSECRET", "secret": "TOPSECRET"}
    params = CARDS["mailbox_form"].builder(lang, values=values, mode="edit", mailbox="ops", version=4,
                                           errors=[FieldError(field="port", problem=Text(zh="坏", en="bad"))])
    html = render("mailbox_form", params)
    assert "TOPSECRET" not in render_card("mailbox_form", params, card_id="c1", fallback_markdown="")
    form = html.find("form")[0]
    assert form["data-action"] == "form" and json.loads(form["data-params"]) == {"mode": "edit", "mailbox": "ops", "version": "4"}
    secret = html.find("input", name="password")[0]
    assert secret["type"] == "password" and "value" not in secret
    assert html.find("input", name="name")[0]["value"] == "ops"
    assert html.find("input", name="port")[0]["value"] == "465"
    selects = {a["name"] for a in html.find("select")}
    assert selects == {"type", "security"}
    assert html.find("option", value="custom", selected="")  # the pre-filled SELECT
    assert len([a for a in html.find("option") if a.get("value")]) == len(PROVIDER_TYPES) + 3  # types, securities
    labels = {a["for"] for a in html.find("label")}
    assert {f"c1-{f}" for f in ("name", "type", "account", "password", "host", "port", "security")} <= labels
    assert html.find("button", type="submit") and ("bad" if lang == "en" else "坏") in html.text


def test_submitted_form_is_disabled() -> None:
    html = render("mailbox_form", CARDS["mailbox_form"].builder("en", status="disabled"))
    assert all("disabled" in a for a in html.find("input") + html.find("select"))
    assert "disabled" in html.find("button", type="submit")[0]


def test_result_card_failure_has_guide_and_buttons() -> None:
    error = AppPasswordRequired("535 auth failed", provider_type="qq")
    params = CARDS["result"].builder("en", name="ops", mode="test", error=error, mailbox=mailbox())
    html = render("result", params)
    actions = {a["data-action"]: json.loads(a["data-params"]) for a in html.find("button")}
    assert actions[Action.MAILBOX_TEST] == {"mailbox": "ops", "version": "3"}
    assert actions[Action.MAILBOX_EDIT] == {"mailbox": "ops", "version": "3", "mode": "test"}
    assert "535 auth failed" in html.text and "Login failed" in html.text


def test_result_card_success_has_no_retry() -> None:
    html = render("result", CARDS["result"].builder("zh", name="ops", mailbox=mailbox()))
    assert [a["data-action"] for a in html.find("button")] == [Action.MAILBOX_EDIT]


def test_mailbox_list_rows_and_delete_confirm_step() -> None:
    boxes = [mailbox("a", default=True, last_check=LastCheck(at=datetime.now(UTC), ok=True)),
             mailbox("b<script>", enabled=False)]
    html = render("mailbox_list", CARDS["mailbox_list"].builder("en", boxes))
    pressed = [(a["data-action"], json.loads(a["data-params"])["mailbox"]) for a in html.find("button")]
    assert pressed == [
        (Action.MAILBOX_TEST, "a"), (Action.MAILBOX_DISABLE, "a"), (Action.MAILBOX_DELETE_ASK, "a"),
        (Action.MAILBOX_TEST, "b<script>"), (Action.MAILBOX_ENABLE, "b<script>"),
        (Action.MAILBOX_SET_DEFAULT, "b<script>"), (Action.MAILBOX_DELETE_ASK, "b<script>"),
    ]
    assert not html.find("script")
    confirming = render("mailbox_list", CARDS["mailbox_list"].builder("en", boxes, confirm_delete="a"))
    assert [a["data-action"] for a in confirming.find("button")][:2] == [Action.MAILBOX_DELETE, Action.MAILBOX_DELETE_CANCEL]


def test_alert_card_retry_button_carries_mail_id() -> None:
    error = AppPasswordRequired("535 no", provider_type="qq")
    params = CARDS["alert"].builder("en", mail_id="m1", mailbox="ops", recipients=["x@y.z"], subject="**hi**",
                                    error=error)
    html = render("alert", params)
    (retry,) = html.find("button")
    assert retry["data-action"] == Action.MAIL_RETRY and json.loads(retry["data-params"])["mail_id"] == "m1"
    assert "**hi**" in html.text  # escaped markdown shows as typed
    done = render("alert", CARDS["alert"].builder("en", mail_id="m1", mailbox="ops", recipients=[], subject="s",
                                                  error=error, retry=False, notice="requeued"))
    assert not done.find("button") and "requeued" in done.text


def test_guide_card_steps_and_official_link() -> None:
    card = CARDS["guide"].builder("zh", "qq")
    html = render("guide", {"cardData": json.dumps(card, ensure_ascii=False)})
    assert "授权码" in html.text and html.find("li")
    links = html.find("a")
    assert links and all(a["href"].startswith("https://") and a["rel"] == "noopener noreferrer" for a in links)


def test_unknown_card_shows_escaped_fallback() -> None:
    html = render("nope", {"x": "1"}, fallback="**Hello** <img src=x onerror=alert(1)>")
    assert not html.find("img") and html.find("strong") and "<img" in html.text


def test_markdown_escapes_and_allows_only_http_links() -> None:
    out = to_html("[x](javascript:alert(1)) [ok](https://a.b/?q=1&r=2) <b>b</b> \\*lit\\*")
    assert "href=\"javascript" not in out and 'href="https://a.b/?q=1&amp;r=2"' in out
    assert "&lt;b&gt;" in out and "*lit*" in out and "<em>" not in out
    assert re.fullmatch(r"a&lt;b<br>c", text_to_html("a<b\nc"))
