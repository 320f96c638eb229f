"""Guide knowledge base and matcher vocabulary, as data.

Guides say where to click and what to watch for; SMTP host/port/security and the main help page
come from `bot.providers.catalog` and are never repeated here. The matcher tables (extra aliases,
vague family names, error-reply signatures, intent words, unsupported providers) live here too so
that the matcher itself has no provider-specific branches.
"""

from __future__ import annotations

from bot.guides.model import ErrorSignature, Family, Guide, Link, Unsupported
from bot.i18n import Text


def _t(zh: str, en: str) -> Text:
    return Text(zh=zh, en=en)


def _link(url: str, zh: str, en: str) -> Link:
    return Link(url=url, label=_t(zh, en))


# The app registration Outlook.com and Microsoft 365 share: one public client per organisation,
# signed in with the device code flow (bot.providers.catalog.MICROSOFT_SMTP).
_MS_REGISTER = _t(
    "组织只需做一次：管理员打开 Microsoft Entra 管理中心（entra.microsoft.com）→ 应用注册 → 新注册，起个名字（例如 mailbot），"
    "受支持的账户类型选「任何组织目录中的帐户和个人 Microsoft 帐户」，不用填重定向 URI。",
    "Once per organisation: an admin opens the Microsoft Entra admin center (entra.microsoft.com) → App registrations "
    "→ New registration, names it (for example mailbot), chooses 'Accounts in any organizational directory and "
    "personal Microsoft accounts' and leaves the redirect URI empty.")
_MS_PUBLIC_CLIENT = _t(
    "在这个应用的「身份验证」页，把“允许公共客户端流”设为「是」并保存：机器人用设备代码登录，不需要客户端密钥。",
    "On the app's Authentication page, set 'Allow public client flows' to Yes and save: the bot signs in with a "
    "device code and needs no client secret.")
_MS_PERMISSION = _t(
    "在「API 权限」→ 添加权限 →「我的组织使用的 API」里找 Office 365 Exchange Online（或用 Microsoft Graph 的委托权限），"
    "勾选 SMTP.Send，再加上 offline_access（机器人靠它拿到刷新令牌）。",
    "Under API permissions → Add a permission → 'APIs my organization uses', pick Office 365 Exchange Online (or "
    "Microsoft Graph, delegated permissions), tick SMTP.Send and add offline_access too (it gives the bot a refresh "
    "token).")
_MS_CLIENT_ID = _t(
    "复制概述页的「应用程序(客户端) ID」，配置为机器人的 MAILBOT_OAUTH_MICROSOFT_CLIENT_ID 后重启机器人。",
    "Copy the Application (client) ID from the Overview page into the bot's MAILBOT_OAUTH_MICROSOFT_CLIENT_ID "
    "setting and restart the bot.")
_MS_SIGN_IN = _t(
    "打开链接、输入代码，用这个邮箱本身的账号登录并同意权限；机器人收到登录结果后试登录 SMTP，成功才保存。以后需要重新登录"
    "（改了密码、撤销了授权）时用 mailbot mailbox reauth 名称。",
    "Open the link, enter the code, sign in as the mailbox itself and accept; the bot then tests the SMTP login and "
    "saves only if it works. When it needs a new sign-in later (password changed, consent withdrawn), use mailbot "
    "mailbox reauth NAME.")
_MS_WRONG_USER = _t(
    "输入代码时浏览器已登录了别的微软账号，拿到的就是那个账号的授权，试登录会失败：用无痕窗口，或在登录页选“使用其他帐户”。",
    "If the browser is already signed in to another Microsoft account when you enter the code, the grant is for that "
    "account and the login test fails: use a private window, or pick 'Use another account'.")
_MS_PUBLIC_CLIENT_ERROR = _t(
    "登录时提示需要 client_secret 或 client_assertion（AADSTS7000218），说明应用的“允许公共客户端流”没有设为「是」；"
    "提示未配置 OAuth，说明机器人缺少 MAILBOT_OAUTH_MICROSOFT_CLIENT_ID。",
    "A sign-in error asking for client_secret or client_assertion (AADSTS7000218) means 'Allow public client flows' "
    "is not Yes; a message that OAuth is not configured means the bot lacks MAILBOT_OAUTH_MICROSOFT_CLIENT_ID.")
_MS_OAUTH_DOC = _link(
    "https://learn.microsoft.com/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-"
    "application-by-using-oauth",
    "微软文档：用 OAuth 登录 IMAP、POP、SMTP", "Microsoft Learn: OAuth for IMAP, POP and SMTP")
_MS_REGISTER_DOC = _link(
    "https://learn.microsoft.com/entra/identity-platform/quickstart-register-app",
    "微软文档：在 Entra ID 注册应用", "Microsoft Learn: register an application in Entra ID")
# 21Vianet (世纪互联): host smtp.partner.outlook.cn:587 STARTTLS and the authority
# https://login.partner.microsoftonline.cn/<tenant> are UNCONFIRMED (seen in public code, not read in
# Microsoft's documentation); its scope may be https://partner.outlook.cn/... rather than outlook.office.com
# (also UNCONFIRMED), and its device login page is whatever verification_uri the issuer returns.


