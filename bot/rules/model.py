"""Approval notification rules and the DingTalk records they act on.

A rule says which mail an approval event (`bpms_instance_change`) sends: for which process, on which
change (`start`, `finish` with an optional result, `terminate`), from which mailbox, with which relay
template and to whom (the originator's e-mail, fixed addresses, or both). What a user types for a
rule is validated here, every problem at once, in zh and en, before the service checks that the
mailbox and the template exist.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.errors import FieldError, InvalidInput
from bot.i18n import Text

EVENT_TYPE = "bpms_instance_change"
ORIGINATOR = "originator"
ON_VALUES = ("start", "finish", "terminate")
RESULT_VALUES = ("agree", "refuse")
MAX_RECIPIENTS = 20  # per rule: a notification, not a mailing list
NAME_MAX = 64

On = Literal["start", "finish", "terminate"]
Result = Literal["agree", "refuse"]

# No whitespace or control characters: chat commands take the name as one word.
_NAME = re.compile(r"[^\s\x00-\x1f\x7f]{1,64}")
# DingTalk process codes look like PROC-FF6Y4BE1N2-…; anything wider than this is a typo.
_PROCESS_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")

# What each field must look like, for errors pydantic raises itself (a missing or mistyped field).
RULE_FIELDS: dict[str, tuple[Text, str]] = {
    "name": (Text(zh=f"必填，1–{NAME_MAX} 个字符，不能含空格或控制字符",
                  en=f"required, 1-{NAME_MAX} characters without spaces or control characters"), "报销通过"),
    "process_code": (Text(zh="必填，审批模板的 processCode（在审批后台的模板 URL 里）",
                          en="required, the approval form's processCode (in its URL in the approval admin)"),
                     "PROC-FF6Y4BE1N2-EXAMPLE"),
    "on": (Text(zh="必须是 start、finish 或 terminate", en="must be start, finish or terminate"), "finish"),
    "result": (Text(zh="必须是 agree 或 refuse（只用于 finish）", en="must be agree or refuse (finish only)"), "agree"),
    "mailbox": (Text(zh="必填，已登记的发信邮箱名称", en="required, the name of a registered mailbox"), "通知"),
    "template": (Text(zh="必填，已保存的邮件模板名称", en="required, the name of a stored mail template"), "approval"),
    "to": (Text(zh=f"必填，originator 和/或邮件地址，逗号分隔，最多 {MAX_RECIPIENTS} 个",
                en=f"required, originator and/or e-mail addresses, comma-separated, at most {MAX_RECIPIENTS}"),
           "originator,finance@example.com"),
}


def _problem(field: str, zh: str, en: str) -> FieldError:
    return FieldError(field=field, problem=Text(zh=zh, en=en), example=RULE_FIELDS[field][1])


def split_recipients(value: str | list[str]) -> list[str]:
    """`originator,a@example.com` (or a list) → its parts, trimmed, empty ones dropped."""
    parts = value.split(",") if isinstance(value, str) else [p for item in value for p in item.split(",")]
    return [p.strip() for p in parts if p.strip()]


class RuleSpec(BaseModel):
    """What a user submits for a rule (CLI flags, later chat and console)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: str
    process_code: str
    on: On
    result: Result | None = None
    mailbox: str = Field(min_length=1, max_length=64)
    template: str = Field(min_length=1, max_length=64)
    to: list[str]

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError("bad name")
        return value

    @field_validator("process_code")
    @classmethod
    def _process_code(cls, value: str) -> str:
        if not _PROCESS_CODE.fullmatch(value):
            raise ValueError("bad process code")
        return value

    @field_validator("result", mode="before")
    @classmethod
    def _blank_result(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("to", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return split_recipients(value) if isinstance(value, (str, list)) else value

    @field_validator("to")
    @classmethod
    def _to(cls, value: list[str]) -> list[str]:
        if not value or len(value) > MAX_RECIPIENTS:
            raise ValueError("bad recipient count")
        out: list[str] = []
        for item in value:
            if item.lower() == ORIGINATOR:
                item = ORIGINATOR
            else:
                try:
                    item = validate_email(item, check_deliverability=False).normalized
                except EmailNotValidError:
                    raise ValueError(f"'{item}' is neither originator nor an e-mail address") from None
            if item not in out:
                out.append(item)
        return out

    @model_validator(mode="after")
    def _result_only_on_finish(self) -> RuleSpec:
        if self.result is not None and self.on != "finish":
            raise ValueError("result without finish")
        return self


def parse_rule(data: dict[str, Any]) -> RuleSpec:
    """Validate raw input; InvalidInput names every bad field at once."""
    try:
        return RuleSpec.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(_field_errors(exc, data)) from None


def _field_errors(exc: ValidationError, data: dict[str, Any]) -> list[FieldError]:
    found: dict[str, FieldError] = {}
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "result"  # no location: the result-on-finish check
        if field in found or field not in RULE_FIELDS:
            continue
        message = str(err.get("msg", ""))
        problem, example = RULE_FIELDS[field]
        if not err["loc"]:
            found[field] = _problem("result", "只有 --on finish 可以指定 --result", "--result goes with --on finish only")
        elif field == "to" and "neither originator" in message:
            bad = message.split("'")[1]
            found[field] = _problem("to", f"“{bad}”既不是 originator 也不是有效的邮件地址",
                                    f"'{bad}' is neither originator nor a valid e-mail address")
        elif field in ("on", "result") and data.get(field) not in (None, ""):
            found[field] = FieldError(field=field, problem=Text(zh=f"“{data[field]}”无效，{problem.zh}",
                                                                en=f"'{data[field]}' is invalid: {problem.en}"),
                                      example=example)
        else:
            found[field] = FieldError(field=field, problem=problem, example=example)
    order = list(RULE_FIELDS)
    return sorted(found.values(), key=lambda e: order.index(e.field))


class Rule(BaseModel):
    """A stored rule; `version` moves on every change (compare-and-set between instances)."""

    name: str
    event: str = EVENT_TYPE
    process_code: str
    on: On
    result: Result | None = None
    mailbox: str
    template: str
    to: list[str]
    enabled: bool = True
    version: int = 1
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime

    @property
    def to_originator(self) -> bool:
        return ORIGINATOR in self.to

    @property
    def addresses(self) -> list[str]:
        """The fixed recipients."""
        return [item for item in self.to if item != ORIGINATOR]

    def when(self) -> str:
        """`finish/agree`, `finish` (any result), `start`, `terminate`: how lists show it."""
        return f"{self.on}/{self.result}" if self.result else self.on

    def matches(self, event: ApprovalEvent) -> bool:
        return (self.enabled and self.event == EVENT_TYPE and self.process_code == event.process_code
                and self.on == event.type and (self.result is None or self.result == event.result))

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class ApprovalEvent(BaseModel):
    """The data of a `bpms_instance_change` event (DingTalk's field names); unknown fields ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    process_instance_id: str = Field(alias="processInstanceId", min_length=1, max_length=200)
    process_code: str = Field(alias="processCode", min_length=1, max_length=200)
    type: str = Field(max_length=32)
    result: str | None = Field(None, max_length=32)
    title: str | None = Field(None, max_length=1000)
    staff_id: str | None = Field(None, alias="staffId", max_length=200)
    url: str | None = Field(None, max_length=2000)
    create_time: int | None = Field(None, alias="createTime")
    finish_time: int | None = Field(None, alias="finishTime")


class ProcessInstance(BaseModel):
    """What GET /v1.0/workflow/processInstances returns under `result` (the fields mail uses)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    title: str | None = None
    originator_user_id: str | None = Field(None, alias="originatorUserId")
    status: str | None = None
    result: str | None = None
    create_time: str | None = Field(None, alias="createTime")
    finish_time: str | None = Field(None, alias="finishTime")
    form: dict[str, str] = {}

    @classmethod
    def from_api(cls, result: dict[str, Any]) -> ProcessInstance:
        """`formComponentValues` (a list of {name, value, …}) becomes name → value; unnamed ones are left out."""
        form = {str(item["name"]): "" if item.get("value") is None else str(item["value"])
                for item in result.get("formComponentValues") or [] if isinstance(item, dict) and item.get("name")}
        return cls.model_validate({**result, "form": form})


class DingTalkUser(BaseModel):
    """A member as POST /topapi/v2/user/get returns them (`result`)."""

    model_config = ConfigDict(extra="ignore")

    userid: str
    name: str | None = None
    email: str | None = None
    org_email: str | None = None

    @property
    def address(self) -> str | None:
        """Where mail reaches them: the organisation e-mail first, then the personal one."""
        return (self.org_email or "").strip() or (self.email or "").strip() or None
