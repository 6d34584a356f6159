"""The 整改 actions (issue 12): a unit acknowledges or reports fixed through its token link, the centre verifies or
reopens; and `GET /api/findings`, the findings with their state for the centre or one unit.

Every form posts `note`, `csrf` (and a unit's `token`, hidden); each action redirects (303) to the unit's page.
The state machine and who may do what are in monitors/remediation.py.
"""
from __future__ import annotations

import re

import html
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Header, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from monitors import remediation
from monitors.remediation import FindingStatus, RemediationError
from monitors.web.deps import (
    LoginRequired,
    app_monitor,
    check_csrf,
    current_viewer,
    require_centre,
    require_unit,
    unit_link,
)
from monitors.web.security import Viewer

router = APIRouter()

NoteField = Annotated[str, Form(max_length=remediation.NOTE_MAX)]
FindingId = Annotated[int, Path(ge=1, le=2_147_483_647)]  # the table's integer key: larger never exists
PLAIN_TEXT = r"^[^\x00-\x1f\x7f]*$"  # names and tokens have no control characters (PostgreSQL refuses NUL)
DAY = r"^\d{4}-\d{2}-\d{2}$"
StateName = Literal["open", "acknowledged", "fixed", "verified", "reopened"]


def _refused(exc: RemediationError, back: str) -> HTMLResponse:
    """An action the loop refused: the reason and a way back (no JavaScript needed)."""
    e = html.escape
    return HTMLResponse(f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>未能办理</title></head>'
                        f"<body><p>{e(str(exc))}</p><p><a href=\"{e(back, quote=True)}\">返回单位页面</a></p>"
                        "</body></html>", status_code=exc.status)


def _back(request: Request, unit: str, viewer: Viewer, finding_id: int, as_of: str = "") -> str:
    """The unit's page the form was on (its evaluation date kept: `as_of` rides in a hidden field)."""
    link = unit_link(request, unit, viewer)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", as_of):
        link += ("&" if "?" in link else "?") + f"as_of={as_of}"
    return link + f"#finding-{finding_id}"


def _unit_action(request: Request, unit: str, finding_id: int, note: str, csrf: str, token: str,
                 action: Callable[..., FindingStatus], as_of: str = "") -> Response:
    viewer = require_unit(request, unit, token=token or None)
    check_csrf(request, viewer, csrf)
    back = _back(request, unit, viewer, finding_id, as_of)
    try:
        action(app_monitor(request), unit, finding_id, note, viewer.label, centre=viewer.kind == "centre")
    except RemediationError as exc:
        return _refused(exc, back)
    return RedirectResponse(back, status_code=303)


@router.post("/u/{unit}/findings/{finding_id}/acknowledge", include_in_schema=False)
def acknowledge(request: Request, unit: str, finding_id: FindingId, note: NoteField = "",
                csrf: Annotated[str, Form()] = "", token: Annotated[str, Form()] = "",
                as_of: Annotated[str, Form()] = "") -> Response:
    """确认收到."""
    return _unit_action(request, unit, finding_id, note, csrf, token, remediation.acknowledge, as_of)


@router.post("/u/{unit}/findings/{finding_id}/fixed", include_in_schema=False)
def fixed(request: Request, unit: str, finding_id: FindingId, note: NoteField = "",
          csrf: Annotated[str, Form()] = "", token: Annotated[str, Form()] = "",
          as_of: Annotated[str, Form()] = "") -> Response:
    """已整改."""
    return _unit_action(request, unit, finding_id, note, csrf, token, remediation.claim_fixed, as_of)


def _centre_action(request: Request, finding_id: int, note: str, csrf: str,
                   action: Callable[..., FindingStatus], as_of: str = "") -> Response:
    viewer = require_centre(request)
    check_csrf(request, viewer, csrf)
    try:
        status = action(app_monitor(request), finding_id, note, viewer.label)
    except RemediationError as exc:
        return _refused(exc, "/")
    return RedirectResponse(_back(request, status.unit, viewer, finding_id, as_of), status_code=303)


@router.post("/findings/{finding_id}/verify", include_in_schema=False)
def verify(request: Request, finding_id: FindingId, note: NoteField = "",
           csrf: Annotated[str, Form()] = "", as_of: Annotated[str, Form()] = "") -> Response:
    """核实通过 (the centre)."""
    return _centre_action(request, finding_id, note, csrf, remediation.verify, as_of)


@router.post("/findings/{finding_id}/reopen", include_in_schema=False)
def reopen(request: Request, finding_id: FindingId, note: NoteField = "",
           csrf: Annotated[str, Form()] = "", as_of: Annotated[str, Form()] = "") -> Response:
    """重新打开 (the centre)."""
    return _centre_action(request, finding_id, note, csrf, remediation.reopen, as_of)


# --- the API -----------------------------------------------------------------------------------------------

class FindingEventOut(BaseModel):
    state: StateName
    state_label: str
    note: str
    actor: str
    at: datetime


class FindingStateOut(BaseModel):
    """A finding's 整改 state: the finding is (unit, rule, target) as in the check JSON."""

    id: int
    unit: str
    rule: str
    target: str
    state: StateName
    state_label: str
    note: str
    updated_by: str
    updated_at: datetime
    opened_at: datetime
    deadline: date | None
    overdue: bool
    days_overdue: int
    events: list[FindingEventOut]


@router.get("/api/findings", response_model=list[FindingStateOut], tags=["整改"],
            summary="问题及整改状态", responses={401: {"description": "需要登录或本单位的专用链接"},
                                                 403: {"description": "单位令牌无效"}})
def api_findings(request: Request,
                 unit: Annotated[str | None, Query(max_length=200, pattern=PLAIN_TEXT,
                                                      description="单位名称；单位令牌须与之对应")] = None,
                 state: Annotated[StateName | None, Query(description="只列此状态")] = None,
                 as_of: Annotated[str | None, Query(pattern=DAY, json_schema_extra={"format": "date"},
                                                    description="判断逾期的日期 YYYY-MM-DD，默认今天")] = None,
                 token: Annotated[str | None, Query(max_length=100, pattern=PLAIN_TEXT,
                                                        description="单位令牌（或 X-Unit-Token）")] = None,
                 x_unit_token: Annotated[str | None, Header(max_length=100)] = None) -> list[dict]:
    """Findings with their state, deadline and whether overdue: the centre sees every unit's (or `unit`'s),
    a unit only its own (its token in `X-Unit-Token` or `token`, with `unit`)."""
    given = x_unit_token or token
    viewer = current_viewer(request, unit, given or "")
    if viewer.kind == "anonymous":
        if given:
            raise HTTPException(status_code=403, detail="单位令牌无效，或与所给单位不符")
        raise LoginRequired()
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:  # 2020-02-30: shaped as FastAPI's own validation errors
        raise RequestValidationError([{"type": "value_error", "loc": ("query", "as_of"),
                                       "msg": "日期格式应为 YYYY-MM-DD", "input": as_of}]) from None
    scope = unit if viewer.kind == "centre" else viewer.unit
    statuses = remediation.states_for(app_monitor(request), scope, day, states=[state] if state else None)
    return [s.to_json() for s in statuses]