GUIDES: dict[str, Guide] = {
    g.type: g
    for g in (
        Guide(
            type="aliyun_enterprise",
            title=_t("阿里邮箱企业版：开放三方客户端并选对登录密码",
                     "Alibaba Mail (enterprise): allow client access and pick the right password"),
            path=_t("网页版 qiye.aliyun.com → 右上角齿轮「设置」→ 三方客户端安全密码（管理员需先允许三方客户端）",
                    "Webmail at qiye.aliyun.com → gear icon (Settings) → third-party client security password "
                    "(an admin must allow third-party clients first)"),
            steps=(
                _t("先向企业邮箱管理员确认已允许三方客户端（POP/SMTP）登录：新开通的企业默认不允许。",
                   "Ask your mail admin to confirm third-party clients (POP/SMTP) are allowed; new organisations "
                   "start with them blocked."),
                _t("用浏览器打开 qiye.aliyun.com，输入完整的邮箱地址和登录密码进入网页版。",
                   "In a browser, open qiye.aliyun.com and sign in with the full address and your login password."),
                _t("点右上角的齿轮图标进入设置，在左侧菜单里找「三方客户端安全密码」（部分版本叫“客户端授权码”）。",
                   "Click the gear icon at the top right and look in the left menu for 'third-party client security "
                   "password' (some versions call it 'client authorization code')."),
                _t("如果管理员要求使用安全密码，或者你想给机器人单独一个密码，就在这里生成一个并马上复制。",
                   "If your admin requires a security password, or you want a separate secret for the bot, "
                   "generate one here and copy it right away."),
                _t("回到机器人：账号填完整邮箱地址，密码栏按下面“密码栏”一行填写。",
                   "Back in the bot: enter the full address as the account and fill the password field as the "
                   "'Password field' line below says."),
            ),
            enable_smtp=_t("SMTP 属于“三方客户端”权限，由管理员在阿里邮箱管理后台统一开放，员工自己打不开。",
                           "SMTP counts as third-party client access: the admin allows it in the Alibaba Mail admin "
                           "console; employees cannot switch it on themselves."),
            secret=_t("没开安全密码时填邮箱登录密码；开启“三方客户端安全密码”后只能填这个安全密码。",
                      "Without a security password, the mailbox login password; once the third-party client "
                      "security password is on, only that password works."),
            pitfalls=(
                _t("报 526 Authentication failure 多半是密码类型不对（该填安全密码却填了登录密码），或三方客户端没被允许。",
                   "526 Authentication failure usually means the wrong kind of password (login password where the "
                   "security password is required) or client access not allowed."),
                _t("账号必须写完整地址（名字@公司域名），只写前缀会登录失败。",
                   "The account must be the full address (name@your-domain); the bare user name fails."),
                _t("安全密码和登录密码是两回事：改了其中一个，另一个不会跟着变。",
                   "The security password and the login password are separate: changing one leaves the other as it was."),
            ),
            links=(
                _link("https://help.aliyun.com/document_detail/444380.html",
                      "阿里邮箱企业版：客户端密码说明", "Alibaba Mail enterprise: client password"),
            ),
        ),
        Guide(
            type="dingtalk",
            title=_t("钉钉企业邮箱：请管理员打开第三方客户端，再按阿里邮箱设置",
                     "DingTalk enterprise mail: have the admin allow third-party clients, then set it up like Alibaba Mail"),
            path=_t("管理员：钉钉管理后台 → 通讯录 → 邮箱管理 → 安全策略 → 第三方客户端管理；本人：钉钉「邮箱」网页版 → 设置 → 三方客户端安全密码",
                    "Admin: DingTalk admin console → Contacts → Mail → Security policy → Third-party clients; "
                    "you: DingTalk Mail web version → Settings → third-party client security password"),
            steps=(
                _t("请企业管理员登录钉钉管理后台（oa.dingtalk.com），进入 通讯录 → 邮箱管理 → 安全策略 → 第三方客户端管理，把第三方客户端打开；这个开关默认是关的。",
                   "Ask an org admin to sign in to the DingTalk admin console (oa.dingtalk.com), open Contacts → Mail → "
                   "Security policy → Third-party clients and switch clients on; the switch starts off."),
                _t("在钉钉里打开「邮箱」，选择用浏览器打开网页版——这个网页版就是阿里邮箱。",
                   "Open Mail in DingTalk and choose to open the web version in a browser; that web version is Alibaba Mail."),
                _t("在网页版右上角进入设置，找到「三方客户端安全密码」；管理员要求或你希望单独设置时，生成一个并立刻复制。",
                   "In the web version open Settings at the top right and find 'third-party client security password'; "
                   "if the admin requires one, or you want one, generate it and copy it at once."),
                _t("回到机器人：账号填完整的企业邮箱地址（免费版常见 xxx.onaliyun.com 这类域名），密码栏按下面“密码栏”一行填写。",
                   "Back in the bot: enter the full company address (free plans often use an xxx.onaliyun.com domain) "
                   "and fill the password field as the 'Password field' line below says."),
            ),
            enable_smtp=_t("钉钉企业邮箱的 SMTP 由管理员的“第三方客户端”开关控制，个人设置里没有单独的 SMTP 开关。",
                           "SMTP for DingTalk enterprise mail follows the admin's third-party client switch; personal "
                           "settings have no separate SMTP switch."),
            secret=_t("邮箱登录密码；如果开启了三方客户端安全密码，就只能填该安全密码。",
                      "The mailbox login password; if a third-party client security password is on, only that one works."),
            pitfalls=(
                _t("钉钉企业邮箱底层就是阿里邮箱企业版：服务器、报错（如 526 Authentication failure）和规则都一样。",
                   "DingTalk enterprise mail is Alibaba Mail (enterprise) underneath: same server, same errors "
                   "(such as 526 Authentication failure), same rules."),
                _t("个人的 @dingtalk.com 地址不能给第三方客户端使用，只有企业邮箱地址可以。",
                   "Personal @dingtalk.com addresses cannot be used by third-party clients; only company mailbox "
                   "addresses can."),
                _t("钉钉开放平台里的“授权码”、AccessToken 是开发接口用的，和邮箱密码无关。",
                   "The 'authorization code' and AccessToken of the DingTalk open platform are for API development "
                   "and have nothing to do with the mailbox password."),
            ),
            links=(
                _link("https://help.aliyun.com/document_detail/444380.html",
                      "阿里邮箱企业版：客户端密码说明（钉钉邮箱同样适用）",
                      "Alibaba Mail enterprise: client password (applies to DingTalk mail too)"),
            ),
        ),
        Guide(
            type="exmail",
            title=_t("腾讯企业邮箱：开启 IMAP/SMTP，必要时生成客户端专用密码",
                     "Tencent Exmail: turn on IMAP/SMTP and, if needed, create a client-specific password"),
            path=_t("网页版 exmail.qq.com → 设置 → 收发信设置（开启 IMAP/SMTP）→ 邮箱绑定 → 客户端专用密码",
                    "Webmail at exmail.qq.com → Settings → Sending and receiving (turn on IMAP/SMTP) → "
                    "Account binding → client-specific password"),
            steps=(
                _t("打开 exmail.qq.com（或从企业微信里的邮箱入口进入），用完整的企业邮箱地址登录网页版。",
                   "Open exmail.qq.com (or the mail entry inside WeCom) and sign in to webmail with your full company address."),
                _t("进入「设置」→「收发信设置」，勾选开启 IMAP/SMTP 服务，然后保存。",
                   "Go to Settings → Sending and receiving, tick the IMAP/SMTP service and save."),
                _t("如果账号开了「安全登录」（绑定了微信），到「设置」→「邮箱绑定」里生成新的客户端专用密码并复制。",
                   "If the account has secure login on (WeChat binding), go to Settings → Account binding, generate "
                   "a new client-specific password and copy it."),
                _t("回到机器人：账号填完整邮箱地址，密码栏按下面“密码栏”一行填写。",
                   "Back in the bot: enter the full address as the account and fill the password field as the "
                   "'Password field' line below says."),
            ),
            enable_smtp=_t("需要本人在 设置 → 收发信设置 中开启 IMAP/SMTP；管理员也可能在管理后台统一禁止了客户端收发，这时要找管理员。",
                           "You turn on IMAP/SMTP yourself under Settings → Sending and receiving; an admin may also have "
                           "blocked client access for the whole company, in which case ask them."),
            secret=_t("没开安全登录时填邮箱登录密码；开了安全登录（微信绑定）后只能填客户端专用密码。",
                      "Without secure login, the mailbox login password; with secure login (WeChat binding) on, only "
                      "a client-specific password works."),
            pitfalls=(
                _t("“企业微信邮箱”“QQ企业邮箱”指的都是腾讯企业邮箱，不要选成 QQ 邮箱，两者服务器不同。",
                   "'WeCom mail' and 'QQ enterprise mail' both mean Tencent Exmail; do not pick QQ Mail, whose server "
                   "is different."),
                _t("报 535 Error: authentication failed 时，常见原因是开了安全登录却填了登录密码，或 IMAP/SMTP 没开。",
                   "535 Error: authentication failed usually means secure login is on but the login password was used, "
                   "or IMAP/SMTP is off."),
                _t("客户端专用密码请在生成时就复制保存；找不到了就再生成一个。",
                   "Copy the client-specific password when it is generated; if it is lost, generate another one."),
                _t("管理员可以给全员强制开启安全登录，此时登录密码在任何客户端里都无效。",
                   "Admins can force secure login for everyone; then the login password never works in a client."),
            ),
            links=(),
        ),
        Guide(
            type="netease_enterprise",
            title=_t("网易企业邮箱：开启客户端服务并生成客户端授权密码",
                     "NetEase enterprise mail: turn on client access and create a client authorization password"),
            path=_t("网页版 qiye.163.com → 设置 → 客户端设置 → 开启 POP3/SMTP/IMAP → 生成客户端授权密码（需绑定手机）",
                    "Webmail at qiye.163.com → Settings → Client settings → turn on POP3/SMTP/IMAP → generate a client "
                    "authorization password (a bound phone is needed)"),
            steps=(
                _t("打开网易企业邮箱网页版（qiye.163.com；免费企业邮是 ym.163.com），用完整的企业邮箱地址登录。",
                   "Open NetEase enterprise webmail (qiye.163.com; the free edition is ym.163.com) and sign in with "
                   "your full company address."),
                _t("点顶部的「设置」，找到「客户端设置」（有的版本放在“帐户与安全”下面）。",
                   "Click Settings at the top and find Client settings (some versions put it under Account and security)."),
                _t("打开 POP3/SMTP/IMAP 服务的开关。", "Switch on the POP3/SMTP/IMAP service."),
                _t("在「客户端授权密码」处点生成；没绑定手机的先按提示绑定，短信验证通过后复制生成的密码。",
                   "Under client authorization password, click generate; bind a phone first if asked, pass the SMS "
                   "check, then copy the password shown."),
                _t("回到机器人：账号填完整邮箱地址，密码栏填刚才的客户端授权密码。",
                   "Back in the bot: enter the full address as the account and the client authorization password in "
                   "the password field."),
            ),
            enable_smtp=_t("在 设置 → 客户端设置 中自己打开 POP3/SMTP/IMAP；开关是灰的说明管理员禁止了客户端登录。",
                           "Switch on POP3/SMTP/IMAP yourself under Settings → Client settings; a greyed-out switch "
                           "means the admin has blocked client logins."),
            secret=_t("客户端授权密码，不是网页版的登录密码。",
                      "The client authorization password, not the webmail login password."),
            pitfalls=(
                _t("网易企业邮箱和 163/126 个人邮箱是两套系统，服务器不同，类型别选错。",
                   "NetEase enterprise mail and the personal 163/126 mailboxes are separate systems with different "
                   "servers; pick the right type."),
                _t("没有绑定手机就生成不了客户端授权密码。",
                   "Without a bound phone the client authorization password cannot be generated."),
                _t("免费企业邮（ym.163.com）的发信服务器可能和收费版不同，连不上时以它网页版里的帮助为准。",
                   "The free edition (ym.163.com) may use a different sending server from the paid one; if connecting "
                   "fails, follow the help inside its webmail."),
            ),
            links=(),
        ),
        Guide(
            type="aliyun_personal",
            title=_t("阿里邮箱个人版：开启 SMTP，并确认是否启用了客户端专用密码",
                     "Alibaba Mail (personal): turn on SMTP and check for a client-specific password"),
            path=_t("网页版 mail.aliyun.com → 设置 → 账户与安全（或 POP3/SMTP 设置）→ 客户端专用密码",
                    "Webmail at mail.aliyun.com → Settings → Account and security (or POP3/SMTP settings) → "
                    "client-specific password"),
            steps=(
                _t("用浏览器打开 mail.aliyun.com，登录你的 @aliyun.com 个人邮箱。",
                   "Open mail.aliyun.com in a browser and sign in to your personal @aliyun.com mailbox."),
                _t("点右上角齿轮进入设置，找「账户与安全」或「POP3/SMTP/IMAP 设置」（版本不同名字略有差别）。",
                   "Click the gear at the top right and find Account and security, or POP3/SMTP/IMAP settings (the "
                   "name differs a little between versions)."),
                _t("确认 POP3/SMTP 服务处于开启状态，没开就打开。",
                   "Make sure the POP3/SMTP service is on; switch it on if not."),
                _t("页面上有「客户端专用密码」时，可以为机器人生成一个：按提示完成手机验证后复制。",
                   "If the page offers a client-specific password, you can generate one for the bot: pass the phone "
                   "check and copy it."),
                _t("回到机器人：账号填完整邮箱地址，密码栏按下面“密码栏”一行填写。",
                   "Back in the bot: enter the full address as the account and fill the password field as the "
                   "'Password field' line below says."),
            ),
            enable_smtp=_t("在网页版设置里自己打开 POP3/SMTP 服务。",
                           "Turn on the POP3/SMTP service yourself in the webmail settings."),
            secret=_t("邮箱登录密码；一旦启用了客户端专用密码，就只能填专用密码。",
                      "The mailbox login password; once a client-specific password is enabled, only that one works."),
            pitfalls=(
                _t("个人版（@aliyun.com）和企业版是两个产品，服务器不同；公司域名的阿里邮箱请选“阿里邮箱企业版”。",
                   "The personal edition (@aliyun.com) and the enterprise edition are separate products with different "
                   "servers; a company-domain Alibaba mailbox is 'Alibaba Mail (enterprise)'."),
                _t("启用客户端专用密码后，登录密码在机器人里会被拒绝。",
                   "Once a client-specific password is enabled, the login password is refused in the bot."),
                _t("设置菜单的名字会随版本变化，找不到时留意名字里带 POP3、SMTP 或“客户端”的菜单。",
                   "Menu names change between versions; look for entries mentioning POP3, SMTP or client."),
            ),
            links=(),
        ),
        Guide(
            type="qq",
            title=_t("QQ邮箱：开启 SMTP 服务并生成授权码", "QQ Mail: turn on SMTP and generate an authorization code"),
            path=_t("网页版 mail.qq.com → 设置 → 账号 → POP3/IMAP/SMTP 服务 → 开启并生成授权码",
                    "Webmail at mail.qq.com → Settings → Account → POP3/IMAP/SMTP services → turn on and generate an "
                    "authorization code"),
            steps=(
                _t("在电脑浏览器打开 mail.qq.com，用 QQ 号或扫码登录。",
                   "On a computer, open mail.qq.com and sign in with your QQ number or by scanning the QR code."),
                _t("点页面顶部的「设置」，再切到「账号」（旧版叫“账户”）标签。",
                   "Click Settings at the top of the page, then the Account tab."),
                _t("往下翻到 POP3/IMAP/SMTP/Exchange/CardDAV 服务一栏，打开 IMAP/SMTP（或 POP3/SMTP）服务。",
                   "Scroll down to the POP3/IMAP/SMTP/Exchange/CardDAV services section and turn on IMAP/SMTP "
                   "(or POP3/SMTP)."),
                _t("按提示用绑定的手机发短信验证，通过后会弹出一串授权码；服务早已开启的话，点「生成授权码」再拿一个新的。",
                   "Follow the prompt to send a text from your bound phone; once verified, a code pops up. If the "
                   "service was already on, click 'Generate authorization code' for a new one."),
                _t("马上复制这串授权码。回到机器人，账号填完整的 QQ 邮箱地址，密码栏填授权码。",
                   "Copy the code immediately. Back in the bot, enter the full QQ Mail address as the account and the "
                   "code in the password field."),
            ),
            enable_smtp=_t("必须自己在 设置 → 账号 里打开 IMAP/SMTP 或 POP3/SMTP 服务，默认是关闭的。",
                           "You must switch on IMAP/SMTP or POP3/SMTP under Settings → Account yourself; it is off "
                           "by default."),
            secret=_t("授权码（16 位字母），不是 QQ 密码，也不是邮箱独立密码。",
                      "The authorization code (16 letters), not your QQ password nor the mailbox's separate password."),
            pitfalls=(
                _t("授权码只在生成时显示一次，关掉弹窗就看不到了；丢了就重新生成一个。",
                   "The code is shown only once, when it is generated; close the dialog and it is gone. If lost, "
                   "generate a new one."),
                _t("授权码不是登录密码：填 QQ 密码会得到 535 Login fail。",
                   "The code is not the login password: using the QQ password gets 535 Login fail."),
                _t("修改 QQ 密码后，之前的授权码全部失效，需要重新生成。",
                   "Changing the QQ password invalidates all earlier codes; generate a new one."),
                _t("发件地址必须和登录账号一致，否则会被 501 拒绝。",
                   "The sender address must match the login account, otherwise the server refuses it with 501."),
                _t("foxmail.com 和 vip.qq.com 的地址也是 QQ 邮箱，步骤相同。",
                   "foxmail.com and vip.qq.com addresses are QQ Mail too and follow the same steps."),
            ),
            links=(
                _link("https://service.mail.qq.com/cgi-bin/help?subtype=1&id=28&no=167",
                      "QQ邮箱：如何开启 POP3/IMAP/SMTP", "QQ Mail: turning on POP3/IMAP/SMTP"),
                _link("https://help.mail.qq.com/detail/108/1023",
                      "QQ邮箱：535 登录失败说明", "QQ Mail: the 535 login failure"),
            ),
        ),
        Guide(
            type="163",
            title=_t("163邮箱：开启 SMTP 服务并生成客户端授权码",
                     "163 Mail: turn on SMTP and generate a client authorization code"),
            path=_t("网页版 mail.163.com → 设置 → POP3/SMTP/IMAP → 开启服务 → 新增授权密码",
                    "Webmail at mail.163.com → Settings → POP3/SMTP/IMAP → turn on the service → add an "
                    "authorization password"),
            steps=(
                _t("在浏览器打开 mail.163.com，登录你的 163 邮箱。",
                   "Open mail.163.com in a browser and sign in to your 163 mailbox."),
                _t("点顶部的「设置」，在菜单里选「POP3/SMTP/IMAP」。",
                   "Click Settings at the top and pick POP3/SMTP/IMAP from the menu."),
                _t("打开 IMAP/SMTP 服务或 POP3/SMTP 服务；第一次开启要用绑定的手机做短信验证，没绑定的先绑定。",
                   "Turn on IMAP/SMTP or POP3/SMTP; the first time needs an SMS check from your bound phone "
                   "(bind one first if there is none)."),
                _t("在同一页点「新增授权密码」（有的界面写“生成授权码”），验证后页面显示一串授权码，立刻复制。",
                   "On the same page click 'Add authorization password' (some screens say 'Generate authorization "
                   "code'); after the check a code appears: copy it at once."),
                _t("回到机器人：账号填完整的 163 邮箱地址，密码栏填这串授权码。",
                   "Back in the bot: enter the full 163 address as the account and the code in the password field."),
            ),
            enable_smtp=_t("必须自己在 设置 → POP3/SMTP/IMAP 中打开 SMTP 服务；没开时服务器会回 550 User has no permission。",
                           "You must turn on SMTP yourself under Settings → POP3/SMTP/IMAP; while it is off the "
                           "server answers 550 User has no permission."),
            secret=_t("客户端授权码，不是网页登录密码。", "The client authorization code, not the webmail login password."),
            pitfalls=(
                _t("授权码不是登录密码：填登录密码会得到 535 Error: authentication failed。",
                   "The code is not the login password: the login password gets 535 Error: authentication failed."),
                _t("请在生成时就保存授权码；忘了就删掉旧的、再新增一个。",
                   "Save the code when it is generated; if you forget it, delete the old one and add a new one."),
                _t("163 和 126 是两个邮箱，服务器不同：看清地址后缀再选类型。",
                   "163 and 126 are different mailboxes with different servers: check the address suffix before "
                   "picking the type."),
                _t("发件地址必须和登录账号一致，否则会收到 553 Mail from must equal authorized user。",
                   "The sender must match the login account, otherwise you get 553 Mail from must equal authorized user."),
            ),
            links=(
                _link("https://help.163.com/09/1224/17/5RAJ4LMH00753VB8.html",
                      "网易帮助：550 User has no permission 的处理", "NetEase help: fixing 550 User has no permission"),
            ),
        ),
        Guide(
            type="126",
            title=_t("126邮箱：开启 SMTP 服务并生成客户端授权码",
                     "126 Mail: turn on SMTP and generate a client authorization code"),
            path=_t("网页版 mail.126.com → 设置 → POP3/SMTP/IMAP → 开启服务 → 新增授权密码",
                    "Webmail at mail.126.com → Settings → POP3/SMTP/IMAP → turn on the service → add an "
                    "authorization password"),
            steps=(
                _t("在浏览器打开 mail.126.com，登录你的 126 邮箱。",
                   "Open mail.126.com in a browser and sign in to your 126 mailbox."),
                _t("点顶部的「设置」，选「POP3/SMTP/IMAP」（有的界面在“账户与安全”里）。",
                   "Click Settings at the top and pick POP3/SMTP/IMAP (some screens put it under Account and security)."),
                _t("打开 IMAP/SMTP 或 POP3/SMTP 服务（有的界面把它叫作客户端服务）；首次开启需要绑定的手机做短信验证。",
                   "Turn on IMAP/SMTP or POP3/SMTP (sometimes labelled client service); the first time needs an SMS "
                   "check from your bound phone."),
                _t("点「新增授权密码」或“生成授权码”，完成验证后复制页面显示的授权码。",
                   "Click 'Add authorization password' or 'Generate authorization code', pass the check and copy the "
                   "code shown."),
                _t("回到机器人：账号填完整的 126 邮箱地址，密码栏填这串授权码。",
                   "Back in the bot: enter the full 126 address as the account and the code in the password field."),
            ),
            enable_smtp=_t("必须自己在 设置 → POP3/SMTP/IMAP 中打开 SMTP 服务，否则会被 550 User has no permission 拒绝。",
                           "You must turn on SMTP yourself under Settings → POP3/SMTP/IMAP, otherwise the server "
                           "refuses with 550 User has no permission."),
            secret=_t("客户端授权码，不是网页登录密码。", "The client authorization code, not the webmail login password."),
            pitfalls=(
                _t("授权码不是登录密码：填登录密码会得到 535 Error: authentication failed。",
                   "The code is not the login password: the login password gets 535 Error: authentication failed."),
                _t("126 和 163 是两个邮箱，服务器不同：看清地址后缀再选类型。",
                   "126 and 163 are different mailboxes with different servers: check the address suffix before "
                   "picking the type."),
                _t("手机没绑定时无法开启服务，先在账户设置里绑定手机。",
                   "Without a bound phone the service cannot be turned on; bind one in the account settings first."),
                _t("发件地址必须和登录账号一致，否则会收到 553 Mail from must equal authorized user。",
                   "The sender must match the login account, otherwise you get 553 Mail from must equal authorized user."),
            ),
            links=(
                _link("https://help.163.com/09/1224/17/5RAJ4LMH00753VB8.html",
                      "网易帮助：550 User has no permission 的处理", "NetEase help: fixing 550 User has no permission"),
            ),
        ),
        Guide(
            type="gmail",
            title=_t("Gmail：两条路任选——应用专用密码，或用 Google 账号登录（OAuth2）",
                     "Gmail: an app password, or sign in with Google (OAuth2)"),
            path=_t("应用专用密码：myaccount.google.com → 安全性 → 两步验证（先开启）→ 应用专用密码 → 创建；"
                    "或用 Google 登录：mailbot mailbox add … --type gmail --oauth",
                    "App password: myaccount.google.com → Security → 2-Step Verification (turn on first) → App "
                    "passwords → Create; or sign in with Google: mailbot mailbox add … --type gmail --oauth"),
            steps=(
                _t("先选一条路。方式一（应用专用密码）最简单，下面第 2–5 步；方式二（用 Google 账号登录，OAuth2）不保存任何密码，"
                   "适合禁用了应用专用密码的 Workspace 账号，见第 6–9 步。",
                   "Pick a route first. Route 1 (app password) is the simplest, steps 2–5; route 2 (sign in with "
                   "Google, OAuth2) keeps no password at all and suits Workspace accounts whose admin disabled app "
                   "passwords, steps 6–9."),
                _t("方式一：打开 myaccount.google.com →「安全性」，在“登录 Google 的方式”里打开「两步验证」，按提示添加手机或验证器。",
                   "Route 1: open myaccount.google.com → Security and, under 'How you sign in to Google', turn on "
                   "2-Step Verification, adding a phone or an authenticator as prompted."),
                _t("两步验证生效后，打开 myaccount.google.com/apppasswords（或在账号页顶部搜索“应用专用密码”），"
                   "起一个好认的名字（例如 mailbot）后点「创建」。",
                   "Once 2-Step Verification is on, open myaccount.google.com/apppasswords (or search the account page "
                   "for 'App passwords'), type a name you will recognise (for example mailbot) and click Create."),
                _t("页面显示 16 位应用专用密码，复制时去掉中间的空格。",
                   "A 16-character app password appears; copy it without the spaces."),
                _t("回到机器人：账号填完整的 Gmail 地址，密码栏填这 16 位密码（添加时不要加 --oauth）。",
                   "Back in the bot: enter the full Gmail address as the account and the 16 characters in the password "
                   "field (add the mailbox without --oauth)."),
                _t("方式二，组织只需做一次：在 Google Cloud 控制台（console.cloud.google.com）选一个项目，配置 OAuth 同意屏幕并加入"
                   "范围 https://mail.google.com/；再到「凭据」→ 创建凭据 → OAuth 客户端 ID，应用类型选「桌面应用」。",
                   "Route 2, once per organisation: in the Google Cloud Console (console.cloud.google.com) pick a "
                   "project, set up the OAuth consent screen with the scope https://mail.google.com/, then Credentials "
                   "→ Create credentials → OAuth client ID with application type 'Desktop app'."),
                _t("把客户端 ID 和客户端密钥分别配置为机器人的 MAILBOT_OAUTH_GOOGLE_CLIENT_ID 和 MAILBOT_OAUTH_GOOGLE_CLIENT_SECRET，"
                   "重启机器人；然后把这个应用发布为“正式版”（见下方注意事项）。",
                   "Give the client ID and client secret to the bot as MAILBOT_OAUTH_GOOGLE_CLIENT_ID and "
                   "MAILBOT_OAUTH_GOOGLE_CLIENT_SECRET and restart it; then publish the app to production (see the "
                   "common problems below)."),
                _t("添加邮箱：mailbot mailbox add --name 名称 --account 地址 --type gmail --oauth（或在单聊里说“新建邮箱”，"
                   "选 Gmail 后回答“用 Google 账号登录”，也可在控制台操作）。机器人给出一个 Google 授权链接。",
                   "Add the mailbox: mailbot mailbox add --name NAME --account ADDRESS --type gmail --oauth (or say "
                   "'new mailbox' in a single chat, pick Gmail and answer 'sign in with Google', or use the console). "
                   "The bot shows a Google consent link."),
                _t("用这个 Gmail 账号本身登录并点“允许”；浏览器随后跳到一个 localhost 地址（打不开也没关系），把整个地址"
                   "（或其中 code= 后面的值）粘贴回机器人，机器人试登录成功后保存。以后需要重新登录时用 mailbot mailbox reauth 名称。",
                   "Sign in as that Gmail account and click Allow; the browser then goes to a localhost address (it may "
                   "not load, that is fine): paste the whole address (or just its code= value) back to the bot, which "
                   "tests the login and saves. To sign in again later, use mailbot mailbox reauth NAME."),
            ),
            enable_smtp=_t("Gmail 不需要单独开启 SMTP：有应用专用密码或完成 Google 登录就能发信。",
                           "Gmail needs no SMTP switch: an app password or a Google sign-in is enough to send."),
            secret=_t("方式一：16 位应用专用密码（去掉空格），不是 Google 账号密码；方式二：不填密码，用 --oauth 登录，"
                      "机器人加密保存登录得到的刷新令牌。",
                      "Route 1: the 16-character app password (without spaces), not your Google account password; "
                      "route 2: no password, sign in with --oauth and the bot keeps the refresh token, encrypted."),
            pitfalls=(
                _t("没开两步验证就看不到“应用专用密码”入口；只用安全密钥登录或开了高级保护的账号也用不了，这时改用 Google 登录。",
                   "Without 2-Step Verification there is no App passwords page; accounts that use only security keys "
                   "or Advanced Protection cannot use it either: sign in with Google instead."),
                _t("公司或学校的 Google Workspace 账号，管理员可能禁用了应用专用密码：请管理员开放，或改用 Google 登录。",
                   "On a company or school Google Workspace account the admin may have disabled app passwords: ask "
                   "them to allow it, or sign in with Google instead."),
                _t("填账号密码会被拒绝：534-5.7.9 表示需要应用专用密码，535-5.7.8 表示用户名或密码不被接受。",
                   "The account password is refused: 534-5.7.9 means an app password is required, 535-5.7.8 means the "
                   "user name or password was not accepted."),
                _t("OAuth 应用停留在“测试”发布状态时，只有列出的测试用户能登录，而且刷新令牌 7 天后失效，邮箱会变成需要重新登录："
                   "请把应用发布为正式版（Workspace 组织也可把用户类型设为“内部”）。",
                   "While the OAuth app's publishing status is 'Testing', only its listed test users can sign in and "
                   "refresh tokens expire after 7 days, so the mailbox keeps needing a new sign-in: publish the app to "
                   "production (a Workspace organisation can also make it 'Internal')."),
                _t("组织自建的 OAuth 客户端未经 Google 审核时，登录页会提示“Google 尚未验证此应用”；确认是本组织的客户端后，"
                   "点「高级」继续即可。",
                   "The organisation's own OAuth client is not reviewed by Google, so the sign-in page may say 'Google "
                   "hasn't verified this app'; once you know it is your organisation's client, continue via Advanced."),
                _t("修改 Google 账号密码后，已有的应用专用密码会被撤销，需要重新创建；Google 登录的授权被撤销后，用 reauth 重新登录。",
                   "Changing the Google account password revokes existing app passwords: create a new one; if the "
                   "Google sign-in is revoked, sign in again with reauth."),
            ),
            links=(
                _link("https://support.google.com/accounts/answer/185839",
                      "Google 帮助：开启两步验证", "Google help: turn on 2-Step Verification"),
                _link("https://developers.google.com/gmail/imap/xoauth2-protocol",
                      "Google 开发者文档：IMAP/SMTP 的 OAuth2（XOAUTH2）", "Google developers: OAuth2 (XOAUTH2) for IMAP and SMTP"),
            ),
        ),
        Guide(
            type="outlook",
            title=_t("Outlook.com：SMTP 已不接受密码和应用密码，改用微软账号登录（OAuth2）",
                     "Outlook.com: SMTP no longer takes passwords or app passwords, sign in with Microsoft (OAuth2)"),
            path=_t("组织一次：Entra 管理中心 → 应用注册 → 新注册（公共客户端，SMTP.Send）→ 客户端 ID 配置为 "
                    "MAILBOT_OAUTH_MICROSOFT_CLIENT_ID；每个邮箱：mailbot mailbox add … --type outlook --oauth，"
                    "在 microsoft.com/devicelogin 输入机器人给的代码",
                    "Once per organisation: Entra admin center → App registrations → New registration (public client, "
                    "SMTP.Send) → client ID into MAILBOT_OAUTH_MICROSOFT_CLIENT_ID; per mailbox: mailbot mailbox add … "
                    "--type outlook --oauth, then enter the bot's code at microsoft.com/devicelogin"),
            steps=(
                _t("先确认账号类型：@outlook.com、@hotmail.com、@live.com、@msn.com 等是个人 Outlook.com；公司域名的邮箱请选"
                   "“Microsoft 365 企业邮箱”（microsoft365）类型。",
                   "Check the account type first: @outlook.com, @hotmail.com, @live.com, @msn.com and similar are "
                   "personal Outlook.com; a company-domain mailbox is the Microsoft 365 (microsoft365) type."),
                _MS_REGISTER,
                _MS_PUBLIC_CLIENT,
                _MS_PERMISSION,
                _MS_CLIENT_ID,
                _t("添加邮箱：mailbot mailbox add --name 名称 --account 地址 --type outlook --oauth（或在单聊里说“新建邮箱”并选 "
                   "Outlook，也可在控制台操作）。机器人会给出链接 microsoft.com/devicelogin 和一串代码。",
                   "Add the mailbox: mailbot mailbox add --name NAME --account ADDRESS --type outlook --oauth (or say "
                   "'new mailbox' in a single chat and pick Outlook, or use the console). The bot shows the link "
                   "microsoft.com/devicelogin and a code."),
                _MS_SIGN_IN,
            ),
            enable_smtp=_t("Outlook.com 没有需要打开的 SMTP 开关；SMTP 只接受 OAuth2 登录，按上面的步骤登录即可。",
                           "Outlook.com has no SMTP switch to turn on; SMTP only accepts an OAuth2 sign-in, which the "
                           "steps above set up."),
            secret=_t("不填密码：选择用微软账号登录（--oauth），机器人加密保存登录得到的刷新令牌；账号密码和应用密码都会被拒绝。",
                      "No password: sign in with Microsoft (--oauth) and the bot keeps the refresh token from the sign-in, "
                      "encrypted; the account password and app passwords are both refused."),
            pitfalls=(
                _t("自 2024 年 9 月 16 日起用密码登录会被拒绝（535 5.7.139 basic authentication is disabled 或 535 5.7.3）："
                   "这说明要改用 OAuth2 登录，不是密码填错了。",
                   "Since 16 September 2024 a password login is refused (535 5.7.139 basic authentication is disabled, "
                   "or 535 5.7.3): it means the mailbox needs an OAuth2 sign-in, not that the password is wrong."),
                _MS_WRONG_USER,
                _MS_PUBLIC_CLIENT_ERROR,
                _t("网上“开启 POP/IMAP + 应用密码”的教程是 2024 年以前的做法，现在对 SMTP 无效。",
                   "Tutorials that say 'enable POP/IMAP and use an app password' predate 2024 and no longer work for SMTP."),
                _t("公司域名的 Microsoft 365 邮箱不是这个类型：请选 microsoft365，它还需要管理员为邮箱打开“经过身份验证的 SMTP”。",
                   "A company-domain Microsoft 365 mailbox is not this type: pick microsoft365, which also needs the "
                   "admin to turn on Authenticated SMTP for the mailbox."),
                _t("新注册或未验证的 Outlook.com 账号发信会被限流甚至拦截（554 OutboundSpamException），需要先完成账号验证。",
                   "New or unverified Outlook.com accounts are throttled or blocked (554 OutboundSpamException) until "
                   "the account is verified."),
            ),
            links=(
                _link("https://support.microsoft.com/office/modern-authentication-methods-now-needed-to-continue-"
                      "syncing-outlook-email-in-non-microsoft-email-apps-c5d65390-9676-4763-b41f-d7986499a90d",
                      "微软公告：第三方应用需要新式验证", "Microsoft notice: modern authentication now needed"),
                _MS_OAUTH_DOC,
                _MS_REGISTER_DOC,
            ),
        ),
        Guide(
            type="microsoft365",
            title=_t("Microsoft 365（Exchange Online）：用 OAuth2 登录，并为邮箱打开“经过身份验证的 SMTP”",
                     "Microsoft 365 (Exchange Online): sign in with OAuth2 and turn on Authenticated SMTP for the mailbox"),
            path=_t("Exchange 管理中心 → 收件人 → 邮箱 → 选中邮箱 → 管理电子邮件应用 → 勾选“经过身份验证的 SMTP”；"
                    "再用 mailbot mailbox add … --type microsoft365 --oauth 登录（应用注册同 Outlook.com）",
                    "Exchange admin center → Recipients → Mailboxes → the mailbox → Manage email apps → tick "
                    "Authenticated SMTP; then sign in with mailbot mailbox add … --type microsoft365 --oauth (app "
                    "registration as for Outlook.com)"),
            steps=(
                _t("确认类型：公司域名、邮件托管在 Exchange Online（MX 记录以 mail.protection.outlook.com 结尾）或 "
                   "xxx.onmicrosoft.com 的邮箱就是这一类；世纪互联运营的中国版见最后一步。",
                   "Check the type: a company-domain mailbox hosted in Exchange Online (its MX record ends in "
                   "mail.protection.outlook.com), or an xxx.onmicrosoft.com address; for the 21Vianet-operated China "
                   "cloud see the last step."),
                _t("管理员为这个邮箱打开 SMTP：Exchange 管理中心（admin.exchange.microsoft.com）→ 收件人 → 邮箱 → 点选该邮箱 → "
                   "管理电子邮件应用 → 勾选「经过身份验证的 SMTP」→ 保存。OAuth2 登录同样需要这个开关。",
                   "The admin turns SMTP on for this mailbox: Exchange admin center (admin.exchange.microsoft.com) → "
                   "Recipients → Mailboxes → click the mailbox → Manage email apps → tick Authenticated SMTP → Save. An "
                   "OAuth2 sign-in needs this switch too."),
                _t("租户层面不能整体禁用 SMTP AUTH：在 Exchange Online PowerShell 里执行 "
                   "Set-TransportConfig -SmtpClientAuthenticationDisabled $false；只想放开这一个邮箱时执行 "
                   "Set-CASMailbox -Identity 地址 -SmtpClientAuthenticationDisabled $false。",
                   "SMTP AUTH must not be disabled for the whole tenant: in Exchange Online PowerShell run "
                   "Set-TransportConfig -SmtpClientAuthenticationDisabled $false, or for this mailbox only "
                   "Set-CASMailbox -Identity ADDRESS -SmtpClientAuthenticationDisabled $false."),
                _MS_REGISTER,
                _MS_PUBLIC_CLIENT,
                _MS_PERMISSION,
                _t("把概述页的「应用程序(客户端) ID」配置为 MAILBOT_OAUTH_MICROSOFT_CLIENT_ID。应用只注册给本租户时，再设 "
                   "MAILBOT_OAUTH_MICROSOFT_AUTHORITY=https://login.microsoftonline.com/租户ID；租户禁止用户自行同意时，管理员在"
                   "「API 权限」页点「代表组织授予管理员同意」。然后重启机器人。",
                   "Give the Application (client) ID from the Overview page to the bot as "
                   "MAILBOT_OAUTH_MICROSOFT_CLIENT_ID. If the app is registered for this tenant only, also set "
                   "MAILBOT_OAUTH_MICROSOFT_AUTHORITY=https://login.microsoftonline.com/TENANT_ID; if the tenant does not "
                   "let users consent, an admin clicks 'Grant admin consent' on the API permissions page. Restart the bot."),
                _t("添加邮箱：mailbot mailbox add --name 名称 --account 地址 --type microsoft365 --oauth（或在单聊里说“新建邮箱”，"
                   "也可在控制台操作）。机器人给出链接 microsoft.com/devicelogin 和一串代码。",
                   "Add the mailbox: mailbot mailbox add --name NAME --account ADDRESS --type microsoft365 --oauth (or "
                   "say 'new mailbox' in a single chat, or use the console). The bot shows the link "
                   "microsoft.com/devicelogin and a code."),
                _MS_SIGN_IN,
                # 21Vianet host and authority: UNCONFIRMED (see the note after the shared Microsoft steps).
                _t("世纪互联（中国版 Microsoft 365）：添加时用 --host smtp.partner.outlook.cn，并把 "
                   "MAILBOT_OAUTH_MICROSOFT_AUTHORITY 设为 https://login.partner.microsoftonline.cn/租户ID，应用在世纪互联的 "
                   "Azure 门户里注册；登录时打开机器人给出的链接。",
                   "21Vianet (Microsoft 365 operated in China): add the mailbox with --host smtp.partner.outlook.cn, set "
                   "MAILBOT_OAUTH_MICROSOFT_AUTHORITY to https://login.partner.microsoftonline.cn/TENANT_ID and register "
                   "the app in the 21Vianet (Azure China) portal; sign in at the link the bot shows."),
            ),
            enable_smtp=_t("需要打开：管理员在 Exchange 管理中心为该邮箱勾选“经过身份验证的 SMTP”，且租户没有整体禁用 SMTP AUTH；"
                           "2020 年 1 月以后创建的租户默认是关的，OAuth2 登录也要这个开关。",
                           "Yes: the admin ticks Authenticated SMTP for the mailbox in the Exchange admin center, and SMTP "
                           "AUTH must not be disabled tenant-wide; tenants created after January 2020 start with it off, and an "
                           "OAuth2 sign-in needs it too."),
            secret=_t("推荐不填密码：用 --oauth 以该邮箱的账号登录，机器人加密保存刷新令牌。租户仍允许 SMTP 密码登录时也可填邮箱密码，"
                      "但 2026 年 12 月底起现有租户默认关闭这种登录。",
                      "Preferably no password: sign in as the mailbox with --oauth and the bot keeps the refresh token, "
                      "encrypted. Where the tenant still allows SMTP password login the mailbox password works too, but "
                      "from the end of December 2026 existing tenants have it off by default."),
            pitfalls=(
                _t("550 5.7.30 Basic authentication is not supported for Client Submission 或 535 5.7.139 basic "
                   "authentication is disabled：租户已关闭 SMTP 密码登录，改用 --oauth（已有邮箱用 mailbot mailbox reauth 名称）。",
                   "550 5.7.30 Basic authentication is not supported for Client Submission, or 535 5.7.139 basic "
                   "authentication is disabled: the tenant no longer takes SMTP passwords; use --oauth (for an existing "
                   "mailbox, mailbot mailbox reauth NAME)."),
                _t("535 5.7.139 … SmtpClientAuthentication is disabled for the Tenant：租户或邮箱关闭了 SMTP AUTH，按第 2、3 步打开。",
                   "535 5.7.139 … SmtpClientAuthentication is disabled for the Tenant: SMTP AUTH is off for the tenant "
                   "or the mailbox; turn it on as in steps 2 and 3."),
                _t("启用了“安全默认值”的租户不接受 SMTP 密码登录，只能用 OAuth2。",
                   "Tenants with security defaults on refuse SMTP password logins; only OAuth2 works there."),
                _MS_WRONG_USER,
                _MS_PUBLIC_CLIENT_ERROR,
                _t("发件人必须是登录的邮箱本身，否则会收到 550 5.7.60 或 SendAsDenied；单个邮箱每分钟最多约 30 封。",
                   "The sender must be the signed-in mailbox itself, otherwise 550 5.7.60 or SendAsDenied; a mailbox "
                   "sends at most about 30 messages a minute."),
            ),
            links=(
                _MS_OAUTH_DOC,
                _MS_REGISTER_DOC,
            ),
        ),
    )
}

