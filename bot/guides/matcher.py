"""Free text → the mailbox type it asks about, or a reason not to answer. It never guesses.

Every clue in the text becomes evidence: a set of types and a weight. Clues are names and aliases
(catalog + guide data), e-mail addresses, domains and hosts, and signatures of quoted SMTP replies.
A clue naming several types (a family such as "网易邮箱", or "550 User has no permission") spreads
its weight over them, so a more specific clue wins and a real tie becomes a question back to the
user. Vague words ("qq", "钉钉", "google") only count when the text is about mail, so "QQ群怎么建"
stays off-topic, while a bare name ("QQ", "gmail") is a guide request.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache

from bot.guides import data
from bot.guides.model import MatchResult
from bot.i18n import detect_lang
from bot.providers.catalog import CATALOG

GUIDE_TYPES: tuple[str, ...] = tuple(data.GUIDES)
UNSUPPORTED_KEYS: tuple[str, ...] = tuple(u.key for u in data.UNSUPPORTED)

_CJK = "\u3400-\u9fff\uf900-\ufaff"
_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_URL_WEIGHT = 0.5  # a help link quoted in an error points at a provider less firmly than the mailbox itself
# Matches only where a run of address characters begins: tried inside a run, every start would
# rescan the rest of it, and a long "a.a.a…" or "1111…" line cost time growing with its square.
_DOMAIN = re.compile(
    r"(?<![a-z0-9._%+-])(?P<scheme>[a-z]+://)?(?P<local>[a-z0-9._%+-]+@)?"
    r"(?P<host>(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,})(?![a-z0-9-])(?P<path>/[^\s" + _CJK + r"]*)?"
)
_DOMAIN_ONLY = re.compile(r"(?:[a-z0-9-]+\.)+[a-z]{2,}")
_LATIN_WORD = re.compile(r"[a-z]+")
_NOT_WORD = re.compile(r"[^a-z0-9" + _CJK + r"]+")
_SPACE_NEAR_CJK = re.compile(r"(?<=[" + _CJK + r"]) | (?=[" + _CJK + r"])")
_LEADING_MENTION = re.compile(r"^\s*(?:@[^\s@]+\s+)+")
_MAIL_WORD = r"(?:邮箱|邮件|邮|mail|email|mailbox|e mail|账号|帐号|账户|account)"
# "钉钉邮箱", "钉钉的邮箱", "钉钉里的邮箱", "126 mail": a vague name right before a mail word.
_ADJACENT_MAIL = re.compile(r"\s*(?:里|上|中|内)?的?\s*" + _MAIL_WORD)
# "163mail": a mail word glued to a name does not break the name's word boundary.
_GLUED_MAIL = re.compile(r"e?mail")
_TRADITIONAL = str.maketrans(data.TRADITIONAL)
_INTENT = re.compile(data.INTENT_PATTERN)
_MAIL = re.compile(data.MAIL_PATTERN)
_SETUP = re.compile(data.SETUP_PATTERN)
_MAILBOX = re.compile(data.MAILBOX_PATTERN)
_CLOSING = re.compile(data.CLOSING_PATTERN)
_OFF_TOPIC = re.compile(data.OFF_TOPIC_PATTERN)
_NEGATION = re.compile(data.NEGATION_PATTERN)
_COMMAND = re.compile(data.COMMAND_PATTERN)
_FILLER = re.compile(data.FILLER_PATTERN)
_ENTERPRISE = re.compile(data.ENTERPRISE_HINTS)
_PERSONAL = re.compile(data.PERSONAL_HINTS)


@dataclass(frozen=True)
class _Alias:
    types: tuple[str, ...]
    weight: float
    needs: str | None  # None: counts on its own; else a Family.needs value ("context", "intent", "adjacent")


@dataclass(frozen=True)
class _Evidence:
    label: str
    types: tuple[str, ...]
    weight: float


@dataclass(frozen=True)
class _Tables:
    aliases: dict[str, _Alias]
    by_first_char: dict[str, tuple[str, ...]]
    domains: dict[str, tuple[str, ...]]
    signatures: tuple[tuple[re.Pattern[str], tuple[str, ...], float], ...]
    vocabulary: frozenset[str]  # one-word Latin names, the targets of typo correction


def _fold(text: str) -> str:
    """Lower-case, width-fold, simplify and fix known CJK misspellings: the same for text and aliases."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_TRADITIONAL)
    for wrong, right in data.CJK_TYPOS.items():
        text = text.replace(wrong, right)
    return text


def _wordify(text: str) -> str:
    """Punctuation to spaces, and no spaces next to CJK, so "QQ 邮箱" and "qq邮箱" look alike."""
    return _SPACE_NEAR_CJK.sub("", _NOT_WORD.sub(" ", text)).strip()


