"""`mailbot shell` from a pipe and `mailbot run` in local mode, as real subprocesses."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.emulator import DingTalkEmulator
from tests.chat.conftest import SECRET
from tests.support.smtpd import SmtpServer


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DINGTALK_", "MAILBOT_"))}
    return {**env, "MAILBOT_DATA_DIR": str(data_dir), "MAILBOT_HTTP_PORT": "0", "MAILBOT_SMTP_PORT": "0", **extra}


async def run_bot(args: list[str], stdin: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 30)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_shell_answers_guide_from_pipe(tmp_path: Path) -> None:
    code, out, _ = await run_bot(["shell"], "怎么获取QQ邮箱授权码\n", env_for(tmp_path / "data"))
    assert code == 0 and "smtp.qq.com" in out and "授权码" in out


async def test_shell_registers_mailbox(tmp_path: Path, smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server(security="none", users={"n@example.com": SECRET})
    lines = f"新建邮箱 名称=ops 账号=n@example.com 服务器=127.0.0.1 端口={server.port} 加密=none\n{SECRET}\n邮箱列表\n"
    code, out, err = await run_bot(["shell"], lines, env_for(tmp_path / "data"))
    assert code == 0 and "✅" in out and "1. ops" in out
    assert SECRET not in out and SECRET not in err
    code, out, _ = await run_bot(["mailbox", "list", "--json"], "", env_for(tmp_path / "data"))
    assert '"ops"' in out


async def _start_run(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)


async def started(proc: asyncio.subprocess.Process) -> bytes:
    """What `mailbot run` printed on stderr up to its last start-up line ("Local mode")."""
    assert proc.stderr is not None
    seen = b""
    while b"Local mode" not in seen:  # after the HTTP API and console addresses
        line = await asyncio.wait_for(proc.stderr.readline(), 30)
        assert line, seen
        seen += line
    return seen


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_run_local_mode_until_signal(tmp_path: Path, sig: signal.Signals) -> None:
    proc = await _start_run(env_for(tmp_path / "data", LANG="en_US.UTF-8"))
    seen = await started(proc)
    assert b"Web console: http://127.0.0.1:" in seen
    proc.send_signal(sig)
    assert await asyncio.wait_for(proc.wait(), 30) == 0


async def test_run_connects_stream_mode(tmp_path: Path) -> None:
    async with DingTalkEmulator() as emu:
        proc = await _start_run(env_for(tmp_path / "data", DINGTALK_CLIENT_ID=emu.client_id,
                                        DINGTALK_CLIENT_SECRET=emu.client_secret, DINGTALK_OPENAPI_ENDPOINT=emu.endpoint))
        try:
            await emu.wait_connected(1, timeout=30)
            push = await emu.send_chat("help")
            await emu.wait_ack(push.message_id, timeout=30)
            for _ in range(300):
                if emu.webhook_messages():
                    break
                await asyncio.sleep(0.02)  # another process: poll the emulator's record briefly
            assert "new mailbox" in emu.webhook_messages()[0].body["text"]["content"]
        finally:
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 30) == 0
