"""One error hierarchy for everything a user can see, rooted in MailbotError.

Each error carries its cause and its fix in zh and en, so every front end (CLI, chat, cards,
HTTP) can explain it in the user's language without knowing the error's internals. No error
ever holds a secret: SMTP replies are kept, the credentials that caused them are not.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from bot.i18n import Text


class MailbotError(Exception):
    """Base class: `cause` says what went wrong, `fix` what the user can do about it."""

    code: ClassVar[str] = "error"
    exit_code: ClassVar[int] = 1

    def __init__(self, cause: Text, fix: Text | None = None) -> None:
        self.cause = cause
        self.fix = fix
        super().__init__(cause.en)

    def message(self, lang: str) -> str:
        parts = [self.cause(lang)]
        if self.fix is not None:
            parts.append(self.fix(lang))
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.message("en")

    def to_dict(self, lang: str = "en") -> dict[str, object]:
        return {
            "error": self.code,
            "message": self.cause(lang),
            "fix": self.fix(lang) if self.fix else None,
        }


class FieldError(BaseModel):
    """One invalid field: which, what is wrong, and an example of a valid value."""

    model_config = ConfigDict(frozen=True)
    field: str
    problem: Text
    example: str = ""

    def message(self, lang: str) -> str:
        label = FIELD_LABELS.get(self.field)
        text = f"{label(lang) + ' (' + self.field + ')' if label else self.field}: {self.problem(lang)}"
        if self.example:
            text += (f"，例如：{self.example}" if lang == "zh" else f", e.g. {self.example}")
        return text


FIELD_LABELS: dict[str, Text] = {
    "name": Text(zh="名称", en="Name"),
    "type": Text(zh="邮箱类型", en="Type"),
    "account": Text(zh="邮箱账号", en="Account"),
    "secret": Text(zh="密码/授权码", en="Password / authorization code"),
    "password": Text(zh="密码/授权码", en="Password / authorization code"),
    "host": Text(zh="SMTP 服务器", en="SMTP host"),
    "port": Text(zh="端口", en="Port"),
    "security": Text(zh="加密方式", en="Security"),
    "rate_per_minute": Text(zh="每分钟发送上限", en="Mails per minute"),
    "quota_per_day": Text(zh="每日发送上限", en="Mails per day"),
    "auth": Text(zh="登录方式", en="Sign-in method"),
    "code": Text(zh="登录后跳转的地址", en="Redirect address"),
}


class InvalidInput(MailbotError):
    """Bad input: one FieldError per field, all reported at once."""

    code = "invalid_input"
    exit_code = 2

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__(
            Text(zh="输入有误：", en="Invalid input:"),
            None,
        )

    def message(self, lang: str) -> str:
        return "\n".join([self.cause(lang), *("- " + e.message(lang) for e in self.errors)])

    def to_dict(self, lang: str = "en") -> dict[str, object]:
        return {
            "error": self.code,
            "message": self.message(lang),
            "fields": {e.field: e.message(lang) for e in self.errors},
        }


class NotFound(MailbotError):
    code = "not_found"


class SignInEnded(NotFound):
    """An OAuth2 sign-in that was finished, cancelled (on any instance) or expired."""

    code = "sign_in_ended"


class Conflict(MailbotError):
    code = "conflict"


class InProgress(Conflict):
    """The same request is being handled right now (here or by another instance): retrying it
    shortly gets its outcome (as Stripe answers a concurrent idempotent request, 409)."""

    code = "in_progress"
    temporary = True

    def to_dict(self, lang: str = "en") -> dict[str, object]:
        return {**super().to_dict(lang), "temporary": True}


class PermissionDenied(MailbotError):
    code = "permission_denied"
    exit_code = 3


class SecretKeyError(MailbotError):
    """The key cannot open the stored secrets (wrong or missing): nothing is touched."""

    code = "secret_key"


class SmtpError(MailbotError):
    """A mail server said no, or could not be reached.

    Subclasses fill `cause_t` / `fix_t`; `{provider}` and `{secret}` in them are replaced with the
    mailbox type's name and what its password field must hold. `temporary` tells the relay whether
    a retry can help.
    """

    code: ClassVar[str] = "smtp_error"
    temporary: bool = False
    offers_guide: ClassVar[bool] = False
    from_server: ClassVar[bool] = True
    cause_t: ClassVar[Text] = Text(zh="邮件服务器返回错误。", en="The mail server returned an error.")
    fix_t: ClassVar[Text] = Text(zh="请检查邮箱设置后重试。", en="Check the mailbox settings and try again.")
    # The fix for a custom server, which has no guide, where `fix_t` points to one ("see the guide
    # below"); read from the class that defines `fix_t`, so a subclass never gets its parent's.
    fix_plain_t: ClassVar[Text | None] = None

    def __init__(
        self,
        reply: str | None = None,
        *,
        provider_type: str | None = None,
        temporary: bool | None = None,
    ) -> None:
        from bot.providers import CATALOG

        self.reply = reply
        self.provider_type = provider_type
        if temporary is not None:
            self.temporary = temporary
        provider = CATALOG.get(provider_type or "custom", CATALOG["custom"])
        names = {
            "zh": {"provider": provider.name_zh, "secret": provider.secret_name_zh},
            "en": {"provider": provider.name_en, "secret": provider.secret_name_en},
        }
        fix_t = self.fix_t
        if (provider_type or "custom") not in CATALOG or provider_type in (None, "custom"):  # no guide below
            owner = next(c for c in type(self).__mro__ if "fix_t" in c.__dict__)
            fix_t = owner.__dict__.get("fix_plain_t") or fix_t
        cause = Text(zh=self.cause_t.zh.format(**names["zh"]), en=self.cause_t.en.format(**names["en"]))
        fix = Text(zh=fix_t.zh.format(**names["zh"]), en=fix_t.en.format(**names["en"]))
        super().__init__(cause, fix)

    def message(self, lang: str) -> str:
        text = super().message(lang)
        if self.reply:
            if self.from_server:
                text += ("\n服务器回复：" if lang == "zh" else "\nServer reply: ") + self.reply
            else:
                text += ("\n详情：" if lang == "zh" else "\nDetails: ") + self.reply
        return text

    def to_dict(self, lang: str = "en") -> dict[str, object]:
        return {**super().to_dict(lang), "reply": self.reply, "temporary": self.temporary}


class ConnectFailed(SmtpError):
    from_server = False
    code = "connect_failed"
    temporary = True
    cause_t = Text(zh="无法连接到 SMTP 服务器（域名无法解析或端口不通）。",
                   en="Cannot reach the SMTP server (the host does not resolve or the port is closed).")
    fix_t = Text(zh="检查服务器地址和端口；公司网络或云主机可能封禁了 25 端口，可改用 465（ssl）或 587（starttls）。",
                 en="Check the host and port; company networks and cloud hosts often block port 25, so use 465 (ssl) or 587 (starttls).")


class SmtpTimeout(SmtpError):
    from_server = False
    code = "timeout"
    temporary = True
    cause_t = Text(zh="SMTP 服务器在规定时间内没有响应。", en="The SMTP server did not answer in time.")
    fix_t = Text(zh="稍后重试；若一直超时，检查端口和加密方式是否匹配（465 对应 ssl，587 对应 starttls）。",
                 en="Try again later; if it keeps timing out, check that port and security match (465 is ssl, 587 is starttls).")


class TlsMismatch(SmtpError):
    from_server = False
    code = "tls_mismatch"
    cause_t = Text(zh="加密方式与端口不匹配，或服务器证书无效。",
                   en="The security setting does not match the port, or the server's certificate is not valid.")
    fix_t = Text(zh="465 端口用 ssl（隐式 TLS），587 端口用 starttls；确认服务器地址与证书一致。",
                 en="Use ssl (implicit TLS) on port 465 and starttls on 587; make sure the host name matches the certificate.")


class AuthRejected(SmtpError):
    code = "auth_rejected"
    offers_guide = True
    cause_t = Text(zh="登录被拒绝：账号或{secret}不正确，或{provider}要求使用授权码/专用密码。",
                   en="Login rejected: the account or {secret} is wrong, or {provider} wants an authorization code / app password.")
    fix_t = Text(zh="账号请填写完整邮箱地址；密码处填写{secret}（不是网页登录密码），按下方指引获取。",
                 en="Use the full e-mail address as the account and put the {secret} (not the web login password) in the password field; see the guide below.")
    fix_plain_t = Text(zh="检查账号和{secret}；有的服务器要求账号写完整邮箱地址，或要求专用密码而非网页登录密码。",
                       en="Check the account and the {secret}; some servers want the full e-mail address as the account, "
                          "or an app password instead of the web login password.")


class AppPasswordRequired(AuthRejected):
    code = "app_password_required"
    cause_t = Text(zh="{provider}要求使用{secret}，不能用登录密码。",
                   en="{provider} requires an {secret}; the login password is not accepted.")
    fix_t = Text(zh="按下方指引生成{secret}，填到密码处。",
                 en="Create an {secret} as the guide below shows and enter it as the password.")
    fix_plain_t = Text(zh="在邮箱的安全设置里生成专用密码，填到密码处。",
                       en="Create an app password in the mailbox's security settings and enter it as the password.")


class AuthOrServiceRejected(AuthRejected):
    """QQ's single 535 reply: wrong code, service off, account abnormal or throttled look the same."""

    code = "auth_or_service"
    cause_t = Text(zh="{provider}拒绝登录：授权码错误、SMTP 服务未开启、账号异常或登录过于频繁（服务器不区分这几种情况）。",
                   en="{provider} refused the login: wrong authorization code, SMTP service not turned on, account flagged, or too many logins (the server does not say which).")
    fix_t = Text(zh="确认已开启 SMTP 服务，并填写新生成的{secret}（不是 QQ 密码）；若刚试过多次，请稍后再试。",
                 en="Make sure SMTP is turned on and enter a freshly generated {secret} (not the account password); if you just tried many times, wait a while.")


