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
            title=_t("Gmail：开启两步验证并创建应用专用密码",
                     "Gmail: turn on 2-Step Verification and create an app password"),
            path=_t("myaccount.google.com → 安全性 → 两步验证（先开启）→ 应用专用密码 → 创建",
                    "myaccount.google.com → Security → 2-Step Verification (turn on first) → App passwords → Create"),
            steps=(
                _t("打开 myaccount.google.com，进入左侧的「安全性」。",
                   "Open myaccount.google.com and go to Security on the left."),
                _t("在“登录 Google 的方式”里打开「两步验证」，按提示添加手机或验证器。",
                   "Under 'How you sign in to Google', turn on 2-Step Verification and follow the prompts to add a "
                   "phone or an authenticator."),
                _t("两步验证生效后，打开 myaccount.google.com/apppasswords（或在账号页顶部搜索“应用专用密码”）。",
                   "Once 2-Step Verification is on, open myaccount.google.com/apppasswords (or search the account page "
                   "for 'App passwords')."),
                _t("输入一个好认的名字（例如 mailbot）后点「创建」，页面会显示 16 位应用专用密码。",
                   "Type a name you will recognise (for example mailbot) and click Create; a 16-character app password "
                   "appears."),
                _t("复制时去掉中间的空格。回到机器人，账号填完整的 Gmail 地址，密码栏填这 16 位密码。",
                   "Copy it without the spaces. Back in the bot, enter the full Gmail address as the account and the "
                   "16 characters in the password field."),
            ),
            enable_smtp=_t("Gmail 不需要单独开启 SMTP，有了应用专用密码就能发信。",
                           "Gmail needs no SMTP switch: an app password is enough to send."),
            secret=_t("16 位应用专用密码（去掉空格），不是 Google 账号密码。",
                      "The 16-character app password (without spaces), not your Google account password."),
            pitfalls=(
                _t("没开两步验证就看不到“应用专用密码”入口；只用安全密钥登录或开了高级保护的账号也用不了。",
                   "Without 2-Step Verification there is no App passwords page; accounts that use only security keys "
                   "or Advanced Protection cannot use it either."),
                _t("公司或学校的 Google Workspace 账号，管理员可能禁用了应用专用密码，需要找管理员开放。",
                   "On a company or school Google Workspace account the admin may have disabled app passwords; ask "
                   "them to allow it."),
                _t("填账号密码会被拒绝：534-5.7.9 表示需要应用专用密码，535-5.7.8 表示用户名或密码不被接受。",
                   "The account password is refused: 534-5.7.9 means an app password is required, 535-5.7.8 means the "
                   "user name or password was not accepted."),
                _t("修改 Google 账号密码后，已有的应用专用密码会被撤销，需要重新创建。",
                   "Changing the Google account password revokes existing app passwords; create a new one."),
            ),
            links=(
                _link("https://support.google.com/accounts/answer/185839",
                      "Google 帮助：开启两步验证", "Google help: turn on 2-Step Verification"),
            ),
        ),
        Guide(
            type="outlook",
            title=_t("Outlook.com：SMTP 已不接受密码或授权码，只能用 OAuth2",
                     "Outlook.com: SMTP no longer takes passwords or app passwords, only OAuth2"),
            path=_t("outlook.live.com → 设置（齿轮）→ 邮件 → 转发和 IMAP：可查看服务器信息；登录只能走 OAuth2",
                    "outlook.live.com → Settings (gear) → Mail → Forwarding and IMAP shows the server details; sign-in "
                    "must use OAuth2"),
            steps=(
                _t("先确认账号类型：@outlook.com、@hotmail.com、@live.com、@msn.com 等是个人 Outlook.com；公司域名的 Microsoft 365 邮箱不属于这一类。",
                   "Check the account type first: @outlook.com, @hotmail.com, @live.com, @msn.com and similar are "
                   "personal Outlook.com; a company-domain Microsoft 365 mailbox is not."),
                _t("了解限制：Outlook.com 的 SMTP 不再接受账号密码，应用密码也不行，所以没有可以获取的“授权码”。",
                   "Know the limit: Outlook.com SMTP no longer accepts the account password, nor app passwords, so "
                   "there is no 'authorization code' to fetch."),
                _t("在 outlook.live.com 打开 设置（齿轮）→ 邮件 → 转发和 IMAP，可以看到服务器信息和“需要 OAuth2/新式验证”的说明。",
                   "In outlook.live.com, open Settings (gear) → Mail → Forwarding and IMAP to see the server details "
                   "and the note that OAuth2 / Modern Auth is required."),
                _t("要用这个邮箱发信，必须走 OAuth2 授权（用微软账号登录并同意发送邮件的权限）；只能填密码的工具登录不了。",
                   "Sending from this mailbox needs OAuth2 consent (sign in with the Microsoft account and allow "
                   "sending mail); tools that only take a password cannot log in."),
                _t("如果只是需要一个发信邮箱，改用 QQ、163 或 Gmail（应用专用密码）等类型更省事。",
                   "If you just need a sending mailbox, another type such as QQ, 163 or Gmail (app password) is simpler."),
            ),
            enable_smtp=_t("没有需要打开的 SMTP 开关，卡住的是登录方式：只接受 OAuth2。",
                           "There is no SMTP switch to turn on; the obstacle is the login method, which must be OAuth2."),
            secret=_t("没有能用的密码：账号密码和应用密码都会被拒绝，只接受 OAuth2 令牌。",
                      "No password works: the account password and app passwords are both refused; only an OAuth2 "
                      "token is accepted."),
            pitfalls=(
                _t("用密码登录会收到 535 5.7.139 Authentication unsuccessful, basic authentication is disabled 或 535 5.7.3。",
                   "A password login gets 535 5.7.139 Authentication unsuccessful, basic authentication is disabled, "
                   "or 535 5.7.3."),
                _t("网上“开启 POP/IMAP + 应用密码”的教程是 2024 年以前的做法，现在对 SMTP 无效。",
                   "Tutorials that say 'enable POP/IMAP and use an app password' predate 2024 and no longer work for SMTP."),
                _t("公司的 Microsoft 365 邮箱不是这个类型：可按自定义 SMTP（custom）添加，并请管理员为该邮箱开启 SMTP AUTH。",
                   "A company Microsoft 365 mailbox is not this type: add it as custom SMTP and ask the admin to enable "
                   "SMTP AUTH for the mailbox."),
                _t("新注册或未验证的 Outlook.com 账号发信会被限流甚至拦截（554 OutboundSpamException），需要先完成账号验证。",
                   "New or unverified Outlook.com accounts are throttled or blocked (554 OutboundSpamException) until "
                   "the account is verified."),
            ),
            links=(
                _link("https://support.microsoft.com/office/modern-authentication-methods-now-needed-to-continue-"
                      "syncing-outlook-email-in-non-microsoft-email-apps-c5d65390-9676-4763-b41f-d7986499a90d",
                      "微软公告：第三方应用需要新式验证", "Microsoft notice: modern authentication now needed"),
            ),
        ),
    )
}