# Types whose mailboxes belong to an organisation; "公司/企业" in a question narrows a vague name to these.
ENTERPRISE_TYPES: tuple[str, ...] = ("aliyun_enterprise", "dingtalk", "exmail", "netease_enterprise", "microsoft365")

# Mail-specific names not already in the catalog's aliases.
EXTRA_ALIASES: dict[str, tuple[str, ...]] = {
    "aliyun_enterprise": ("阿里巴巴企业邮箱", "阿里企业版", "阿里企业", "阿里云企业", "阿里云企业邮", "万网邮箱", "万网企业邮箱",
                          "alibaba enterprise mail", "alimail enterprise", "aliyun enterprise mail",
                          "aliyun business mail", "alibaba business mail"),
    "dingtalk": ("钉钉邮件", "钉钉企业邮件", "钉钉的邮箱", "钉钉的企业邮箱", "钉钉企业版邮箱", "dingtalk email",
                 "ding talk mail", "dingtalk mailbox"),
    "exmail": ("qq企业邮箱", "qq企业邮", "企业qq邮箱", "腾讯企业", "企业微信的邮箱", "企微邮箱", "wecom email",
               "wework mail", "tencent business mail", "tencent exmail mail", "qq enterprise mail"),
    "netease_enterprise": ("网易企业", "网易免费企业邮箱", "网易企业版邮箱", "163企业邮", "netease qiye",
                           "netease business mail", "netease corporate mail"),
    "aliyun_personal": ("阿里邮箱个人版", "阿里个人版", "阿里云个人邮箱", "阿里个人", "阿里云个人版",
                        "alibaba personal mail", "aliyun personal mail", "aliyun email"),
    "qq": ("qq邮件", "企鹅邮箱", "qq mailbox", "qq email", "腾讯qq邮箱", "foxmail邮箱", "qq的邮箱"),
    "163": ("163邮件", "网易163邮箱", "163 email", "163的邮箱", "163 mailbox"),
    "126": ("126邮件", "网易126邮箱", "126 email", "126的邮箱", "126 mailbox"),
    "gmail": ("谷歌邮件", "google email", "gmail邮箱", "谷歌gmail", "谷歌企业邮箱", "google workspace邮箱"),
    "outlook": ("hotmail邮箱", "微软outlook邮箱", "windows live", "live mail", "live邮箱",
                "msn邮箱", "hotmail mail", "microsoft mail", "微软邮件", "outlook com",
                "personal outlook", "个人outlook", "outlook个人邮箱", "微软个人邮箱"),
    "microsoft365": ("m365", "ms365", "ms 365", "microsoft 365 mail", "microsoft 365 email", "office 365 mail",
                     "office 365 email", "office365邮箱", "o365邮箱", "微软365", "微软企业邮箱", "微软企业邮",
                     "微软的企业邮箱", "微软公司邮箱", "exchange邮箱", "exchange在线", "exchange online邮箱",
                     "exchange server", "世纪互联邮箱", "世纪互联版", "世纪互联office", "21vianet office 365",
                     "onmicrosoft"),
}