class SmtpNotEnabled(SmtpError):
    code = "smtp_disabled"
    offers_guide = True
    cause_t = Text(zh="{provider}的 SMTP 服务未开启，或管理员禁止了第三方客户端。",
                   en="SMTP is not turned on for this {provider} account, or an admin has disabled third-party clients.")
    fix_t = Text(zh="在邮箱设置中开启 SMTP 服务（企业邮箱请管理员允许客户端访问），然后重试；见下方指引。",
                 en="Turn on SMTP in the mailbox settings (for enterprise mail, ask the admin to allow client access), then retry; see the guide below.")
    fix_plain_t = Text(zh="请服务器管理员为这个账号开启 SMTP 发信（允许客户端访问），然后重试。",
                       en="Ask the server's admin to allow SMTP sending (client access) for this account, then retry.")


class AccountLocked(SmtpError):
    code = "locked_or_throttled"
    temporary = True
    cause_t = Text(zh="账号被锁定或登录过于频繁，服务器暂时拒绝登录。",
                   en="The account is locked or has logged in too often; the server refuses logins for now.")
    fix_t = Text(zh="等待一段时间（通常 15 分钟到数小时）后再试；若账号被锁定，请在网页版邮箱解锁。",
                 en="Wait (usually 15 minutes to a few hours) and try again; if the account is locked, unlock it in webmail.")


