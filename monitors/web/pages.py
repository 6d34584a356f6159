"""The dashboard's HTML pages (issue 12): overview, a unit, a column, the quarterly notices, site status, login.

Each route checks who may see it, calls one use case of monitors.dashboard and renders a template; the numbers
are the CLI's (the same functions). Crawled text is only ever autoescaped; charts get their data in JSON blocks
that static/charts.js reads (the CSP allows no inline script).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from monitors import dashboard
from monitors.app import AppError, BadInput, UnknownUnit
from monitors.evaluate import day_problem
from monitors.web.deps import (
    app_monitor,
    app_security,
    check_csrf,
    current_viewer,
    render,
    require_centre,
    require_unit,
    templates,
)
from monitors.web.security import SESSION_COOKIE, SESSION_SECONDS, Viewer

router = APIRouter()


def localtime(value: datetime | None, tz: ZoneInfo) -> str:
    """A stored (aware) time as the site's local time, to the minute."""
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else ""


def is_web_url(value: object) -> bool:
    """Only http(s) URLs become links (a crawled `javascript:` link is shown as text)."""
    return isinstance(value, str) and value.startswith(("http://", "https://"))


templates.env.filters["localtime"] = localtime
templates.env.tests["weburl"] = is_web_url


def show(request: Request, name: str, viewer: Viewer, status_code: int = 200, **context: Any) -> HTMLResponse:
    """`render` with the settings' timezone (for `|localtime(tz)`)."""
    tz = ZoneInfo(app_monitor(request).settings.monitor.timezone)
    return render(request, name, viewer, status_code=status_code, tz=tz, **context)

AsOf = Annotated[str | None, Query(description="评估日期 YYYY-MM-DD，默认今天")]
ColumnId = Annotated[int, Path(ge=1, le=2_147_483_647, description="栏目编号")]  # the table's integer key


def parse_as_of(request: Request, value: str | None) -> date:
    """`?as_of=YYYY-MM-DD`, default today in the settings' timezone; 400 on anything else."""
    if not value:
        return datetime.now(ZoneInfo(app_monitor(request).settings.monitor.timezone)).date()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise HTTPException(status_code=400, detail="日期格式应为 YYYY-MM-DD") from None
    today = datetime.now(ZoneInfo(app_monitor(request).settings.monitor.timezone)).date()
    if problem := day_problem(day, today):
        raise HTTPException(status_code=400, detail=problem)
    return day


def as_of_query(day: date, request: Request) -> str:
    """The `as_of` to carry in links: only when it was asked (the default is today)."""
    return day.isoformat() if request.query_params.get("as_of") else ""


@router.get("/", response_class=HTMLResponse, name="overview")
def overview_page(request: Request, as_of: AsOf = None) -> Response:
    viewer = require_centre(request)
    day = parse_as_of(request, as_of)
    data = dashboard.overview(app_monitor(request), day)
    return show(request, "overview.html", viewer, page="overview", data=data, as_of=day,
                  as_of_q=as_of_query(day, request))


@router.get("/u/{unit:path}", response_class=HTMLResponse, name="unit")
def unit_page(request: Request, unit: str, as_of: AsOf = None) -> Response:
    viewer = require_unit(request, unit)
    day = parse_as_of(request, as_of)
    try:
        data = dashboard.unit_page(app_monitor(request), unit, day)
    except UnknownUnit:
        raise HTTPException(status_code=404, detail="没有这个单位") from None
    token = request.query_params.get("token", "") if viewer.kind == "unit" else ""
    return show(request, "unit.html", viewer, page="units", data=data, unit=data.unit, as_of=day,
                  as_of_q=as_of_query(day, request), token=token)


@router.get("/units", response_class=HTMLResponse, name="units")
def units_page(request: Request, as_of: AsOf = None) -> Response:
    """各单位: the list of units (the centre); a unit's viewer goes straight to its own page."""
    viewer = current_viewer(request)
    if viewer.kind != "centre":
        return RedirectResponse("/login?next=/units", status_code=303)
    day = parse_as_of(request, as_of)
    monitor = app_monitor(request)
    data = dashboard.overview(monitor, day)
    base = (monitor.settings.serve.public_url or str(request.base_url)).rstrip("/")
    security = app_security(request)

    def unit_token_link(unit: str) -> str:
        """The link the centre sends a unit: its page with its token ([serve] public_url, else this address)."""
        return f"{base}/u/{quote(unit, safe='')}?token={security.unit_token(unit)}"

    return show(request, "units.html", viewer, page="units", data=data, as_of=day,
                as_of_q=as_of_query(day, request), unit_token_link=unit_token_link)