# Mail clients that share a name with a provider ("在Outlook里配置QQ邮箱", "Outlook 日历"): a mention
# counts half, and only when the text is about mail.
CLIENT_NAMES: frozenset[str] = frozenset({"outlook", "foxmail"})

# Vague names. `needs` says what else the text must show before the name counts as a mention:
# "context" = any mail word, "intent" = a secret/SMTP word, "adjacent" = a mail word right after it.
# A text that is nothing but the name always counts.
FAMILIES: tuple[Family, ...] = (
    Family(aliases=("qq", "扣扣"), members=("qq",), needs="context"),
    Family(aliases=("163",), members=("163",), needs="context"),
    Family(aliases=("126",), members=("126",), needs="context"),
    Family(aliases=("网易", "netease", "网易邮箱", "网易邮件", "netease mail"),
           members=("163", "126", "netease_enterprise"), needs="context"),
    Family(aliases=("腾讯邮箱", "腾讯的邮箱", "tencent mail"), members=("qq", "exmail"), needs="context"),
    Family(aliases=("腾讯", "tencent"), members=("qq", "exmail"), needs="intent"),
    Family(aliases=("阿里邮箱", "alibaba mail", "阿里巴巴邮箱", "阿里的邮箱", "阿里云的邮箱"),
           members=("aliyun_enterprise", "aliyun_personal"), needs="context"),
    Family(aliases=("阿里", "阿里巴巴", "阿里云", "aliyun", "alibaba"),
           members=("aliyun_enterprise", "aliyun_personal"), needs="intent"),
    Family(aliases=("钉钉", "dingtalk", "dingding", "ding talk"), members=("dingtalk",), needs="intent"),
    Family(aliases=("企业微信", "wecom", "企微", "wework"), members=("exmail",), needs="intent"),
    Family(aliases=("google", "谷歌", "google account", "谷歌账号", "google账号", "谷歌账户"),
           members=("gmail",), needs="intent"),
    Family(aliases=("微软", "microsoft", "微软账号", "microsoft account"), members=("outlook",), needs="intent"),
    Family(aliases=("live", "msn"), members=("outlook",), needs="adjacent"),
    # "365天", "exchange rate": a number or a common word unless the text is about the mailbox's secret/SMTP.
    Family(aliases=("365", "exchange"), members=("microsoft365",), needs="intent"),
    # Where both Microsoft types sign in (the app registration) or a name both products wear.
    Family(aliases=("entra", "entra id", "microsoft entra", "azure ad", "azure active directory", "outlook 365",
                    "微软 oauth", "microsoft oauth"),
           members=("outlook", "microsoft365"), needs="intent"),
    Family(aliases=("企业邮箱", "企业邮", "企业邮件", "公司邮箱", "单位邮箱", "工作邮箱", "公司的邮箱", "企业版邮箱",
                    "company email", "company mail", "work email", "business email", "corporate email",
                    "enterprise email", "enterprise mail", "enterprise mailbox"),
           members=ENTERPRISE_TYPES, needs="context"),
)

