"""Detection fixtures: our own DNS server on loopback, and a detector pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.dns import DnsServer


@pytest.fixture
def dns_server() -> Iterator[Callable[..., DnsServer]]:
    """``make(zones, **opts)`` starts a ``DnsServer``; all are stopped at teardown."""
    servers: list[DnsServer] = []

    def make(zones: dict[str, list[tuple[int, str]]] | None = None, **opts: Any) -> DnsServer:
        server = DnsServer(zones, **opts)
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