@router.get("/c/{column_id}", response_class=HTMLResponse, name="column")
def column_page(request: Request, column_id: ColumnId, as_of: AsOf = None) -> Response:
    monitor = app_monitor(request)
    unit = dashboard.column_unit(monitor, column_id)
    if unit is None:
        current = current_viewer(request)
        if current.kind != "centre":  # say nothing of which columns exist to someone who may not see them
            require_centre(request)
        raise HTTPException(status_code=404, detail="没有这个栏目")
    viewer = require_unit(request, unit)
    day = parse_as_of(request, as_of)
    data = dashboard.column_page(monitor, column_id, day)
    if data is None:
        raise HTTPException(status_code=404, detail="没有这个栏目")
    token = request.query_params.get("token", "") if viewer.kind == "unit" else ""
    return show(request, "column.html", viewer, page="units", data=data, unit=unit, as_of=day,
                  as_of_q=as_of_query(day, request), token=token)


@router.get("/reports", response_class=HTMLResponse, name="reports")
def reports_page(request: Request, as_of: AsOf = None) -> Response:
    return _reports(request, as_of)


def _reports(request: Request, as_of: str | None = None, message: str = "", error: str = "") -> Response:
    """The reports page, with what the last action said (never from the address: only this server's words)."""
    viewer = require_centre(request)
    day = parse_as_of(request, as_of)
    monitor = app_monitor(request)
    return show(request, "reports.html", viewer, page="reports", quarters=dashboard.report_list(monitor, day),
                  as_of=day, as_of_q=as_of_query(day, request), message=message, error=error,
                  directory=str(dashboard.reports_dir(monitor)))


@router.post("/reports/{quarter}", name="make_report")
def make_report(request: Request, quarter: str, csrf: Annotated[str, Form()] = "",
                allow_incomplete: Annotated[str, Form()] = "") -> Response:
    viewer = require_centre(request)
    check_csrf(request, viewer, csrf)
    if not dashboard.QUARTER.match(quarter):
        raise HTTPException(status_code=404, detail="季度格式应为 2020Q3")
    monitor = app_monitor(request)
    try:
        written = monitor.quarter_report(quarter, dashboard.reports_dir(monitor),
                                         allow_incomplete=bool(allow_incomplete))
    except BadInput as exc:
        return _reports(request, request.query_params.get("as_of"), error=str(exc))
    except AppError as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from None
    note = f"已生成 {quarter} 通报及附件 {len(written)} 个文件" + "".join(f"；提醒：{w}" for w in written.warnings)
    return _reports(request, request.query_params.get("as_of"), message=note)


@router.get("/reports/{quarter}/{filename}", name="report_file")
def report_download(request: Request, quarter: str, filename: str) -> Response:
    require_centre(request)
    path = dashboard.report_file(app_monitor(request), quarter, filename)
    if path is None:
        raise HTTPException(status_code=404, detail="没有这个文件")
    return FileResponse(path, filename=filename)


@router.get("/status", response_class=HTMLResponse, name="status")
def status_page(request: Request, as_of: AsOf = None) -> Response:
    viewer = require_centre(request)
    day = parse_as_of(request, as_of)
    data = dashboard.status_page(app_monitor(request), day)
    return show(request, "status.html", viewer, page="status", data=data, as_of=day,
                  as_of_q=as_of_query(day, request))


def safe_next(target: str) -> str:
    """Only a path on this site (never //host or a scheme): where to go after logging in."""
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc or "\\" in target:
        return "/"
    return target


@router.get("/login", response_class=HTMLResponse, name="login")
def login_form(request: Request, next: str = "/") -> Response:
    anonymous = Viewer("anonymous")
    return show(request, "login.html", current_viewer(request), page="login", next=safe_next(next),
                  login_csrf=app_security(request).csrf_token(anonymous), error="",
                  open_access=app_security(request).open_access)


@router.post("/login", name="login_post")
def login(request: Request, password: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = "",
          next: Annotated[str, Form()] = "/") -> Response:
    security = app_security(request)
    check_csrf(request, Viewer("anonymous"), csrf)
    if not security.check_password(password):
        return show(request, "login.html", current_viewer(request), status_code=401, page="login",
                      next=safe_next(next), login_csrf=security.csrf_token(Viewer("anonymous")),
                      error="密码不正确", open_access=security.open_access)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, security.session_cookie(), max_age=SESSION_SECONDS, httponly=True,
                        samesite="lax", secure=request.url.scheme == "https", path="/")
    return response


@router.post("/logout", name="logout")
def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, current_viewer(request), csrf)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