# Catalog aliases too vague to stand alone; they are matched through FAMILIES instead.
VAGUE_CATALOG_ALIASES: frozenset[str] = frozenset({"qq", "163", "126", "live", "msn", "365", "exchange"})

# Extra hosts that identify a type (webmail, help sites); catalog domains are added by the matcher.
WEB_HOSTS: dict[str, tuple[str, ...]] = {
    "mail.qq.com": ("qq",),
    "mail.163.com": ("163",),
    "mail.126.com": ("126",),
    "help.163.com": ("163", "126"),
    "mail.aliyun.com": ("aliyun_personal",),
    "help.aliyun.com": ("aliyun_enterprise", "aliyun_personal"),
    "mxhichina.com": ("aliyun_enterprise",),
    "aliyun-inc.com": ("aliyun_enterprise", "dingtalk", "aliyun_personal"),
    "oa.dingtalk.com": ("dingtalk",),
    "google.com": ("gmail",),
    "outlook.live.com": ("outlook",),
    "onmicrosoft.com": ("microsoft365",),
    "office365.com": ("microsoft365",),
    "office.com": ("microsoft365",),
    "protection.outlook.com": ("microsoft365",),
    "partner.outlook.cn": ("microsoft365",),
    "admin.exchange.microsoft.com": ("microsoft365",),
    # Exchange Online's server names (a reply's "[SN4PR0201CA0070.namprd02.prod.outlook.com]") serve both.
    "prod.outlook.com": ("outlook", "microsoft365"),
    "login.microsoftonline.com": ("outlook", "microsoft365"),
    "entra.microsoft.com": ("outlook", "microsoft365"),
    "mxmail.netease.com": ("netease_enterprise",),
    "mxbiz1.qq.com": ("exmail",),
    "mxbiz2.qq.com": ("exmail",),
}

