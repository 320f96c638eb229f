"""End to end through the API and the worker against real aiosmtpd sinks with faults."""

from __future__ import annotations

from typing import Any

MAIL: dict[str, Any] = {"to": ["alice@example.com"], "subject": "Approval 审批", "text": "Please approve."}


async def test_happy_path_sent(smtp_server: Any, relay_factory: Any) -> None:
    server = smtp_server(users={"bot@example.com": "pw-123456"})
    async with relay_factory(server) as relay:
        status, body = await relay.post({**MAIL, "mailbox": "ops", "from_name": "审批流"})
        assert status == 202 and body["status"] == "queued"
        view = await relay.wait_status(body["id"], "sent")
        assert view["status"] == "sent" and view["attempts"] == 1 and view["sent_at"]
        [msg] = await server.wait_for_messages_async(1)
        assert msg.message["Message-ID"] == view["message_id"]
        assert msg.message["Subject"] == "Approval 审批"
        assert msg.rcpt_tos == ["alice@example.com"]


async def test_4xx_then_ok_retries_with_same_message_id(smtp_server: Any, relay_factory: Any) -> None:
    server = smtp_server(data_replies=["451 4.3.0 try later", None])
    async with relay_factory(server) as relay:
        _, body = await relay.post(MAIL)
        view = await relay.wait_status(body["id"], "sent", "failed")
        assert view["status"] == "sent" and view["attempts"] == 2
        msgs = await server.wait_for_messages_async(1)
        assert [m.message["Message-ID"] for m in msgs] == [view["message_id"]]
        assert relay.sink.events == []


async def test_5xx_fails_with_reason_and_alert(smtp_server: Any, relay_factory: Any) -> None:
    server = smtp_server(data_replies=["554 5.7.1 spam detected"])
    async with relay_factory(server) as relay:
        _, body = await relay.post(MAIL)
        view = await relay.wait_status(body["id"], "failed")
        assert view["status"] == "failed" and view["attempts"] == 1
        assert "spam detected" in view["last_error"]
        [alert] = await relay.alerts(1)
        assert alert.kind == "mail_failed" and alert.mail_id == body["id"]
        # the retry endpoint sends it again (the server now accepts), same Message-ID
        async with relay.http.post(relay.url + f"/v1/mails/{body['id']}/retry",
                                   headers={"Authorization": f"Bearer {relay.token}"}) as resp:
            assert resp.status == 202
        view2 = await relay.wait_status(body["id"], "sent")
        assert view2["status"] == "sent"
        [msg] = await server.wait_for_messages_async(1)
        assert msg.message["Message-ID"] == view["message_id"]


async def test_retry_of_non_failed_mail_is_409(smtp_server: Any, relay_factory: Any) -> None:
    server = smtp_server()
    async with relay_factory(server) as relay:
        _, body = await relay.post(MAIL)
        await relay.wait_status(body["id"], "sent")
        async with relay.http.post(relay.url + f"/v1/mails/{body['id']}/retry",
                                   headers={"Authorization": f"Bearer {relay.token}"}) as resp:
            assert resp.status == 409
        async with relay.http.post(relay.url + "/v1/mails/nope/retry",
                                   headers={"Authorization": f"Bearer {relay.token}"}) as resp:
            assert resp.status == 404


async def test_connection_dropped_mid_data_is_retried(smtp_server: Any, relay_factory: Any) -> None:
    server = smtp_server(drop_mid_data=1)
    async with relay_factory(server) as relay:
        _, body = await relay.post(MAIL)
        view = await relay.wait_status(body["id"], "sent", "failed")
        assert view["status"] == "sent" and view["attempts"] == 2
        msgs = await server.wait_for_messages_async(1)
        assert msgs[0].message["Message-ID"] == view["message_id"]


async def test_slow_server_times_out_then_retries(smtp_server: Any, relay_factory: Any) -> None:
    server = smtp_server(delay_s=3.0)  # far past the timeout: a starved loop cannot read the reply first
    async with relay_factory(server, smtp_timeout_s=0.3, retry_max_attempts=2) as relay:
        _, body = await relay.post(MAIL)
        view = await relay.wait_status(body["id"], "failed", timeout=15)
        assert view["status"] == "failed" and view["attempts"] == 2
        assert view["last_error"].startswith("timeout")
        assert (await relay.alerts(1))[0].kind == "mail_failed"


async def test_slow_server_within_timeout_is_sent(smtp_server: Any, relay_factory: Any) -> None:
    server = smtp_server(delay_s=0.3)
    async with relay_factory(server) as relay:
        ids = [(await relay.post(MAIL))[1]["id"] for _ in range(3)]
        for mail_id in ids:
            assert (await relay.wait_status(mail_id, "sent"))["status"] == "sent"


async def test_auth_failure_fails_and_alerts_once(smtp_server: Any, relay_factory: Any) -> None:
    server = smtp_server(users={"bot@example.com": "other"}, auth_reply="535 5.7.8 authentication failed")
    async with relay_factory(server) as relay:
        ids = [(await relay.post(MAIL))[1]["id"] for _ in range(2)]
        for mail_id in ids:
            view = await relay.wait_status(mail_id, "failed")
            assert view["status"] == "failed" and view["last_error"].startswith("auth")
        [alert] = await relay.alerts(1)
        assert alert.kind == "login_failing" and alert.offers_guide


async def test_connection_reused_across_mails(smtp_server: Any, relay_factory: Any) -> None:
    server = smtp_server()
    async with relay_factory(server, relay_connections=1) as relay:
        ids = [(await relay.post(MAIL))[1]["id"] for _ in range(5)]
        for mail_id in ids:
            await relay.wait_status(mail_id, "sent")
        assert server.connections == 1


async def test_metrics_and_healthz(smtp_server: Any, relay_factory: Any) -> None:
    server = smtp_server()
    async with relay_factory(server) as relay:
        _, body = await relay.post(MAIL)
        await relay.wait_status(body["id"], "sent")
        status, text = await relay.get("/metrics")
        assert status == 200 and "mailbot_mails_sent_total 1" in text
        assert "mailbot_delivery_latency_seconds_count 1" in text
        status, health = await relay.get("/healthz")
        assert status == 200 and health["status"] == "ok"
        status, listing = await relay.get("/v1/mails?status=sent&limit=5")
        assert [m["id"] for m in listing["mails"]] == [body["id"]]