def _osa(a: str, b: str) -> int:
    """Edit distance counting a swap of neighbours as one edit ("gmial" → "gmail")."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def _spellings(alias: str) -> tuple[str, ...]:
    """An alias and, for one-word "...mail" names, the split form people also type ("fox mail")."""
    if _LATIN_WORD.fullmatch(alias) and alias.endswith("mail") and len(alias) > 4:
        return alias, f"{alias[:-4]} mail"
    return (alias,)


def _provider_aliases() -> Iterator[tuple[str, tuple[str, ...], float, str | None]]:
    """(alias, types, weight, needs) from the catalog, the guide data and the unsupported list."""
    for type_key in GUIDE_TYPES:
        provider = CATALOG[type_key]
        names = (provider.name_zh, provider.name_en, *provider.aliases, *data.EXTRA_ALIASES.get(type_key, ()))
        for name in (n.lower() for n in names):
            if name in data.VAGUE_CATALOG_ALIASES:
                continue
            client = name in data.CLIENT_NAMES
            for alias in _spellings(name):
                yield alias, (type_key,), 0.5 if client else 1.0, "context" if client else None
    for family in data.FAMILIES:
        for alias in family.aliases:
            yield alias, family.members, 1.0, family.needs
    for other in data.UNSUPPORTED:
        for alias in (other.name.zh, other.name.en, *other.aliases):
            yield alias, (other.key,), 1.0, "context"


@cache
def _tables() -> _Tables:
    """Build the lookup tables once; conflicting data fails loudly here rather than matching oddly."""
    aliases: dict[str, _Alias] = {}
    domains: dict[str, set[str]] = defaultdict(set)
    for alias, types, weight, needs in _provider_aliases():
        key = _wordify(_fold(alias))
        if _DOMAIN_ONLY.fullmatch(alias.lower()):
            domains[alias.lower()].update(types)
            continue
        old = aliases.get(key)
        if old is not None and set(old.types) != set(types):
            raise ValueError(f"alias {alias!r} points at both {old.types} and {types}")
        if old is None or (old.needs is not None and needs is None):
            aliases[key] = _Alias(tuple(types), weight, needs)
    for type_key in GUIDE_TYPES:
        provider = CATALOG[type_key]
        for domain in (*provider.domains, *provider.refused_domains):
            domains[domain].add(type_key)
    for host, types in data.WEB_HOSTS.items():
        domains[host].update(types)
    for other in data.UNSUPPORTED:
        for domain in other.domains:
            domains[domain].add(other.key)
    by_first: dict[str, list[str]] = defaultdict(list)
    for key in sorted(aliases, key=len, reverse=True):
        by_first[key[0]].append(key)
    vocabulary = frozenset(key for key in aliases if len(key) >= 5 and _LATIN_WORD.fullmatch(key))
    order = {t: i for i, t in enumerate(GUIDE_TYPES + UNSUPPORTED_KEYS)}
    return _Tables(
        aliases=aliases,
        by_first_char={c: tuple(keys) for c, keys in by_first.items()},
        domains={d: tuple(sorted(ts, key=order.__getitem__)) for d, ts in domains.items()},
        signatures=tuple((re.compile(s.pattern), s.types, s.weight) for s in data.ERROR_SIGNATURES),
        vocabulary=vocabulary,
    )


@lru_cache(maxsize=4096)
def _fix_typo(word: str) -> str:
    """The provider word a Latin token is one slip away from (two for long words), if exactly one."""
    vocabulary = _tables().vocabulary
    if len(word) < 4 or word in vocabulary or word in data.COMMON_WORDS:
        return word
    hits: dict[int, list[str]] = defaultdict(list)
    for known in vocabulary:
        limit = 1 if len(known) <= 7 else 2
        if known[0] == word[0] and abs(len(known) - len(word)) <= limit:
            distance = _osa(word, known)
            if distance <= limit:
                hits[distance].append(known)
    if not hits:
        return word
    best = hits[min(hits)]
    return best[0] if len(best) == 1 else word


def _blank(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """Replace spans with spaces (same length, so later offsets stay valid)."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _lookup_domain(host: str, domains: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Types for the longest known suffix of a host: vip.qq.com → qq, service.exmail.qq.com → exmail."""
    labels = host.split(".")
    for i in range(len(labels) - 1):
        types = domains.get(".".join(labels[i:]))
        if types:
            return types
    return ()


def _find_aliases(text: str, tables: _Tables) -> list[tuple[int, int, str]]:
    """Longest non-overlapping alias mentions; Latin/digit edges must sit on word boundaries."""
    found: list[tuple[int, int, str]] = []
    for i, char in enumerate(text):
        if char in _ASCII_ALNUM and i > 0 and text[i - 1] in _ASCII_ALNUM:
            continue
        for key in tables.by_first_char.get(char, ()):
            end = i + len(key)
            if text.startswith(key, i) and not (key[-1] in _ASCII_ALNUM and end < len(text)
                                                and text[end] in _ASCII_ALNUM and not _GLUED_MAIL.match(text, end)):
                found.append((i, end, key))
                break
    chosen: list[tuple[int, int, str]] = []
    taken = bytearray(len(text))  # characters already in a chosen mention: overlap test in O(length)
    for start, end, key in sorted(found, key=lambda f: (f[0] - f[1], f[0])):
        if not any(taken[start:end]):
            taken[start:end] = b"\1" * (end - start)
            chosen.append((start, end, key))
    return sorted(chosen)