_ALIBABA = ("aliyun_enterprise", "dingtalk", "aliyun_personal")
_NETEASE = ("163", "126")

# Fragments of SMTP replies (lower-case regex) and the types whose servers send them.
ERROR_SIGNATURES: tuple[ErrorSignature, ...] = (
    ErrorSignature(pattern=r"login fail(?!ed|ure|ing)", types=("qq",)),
    ErrorSignature(pattern=r"account is abnormal", types=("qq",)),
    ErrorSignature(pattern=r"enter your authori[sz]ation code", types=("qq",)),
    ErrorSignature(pattern=r"请使用授权码登录", types=("qq", "exmail")),
    ErrorSignature(pattern=r"mail from address must be same as authorization user", types=("qq",)),
    ErrorSignature(pattern=r"connection frequency limited", types=("qq",)),
    ErrorSignature(pattern=r"newxmesmtplogicsvr\w*", types=("qq",)),
    ErrorSignature(pattern=r"esmtp qq mail server", types=("qq", "exmail")),
    ErrorSignature(pattern=r"authentication failed, system busy", types=("exmail",)),
    ErrorSignature(pattern=r"系统已强制开启.{0,20}安全登录", types=("exmail",)),
    ErrorSignature(pattern=r"error: authentication failed", types=(*_NETEASE, "netease_enterprise", "exmail")),
    ErrorSignature(pattern=r"user has no permission|用户无权登陆", types=_NETEASE),
    ErrorSignature(pattern=r"mail from must equal authorized user", types=_NETEASE),
    ErrorSignature(pattern=r"local user only,\s*163", types=("163",)),
    ErrorSignature(pattern=r"dt:spm 163", types=("163",)),
    ErrorSignature(pattern=r"dt:spm 126", types=("126",)),
    ErrorSignature(pattern=r"dt:(?:spm|sum)|mi:(?:sfq|dmc|stc)|rp:drc|hl:(?:ihu|icc)|coremail",
                   types=(*_NETEASE, "netease_enterprise")),
    ErrorSignature(pattern=r"authentication failure\s*\[\d\]|526 authentication failure", types=_ALIBABA),
    ErrorSignature(pattern=r"(?<![0-9a-z.])526(?![0-9a-z])", types=_ALIBABA, weight=0.5),
    ErrorSignature(pattern=r"alimail server|uc_login_source_not_allowed|uc_client_non_ssl", types=_ALIBABA),
    ErrorSignature(pattern=r"doesn't conform with authentication|behaviour spam|too frequently sending|"
                           r"this account isn't allowed to send email", types=_ALIBABA),
    ErrorSignature(pattern=r"534[- ]5\.7\.9|application-specific password required|invalidsecondfactor",
                   types=("gmail",)),
    ErrorSignature(pattern=r"535[- ]5\.7\.8|username and password not accepted|badcredentials|\bgsmtp\b",
                   types=("gmail",)),
    ErrorSignature(pattern=r"daily user sending (?:limit|quota) exceeded|too many login attempts", types=("gmail",)),
    ErrorSignature(pattern=r"smtpclientauthentication is disabled|aka\.ms/smtp_auth_disabled", types=("microsoft365",),
                   weight=2.0),
    ErrorSignature(pattern=r"basic authentication is disabled|outboundspamexception", types=("outlook",)),
    ErrorSignature(pattern=r"5\.7\.30\b|basic authentication is not supported for client submission",
                   types=("microsoft365",)),
    # Exchange Online answers both Outlook.com and Microsoft 365 mailboxes: alone, these ask which.
    ErrorSignature(pattern=r"5\.7\.139|535 5\.7\.3 authentication unsuccessful|sendasdenied|submissionquotaexceeded|"
                           r"5\.7\.60 smtp|\baadsts\d+", types=("outlook", "microsoft365")),
)