# Types whose mailboxes belong to an organisation; "公司/企业" in a question narrows a vague name to these.
ENTERPRISE_TYPES: tuple[str, ...] = ("aliyun_enterprise", "dingtalk", "exmail", "netease_enterprise")

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
    "gmail": ("谷歌邮件", "google email", "gmail邮箱", "谷歌gmail"),
    "outlook": ("hotmail邮箱", "微软outlook邮箱", "windows live", "live mail", "live邮箱",
                "msn邮箱", "hotmail mail", "microsoft mail", "微软邮件"),
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
    Family(aliases=("企业邮箱", "企业邮", "企业邮件", "公司邮箱", "单位邮箱", "工作邮箱", "公司的邮箱", "企业版邮箱",
                    "company email", "company mail", "work email", "business email", "corporate email",
                    "enterprise email", "enterprise mail", "enterprise mailbox"),
           members=ENTERPRISE_TYPES, needs="context"),
)

# Catalog aliases too vague to stand alone; they are matched through FAMILIES instead.
VAGUE_CATALOG_ALIASES: frozenset[str] = frozenset({"qq", "163", "126", "live", "msn"})

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
    ErrorSignature(pattern=r"smtpclientauthentication is disabled|aka\.ms/smtp_auth_disabled", types=("m365",),
                   weight=2.0),
    ErrorSignature(pattern=r"5\.7\.139|basic authentication is disabled|5\.7\.30 basic authentication",
                   types=("outlook",)),
    ErrorSignature(pattern=r"535 5\.7\.3 authentication unsuccessful|outboundspamexception|sendasdenied|"
                           r"submissionquotaexceeded|5\.7\.60 smtp", types=("outlook",)),
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
    Unsupported(key="m365", name=_t("Microsoft 365（Office 365）企业邮箱", "Microsoft 365 (Office 365) mail"),
                aliases=("microsoft 365", "office 365", "office365", "o365", "m365", "exchange online", "世纪互联"),
                domains=("onmicrosoft.com", "office365.com", "protection.outlook.com"),
                host="smtp.office365.com", port=587, security="starttls",
                secret=_t("邮箱密码（需管理员为该邮箱开启 SMTP AUTH），或 OAuth2",
                          "the mailbox password (the admin must enable SMTP AUTH for it), or OAuth2")),
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
    r"authori[sz]ation|auth code|app[- ]?password|app[- ]specific|application[- ]specific|passcode|"
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
    r"附件|自动回复|签名|日历|会议|通讯录|联系人|过滤|黑名单|退订|已读|未读|"
    r"\bstorage\b|\bquota\b|(?:mailbox|inbox|storage) (?:is )?full|\brecall\b|\bunsend\b|\bspam folder\b|\bjunk\b|\binbox\b|"
    r"\bauto-?reply\b|\bsignature\b|\bcalendar\b|\bcontacts?\b|\bbanned\b|\bsuspended\b|\bdeleted\b|"
    r"\battachment"
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
