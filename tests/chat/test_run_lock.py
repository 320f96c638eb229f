"""One `mailbot run` per data dir, as real subprocesses: a second one is refused with the dir, the
holder's pid and the way out; CLI commands keep working meanwhile; kill -9 leaves no stale lock."""

from __future__ import annotations

import asyncio
import signal
import stat
from pathlib import Path

from tests.chat.test_shell_run import _start_run, env_for, run_bot, started


async def stopped(proc: asyncio.subprocess.Process) -> int:
    proc.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(proc.wait(), 30)


async def test_a_second_run_on_one_data_dir_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = env_for(data, LANG="C.UTF-8")
    first = await _start_run(env)
    try:
        await started(first)
        lock = data / "run.lock"
        assert stat.S_IMODE(lock.stat().st_mode) == 0o600 and lock.read_text().strip() == str(first.pid)

        code, out, err = await run_bot(["run"], "", env)
        assert code == 2, err
        assert str(data.resolve()) in err and f"pid {first.pid}" in err and "MAILBOT_DATA_DIR" in err
        assert "Traceback" not in err and "HTTP API" not in err  # refused before it serves anything

        # commands that do not deliver mail share the data dir with the running bot
        code, _, err = await run_bot(["mailbox", "add", "--name", "ops", "--account", "n@example.com", "--type", "custom",
                                      "--host", "127.0.0.1", "--port", "2525", "--security", "none", "--password-stdin",
                                      "--no-verify"], "pw\n", env)
        assert code == 0, err
        code, out, err = await run_bot(["send", "--to", "a@example.com", "--subject", "s", "--text", "t"], "", env)
        assert code == 0 and "queued" in out, err
        code, out, _ = await run_bot(["shell"], "help\n", env)
        assert code == 0 and "new mailbox" in out

        other = await _start_run(env_for(tmp_path / "other", LANG="C.UTF-8"))  # the way to run a second one
        await started(other)
        assert await stopped(other) == 0
    finally:
        first.kill()  # SIGKILL: the OS drops the lock with the process
        await first.wait()

    again = await _start_run(env)
    try:
        await started(again)
        code, _, err = await run_bot(["run"], "", env_for(data, LANG="zh_CN.UTF-8"))
        assert code == 2 and f"pid {again.pid}" in err and "数据目录" in err
    finally:
        assert await stopped(again) == 0