# Providers with no built-in type; `custom` works with these settings. Their names count only when the
# text is about mail ("新浪微博" is not).
UNSUPPORTED: tuple[Unsupported, ...] = (
    Unsupported(key="sina", name=_t("新浪邮箱", "Sina Mail"), aliases=("新浪邮箱", "新浪", "sina", "sina mail", "新浪邮件"),
                domains=("sina.com", "sina.cn", "vip.sina.com"), host="smtp.sina.com", port=465, security="ssl",
                secret=_t("在新浪邮箱设置里开启 SMTP 后得到的授权码", "the authorization code shown after turning on SMTP "
                          "in Sina Mail settings")),
    Unsupported(key="sohu", name=_t("搜狐邮箱", "Sohu Mail"), aliases=("搜狐邮箱", "搜狐", "sohu", "sohu mail"),
                domains=("sohu.com",), host="smtp.sohu.com", port=465, security="ssl",
                secret=_t("在搜狐邮箱设置里开启 SMTP 后得到的独立密码", "the separate password set after turning on "
                          "SMTP in Sohu Mail settings")),
    Unsupported(key="139", name=_t("139邮箱", "139 Mail (China Mobile)"),
                aliases=("139邮箱", "移动邮箱", "中国移动邮箱", "139 mail", "139邮件"),
                domains=("139.com",), host="smtp.139.com", port=465, security="ssl",
                secret=_t("在 139 邮箱设置里开启 SMTP 后使用的授权码或密码", "the authorization code or password "
                          "used after turning on SMTP in 139 Mail settings")),
    Unsupported(key="189", name=_t("189邮箱", "189 Mail (China Telecom)"),
                aliases=("189邮箱", "电信邮箱", "天翼邮箱", "189 mail"),
                domains=("189.cn",), host="smtp.189.cn", port=465, security="ssl",
                secret=_t("在 189 邮箱设置里开启 SMTP 后使用的密码", "the password used after turning on SMTP in "
                          "189 Mail settings")),
    Unsupported(key="yeah", name=_t("yeah.net 邮箱", "yeah.net Mail"), aliases=("yeah邮箱", "yeah mail"),
                domains=("yeah.net",), host="smtp.yeah.net", port=465, security="ssl",
                secret=_t("客户端授权码（和 163 邮箱一样生成）", "a client authorization code (generated as for 163 Mail)")),
    Unsupported(key="yahoo", name=_t("雅虎邮箱", "Yahoo Mail"), aliases=("雅虎邮箱", "雅虎", "yahoo", "yahoo mail"),
                domains=("yahoo.com", "ymail.com", "yahoo.co.uk"), host="smtp.mail.yahoo.com", port=465,
                security="ssl",
                secret=_t("在雅虎账号安全设置里生成的应用密码", "an app password generated in Yahoo account security")),
    Unsupported(key="icloud", name=_t("iCloud 邮箱", "iCloud Mail"),
                aliases=("icloud", "icloud邮箱", "苹果邮箱", "icloud mail", "苹果的邮箱"),
                domains=("icloud.com", "me.com", "mac.com"), host="smtp.mail.me.com", port=587, security="starttls",
                secret=_t("在 Apple 账户里生成的 App 专用密码", "an app-specific password generated in your Apple Account")),
    Unsupported(key="zoho", name=_t("Zoho 邮箱", "Zoho Mail"), aliases=("zoho", "zoho mail", "zoho邮箱"),
                domains=("zoho.com", "zohomail.com", "zoho.com.cn"), host="smtp.zoho.com", port=465, security="ssl",
                secret=_t("密码，开启两步验证后用应用专用密码", "the password, or an app-specific password when "
                          "two-factor sign-in is on")),
)

