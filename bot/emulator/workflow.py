"""DingTalk's approval side for the emulator: process instances, members with their e-mail, and the
`bpms_instance_change` events an approval's progress pushes over Stream.

Shapes: GET /v1.0/workflow/processInstances answers `{"result": {...}, "success": true}` with the
fields of the official SDKs' GetProcessInstanceResponseBodyResult (CONFIRMED, aliyun dingtalk SDK);
POST /topapi/v2/user/get answers `{"errcode": 0, "errmsg": "ok", "result": {userid, name, email,
org_email, …}}` (CONFIRMED field names); the event data holds processInstanceId, processCode, type,
result, title, staffId, url, createTime, finishTime (CONFIRMED, DingTalk's event page).
ASSUMED: a missing workflow permission is HTTP 403 `Forbidden.AccessDenied.AccessTokenPermissionDenied`
(the code DingTalk uses for other v1.0 APIs); a missing contacts permission is HTTP 200 with
errcode 60011; an unknown user is errcode 60121; an unknown instance is HTTP 400 `InvalidParameter`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.emulator.models import ApiError

PERMISSION_DENIED = (403, "Forbidden.AccessDenied.AccessTokenPermissionDenied",
                     "没有调用该接口的权限，接口权限申请参考：https://open.dingtalk.com/document/orgapp/add-api-permission")
USER_PERMISSION_ERRCODE = 60011
USER_NOT_FOUND_ERRCODE = 60121


def _api_time(ms: int | None) -> str | None:
    """The workflow API's time format, e.g. 2024-05-06T11:33Z."""
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%MZ")


@dataclass
class Instance:
    """An approval instance; `result` and `finish_ms` are set when it finishes."""

    instance_id: str
    process_code: str
    originator: str
    title: str
    form: dict[str, str]
    create_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    status: str = "RUNNING"
    result: str = ""
    finish_ms: int | None = None
    business_id: str = "202401010001"

    def api_result(self) -> dict[str, Any]:
        return {
            "title": self.title, "businessId": self.business_id, "originatorUserId": self.originator,
            "originatorDeptId": "1", "originatorDeptName": "Emulated dept", "status": self.status,
            "result": self.result, "createTime": _api_time(self.create_ms), "finishTime": _api_time(self.finish_ms),
            "approverUserIds": [], "ccUserIds": [], "operationRecords": [], "tasks": [],
            "formComponentValues": [{"componentType": "TextField", "name": name, "id": f"TextField-{i}",
                                     "value": value} for i, (name, value) in enumerate(self.form.items())],
        }

    def event_data(self, change: str, url: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "processInstanceId": self.instance_id, "processCode": self.process_code, "bizCategoryId": "",
            "businessId": self.business_id, "type": change, "title": self.title, "staffId": self.originator,
            "url": url, "createTime": self.create_ms,
        }
        if change in ("finish", "terminate"):
            data["finishTime"] = self.finish_ms
        if change == "finish":
            data["result"] = self.result
        return data


class WorkflowApi:
    """Instances and members the tests set up, and the two read APIs over them."""

    def __init__(self) -> None:
        self.instances: dict[str, Instance] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.refuse_instances = False  # the app lacks Workflow.Instance.Read
        self.refuse_users = False  # the app lacks the contacts permission

    def add_user(self, userid: str, name: str, *, email: str | None = None, org_email: str | None = None) -> None:
        user: dict[str, Any] = {"userid": userid, "name": name, "unionid": f"union-{userid}", "active": True}
        if email is not None:
            user["email"] = email
        if org_email is not None:
            user["org_email"] = org_email
        self.users[userid] = user

    def get_instance(self, instance_id: str) -> dict[str, Any]:
        if self.refuse_instances:
            raise ApiError(*PERMISSION_DENIED)
        instance = self.instances.get(instance_id)
        if instance is None:
            raise ApiError(400, "InvalidParameter", f"processInstanceId {instance_id} 不存在")
        return {"result": instance.api_result(), "success": True}

    def get_user(self, body: dict[str, Any]) -> dict[str, Any]:
        """The oapi style: always HTTP 200, the outcome in errcode."""
        if self.refuse_users:
            return {"errcode": USER_PERMISSION_ERRCODE, "errmsg": "没有调用该接口的权限", "request_id": "emu"}
        user = self.users.get(str(body.get("userid", "")))
        if user is None:
            return {"errcode": USER_NOT_FOUND_ERRCODE, "errmsg": "找不到该用户", "request_id": "emu"}
        return {"errcode": 0, "errmsg": "ok", "result": user, "request_id": "emu"}
