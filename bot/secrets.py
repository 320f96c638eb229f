"""Secrets at rest: Fernet (AES-128-CBC + HMAC) from `cryptography`.

The key comes from MAILBOT_SECRET_KEY (one Fernet key, or several comma-separated with the
newest first while rotating), else from `<data_dir>/secret.key` (mode 0600), created on first use.
A check token in the `meta` table tells a wrong key from a right one before anything is written,
and stops a new key file from being created next to secrets that an old key sealed.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from bot.errors import SecretKeyError
from bot.i18n import Text
from bot.storage import Storage
from bot.storage.private import make_private_dir

KEY_FILE = "secret.key"
_CHECK_KEY = "key_check"
_CHECK_PLAIN = "mailbot-key-check"


def generate_key() -> str:
    return Fernet.generate_key().decode()


def _parse_keys(raw: str, source: str) -> list[bytes]:
    keys = [part.strip().encode() for part in raw.replace("\n", ",").split(",") if part.strip()]
    try:
        for key in keys:
            Fernet(key)
    except ValueError:
        raise SecretKeyError(
            Text(zh=f"{source} 中的密钥格式不对：需要 Fernet 密钥（44 个字符的 URL 安全 base64）。",
                 en=f"The key in {source} is not a Fernet key (44 URL-safe base64 characters)."),
            Text(zh="用 `mailbot secrets keygen` 生成一个新密钥。", en="Generate one with `mailbot secrets keygen`."),
        ) from None
    if not keys:
        raise SecretKeyError(Text(zh=f"{source} 为空。", en=f"{source} is empty."))
    return keys


def write_key_file(path: Path, keys: list[bytes]) -> None:
    """Replace the key file atomically, readable by the owner only."""
    make_private_dir(path.parent)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(k.decode() for k in keys) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class SecretBox:
    """Encrypts and decrypts secrets; opened once per process with `SecretBox.open`."""

    def __init__(self, keys: list[bytes], *, source: str, key_file: Path | None) -> None:
        self._keys = keys
        self._fernet = MultiFernet([Fernet(k) for k in keys])
        self.source = source
        self.key_file = key_file

    def __repr__(self) -> str:
        return f"SecretBox(source={self.source!r})"

    @classmethod
    async def open(cls, storage: Storage, data_dir: Path, env_key: SecretStr | None, *,
                   shared: bool = False) -> "SecretBox":
        """`shared`: the store is shared by several instances (PostgreSQL), so the key must be too:
        it comes from MAILBOT_SECRET_KEY, never from a file made here."""
        meta = storage.table("meta")
        check = await meta.get(_CHECK_KEY)
        key_file = Path(data_dir) / KEY_FILE
        if env_key is None and shared:
            raise SecretKeyError(
                Text(zh="使用 MAILBOT_DATABASE_URL 时必须设置 MAILBOT_SECRET_KEY：所有实例用同一个密钥解密邮箱密码。",
                     en="MAILBOT_DATABASE_URL needs MAILBOT_SECRET_KEY: every instance decrypts the mailbox passwords "
                        "with the same key."),
                Text(zh="在每个实例上设置相同的 MAILBOT_SECRET_KEY（从嵌入式存储迁移过来时，就是 `mailbot store migrate` "
                        "提示的那个密钥文件的内容；全新部署可用 `mailbot secrets keygen` 生成）。",
                     en="Set the same MAILBOT_SECRET_KEY on every instance (after `mailbot store migrate`, the content "
                        "of the key file it names; for a new setup, make one with `mailbot secrets keygen`)."),
            )
        if env_key is not None:
            box = cls(_parse_keys(env_key.get_secret_value(), "MAILBOT_SECRET_KEY"),
                      source="MAILBOT_SECRET_KEY", key_file=None)
        elif key_file.exists():
            box = cls(_parse_keys(key_file.read_text(), str(key_file)), source=str(key_file), key_file=key_file)
        elif check is not None:
            raise SecretKeyError(
                Text(zh=f"找不到密钥：{key_file} 不存在且未设置 MAILBOT_SECRET_KEY，但已有加密数据。",
                     en=f"No key: {key_file} is missing and MAILBOT_SECRET_KEY is not set, but encrypted data exists."),
                Text(zh="恢复原来的密钥文件或设置 MAILBOT_SECRET_KEY；不会生成新密钥，以免覆盖数据。",
                     en="Restore the key file or set MAILBOT_SECRET_KEY; no new key is made, so nothing is overwritten."),
            )
        else:
            keys = [Fernet.generate_key()]
            write_key_file(key_file, keys)
            box = cls(keys, source=str(key_file), key_file=key_file)
        if check is None:
            await meta.put(_CHECK_KEY, {"token": box.encrypt(_CHECK_PLAIN)})
        else:
            box.verify(check["token"])
        return box

    def verify(self, check_token: str) -> None:
        try:
            self._fernet.decrypt(check_token.encode())
        except InvalidToken:
            raise SecretKeyError(
                Text(zh=f"密钥不对：{self.source} 中的密钥无法解开已保存的密码。",
                     en=f"Wrong key: the key from {self.source} cannot open the stored secrets."),
                Text(zh="改回加密时使用的密钥（MAILBOT_SECRET_KEY 或数据目录中的 secret.key）；数据未被改动。",
                     en="Use the key the data was sealed with (MAILBOT_SECRET_KEY or secret.key in the data dir); nothing was changed."),
            ) from None

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> SecretStr:
        try:
            return SecretStr(self._fernet.decrypt(token.encode()).decode())
        except InvalidToken:
            raise SecretKeyError(
                Text(zh="无法解密已保存的密码：密钥不匹配。", en="Cannot decrypt a stored secret: the key does not match."),
                Text(zh="改回加密时使用的密钥。", en="Use the key the data was sealed with."),
            ) from None

    def rotated(self) -> "SecretBox":
        """A box whose primary key is new and which still opens tokens of the current keys."""
        keys = [Fernet.generate_key(), *self._keys]
        return SecretBox(keys, source=self.source, key_file=self.key_file)

    def key_list(self) -> list[bytes]:
        """All keys, newest first: what a key file must hold to open every current token."""
        return list(self._keys)

    @property
    def primary_key(self) -> str:
        return self._keys[0].decode()

    def only_primary(self) -> "SecretBox":
        return SecretBox(self._keys[:1], source=self.source, key_file=self.key_file)

    def reseal(self, token: str) -> str:
        return self._fernet.rotate(token.encode()).decode()

    async def store_check(self, storage: Storage) -> None:
        await storage.table("meta").put(_CHECK_KEY, {"token": self.encrypt(_CHECK_PLAIN)})
