"""DingTalk-flavoured markdown → HTML that is safe to insert: everything is escaped first.

Only what the bot's own replies and cards use: headings, **bold**, *italic*, `code`, http(s)
links, bare URLs, "- " and "1. " lists, backslash escapes (cards escape user text that way).
Anything else shows as typed. The status emoji of the bot's texts (✅ ❌ ⚠️ ⏳ 📤 🔁) become marks drawn
by CSS, so they show on machines without an emoji font.
"""

from __future__ import annotations

import html
import re

_ESCAPED = re.compile(r"\\([\\`*_\[\]<>#\-.!()])")
_CODE = re.compile(r"`([^`]+)`")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^\s)]+)\)")
_BARE_URL = re.compile(r"(?<![\"=>])\bhttps?://[^\s<]+")
_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_ITALIC = re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*(\d+)[.)]\s+(.*)$")
_PLACEHOLDER = "\x00{}\x00"
_MARKS = {"✅": "ok", "❌": "bad", "⚠": "warn", "⏳": "wait", "📤": "send", "🔁": "retry"}
_MARK = re.compile(f"([{''.join(_MARKS)}])\ufe0f?")


def _marks(escaped: str) -> str:
    """Each status emoji as an empty span the stylesheet draws; the emoji stays as its label."""
    return _MARK.sub(lambda m: f'<span class="mark {_MARKS[m.group(1)]}" role="img" aria-label="{m.group(1)}"></span>',
                     escaped)


def _inline(text: str) -> str:
    """Escape, then re-apply inline markup; code spans and escaped characters are held aside."""
    held: list[str] = []

    def hold(fragment: str) -> str:
        held.append(fragment)
        return _PLACEHOLDER.format(len(held) - 1)

    text = _ESCAPED.sub(lambda m: hold(html.escape(m.group(1))), text)
    text = _CODE.sub(lambda m: hold(f"<code>{html.escape(m.group(1))}</code>"), text)
    text = _LINK.sub(lambda m: hold(_anchor(m.group(2), _inline(m.group(1)))), text)
    text = _marks(html.escape(text, quote=True))
    text = _BARE_URL.sub(lambda m: _anchor(html.unescape(m.group(0)), m.group(0)), text)
    text = _BOLD.sub(lambda m: f"<strong>{m.group(1) or m.group(2)}</strong>", text)
    text = _ITALIC.sub(lambda m: f"<em>{m.group(1)}</em>", text)
    return re.sub("\x00(\\d+)\x00", lambda m: held[int(m.group(1))], text)


def _anchor(url: str, label_html: str) -> str:
    return f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">{label_html}</a>'


def to_html(text: str) -> str:
    """Block structure (paragraphs, headings, lists) line by line; inline markup per line."""
    out: list[str] = []
    paragraph: list[str] = []
    list_tag: str | None = None

    def flush_paragraph() -> None:
        if paragraph:
            out.append("<p>" + "<br>".join(paragraph) + "</p>")
            paragraph.clear()

    def close_list() -> None:
        nonlocal list_tag
        if list_tag:
            out.append(f"</{list_tag}>")
            list_tag = None

    for line in text.replace("\r\n", "\n").split("\n"):
        heading, bullet, numbered = _HEADING.match(line), _BULLET.match(line), _NUMBERED.match(line)
        if bullet or numbered:
            flush_paragraph()
            tag = "ul" if bullet else "ol"
            if list_tag != tag:
                close_list()
                start = f' start="{int(numbered.group(1))}"' if numbered and numbered.group(1) != "1" else ""
                out.append(f"<{tag}{start}>")
                list_tag = tag
            out.append(f"<li>{_inline(bullet.group(1) if bullet else numbered.group(2))}</li>")  # type: ignore[union-attr]
            continue
        close_list()
        if heading:
            flush_paragraph()
            level = min(len(heading.group(1)) + 2, 6)  # inside a chat bubble: h3..h6
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif not line.strip():
            flush_paragraph()
        else:
            paragraph.append(_inline(line))
    flush_paragraph()
    close_list()
    return "\n".join(out)


def plain_html(text: str) -> str:
    """Escaped text with status marks, for card titles and button labels (no markup in them)."""
    return _marks(html.escape(text, quote=True))


def text_to_html(text: str) -> str:
    """Plain text: escaped, line breaks kept, bare links clickable."""
    escaped = _marks(html.escape(text, quote=True))
    return _BARE_URL.sub(lambda m: _anchor(html.unescape(m.group(0)), m.group(0)), escaped).replace("\n", "<br>")
