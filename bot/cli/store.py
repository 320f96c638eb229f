"""`mailbot store migrate|backup`: move the embedded store into PostgreSQL; copy it while the bot runs.

migrate holds the data dir's run lock while it copies (bot.storage.lock), so it refuses while a
`mailbot run` serves the store and no run starts meanwhile; the copy itself is bot.storage.migrate
(upserts, so running it again is safe). backup is bot.storage.backup (sqlite's online backup API),
which needs no lock. Neither prints a secret: counts, file names and the database URL without its
password; the key is named by where it is, never shown.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import SecretStr

from bot.cli.common import cli_lang, print_json, table
from bot.config import load_settings
from bot.errors import MailbotError, StorageFailed
from bot.i18n import Text
from bot.secrets import SecretBox
from bot.storage.backup import BackupRefused, backup
from bot.storage.lock import DataDirInUse, run_lock
from bot.storage.migrate import Counted, copy_tables
from bot.storage.sqlite import SqliteStorage

# The check of the key that sealed the secrets (bot.secrets): a target holding another key's must
# not receive these.
KEY_CHECK = ("meta", "key_check")
URL_SCHEMES = ("postgresql://", "postgres://", "postgresql+asyncpg://", "postgres+asyncpg://")


class MigrateRefused(MailbotError):
    code = "migrate_refused"
    exit_code = 2


class MigrateIncomplete(MailbotError):
    code = "migrate_incomplete"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("store", help="move the embedded store into PostgreSQL, or back it up")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    migrate = actions.add_parser("migrate", help="copy everything in MAILBOT_DATA_DIR into PostgreSQL, then verify")
    migrate.add_argument("--to", metavar="URL",
                         help="postgresql://user:pass@host:port/db (default: MAILBOT_DATABASE_URL, which keeps the "
                              "password out of the process list)")
    migrate.add_argument("--json", action="store_true")
    migrate.add_argument("--lang", choices=("zh", "en"))
    migrate.set_defaults(func=_migrate)
    back = actions.add_parser("backup", help="a consistent copy of the embedded store, also while the bot runs")
    back.add_argument("path", metavar="PATH", type=Path, help="a new or empty directory")
    back.add_argument("--json", action="store_true")
    back.add_argument("--lang", choices=("zh", "en"))
    back.set_defaults(func=_backup)


# ---- migrate ------------------------------------------------------------------------------------

def _target_url(args: argparse.Namespace, database_url: str | None) -> str:
    url = args.to or database_url
    if not url:
        raise MigrateRefused(
            Text(zh="没有指定目标数据库。", en="No target database given."),
            Text(zh="用 --to postgresql://用户:密码@主机:端口/库名 指定，或设置 MAILBOT_DATABASE_URL。",
                 en="Give it with --to postgresql://user:pass@host:port/db, or set MAILBOT_DATABASE_URL."))
    if not url.startswith(URL_SCHEMES):
        raise MigrateRefused(
            Text(zh="目标不是 PostgreSQL 地址（应以 postgresql:// 开头）。",
                 en="The target is not a PostgreSQL URL (it starts with postgresql://)."),
            Text(zh="例如：--to postgresql://mailbot:密码@db.internal:5432/mailbot",
                 en="e.g. --to postgresql://mailbot:PASSWORD@db.internal:5432/mailbot"))
    return url


def _store_in_use(data_dir: Path, pid: int | None) -> MigrateRefused:
    who_zh = f"mailbot run（pid {pid}）" if pid else "一个 mailbot run"
    who_en = f"`mailbot run` (pid {pid})" if pid else "A `mailbot run`"
    return MigrateRefused(
        Text(zh=f"{who_zh}正在使用数据目录 {data_dir.resolve()}：它运行时迁移会漏掉它之后写入的内容，所以没有复制任何东西。",
             en=f"{who_en} is using the data dir {data_dir.resolve()}: migrating while it runs would miss what it "
                "writes afterwards, so nothing was copied."),
        Text(zh="先停止机器人（它在迁移期间不能运行），再运行 `mailbot store migrate`；之后在每个实例上设置 "
                "MAILBOT_DATABASE_URL 和 MAILBOT_SECRET_KEY 再启动。",
             en="Stop the bot first (it cannot run during the migration), then run `mailbot store migrate`; afterwards "
                "start every instance with MAILBOT_DATABASE_URL and MAILBOT_SECRET_KEY set."))


def _key_note(box: SecretBox) -> Text:
    if box.key_file is not None:
        path = box.key_file.resolve()
        return Text(
            zh=f"密码是用 {path} 中的密钥加密的：PostgreSQL 上的每个实例都要把 MAILBOT_SECRET_KEY 设为这个文件的内容"
               f"（例如 MAILBOT_SECRET_KEY=\"$(cat {path})\"），否则无法读取邮箱密码。请妥善保管该文件；这里不显示密钥。",
            en=f"The passwords are sealed with the key in {path}: every instance on PostgreSQL needs MAILBOT_SECRET_KEY "
               f"set to that file's content (e.g. MAILBOT_SECRET_KEY=\"$(cat {path})\"), or it cannot read the mailbox "
               "passwords. Keep that file safe; the key is not shown here.")
    return Text(
        zh="密码是用本次运行时 MAILBOT_SECRET_KEY 中的密钥加密的：PostgreSQL 上的每个实例都要设置同一个 MAILBOT_SECRET_KEY。",
        en="The passwords are sealed with the key in this command's MAILBOT_SECRET_KEY: every instance on PostgreSQL "
           "needs the same MAILBOT_SECRET_KEY.")


async def _migrate(args: argparse.Namespace) -> int:
    lang = args.lang or cli_lang()
    settings = load_settings()
    url = _target_url(args, settings.database_url.get_secret_value() if settings.database_url else None)
    data_dir = settings.data_dir
    if not data_dir.is_dir() or not any(data_dir.glob("*.sqlite")):
        raise MigrateRefused(
            Text(zh=f"{data_dir.resolve()} 中没有嵌入式存储，没有可迁移的内容。",
                 en=f"There is no embedded store in {data_dir.resolve()}: nothing to migrate."),
            Text(zh="把 MAILBOT_DATA_DIR 设为机器人的数据目录后再运行。",
                 en="Set MAILBOT_DATA_DIR to the bot's data dir and run it again."))
    try:
        with run_lock(data_dir):  # no `mailbot run` serves the store, and none starts until the copy is done
            counts, box, where = await _copy(data_dir, settings.secret_key, url)
    except DataDirInUse as exc:  # raised by run_lock only, before anything is read
        raise _store_in_use(data_dir, exc.pid) from None
    _report(counts, box, where, data_dir, json_out=args.json, lang=lang)
    bad = [c for c in counts if not c.ok]
    if bad:
        names = ", ".join(f"{c.name} ({c.source} → {c.target})" for c in bad)
        raise MigrateIncomplete(
            Text(zh=f"迁移未完成：这些表的数量不一致：{names}。", en=f"The migration is incomplete: these tables differ: {names}."),
            Text(zh="停止所有写入数据目录的 mailbot 命令（如 `mailbot send`），然后再次运行 `mailbot store migrate`"
                    "（再次运行是安全的：已复制的内容不会重复）。",
                 en="Stop every mailbot command that writes to the data dir (such as `mailbot send`), then run "
                    "`mailbot store migrate` again (running it again is safe: nothing copied is duplicated)."))
    return 0


async def _copy(data_dir: Path, env_key: SecretStr | None, url: str) -> tuple[list[Counted], SecretBox, str]:
    from bot.storage.postgres import PostgresStorage  # asyncpg is loaded only when it is used

    source = SqliteStorage(data_dir)
    target = PostgresStorage(url)
    try:
        box = await SecretBox.open(source, data_dir, env_key)  # verifies the key against the stored check
        tables = await source.tables()
        try:
            await target.open()
        except StorageFailed as exc:
            raise MigrateRefused(
                Text(zh=f"无法打开目标数据库 {target.url}：{exc.cause.zh}（{exc.detail}）没有复制任何内容。",
                     en=f"Cannot open the target database {target.url}: {exc.cause.en} ({exc.detail}) Nothing was copied."),
                Text(zh="检查地址（用户、密码、主机、端口、库名）、服务器是否在运行、数据库是否已建好（createdb）。",
                     en="Check the URL (user, password, host, port, database name), that the server runs and that the "
                        "database exists (createdb).")) from exc
        try:
            counts = await copy_tables(tables, target, must_match=[KEY_CHECK])
        except StorageFailed as exc:
            raise MigrateIncomplete(
                Text(zh=f"复制在表 {exc.table} 处中断：{exc.cause.zh}（{exc.detail}）",
                     en=f"The copy stopped at table {exc.table}: {exc.cause.en} ({exc.detail})"),
                Text(zh="解决上述问题后再次运行 `mailbot store migrate`（再次运行是安全的：已复制的内容不会重复）。",
                     en="Fix that and run `mailbot store migrate` again (running it again is safe: nothing copied is "
                        "duplicated).")) from exc
    finally:
        await target.close()
        await source.close()
    return counts, box, target.url


def _report(counts: list[Counted], box: SecretBox, where: str, data_dir: Path, *, json_out: bool, lang: str) -> None:
    ok = all(c.ok for c in counts)
    note = _key_note(box)(lang)
    if json_out:
        print_json({"tables": {c.name: {"source": c.source, "target": c.target} for c in counts}, "ok": ok})
        if ok:
            print(note, file=sys.stderr)
        return
    head = Text(zh=f"已把 {data_dir.resolve()} 的嵌入式存储复制到 {where}：",
                en=f"Copied the embedded store in {data_dir.resolve()} into {where}:")(lang)
    print(head)
    labels = ["表", "源", "目标", ""] if lang == "zh" else ["table", "source", "target", ""]
    rows = [labels] + [[c.name, str(c.source), str(c.target), "ok" if c.ok else ("不一致" if lang == "zh" else "DIFFERS")]
                       for c in counts]
    for line in table(rows):
        print(line)
    if not ok:
        return
    print(Text(zh=f"{len(counts)} 张表全部核对无误：每个键都已到达。队列中的邮件已释放（lease 0），由新实例发送。",
               en=f"All {len(counts)} tables verified: every key arrived. Queued mail was released (lease 0) for "
                  "the new instances to send.")(lang))
    print(note)
    print(Text(zh="然后在每个实例上设置 MAILBOT_DATABASE_URL 和 MAILBOT_SECRET_KEY 并启动；在确认一切正常之前保留这个数据目录。",
               en="Then set MAILBOT_DATABASE_URL and MAILBOT_SECRET_KEY on every instance and start them; keep this "
                  "data dir until all is well.")(lang))


# ---- backup -------------------------------------------------------------------------------------

async def _backup(args: argparse.Namespace) -> int:
    lang = args.lang or cli_lang()
    settings = load_settings()
    if settings.database_url is not None:
        raise BackupRefused(
            Text(zh="已设置 MAILBOT_DATABASE_URL：数据在 PostgreSQL 中，这个命令只备份嵌入式存储。",
                 en="MAILBOT_DATABASE_URL is set: the data is in PostgreSQL, and this command backs up the embedded "
                    "store only."),
            Text(zh="用 PostgreSQL 自己的工具备份：pg_dump --format=custom --file=mailbot.dump \"$MAILBOT_DATABASE_URL\""
                    "（并另外保管 MAILBOT_SECRET_KEY）。",
                 en="Back it up with PostgreSQL's own tools: pg_dump --format=custom --file=mailbot.dump "
                    "\"$MAILBOT_DATABASE_URL\" (and keep MAILBOT_SECRET_KEY safe separately)."))
    written = await backup(settings.data_dir, args.path)
    has_key = any(w.path.name == "secret.key" for w in written)
    if args.json:
        print_json({"path": str(args.path.resolve()),
                    "files": [{"name": w.path.name, "bytes": w.size, "tables": list(w.tables)} for w in written]})
        return 0
    print(Text(zh=f"已备份到 {args.path.resolve()}（目录 0700，文件 0600）：",
               en=f"Backed up into {args.path.resolve()} (directory 0700, files 0600):")(lang))
    for line in table([[w.path.name, f"{w.size} B", ", ".join(w.tables)] for w in written]):
        print(line)
    if not has_key:
        print(Text(zh="密钥不在备份中（它来自 MAILBOT_SECRET_KEY）：没有它无法读取备份里的邮箱密码，请另外保管。",
                   en="The key is not in the backup (it comes from MAILBOT_SECRET_KEY): the backup's mailbox "
                      "passwords cannot be read without it, so keep it safe separately.")(lang))
    else:
        print(Text(zh="备份包含 secret.key：它能解开备份里的密码，请像保管密码一样保管这个目录。",
                   en="The backup holds secret.key, which opens its passwords: keep the directory as safe as the "
                      "passwords themselves.")(lang))
    print(Text(zh="恢复：停止机器人，把这些文件复制到一个空的 MAILBOT_DATA_DIR 中再启动。",
               en="To restore: stop the bot, copy these files into an empty MAILBOT_DATA_DIR, and start it.")(lang))
    return 0
