"""The SMTP door in a real `mailbot run`: it starts and stops with the HTTP API, a taken port is exit 2 naming
the address and MAILBOT_SMTP_PORT, and off loopback it wants TLS (no start without cert and key; AUTH only
after STARTTLS)."""

from __future__ import annotations

import asyncio
import json
import re
import smtplib
import socket
import ssl
import sys
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from tests.chat.test_shell_run import env_for
from tests.relay.conftest import PASSWORD, USER
from tests.relay.test_run_stop import mailbot, stop_run
from tests.relay.test_smtp_door import free_port
from tests.support.smtpd import SmtpServer
from tests.support.tls import LocalCA


async def run_until_exit(env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, env=env)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode or 0, err.decode()


async def start_with_door(env: dict[str, str]) -> tuple[asyncio.subprocess.Process, int]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, env=env)
    assert proc.stderr is not None
    seen = b""
    while (found := re.search(rb"SMTP submission: \S+:(\d+) ", seen)) is None:
        line = await asyncio.wait_for(proc.stderr.readline(), 30)
        assert line, seen
        seen += line
    return proc, int(found.group(1))


async def test_port_in_use_is_exit_2_naming_address_and_variable(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = await run_until_exit(env_for(tmp_path / "data", LANG="C.UTF-8", MAILBOT_SMTP_PORT=str(port)))
    assert code == 2, err
    assert f"127.0.0.1:{port}" in err and "MAILBOT_SMTP_PORT" in err and "Traceback" not in err


async def test_off_loopback_without_tls_does_not_start(tmp_path: Path) -> None:
    env = env_for(tmp_path / "data", LANG="C.UTF-8", MAILBOT_SMTP_HOST="0.0.0.0", MAILBOT_SMTP_PORT=str(free_port()))
    code, err = await run_until_exit(env)
    assert code == 2, err
    assert "MAILBOT_SMTP_TLS_CERT" in err and "MAILBOT_SMTP_TLS_KEY" in err and "MAILBOT_SMTP_PORT=0" in err


def _refused_before_starttls(port: int) -> tuple[str, int, int]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        _, features = client.ehlo("tool")
        auth, _ = client.docmd("AUTH", "PLAIN AHRvb2wAeA==")
        mail, _ = client.mail("ci@example.org")
        return features.decode(), auth, mail


def _send_over_starttls(port: int, token: str, cafile: str) -> tuple[int, bytes]:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Grafana <grafana@ops.example.org>", "alice@example.com", "alert firing"
    msg.set_content("CPU high\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.starttls(context=ssl.create_default_context(cafile=cafile))
        client.login("grafana", token)
        client.send_message(msg)
        return client.noop()


async def test_off_loopback_auth_only_after_starttls(tmp_path: Path, smtp_server: Any, tls_ca: LocalCA) -> None:
    server: SmtpServer = smtp_server(users={USER: PASSWORD})
    cert, key = tmp_path / "door.pem", tmp_path / "door.key"
    tls_ca._leaf.cert_chain_pems[0].write_to_path(str(cert))  # the CA's leaf for 127.0.0.1/localhost
    tls_ca._leaf.private_key_pem.write_to_path(str(key))
    env = env_for(tmp_path / "data", LANG="C.UTF-8", MAILBOT_SMTP_HOST="0.0.0.0", MAILBOT_SMTP_PORT=str(free_port()),
                  MAILBOT_SMTP_TLS_CERT=str(cert), MAILBOT_SMTP_TLS_KEY=str(key), MAILBOT_RETRY_BASE_S="0.05")
    await mailbot(env, "mailbox", "add", "--name", "ops", "--account", USER, "--type", "custom", "--host",
                  "127.0.0.1", "--port", str(server.port), "--security", "none", "--password-stdin", "--no-verify",
                  stdin=PASSWORD + "\n")
    token = json.loads(await mailbot(env, "token", "create", "grafana", "--json"))["token"]
    proc, port = await start_with_door(env)
    try:
        features, auth, mail = await asyncio.to_thread(_refused_before_starttls, port)
        assert "STARTTLS" in features and "AUTH" not in features
        assert auth == 530 and mail == 530  # STARTTLS first: no token ever crosses the network in the clear
        assert (await asyncio.to_thread(_send_over_starttls, port, token, str(tls_ca.ca_path)))[0] == 250
        got = (await server.wait_for_messages_async(1, timeout=15))[0]
        assert got.message["From"] == f"Grafana <{USER}>" and " with ESMTPSA; " in got.message["Received"]
    finally:
        await stop_run(proc)