class BasicAuthDisabled(SmtpError):
    code = "basic_auth_disabled"
    offers_guide = True
    cause_t = Text(zh="{provider}已关闭密码登录（基本认证），只接受 OAuth2。",
                   en="{provider} has turned off password (basic) authentication; it only accepts OAuth2.")
    fix_t = Text(zh="这个邮箱需要 OAuth2 登录：用 `mailbot mailbox add … --oauth`（已有邮箱用 `mailbot mailbox reauth 名称`）或在聊天/控制台选择“用微软/谷歌账号登录”；见下方指引。",
                 en="This mailbox needs OAuth2 sign-in: use `mailbot mailbox add … --oauth` (for an existing one `mailbot mailbox reauth NAME`), or choose sign-in in chat or the console; see the guide below.")
    fix_plain_t = Text(zh="这个邮箱需要 OAuth2 登录：把类型改为 outlook、microsoft365 或 gmail，再用 `mailbot mailbox reauth 名称` 或在聊天/控制台登录。",
                       en="This mailbox needs OAuth2 sign-in: change its type to outlook, microsoft365 or gmail, then sign in with "
                          "`mailbot mailbox reauth NAME` or in chat or the console.")


class OAuthTokenRejected(AuthRejected):
    """The server refused a fresh OAuth2 access token (XOAUTH2): the sign-in worked, SMTP did not."""

    code = "oauth_token_rejected"
    cause_t = Text(zh="{provider}拒绝了 OAuth2 登录：账号已登录，但不允许用 SMTP 发信。",
                   en="{provider} refused the OAuth2 login: the sign-in worked, but the account may not send over SMTP.")
    fix_t = Text(zh="确认登录的是这个邮箱本身；应用有 SMTP.Send 权限（Gmail 为 https://mail.google.com/）；Microsoft 365 还需在 Exchange 管理中心为该邮箱开启“经过身份验证的 SMTP”。见下方指引。",
                 en="Make sure you signed in as this mailbox, the app has the SMTP.Send permission (https://mail.google.com/ for "
                    "Gmail), and for Microsoft 365 that Authenticated SMTP is on for the mailbox in the Exchange admin center; see the guide below.")
    fix_plain_t = Text(zh="确认登录的是这个邮箱本身，且应用有 SMTP 发信权限。",
                       en="Make sure you signed in as this mailbox and the app may send over SMTP.")