# Words showing the text is about the login secret or SMTP (lower-case regex). Plain "密码"/"login"
# are not enough: "钉钉密码忘了" is not about mail.
INTENT_PATTERN = (
    r"授权|专用密码|安全密码|应用密码|客户端密码|独立密码|三方客户端|smtp|imap|pop3?\b|发信|发件服务器|收发信|"
    r"服务器地址|端口|ssl|starttls|oauth|两步验证|二次验证|双重验证|"
    r"(?:密码|口令).{0,6}(?:填|写|用哪|是什么|是啥|不对|错误|不正确)|(?:填|用|输入|什么|哪个)(?:的)?密码|"
    r"(?:发送|发信|认证)\s*(?:失败|报错|错误|不了|不上)|"
    r"新式验证|新式身份验证|现代验证|应用注册|设备代码|devicelogin|重新授权|reauth|"
    r"(?:用|以|通过)(?:微软|谷歌|google|microsoft)\s*(?:的)?(?:账号|帐号|账户)?\s*登录|"
    r"authori[sz]ation|auth code|app[- ]?password|app[- ]specific|application[- ]specific|passcode|"
    r"modern auth|app registration|device code|sign[- ]in with (?:google|microsoft)|"
    r"(?:which|what) password|password (?:for|to use|field)|2-step|two[- ]step|2fa|\bmfa\b|authenticat|"
    r"third[- ]party (?:client|app)|"
    r"\bport\b|(?<![0-9a-z.])[45][0-5]\d(?![0-9a-z])"
)

# Words showing the text is about mail at all.
MAIL_PATTERN = INTENT_PATTERN + r"|邮箱|邮件|邮|密码|\b(?:e-?mail|mail|mailbox|inbox|password)s?\b"

# Setting a mailbox up or failing to use it. With a mailbox word ("我的邮箱登录不上") such a text asks
# which mailbox even when it names no provider; without one ("邮件模板怎么改") it is not about a guide.
SETUP_PATTERN = (
    r"设置|配置|开通|开启|打开|获取|绑定|添加|接入|"
    r"(?:登录|登陆|登入|连接|发送|发信|收信|认证)\s*(?:不了|不上)|失败|报错|错误|出错|不行|用不了|不能用|发不出|收不到|"
    r"登不上|连不上|\bset ?up\b|\bconfigur|\benabl|\bconnect|\badd\b|\bfail(?:s|ed|ing|ure)?\b|\berror\b|"
    r"can'?t (?:log|sign|send|connect)|\bnot working\b|\bdoesn'?t work\b"
)
MAILBOX_PATTERN = r"邮箱|账号|帐号|账户|\bmailbox|\be-?mail account|\bmail account"

# Mail topics the guides do not cover ("QQ邮箱容量满了", "hotmail 被封号了"): no guide, unless the text
# also asks about the secret or SMTP.
OFF_TOPIC_PATTERN = (
    r"容量|空间不足|空间满|满了|撤回|垃圾邮件|广告邮件|封号|被封|冻结|注销|找不到了|误删|删除邮件|恢复邮件|收件箱|草稿|"
    r"附件|自动回复|签名|日历|会议|通讯录|联系人|过滤|黑名单|退订|已读|未读|激活|安装|续费|"
    r"\bstorage\b|\bquota\b|(?:mailbox|inbox|storage) (?:is )?full|\brecall\b|\bunsend\b|\bspam folder\b|\bjunk\b|\binbox\b|"
    r"\bauto-?reply\b|\bsignature\b|\bcalendar\b|\bcontacts?\b|\bbanned\b|\bsuspended\b|\bdeleted\b|"
    r"\battachment|\bactivat|\binstall|\blicen[cs]e\b|\bsubscription\b"
)

# Bot commands the chat router handles: the whole message, or the command followed by its arguments.
COMMAND_PATTERN = (
    r"^(?:/\S+"
    r"|(?:请|帮我|麻烦|我要|我想)?\s*(?:新建|添加|增加|创建|新增|删除|删掉|移除|修改|编辑|更新|测试|查看|列出|禁用|启用|停用|"
    r"设为默认|设置默认)\s*(?:一个|个)?[^，,。？?！!]{0,12}?(?:邮箱|账号|帐号)(?:$|[\s\d:：=])"
    r"|邮箱(?:列表|管理|清单)(?:$|\s)|(?:帮助|菜单|命令|指令|用法|审计|日志|状态)$"
    r"|(?:发送|发)(?:测试)?邮件"
    r"|(?:help|menu|commands?|list|ls|add|new|create|delete|del|remove|rm|edit|update|test|show|status|"
    r"audit|send|enable|disable)\b)"
)

# "不是QQ邮箱" / "not Gmail": a name right after a negation is not the mailbox asked about.
NEGATION_PATTERN = r"(?:不是|并非|而非|不用|不要|\bnot|isn'?t|rather than|instead of)\s*$"

# Thanks and "it works now": no guide, even when a provider is named (unless a problem is mentioned).
CLOSING_PATTERN = r"谢谢|感谢|多谢|搞定|解决了|已经好了|可以了|\bthanks?\b|thank you|\bsolved\b|works now|\bfixed\b"

# Asking for every step rather than the short form.
FULL_PATTERN = (
    r"详细|完整|全部步骤|所有步骤|一步一步|手把手|\bfull\b|\bdetailed\b|in detail|step[- ]by[- ]step|all (?:the )?steps"
)

# Words that may surround a bare provider name without making it a different question.
FILLER_PATTERN = FULL_PATTERN + (
    r"|请问|那个|这个|我的|我用|用的是|还有|还是|或者|教程|指南|步骤|说明|怎么弄|怎么搞|怎么办|有什么|有啥|区别|哪个好|哪个|"
    r"的|呢|吗|吧|啊|呀|了|哦|嗯|呗|么|和|跟|与|或|是|"
    r"\b(?:what|how)\s+about\b|\bhow to\b|\b(?:and|or|the|my|a|an|please|pls|is|it|for|about|using|use|guide|"
    r"steps?|help|tutorial|instructions?|vs|versus|difference|between|which)\b"
)

ENTERPRISE_HINTS = r"企业|公司|单位|办公|团队|组织|company|business|corporate|enterprise|organi[sz]ation"
PERSONAL_HINTS = r"个人|私人|自己的|personal|private"

# Common misspellings that are not Latin typos (those are fixed by edit distance).
CJK_TYPOS: dict[str, str] = {
    "油箱": "邮箱", "游箱": "邮箱", "邮相": "邮箱", "邮件箱": "邮箱",
    "受权": "授权", "授全": "授权", "收权": "授权", "授权吗": "授权码",
    "腾迅": "腾讯", "藤讯": "腾讯", "网意": "网易", "阿狸": "阿里", "谷哥": "谷歌", "丁丁邮箱": "钉钉邮箱",
}

# Traditional characters that occur in these questions, folded to simplified.
TRADITIONAL: dict[str, str] = dict(zip("郵網騰訊業碼釘權個設獲開裡裏號帳戶驗證雲後臺務應",
                                       "邮网腾讯业码钉权个设获开里里号帐户验证云后台务应"))

# English words one edit away from a provider name ("email" → "exmail"); never "corrected".
COMMON_WORDS: frozenset[str] = frozenset({"email"})
