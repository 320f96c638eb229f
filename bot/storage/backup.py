"""A consistent copy of the embedded store while the bot runs (`mailbot store backup PATH`).

Each `<data_dir>/*.sqlite` file is copied with sqlite's online backup API, which reads one snapshot
of the file (committed transactions only, the WAL included) while other connections keep writing;
the copy is switched to a rollback journal, so it is one self-contained file, and checked with
`PRAGMA quick_check`. `secret.key` is copied too when it is there (without it the copy's passwords
cannot be read). PATH is created owner-only (0700) and every file in it is 0600, as in the data dir.
The work runs in a worker thread, so a caller's event loop is never blocked.

A group's tables share one file, so they are copied as of one moment (the outbox's mail, content,
queue entry and idempotency key always agree); different files are copied one after the other.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from bot.errors import MailbotError
from bot.i18n import Text
from bot.storage.private import warn_if_exposed

KEY_FILE = "secret.key"  # bot.secrets.KEY_FILE (a layer above storage)
BUSY_TIMEOUT_S = 10.0  # a backup waits this long for a file another process is recovering or checkpointing


class BackupRefused(MailbotError):
    """Nothing to back up, or a destination that is not new or empty: a setting to change (exit 2)."""

    code = "backup_refused"
    exit_code = 2


class BackupFailed(MailbotError):
    """Reading a store file or writing the copy failed; nothing of the backup is left behind."""

    code = "backup_failed"

    def __init__(self, path: Path, exc: OSError | sqlite3.Error) -> None:
        reason = (getattr(exc, "sqlite_errorname", None) or type(exc).__name__) if isinstance(exc, sqlite3.Error) \
            else (exc.strerror or type(exc).__name__)
        super().__init__(
            Text(zh=f"备份失败：{path}：{reason}。已写入的部分已删除。",
                 en=f"The backup failed: {path}: {reason}. What it had written was removed."),
            Text(zh="检查目标目录所在磁盘的空间和权限，以及数据目录的文件是否可读，然后重试。",
                 en="Check the space and permissions where the backup goes and that the data dir's files are "
                    "readable, then try again."))


@dataclass(frozen=True)
class Written:
    """One file of a backup: its path, size in bytes and, for a store file, the tables it holds."""

    path: Path
    size: int
    tables: tuple[str, ...] = ()


def _create_private(path: Path) -> int:
    """A new file, owner-only from its first byte (fails if it exists)."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)


def _copy_store_file(source: Path, dest: Path) -> Written | None:
    """sqlite's online backup of one file into `dest`; None when the file is gone meanwhile."""
    try:
        src = sqlite3.connect(f"file:{source}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_S)
    except sqlite3.OperationalError:
        if not source.exists():
            return None
        raise
    try:
        os.close(_create_private(dest))
        dst = sqlite3.connect(str(dest), timeout=BUSY_TIMEOUT_S)
        try:
            src.backup(dst)  # all pages in one step: one snapshot, never restarted by a writer
            dst.execute("PRAGMA journal_mode=DELETE")
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"quick_check of the copy: {check}")
            tables = tuple(row[0] for row in dst.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"))
        finally:
            dst.close()
    finally:
        src.close()
    os.chmod(dest, 0o600)
    return Written(dest, dest.stat().st_size, tables)


def _copy_key(source: Path, dest: Path) -> Written:
    data = source.read_bytes()
    fd = _create_private(dest)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return Written(dest, len(data))


def _refuse_target(dest: Path) -> None:
    if dest.exists() and not dest.is_dir():
        raise BackupRefused(Text(zh=f"{dest} 已存在且不是目录。", en=f"{dest} exists and is not a directory."),
                            Text(zh="指定一个新目录或空目录。", en="Give a new or empty directory."))
    if dest.is_dir() and any(dest.iterdir()):
        raise BackupRefused(
            Text(zh=f"{dest} 不是空目录：备份不会覆盖或混入已有文件。",
                 en=f"{dest} is not empty: a backup never overwrites or mixes with files already there."),
            Text(zh="指定一个新目录（会以 0700 权限创建）或空目录。",
                 en="Give a new directory (created with mode 0700) or an empty one."))


def backup_sync(data_dir: Path, dest: Path) -> list[Written]:
    """Blocking: copy the store in `data_dir` into the new or empty directory `dest`."""
    data_dir, dest = Path(data_dir), Path(dest)
    stores = sorted(data_dir.glob("*.sqlite")) if data_dir.is_dir() else []
    key = data_dir / KEY_FILE
    if not stores and not key.exists():
        raise BackupRefused(
            Text(zh=f"{data_dir.resolve()} 中没有可备份的数据。", en=f"There is nothing to back up in {data_dir.resolve()}."),
            Text(zh="检查 MAILBOT_DATA_DIR 是否指向机器人的数据目录。",
                 en="Check that MAILBOT_DATA_DIR points at the bot's data dir."))
    _refuse_target(dest)
    made = not dest.exists()
    if made:
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.mkdir(mode=0o700)
        os.chmod(dest, 0o700)
    else:
        warn_if_exposed(dest)
    written: list[Written] = []
    current = data_dir
    try:
        try:
            for store in stores:
                current = store
                done = _copy_store_file(store, dest / store.name)
                if done is not None:
                    written.append(done)
            if key.exists():
                current = key
                written.append(_copy_key(key, dest / KEY_FILE))
        except (OSError, sqlite3.Error) as exc:
            raise BackupFailed(current, exc) from exc
    except BaseException:
        # Nothing half-written is left: the directory was new or empty.
        if made:
            shutil.rmtree(dest, ignore_errors=True)
        else:
            for path in dest.iterdir():
                path.unlink(missing_ok=True)
        raise
    return written


async def backup(data_dir: Path, dest: Path) -> list[Written]:
    """`backup_sync` in a worker thread."""
    return await asyncio.to_thread(backup_sync, data_dir, dest)
