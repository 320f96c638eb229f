"""A real PostgreSQL server for tests, from Debian's binaries (/usr/lib/postgresql/*/bin).

`PostgresServer` runs initdb and the server in a temp dir (port on 127.0.0.1 picked free, unix socket
in the temp dir, trust auth); as root, the server's commands run as the `postgres` user (initdb
refuses root) and the temp dir is theirs. A watchdog process holds a pipe from this process: when
the pipe closes, however this process ended (even killed with SIGKILL), it stops the server with
`pg_ctl stop -m immediate` and removes the temp dir. `stop()`/`start()` make outages.

Fixtures (import them into a conftest): `postgres_server` (session-scoped, started only when a test
asks for it) and `postgres_url` (a fresh database per test).
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

MISSING = ("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found under /usr/lib/postgresql/*/bin: "
           "install Debian's `postgresql` package (`apt-get install postgresql`; .ci/run does it)")

# Waits for EOF on stdin (the test process ended, however), then stops the server and removes its dir.
WATCHDOG = """
import shutil, subprocess, sys
sys.stdin.buffer.read()
root, stop = sys.argv[1], sys.argv[2:]
subprocess.run(stop, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
shutil.rmtree(root, ignore_errors=True)
"""


def find_bin() -> Path:
    """The newest installed server's bin dir, or a clear failure."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if not found:
        raise RuntimeError(MISSING)
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    def __init__(self) -> None:
        self.bin = find_bin()
        self.as_root = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="mailbot-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sock"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.running = False
        self._names = itertools.count(1)
        self.sockets.mkdir()
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.sockets, "postgres", "postgres")
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", WATCHDOG, str(self.root), *self._as_server(self._pg_ctl("stop", "-m", "immediate"))],
            stdin=subprocess.PIPE, start_new_session=True)  # its own session: a ^C to pytest's group spares it
        try:
            self._run(self._as_server([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                                       "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"]))
            with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
                conf.write(f"""
listen_addresses = '127.0.0.1'
port = {self.port}
unix_socket_directories = '{self.sockets}'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
""")
        except BaseException:
            self.close()
            raise

    def _as_server(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if self.as_root else cmd

    def _pg_ctl(self, *args: str) -> list[str]:
        return [str(self.bin / "pg_ctl"), "-D", str(self.data), *args]

    @staticmethod
    def _run(cmd: list[str], timeout: float = 60) -> str:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self) -> None:
        """Start (or restart after `stop`) the server on the same port; returns once it accepts connections."""
        try:
            self._run(self._as_server(self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log))))
        except RuntimeError as exc:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{exc}\nserver log:\n{log}") from None
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: sessions are cut off; `immediate`: no shutdown checkpoint)."""
        self._run(self._as_server(self._pg_ctl("stop", "-w", "-t", "60", "-m", mode)))
        self.running = False

    def ensure_running(self) -> None:
        if not self.running:
            self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> str:
        return self._run([str(self.bin / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                          "-h", str(self.sockets), "-p", str(self.port), "-U", "postgres", "-d", database,
                          "-c", statement])

    def create_database(self) -> str:
        """A fresh, empty database; its URL."""
        self.ensure_running()
        name = f"test_{os.getpid()}_{next(self._names)}"
        self.sql(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
        return self.url(name)

    def close(self) -> None:
        """Stop the server and remove its dir (the watchdog does both once its pipe closes)."""
        watchdog, self._watchdog = getattr(self, "_watchdog", None), None
        if watchdog is None:
            return
        if self.running:
            try:
                self.stop("immediate")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass  # the watchdog tries again
        assert watchdog.stdin is not None
        watchdog.stdin.close()
        try:
            watchdog.wait(timeout=60)
        except subprocess.TimeoutExpired:
            watchdog.kill()


def running_server() -> Iterator[PostgresServer]:
    """A started server, closed when the generator ends (fixtures yield from it); a missing
    PostgreSQL fails the test with the reason, never skips it."""
    try:
        server = PostgresServer()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real server for the session, started by the first test that asks for it."""
    yield from running_server()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A URL of a fresh database (postgresql://postgres@127.0.0.1:PORT/test_…) on a running server."""
    return postgres_server.create_database()
