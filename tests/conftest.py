"""Shared fixtures: the test CA and the real SMTP test servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.smtpd import SilentServer, SmtpServer
from tests.support.tls import LocalCA


@pytest.fixture(autouse=True, scope="session")
def _no_smtp_door() -> Iterator[None]:
    """`mailbot run` listens for SMTP submission on 8587 by default: tests (and CLI subprocesses that inherit
    the environment) leave it off unless they ask for it, so runs side by side never fight for the port."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MAILBOT_SMTP_PORT", "0")
        yield


@pytest.fixture(scope="session")
def tls_ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCA]:
    """A session CA that every ``ssl.create_default_context()`` trusts.

    SSL_CERT_FILE is read by OpenSSL at context creation, so clients in this
    process and in CLI subprocesses verify test servers for real.
    """
    ca = LocalCA(tmp_path_factory.mktemp("tls"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SSL_CERT_FILE", str(ca.ca_path))
        yield ca


@pytest.fixture
def smtp_server(request: pytest.FixtureRequest) -> Iterator[Callable[..., SmtpServer]]:
    """``make(**opts)`` starts an ``SmtpServer``; all are stopped at teardown.

    TLS modes get a certificate from ``tls_ca``, requested only then so plain
    SMTP tests leave SSL_CERT_FILE alone.
    """
    servers: list[SmtpServer] = []

    def make(**opts: Any) -> SmtpServer:
        if opts.get("security", "none") != "none" and "ssl_context" not in opts:
            opts["ssl_context"] = request.getfixturevalue("tls_ca").server_context()
        server = SmtpServer(**opts)
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    """A server that accepts TCP and never greets, for timeout tests."""
    with SilentServer() as server:
        yield server


_LOCAL_NAMES = {"localhost", "127.0.0.1", "::1", None, ""}


@pytest.fixture(autouse=True, scope="session")
def _no_internet() -> Iterator[None]:
    """Any test that tries to resolve or reach a non-loopback host fails at once, loudly."""
    import ipaddress
    import socket

    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def is_local(host: object) -> bool:
        if host in _LOCAL_NAMES or (isinstance(host, str) and host.endswith(".localhost")):
            return True
        try:
            return ipaddress.ip_address(str(host)).is_loopback
        except ValueError:
            return False

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_local(host.decode() if isinstance(host, bytes) else host):
            raise OSError(f"test tried to resolve {host!r}: tests stay on loopback")
        return real_getaddrinfo(host, *args, **kwargs)

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not is_local(address[0]):
            raise OSError(f"test tried to reach {address!r}: tests stay on loopback")
        return real_connect(self, address)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
        patch.setattr(socket.socket, "connect", guarded_connect)
        yield


# The real PostgreSQL server (session-scoped, started only by a test that asks for it) and a fresh
# database per test: for the storage tests and the multi-instance end-to-end tests alike.
from tests.storage.postgres_server import postgres_server, postgres_url  # noqa: E402, F401
