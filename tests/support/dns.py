"""A DNS server of our own for tests: MX answers from a dict, on 127.0.0.1, UDP and TCP, in a thread.

``DnsServer({"acme.cn": [(5, "mxbiz1.qq.com"), (10, "mxbiz2.qq.com")]})`` answers MX queries for the
listed domains with ``ttl``; a listed domain with an empty list (or a query for another type) gets
NOERROR with no answer, an unlisted one NXDOMAIN, both with an SOA in the authority section (its
minimum ``negative_ttl``), as a real server gives negative answers. Answers are built with dnspython
(``dns.message.make_response``), no network beyond loopback.

Faults, settable at any time: ``delay_s`` answers that much later (timeout tests), ``rcode`` answers
every query with that code (``dns.rcode.SERVFAIL``, ``dns.rcode.REFUSED``). ``queries`` records each
``(name, type)`` asked, ``query_count`` counts them (cache tests). One thread serves both sockets;
``start``/``stop`` or ``with``/``async with``; ``address`` is the ``IP:PORT`` for MAILBOT_DNS_SERVER.
"""

from __future__ import annotations

import asyncio
import selectors
import socket
import struct
import threading
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Self

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

HOST = "127.0.0.1"
Zones = Mapping[str, Sequence[tuple[int, str]]]


class DnsServer:
    """An authoritative-looking server for any name, from ``zones``: domain → [(preference, host)]."""

    def __init__(self, zones: Zones | None = None, *, ttl: int = 300, negative_ttl: int = 60,
                 delay_s: float = 0.0, rcode: dns.rcode.Rcode | None = None) -> None:
        self.zones: dict[str, list[tuple[int, str]]] = {_key(k): list(v) for k, v in (zones or {}).items()}
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.delay_s = delay_s
        self.rcode = rcode
        self.queries: list[tuple[str, str]] = []
        self.port = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pending: list[tuple[threading.Timer, Callable[[], None]]] = []  # delayed replies, each with its drop
        self._thread: threading.Thread | None = None
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def query_count(self) -> int:
        with self._lock:
            return len(self.queries)

    def answer(self, wire: bytes) -> bytes | None:
        """The reply to one query in wire format (None for a message that is no query)."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        question = query.question[0]
        name = _key(question.name.to_text())
        with self._lock:
            self.queries.append((name, dns.rdatatype.to_text(question.rdtype)))
        if self.rcode is not None:
            response.set_rcode(self.rcode)
        elif name in self.zones and question.rdtype == dns.rdatatype.MX and self.zones[name]:
            response.answer.append(dns.rrset.from_text_list(
                question.name, self.ttl, dns.rdataclass.IN, dns.rdatatype.MX,
                [f"{pref} {host.rstrip('.')}." for pref, host in self.zones[name]]))
        else:
            if name not in self.zones:
                response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(dns.rrset.from_text(
                question.name, self.negative_ttl, dns.rdataclass.IN, dns.rdatatype.SOA,
                f"ns.test. hostmaster.test. 1 3600 600 86400 {self.negative_ttl}"))
        return response.to_wire()

    def start(self) -> None:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((HOST, 0))
        self.port = udp.getsockname()[1]
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind((HOST, self.port))  # the same port: a resolver falls back to TCP there
        except OSError:
            tcp.close()
            tcp = None  # type: ignore[assignment]  # UDP only; no test here needs TCP on a busy port
        else:
            tcp.listen()
        self._udp, self._tcp = udp, tcp
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name=f"dns-{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            pending, self._pending = self._pending, []
        for timer, drop in pending:
            timer.cancel()
            timer.join()
            drop()
        for sock in (self._udp, self._tcp):
            if sock is not None:
                sock.close()
        self._udp = self._tcp = None

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            assert self._udp is not None
            selector.register(self._udp, selectors.EVENT_READ, "udp")
            if self._tcp is not None:
                selector.register(self._tcp, selectors.EVENT_READ, "tcp")
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.05):
                    if key.data == "udp":
                        wire, peer = self._udp.recvfrom(65535)
                        self._reply(lambda out, peer=peer: self._send_udp(out, peer), wire)
                    else:
                        assert self._tcp is not None
                        conn, _ = self._tcp.accept()
                        self._serve_tcp(conn)

    def _serve_tcp(self, conn: socket.socket) -> None:
        """One length-prefixed query, one reply, then the connection closes (as many servers do)."""
        conn.settimeout(2)
        try:
            head = _recv_exactly(conn, 2)
            wire = _recv_exactly(conn, struct.unpack("!H", head)[0]) if head else None
        except OSError:
            wire = None
        if wire is None:
            conn.close()
            return

        def send(out: bytes) -> None:
            with conn:
                conn.sendall(struct.pack("!H", len(out)) + out)

        self._reply(send, wire, on_drop=conn.close)

    def _reply(self, send: Callable[[bytes], None], wire: bytes, on_drop: Callable[[], None] = lambda: None) -> None:
        out = self.answer(wire)
        if out is None:
            on_drop()
            return

        sent = threading.Event()

        def deliver() -> None:
            sent.set()
            try:
                send(out)
            except OSError:
                pass  # the client gave up or the server stopped

        def drop() -> None:
            if not sent.is_set():
                on_drop()

        if self.delay_s:
            timer = threading.Timer(self.delay_s, deliver)
            timer.daemon = True
            with self._lock:
                self._pending.append((timer, drop))
            timer.start()
        else:
            deliver()

    def _send_udp(self, out: bytes, peer: tuple[str, int]) -> None:
        if self._udp is not None:
            self._udp.sendto(out, peer)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await asyncio.to_thread(self.stop)


def _key(name: str) -> str:
    return name.rstrip(".").lower()


def _recv_exactly(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data