class SendingBlocked(SmtpError):
    code = "sending_blocked"
    cause_t = Text(zh="服务器拒绝发信：超出发送限额、被判为垃圾邮件或账号被禁止发信。",
                   en="The server refused to send: sending quota exceeded, flagged as spam, or the account may not send.")
    fix_t = Text(zh="降低发送频率、减少收件人，或等待限额恢复（通常 24 小时）；检查邮件内容。",
                 en="Send less often and to fewer recipients, or wait for the quota to reset (usually 24 hours); check the content.")


class SenderMismatch(SmtpError):
    code = "sender_mismatch"
    cause_t = Text(zh="发件人地址与登录账号不一致，服务器拒绝代发。",
                   en="The sender address differs from the login account, and the server refuses to send as someone else.")
    fix_t = Text(zh="发件人必须是登录的邮箱地址本身。", en="The sender must be the login address itself.")


class RecipientRejected(SmtpError):
    code = "recipient_rejected"
    cause_t = Text(zh="服务器拒绝了收件人地址。", en="The server rejected a recipient address.")
    fix_t = Text(zh="检查收件人地址是否正确。", en="Check the recipient addresses.")


class NotEncodable(SmtpError):
    """mailbot could not put an address or header on the wire (e.g. a non-ASCII local part without SMTPUTF8)."""

    from_server = False
    code = "not_encodable"
    cause_t = Text(zh="mailbot 无法把这封邮件的地址或邮件头编码后发出（例如 @ 前含中文的地址需要 SMTPUTF8）；这不是服务器的问题。",
                   en="mailbot could not encode this mail's addresses or headers for sending (an address with non-ASCII "
                      "characters before the @ needs SMTPUTF8); this is not the server's doing.")
    fix_t = Text(zh="改用只含 ASCII 字符的收件人地址后重新提交。", en="Post the mail again with ASCII-only recipient addresses.")


