"""One `mailbot run` per data dir: an exclusive flock on `<data_dir>/run.lock`.

The embedded store keeps mail claims in memory, so two `mailbot run` on one data dir would both send
the same mail. The second one is refused instead, naming the data dir and the holder's pid. The OS
drops the lock when the holder's process ends however it ends (kill -9, a crash), so there is never
a stale lock to clean up; the file itself stays (it holds only the last holder's pid).

Commands that only read or queue (`mailbot send`, `mailbot mailbox ...`, `mailbot shell`, which runs
no delivery worker) do not take the lock and keep working while the bot runs.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.errors import MailbotError
from bot.i18n import Text
from bot.storage.private import make_private_dir

LOCK_FILE = "run.lock"


class DataDirInUse(MailbotError):
    """Another process holds the data dir: a setting to change, not a crash (exit 2)."""

    code = "data_dir_in_use"
    exit_code = 2

    def __init__(self, data_dir: Path, pid: int | None) -> None:
        where = str(data_dir.resolve())
        who_zh = f"另一个 mailbot run（pid {pid}）" if pid else "另一个 mailbot run"
        who_en = f"Another `mailbot run` (pid {pid})" if pid else "Another `mailbot run`"
        super().__init__(
            Text(zh=f"{who_zh}正在使用数据目录 {where}：同一目录上的两个实例会把同一封邮件发送两次，所以本实例不启动。",
                 en=f"{who_en} is already using the data dir {where}; two on one data dir would send the same "
                    "mail twice, so this one does not start."),
            Text(zh="先停止那个实例，或给第二个实例设置自己的数据目录（MAILBOT_DATA_DIR=另一个目录，它有自己的邮箱、"
                    "令牌和发件队列）；要运行多个共享这些数据的实例，请把数据放到 PostgreSQL（MAILBOT_DATABASE_URL，"
                    "见 README）。运行期间 `mailbot send`、`mailbot mailbox ...` 等命令照常可用。",
                 en="Stop that one first, or give a second instance its own data dir (MAILBOT_DATA_DIR=another "
                    "directory, with its own mailboxes, tokens and outbox); to run several instances that share them, "
                    "put the data in PostgreSQL (MAILBOT_DATABASE_URL, see the README). Commands such as "
                    "`mailbot send` and `mailbot mailbox ...` work while it runs."))
        self.data_dir, self.pid = data_dir, pid


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


@contextmanager
def run_lock(data_dir: Path) -> Iterator[None]:
    """Hold the data dir for this process until the block ends; DataDirInUse when another holds it."""
    data_dir = Path(data_dir)
    make_private_dir(data_dir)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataDirInUse(data_dir, _read_pid(fd)) from None
        os.fchmod(fd, 0o600)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # still held: nobody reads a pid that has gone
    finally:
        os.close(fd)  # releases the lock
