"""The "new mailbox" wizard: each step's validation, cancel, idle timeout, restart, groups, live check."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.app import App, open_app
from bot.chat.router import Router
from bot.providers.catalog import PROVIDER_TYPES
from tests.chat.conftest import SECRET, Clock, Say, joined, make_settings, message
from tests.support.smtpd import SmtpServer

ACCOUNT = "notice@example.com"


@pytest.fixture
def server(smtp_server: Callable[..., SmtpServer]) -> SmtpServer:
    return smtp_server(security="none", users={ACCOUNT: SECRET})


def one_shot(server: SmtpServer, name: str = "ops") -> str:
    return f"新建邮箱 名称={name} 账号={ACCOUNT} 服务器=127.0.0.1 端口={server.port} 加密=none"


def data_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())


async def test_interactive_flow_validates_each_step(app: App, say: Say, server: SmtpServer) -> None:
    assert "名称" in await say("新建邮箱")
    assert "名称" in await say("   ")  # blank name: re-asked with the reason
    assert "邮箱账号" in await say("ops")
    assert "不是有效的邮箱地址" in await say("not-an-address")
    prompt = await say(ACCOUNT)
    custom = str(PROVIDER_TYPES.index("custom") + 1)  # the last type, numbered from 1
    assert "选择邮箱类型" in prompt and f"{custom}. " in prompt
    assert "不认识" in await say("sina")
    assert "SMTP 服务器" in await say(custom)  # custom by number
    assert "有效的服务器地址" in await say("bad host!")
    assert "端口" in await say("127.0.0.1")
    assert "1–65535" in await say("abc")
    assert "加密方式" in await say(str(server.port))
    assert "ssl、starttls 或 none" in await say("tls1")
    ask = await say("none")
    assert "不会回显" in ask
    done = await say(SECRET)
    assert "✅" in done and "ops" in done and SECRET not in done
    saved = await app.mailboxes.get("ops")
    assert (saved.type, saved.host, saved.port, saved.security) == ("custom", "127.0.0.1", server.port, "none")
    assert any(e.action == "add" and e.actor == "dingtalk:boss (Boss)" for e in await app.audit.entries())


async def test_type_is_proposed_from_domain_and_accepts_names(say: Say) -> None:
    await say("new mailbox")
    await say("qq box")
    prompt = await say("someone@foxmail.com")
    assert "(qq)" in prompt and "yes" in prompt
    assert "authorization code" in (await say("yes")).lower()
    assert "Cancelled" in await say("cancel")
    await say("new mailbox")
    await say("mail163")
    await say("a@example.com")
    assert "authorization code" in (await say("网易163")).lower()


async def test_duplicate_name_is_refused(app: App, say: Say, server: SmtpServer) -> None:
    await say(one_shot(server))
    await say(SECRET)
    await say("新建邮箱")
    assert "已被使用" in await say("OPS")


@pytest.mark.parametrize("steps", [0, 1, 2, 3])
async def test_cancel_at_every_step(app: App, say: Say, steps: int) -> None:
    await say("新建邮箱")
    for answer in ["ops", "a@example.com", "custom"][:steps]:
        await say(answer)
    assert "已取消" in await say("取消")
    assert "did not get that" in await say("ops")  # no flow left: plain routing
    assert await app.mailboxes.list() == []


async def test_one_shot_asks_only_the_secret(app: App, say: Say, server: SmtpServer) -> None:
    ask = await say(one_shot(server))
    assert "不会回显" in ask
    assert "✅" in await say(SECRET)
    assert (await app.mailboxes.get("ops")).account == ACCOUNT


async def test_one_shot_english_with_invalid_field_reasks_it(say: Say, server: SmtpServer) -> None:
    reply = await say(f"new mailbox name=ops account=nope host=127.0.0.1 port={server.port} security=none")
    assert "not a valid e-mail address" in reply and "account" in reply.lower()


async def test_wrong_secret_classified_nothing_saved_then_retry(app: App, say: Say, server: SmtpServer,
                                                                data_dir: Path) -> None:
    await say(one_shot(server))
    failed = await say("wrong-password-123")
    assert "❌" in failed and "登录被拒绝" in failed and "1 重新输入" in failed
    assert "wrong-password-123" not in failed
    assert await app.mailboxes.list() == []
    assert b"wrong-password-123" not in data_bytes(data_dir)
    assert "不会回显" in await say("1")
    assert "✅" in await say(SECRET)
    assert SECRET.encode() not in data_bytes(data_dir)


async def test_failure_offers_provider_guide(app: App, say: Say, smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server(security="none", users={"x@qq.com": SECRET})
    await say(f"新建邮箱 名称=q 账号=x@qq.com 类型=qq 服务器=127.0.0.1 端口={server.port} 加密=none")
    failed = await say("bad")
    assert "mail.qq.com" in failed  # the QQ short guide


async def test_failed_then_edit_settings(app: App, say: Say, server: SmtpServer) -> None:
    await say(f"新建邮箱 名称=ops 账号={ACCOUNT} 服务器=127.0.0.1 端口=1 加密=none")
    assert "❌" in await say(SECRET)
    assert "端口=587" in await say("2")
    assert "不会回显" in await say(f"端口={server.port}")
    assert "✅" in await say(SECRET)


async def test_idle_timeout(app: App, say: Say, clock: Clock) -> None:
    await say("新建邮箱")
    clock.advance(601)
    reply = await say("ops")
    assert "超时" in reply
    assert "名称" not in reply or "邮箱账号" not in reply


async def test_late_secret_after_timeout_is_not_routed(say: Say, server: SmtpServer, clock: Clock) -> None:
    await say(one_shot(server))
    clock.advance(601)
    reply = await say("怎么获取QQ邮箱授权码")  # would be a guide question if routed
    assert "超时" in reply and "smtp.qq.com" not in reply


async def test_resume_after_restart(data_dir: Path, server: SmtpServer) -> None:
    async with open_app(make_settings(data_dir)) as first:
        await Router(first).handle(message("新建邮箱"))
        await Router(first).handle(message("ops"))
    async with open_app(make_settings(data_dir)) as second:
        router = Router(second)
        # the first line of the new run is not silently taken as a value: the resumed dialog says so first
        resumed = joined(await router.handle(message("怎么获取QQ邮箱授权码")))
        assert "继续你在" in resumed and "新建邮箱" in resumed and "取消" in resumed and "邮箱账号" in resumed
        assert "类型" in joined(await router.handle(message(ACCOUNT)))
        for text in ["custom", "127.0.0.1", str(server.port), "none"]:
            await router.handle(message(text))
        assert "✅" in joined(await router.handle(message(SECRET)))
        assert await second.mailboxes.find("ops") is not None


async def test_group_moves_secret_to_single_chat(app: App, say: Say, server: SmtpServer, data_dir: Path) -> None:
    reply = await say(one_shot(server), group=True)
    assert "单聊" in reply
    assert "did not get that" in await say("hello there", group=True, user="other", admin=False)
    done = await say(SECRET)  # boss's single chat: taken as the secret
    assert "✅" in done and SECRET not in done
    assert await app.mailboxes.find("ops") is not None


async def test_secret_change_flow(app: App, say: Say, server: SmtpServer) -> None:
    await say(one_shot(server))
    await say(SECRET)
    assert "不会回显" in await say("修改邮箱 ops 授权码")
    assert "❌" in await say("nope")
    assert "已取消" in await say("取消")


def test_flow_state_holds_no_secret_field() -> None:
    from bot.state.flows import Flow
    assert "secret" not in Flow.__dataclass_fields__