class ServerUnavailable(SmtpError):
    """A 4xx without a more specific meaning: the server asks to come back later."""

    code = "temporary_failure"
    temporary = True
    cause_t = Text(zh="服务器暂时无法处理（4xx）。", en="The server cannot take the request right now (4xx).")
    fix_t = Text(zh="稍后会自动重试。", en="It will be retried later.")


class ConnectionLost(SmtpError):
    """The connection broke mid-conversation; whether the mail went through is unknown."""

    from_server = False
    code = "connection_lost"
    temporary = True
    cause_t = Text(zh="与 SMTP 服务器的连接意外断开。", en="The connection to the SMTP server broke unexpectedly.")
    fix_t = Text(zh="稍后会自动重试；若反复出现，检查网络和服务器设置。",
                 en="It will be retried; if it keeps happening, check the network and the server settings.")


class OAuthError(MailbotError):
    """An OAuth2 sign-in or token refresh did not work. `temporary`: trying again later can help
    (the issuer was unreachable or busy); otherwise the admin must act (sign in again, fix the app
    registration). Never holds a token: only the issuer's error code and description."""

    code = "oauth_failed"
    temporary: bool = False

    def __init__(self, cause: Text, fix: Text | None = None, *, detail: str | None = None,
                 temporary: bool | None = None) -> None:
        self.detail = detail  # the issuer's `error` (and description), for logs and the user
        if temporary is not None:
            self.temporary = temporary
        super().__init__(cause, fix)

    def message(self, lang: str) -> str:
        text = super().message(lang)
        if self.detail:
            text += ("\n登录服务返回：" if lang == "zh" else "\nThe sign-in service said: ") + self.detail
        return text

    def to_dict(self, lang: str = "en") -> dict[str, object]:
        return {**super().to_dict(lang), "detail": self.detail, "temporary": self.temporary}


class OAuthNotConfigured(OAuthError):
    """The organisation has not registered its OAuth client (the client id setting is missing)."""

    code = "oauth_not_configured"


class SignInCancelled(OAuthError):
    """The admin declined, the code expired before sign-in, or the flow was interrupted."""

    code = "sign_in_cancelled"


class ReauthNeeded(OAuthError):
    """The issuer refused the stored refresh token (`invalid_grant`: revoked, password changed,
    consent withdrawn, expired). The mailbox is `needs_reauth`; its mail waits until an admin
    signs in again."""

    code = "needs_reauth"


class QuotaReached(MailbotError):
    """The mailbox sent its daily quota today (bot.mailboxes.health): its mail waits for the next day."""

    code = "quota_reached"
    temporary = True


class QuotaWarning(MailbotError):
    """The mailbox sent 80% of its daily quota today (an alert, not a failure)."""

    code = "quota_warning"


class Unauthorized(MailbotError):
    """Missing or unknown API token (HTTP 401)."""

    code = "unauthorized"
    exit_code = 3


class TooLarge(MailbotError):
    """A request or mail over the configured size limit (HTTP 413)."""

    code = "too_large"


def _smtp_classes() -> list[type[SmtpError]]:
    classes: list[type[SmtpError]] = [SmtpError]
    for cls in classes:
        classes.extend(cls.__subclasses__())
    return classes


def smtp_error_from(code: str, reply: str | None, provider_type: str | None) -> SmtpError:
    """Rebuild a classified SmtpError from what a record kept (its code and the server's reply)."""
    found = next((cls for cls in _smtp_classes() if cls.code == code), SmtpError)
    return found(reply, provider_type=provider_type)


def smtp_codes() -> frozenset[str]:
    """The codes `smtp_error_from` rebuilds as their own class."""
    return frozenset(cls.code for cls in _smtp_classes())