def _counts(needs: str | None, adjacent: bool, bare: bool, mail: bool, intent: bool) -> bool:
    """Whether a vague name is a real mention, given what else the text shows."""
    return needs is None or bare or adjacent or (needs == "context" and mail) or (needs == "intent" and intent)


def _narrow(top: list[str], leftover: str) -> list[str]:
    """Use "公司/个人" words outside the names to split a tie between enterprise and personal types."""
    enterprise, personal = bool(_ENTERPRISE.search(leftover)), bool(_PERSONAL.search(leftover))
    if enterprise == personal:
        return top
    narrowed = [t for t in top if (t in data.ENTERPRISE_TYPES) == enterprise]
    return narrowed or top


def _clues(folded: str, tables: _Tables, mail: bool, intent: bool) -> tuple[list[_Evidence], str, bool]:
    """Evidence from error replies, domains and names; also the words that are neither names nor
    addresses (quoted error text included: it tells the language), and whether an unknown address was seen."""
    evidence: list[_Evidence] = []
    spans: list[tuple[int, int]] = []
    quoted: list[str] = []
    for pattern, types, weight in tables.signatures:
        for m in pattern.finditer(folded):
            evidence.append(_Evidence(f"error:{m.group()}", types, weight))
            spans.append(m.span())
            quoted.append(m.group())
    unknown_address = False
    for m in _DOMAIN.finditer(_blank(folded, spans)):
        types = _lookup_domain(m.group("host"), tables.domains)
        if types:
            weight = _URL_WEIGHT if m.group("scheme") or m.group("path") else 1.0
            evidence.append(_Evidence(f"domain:{m.group('host')}", types, weight))
        unknown_address |= bool(m.group("local")) and not types
        spans.append(m.span())

    words = _wordify(_blank(folded, spans))
    mentions = _find_aliases(words, tables)
    residual = _blank(words, [(s, e) for s, e, _ in mentions])
    bare = not _FILLER.sub("", residual).strip()
    for start, end, key in mentions:
        alias = tables.aliases[key]
        adjacent = bool(_ADJACENT_MAIL.match(words, end))
        negated = bool(_NEGATION.search(words, max(0, start - 12), start))
        if not negated and _counts(alias.needs, adjacent, bare, mail, intent):
            evidence.append(_Evidence(f"alias:{key}", alias.types, alias.weight))
    return evidence, " ".join([residual, *quoted]), unknown_address


def _decide(evidence: list[_Evidence], leftover: str) -> MatchResult:
    """Highest-scoring types win; a tie is a question back, unless "公司/个人" splits it."""
    scores: dict[str, float] = defaultdict(float)
    for item in evidence:
        for type_key in item.types:
            scores[type_key] += item.weight / len(item.types)
    best = max(scores.values())
    top = [t for t in GUIDE_TYPES + UNSUPPORTED_KEYS if scores.get(t, 0.0) >= best - 1e-9]
    if len(top) > 1:
        top = _narrow(top, leftover)
    supported = tuple(t for t in top if t in GUIDE_TYPES)
    labels = tuple(e.label for e in evidence)
    if len(supported) == 1:
        return MatchResult(kind="guide", type=supported[0], candidates=supported, evidence=labels)
    if supported:
        return MatchResult(kind="ask", candidates=supported, evidence=labels)
    return MatchResult(kind="unsupported", unsupported=top[0], evidence=labels)


def _not_for_guides(folded: str, setup: bool) -> str | None:
    """Why a text with no secret/SMTP words belongs to someone else: a command, thanks, another topic."""
    if _COMMAND.match(folded.strip()):
        return "command"
    if _CLOSING.search(folded) and not setup:
        return "closing"
    if _OFF_TOPIC.search(folded):
        return "off-topic"
    return None


@lru_cache(maxsize=4096)
def match(text: str) -> MatchResult:
    """Classify a question: one type (guide), several (ask), an unsupported provider, or nothing.

    Cached (the result is frozen): a chat bot hears the same few questions over and over, and the
    matcher was most of the router's per-message work.
    """
    tables = _tables()
    folded = _LEADING_MENTION.sub("", _fold(text))
    folded = _LATIN_WORD.sub(lambda m: _fix_typo(m.group()), folded)
    intent, mail, setup = (bool(p.search(folded)) for p in (_INTENT, _MAIL, _SETUP))
    elsewhere = None if intent else _not_for_guides(folded, setup)
    if elsewhere:
        return MatchResult(kind="none", evidence=(elsewhere,))
    evidence, leftover, unknown_address = _clues(folded, tables, mail, intent)
    if evidence:
        result = _decide(evidence, leftover)
    elif intent or unknown_address or (setup and _MAILBOX.search(folded)):
        result = MatchResult(kind="ask", candidates=GUIDE_TYPES)
    else:
        result = MatchResult(kind="none")
    return result.model_copy(update={"lang": detect_lang(leftover)})
