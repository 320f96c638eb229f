"""Propose a mailbox type from the address's domain: the catalog's public domains, else the domain's MX.

A service for every front end (CLI, chat wizard, card form, console): `await detector.detect(account)` gives
a Detection to propose (the admin may override it) or None, meaning "ask". DNS trouble never reaches the
caller: NXDOMAIN, no MX, SERVFAIL/REFUSED or no answer within the time limit are all None (logged at debug),
so a dialog is never blocked for long. Answers are cached per domain for their TTL, negative ones briefly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver
from pydantic import BaseModel, ConfigDict

from bot.config import Settings, dns_server_address
from bot.i18n import Text
from bot.providers import CATALOG, Security, detect_type, get_provider
from bot.providers.mx import match_mx, normal_host

log = logging.getLogger(__name__)

TIMEOUT_S = 2.0  # the whole lookup, retries and TCP fallback included: past it the dialog asks instead
CACHE_DOMAINS = 1024
NEGATIVE_TTL_S = 60.0  # NXDOMAIN / no MX: long enough for a dialog's retries, short enough to see a new MX soon
MAX_TTL_S = 86400.0


class Detection(BaseModel):
    """A proposed type with the catalog's server settings and why (`mx`: the MX hosts by preference; empty
    for a public domain, which is known without DNS)."""

    model_config = ConfigDict(frozen=True)
    type: str
    host: str
    port: int
    security: Security
    reason: Text
    mx: tuple[str, ...] = ()

    def to_json(self, lang: str) -> dict[str, object]:
        """The `mailbot detect --json` document: reason in one language."""
        return {"type": self.type, "host": self.host, "port": self.port, "security": self.security,
                "reason": self.reason(lang), "mx": list(self.mx)}


def address_domain(address: str) -> str:
    """The domain of an address (or a bare domain) as looked up: lower case, no trailing dot."""
    return address.rsplit("@", 1)[-1].strip().rstrip(".").lower()


def _detection(type_key: str, reason: Text, mx: tuple[str, ...]) -> Detection | None:
    provider = get_provider(type_key)
    if provider.host is None or provider.port is None or provider.security is None:
        return None
    return Detection(type=type_key, host=provider.host, port=provider.port, security=provider.security,
                     reason=reason, mx=mx)


class Detector:
    """MX lookups with a bounded TTL cache; one per process (its cache is the point), safe on one event loop.

    `dns_server` ("IP[:PORT]", MAILBOT_DNS_SERVER) sends the queries there; None uses the system's resolver
    configuration, read at the first lookup (a machine without one then detects nothing, it does not fail).
    """

    def __init__(self, dns_server: str | None = None, *, timeout_s: float = TIMEOUT_S,
                 cache_domains: int = CACHE_DOMAINS, negative_ttl_s: float = NEGATIVE_TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._server = dns_server_address(dns_server) if dns_server else None
        self._timeout_s = timeout_s
        self._cache_domains = cache_domains
        self._negative_ttl_s = negative_ttl_s
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, tuple[str, ...]]] = OrderedDict()
        self._resolver: dns.asyncresolver.Resolver | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Detector:
        return cls(settings.dns_server)

    async def detect(self, address: str) -> Detection | None:
        """The proposed type for an address, or None: ask the admin (unknown provider, refused or DNS trouble)."""
        domain = address_domain(address)
        if not domain:
            return None
        known = detect_type(domain)
        if known is not None:
            provider = CATALOG[known]
            return _detection(known, Text(
                zh=f"{domain} 是{provider.name_zh}的域名（已知域名，无需查询 DNS）",
                en=f"{domain} is a {provider.name_en} domain (a known domain, no DNS lookup)"), ())
        if any(domain in p.refused_domains for p in CATALOG.values()):
            return None  # the mailbox model refuses it with its reason; nothing to look up
        hosts = await self.mx(domain)
        if not hosts:
            return None
        matched = match_mx(hosts[0])  # the lowest preference decides
        if matched is None:
            log.debug("detect %s: MX %s is no provider in the table", domain, hosts[0])
            return None
        provider = CATALOG[matched[0]]
        return _detection(matched[0], Text(
            zh=f"{domain} 的邮件由 {hosts[0]} 接收：{provider.name_zh}",
            en=f"{domain} receives mail at {hosts[0]}: {provider.name_en}"), hosts)

    async def mx(self, domain: str) -> tuple[str, ...]:
        """The domain's MX hosts, lowest preference first (ties by name); empty when there are none or DNS
        failed. Cached: answers for their TTL, NXDOMAIN / no MX for `negative_ttl_s`, failures not at all."""
        now = self._clock()
        cached = self._cache.get(domain)
        if cached is not None and cached[0] > now:
            self._cache.move_to_end(domain)
            return cached[1]
        try:
            async with asyncio.timeout(self._timeout_s):
                answer = await self._resolver_for().resolve(dns.name.from_text(domain), dns.rdatatype.MX,
                                                            search=False, lifetime=self._timeout_s)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer) as exc:
            log.debug("detect %s: %s", domain, exc)
            self._store(domain, now + self._negative_ttl_s, ())
            return ()
        except (dns.exception.DNSException, OSError, TimeoutError) as exc:
            log.debug("detect %s: no MX answer (%s: %s)", domain, type(exc).__name__, exc)
            return ()
        records = sorted((r.preference, normal_host(r.exchange.to_text())) for r in answer)
        hosts = tuple(host for _, host in records if host)  # "0 ." is a null MX (RFC 7505): no mail at all
        ttl = min(float(answer.rrset.ttl), MAX_TTL_S) if answer.rrset is not None else 0.0
        self._store(domain, now + ttl, hosts)
        return hosts

    def _store(self, domain: str, expires: float, hosts: tuple[str, ...]) -> None:
        self._cache[domain] = (expires, hosts)
        self._cache.move_to_end(domain)
        while len(self._cache) > self._cache_domains:
            self._cache.popitem(last=False)

    def _resolver_for(self) -> dns.asyncresolver.Resolver:
        if self._resolver is None:
            if self._server is None:
                resolver = dns.asyncresolver.Resolver()  # /etc/resolv.conf; NoResolverConfiguration is a DNSException
            else:
                resolver = dns.asyncresolver.Resolver(configure=False)
                resolver.nameservers = [self._server[0]]
                resolver.port = self._server[1]
            self._resolver = resolver
        return self._resolver