class StorageFailed(MailbotError, OSError):
    """The data store refused a read or write (disk full, I/O error, read-only, busy for too long).

    Raised by the storage layer for every backend failure, so callers catch one class (and, as
    aiosmtplib's errors do, it is also the matching std exception: OSError). The write it stopped
    landed whole or not at all; nothing committed before is lost. `kind` picks cause and fix;
    `table` and `detail` (the engine's error name, e.g. SQLITE_FULL) are for logs and /healthz.
    The message never holds a key or a value.
    """

    code = "storage_failed"
    temporary: bool = True
    KINDS: ClassVar[dict[str, tuple[Text, Text]]] = {
        "full": (Text(zh="数据存储无法写入：磁盘已满。", en="The data store cannot write: the disk is full."),
                 Text(zh="请清理 MAILBOT_DATA_DIR 所在磁盘的空间；已接收的内容都没有丢失，空间恢复后即可继续写入，无需重启。",
                      en="Free space on the disk that holds MAILBOT_DATA_DIR; nothing accepted was lost, and writing "
                         "resumes without a restart once there is room.")),
        "io": (Text(zh="数据存储读写磁盘时出错（I/O 错误）。", en="The data store hit an I/O error reading or writing the disk."),
               Text(zh="检查 MAILBOT_DATA_DIR 所在磁盘（dmesg、磁盘健康、网络存储连接）；已接收的内容都没有丢失。",
                    en="Check the disk that holds MAILBOT_DATA_DIR (dmesg, disk health, network storage); nothing "
                       "accepted was lost.")),
        "readonly": (Text(zh="数据存储是只读的，或无法打开它的文件。",
                          en="The data store is read-only, or its files cannot be opened."),
                     Text(zh="确认 MAILBOT_DATA_DIR 及其中文件属于运行 mailbot 的用户且可写，所在文件系统没有以只读方式挂载。",
                          en="Make sure MAILBOT_DATA_DIR and its files belong to the user running mailbot and are "
                             "writable, and that the file system is not mounted read-only.")),
        "busy": (Text(zh="数据存储正忙：另一个操作或进程占用它过久。",
                      en="The data store is busy: another operation or process has held it too long."),
                 Text(zh="稍后重试；若一直如此，检查是否有卡住的 mailbot 命令占用 MAILBOT_DATA_DIR。",
                      en="Try again shortly; if it persists, look for a stuck mailbot command holding MAILBOT_DATA_DIR.")),
        "corrupt": (Text(zh="数据存储的文件已损坏。", en="A data store file is damaged."),
                    Text(zh="停止 mailbot，从备份恢复 MAILBOT_DATA_DIR。", en="Stop mailbot and restore MAILBOT_DATA_DIR from a backup.")),
        "unavailable": (Text(zh="无法连接数据库（MAILBOT_DATABASE_URL）：服务器未运行、正在重启或拒绝连接。",
                             en="The database (MAILBOT_DATABASE_URL) cannot be reached: the server is down, "
                                "restarting or refusing connections."),
                        Text(zh="检查数据库服务器及网络；已接收的内容都没有丢失，服务器恢复后 mailbot 会自动重连。",
                             en="Check the database server and the network; nothing accepted was lost, and mailbot "
                                "reconnects by itself once the server is back.")),
        "other": (Text(zh="数据存储出错。", en="The data store failed."),
                  Text(zh="查看日志中的详情后重试；已接收的内容都没有丢失。",
                       en="See the log for details and try again; nothing accepted was lost.")),
    }

    def __init__(self, kind: str = "other", *, table: str | None = None, detail: str | None = None) -> None:
        self.kind = kind if kind in self.KINDS else "other"
        self.table = table
        self.detail = detail
        if self.kind == "corrupt":
            self.temporary = False
        super().__init__(*self.KINDS[self.kind])

    def to_dict(self, lang: str = "en") -> dict[str, object]:
        return {**super().to_dict(lang), "temporary": self.temporary}
