"""A throw-away certificate authority for the SMTP test servers.

Clients under test (aiosmtplib, also inside CLI subprocesses) verify
certificates with ``ssl.create_default_context()``, which loads the file
named by ``SSL_CERT_FILE``; pointing that variable at this CA lets the
real verification path run against local servers.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme

SERVER_NAMES = ("127.0.0.1", "localhost")


class LocalCA:
    """A trustme CA written to ``ca_path``, with one leaf for the local names."""

    def __init__(self, directory: Path) -> None:
        self._ca = trustme.CA()
        self._leaf = self._ca.issue_cert(*SERVER_NAMES)
        self.ca_path = directory / "test-ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_path))

    def server_context(self) -> ssl.SSLContext:
        """A fresh server context presenting a certificate for 127.0.0.1/localhost."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._leaf.configure_cert(context)
        return context
