"""The JSON API under /api/, for a city-level platform to pull (issue 12).

- `GET /api/units`: the units the viewer may see;
- `GET /api/units/{unit}/check`: DESIGN.md's check JSON, the same document as
  `monitor check --unit U --no-crawl --format json` (`Monitor.check(...).to_json()` and `data`, its freshness);
- `GET /api/reports/{quarter}`: what `report-2020Q3.json` holds (`report_dict` of the quarter's report model).

The centre (open access on loopback, or its session) sees everything; a unit's token (header `X-Unit-Token` or
query `token`) opens only its own check. The pydantic models below describe the documents for /openapi.json; they
allow extra keys, so a key the contract gains later reaches the platform before the models name it.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from monitors.app import DatabaseUnavailable, Monitor, UnknownUnit, is_outage, outage_message
from monitors.evaluate import build_quarter_report, day_problem, parse_quarter, quarter_windows
from monitors.report.json_writer import report_dict
from monitors.web.deps import LoginRequired, app_monitor, app_security, current_viewer, require_unit
from monitors.web.security import Viewer

router = APIRouter(tags=["数据接口"])

TOKEN_HEADER = "X-Unit-Token"
QUARTER = r"^(199[0-9]|20[0-9][0-9]|2100)[Qq][1-4]$"  # the years the CLI takes (monitors.cli.YEARS)


class Open(BaseModel):
    """A part of a contract document: named keys described, other keys passed through unchanged."""

    model_config = ConfigDict(extra="allow")


class Problem(BaseModel):
    detail: str = Field(description="原因（中文）")


class UnitOut(BaseModel):
    name: str = Field(description="单位名称（设置中的名称）")
    kind: str = Field(description="单位类型：township 乡镇（街道），department 区直部门，other 其他")


class ColumnOut(Open):
    name: str = Field(description="栏目名称")
    url: str = Field(description="栏目地址")
    category: str = Field(
        description="栏目类别：dynamic 动态，notice 通知公告，disclosure 信息公开，plan 规划计划，other 其他")
    posts: int = Field(description="栏目中已存储的信息条数")
    last_post: date | None = Field(description="最新一条的发布日期（无信息时为空）")
    partial: str | None = Field(description="最近一次未读全的原因（读全时为空）")
    unreadable: str | None = Field(description="最近一次无法读取的原因（可读取时为空）")


class AccountOut(Open):
    platform: str = Field(description="平台：weibo 新浪微博，wechat 微信公众号，feed 订阅源等")
    name: str = Field(description="账号名称")
    url: str = Field(description="账号地址")
    last_post: str | None = Field(description="最新一条的发布时间（ISO 8601，带时区）")
    status: str = Field(description="账号状态，如 正常、超期未更新、无法读取")
    reason: str | None = Field(description="状态的原因（正常时为空）")


class EvidenceOut(Open):
    item: str = Field(description="链接地址，或原文中的词语")
    text: str = Field(description="链接文字，或词语前后的文字")
    outcome: str = Field(description="检查结果，或应有的写法")


class FindingOut(Open):
    rule: str = Field(description="规则编号，如 quota.monthly、column.stale、link.broken")
    severity: str = Field(description="严重程度：veto 单项否决，fail 不合格，warn 提醒")
    target: str = Field(description="问题所指：月份（2020-07）、栏目或账号的地址、页面地址")
    detail: str = Field(description="问题说明（一句中文）")
    evidence: list[EvidenceOut] | None = Field(None, description="内容问题的逐条依据（仅内容检查的问题有此项）")


class DataOut(Open):
    oldest: str | None = Field(description="各栏目、账号最近一次读取时间中最早的（ISO 8601）")
    newest: str | None = Field(description="各栏目、账号最近一次读取时间中最晚的（ISO 8601）")
    never_read: int = Field(description="从未读取的栏目和账号数")
    stale: bool = Field(description="是否有数据超过一天未读取（或从未读取）")


class CheckOut(Open):
    """DESIGN.md's check JSON: what `monitor check --unit U --no-crawl --format json` prints."""

    unit: str = Field(description="单位名称")
    as_of: date = Field(description="评估日期")
    months: dict[str, int] = Field(description="各月（YYYY-MM）发布的信息条数")
    partial_months: list[str] = Field(description="计数依据了未读全栏目的月份")
    columns: list[ColumnOut] = Field(description="单位的栏目")
    accounts: list[AccountOut] = Field(description="单位的政务新媒体账号")
    findings: list[FindingOut] = Field(description="发现的问题")
    data: DataOut = Field(description="所依据数据的读取时间")


class ReportUnitOut(Open):
    unit: str = Field(description="单位名称")
    kind: str = Field(description="单位类型：township 或 department")
    months: dict[str, int] = Field(description="季度各月发布条数")
    status: str = Field(description="完成情况，如 完成、未完成")
    shortfalls: dict[str, int] = Field(description="未达标月份及差额条数")
    partial_months: list[str] = Field(description="计数依据了未读全栏目的月份")


class ColumnIssueOut(Open):
    unit: str = Field(description="单位名称")
    column: str = Field(description="栏目名称")
    url: str = Field(description="栏目地址")
    category: str = Field(description="栏目类别")
    last_post: date | None = Field(description="最新一条的发布日期")
    days_since: int | None = Field(description="距评估日期的天数")
    limit_days: int | None = Field(description="该类栏目允许的最长未更新天数")
    note: str | None = Field(None, description="说明（如未读全的原因）")


class ReportOut(Open):
    """The quarter's report JSON (DESIGN.md "Contracts"): what `report-2020Q3.json` holds."""

    quarter: str = Field(description="季度，如 2020Q3")
    total_posts: int = Field(description="季度内各单位发布信息总数")
    units: list[ReportUnitOut] = Field(description="乡镇（街道）和区直部门的发布情况")
    as_of: date = Field(description="通报日期（评估日期）")
    months: list[str] = Field(description="季度的三个月")
    issuer: str = Field(description="发文单位")
    district: str = Field(description="区名")
    site_name: str = Field(description="门户网站名称")
    quota: int = Field(description="每月应发布条数")
    good_units: dict[str, list[str]] = Field(description="三个月均达标的单位（按类型）")
    short_units: dict[str, list[str]] = Field(description="有月份未达标的单位（按类型）")
    always_short_units: dict[str, list[str]] = Field(description="三个月均未达标的单位（按类型）")
    stale_columns: list[ColumnIssueOut] = Field(description="超期未更新的栏目")
    blank_columns: list[ColumnIssueOut] = Field(description="空白栏目")
    disclosure_posts: int = Field(description="季度内政府信息公开条数")
    disclosure_stale: dict[str, list[ColumnIssueOut]] = Field(description="各单位超期未更新的信息公开栏目")
    site_findings: list[dict[str, Any]] = Field(description="网站层面的问题（可用性、首页等）")
    accounts: list[dict[str, Any]] = Field(description="政务新媒体账号及其状态")
    accounts_as_of: date = Field(description="判定账号状态的日期")
    partial_columns: list[ColumnIssueOut] = Field(description="未读全的栏目")
    content_issues: list[dict[str, Any]] | None = Field(
        None, description="内容检查发现的问题（未开启内容检查时无此项）")


REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "未登录，也未提供单位令牌"},
    403: {"model": Problem, "description": "令牌无效，或无权查看"},
}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {503: {"model": Problem, "description": "数据库不可用"}}


def _token(header: str | None, query: str | None) -> str | None:
    return header or query or None


def _bad_param(where: str, name: str, message: str, value: object) -> RequestValidationError:
    """A 422 shaped as FastAPI's own validation errors, with a Chinese message."""
    return RequestValidationError([{"type": "value_error", "loc": (where, name), "msg": message, "input": value}])


def _today(monitor: Monitor) -> date:
    return datetime.now(ZoneInfo(monitor.settings.monitor.timezone)).date()


def _day(monitor: Monitor, value: date | None, name: str = "as_of") -> date:
    """A date the CLI's --as-of would take: its year in range, not after today (default today)."""
    today = _today(monitor)
    if value is None:
        return today
    if problem := day_problem(value, today):
        raise _bad_param("query", name, problem, value.isoformat())
    return value


def _outage(exc: Exception, monitor: Monitor) -> HTTPException:
    return HTTPException(status_code=503, detail=outage_message(exc, monitor.url))


def _unit_viewer(request: Request, token: str | None) -> Viewer:
    """The centre, or the unit whose token this is; 403 for a token of no unit, 401 for nobody."""
    viewer = current_viewer(request)
    if viewer.kind == "centre":
        return viewer
    if token:
        security = app_security(request)
        for unit in app_monitor(request).settings.units:
            if security.unit_token_valid(unit.name, token):
                return Viewer("unit", unit.name)
        raise HTTPException(status_code=403, detail="令牌无效或已过期，请使用本单位的专用链接")
    raise LoginRequired()


def _require_centre(request: Request, token: str | None) -> Viewer:
    viewer = _unit_viewer(request, token)
    if viewer.kind != "centre":
        raise HTTPException(status_code=403, detail="单位令牌只能查看本单位的检查结果")
    return viewer


TokenHeader = Annotated[str | None, Header(alias=TOKEN_HEADER, description="单位令牌（本单位专用链接中的 token）")]
TokenQuery = Annotated[str | None, Query(description="单位令牌（也可放在请求头 X-Unit-Token 中）")]


@router.get("/units", response_model=list[UnitOut], responses=REFUSED,
            summary="单位列表", description="调用者可查看的单位：区大数据服务中心可见全部单位；单位令牌只见本单位。")
def units(request: Request, x_unit_token: TokenHeader = None, token: TokenQuery = None) -> list[UnitOut]:
    viewer = _unit_viewer(request, _token(x_unit_token, token))
    return [UnitOut(name=u.name, kind=u.kind) for u in app_monitor(request).settings.units if viewer.may_see(u.name)]


@router.get("/units/{unit}/check", response_model=CheckOut, response_model_exclude_unset=True,
            responses={**REFUSED, 404: {"model": Problem, "description": "没有这个单位"}, **UNAVAILABLE},
            summary="单位检查结果",
            description="单位截至某日的检查结果，与 `monitor check --unit 单位 --no-crawl --format json` 的输出相同："
                        "各月发布条数、栏目、政务新媒体账号、发现的问题，以及所依据数据的读取时间。"
                        "区大数据服务中心可查看所有单位；单位凭本单位令牌只能查看本单位。")
def unit_check(request: Request,
               unit: Annotated[str, Path(description="单位名称或别名，如 审计局", examples=["审计局"])],
               as_of: Annotated[date | None, Query(description="评估日期 YYYY-MM-DD（默认今天；不能晚于今天）",
                                                                   examples=["2020-10-10"])] = None,
               x_unit_token: TokenHeader = None, token: TokenQuery = None) -> dict[str, Any]:
    monitor = app_monitor(request)
    try:
        name = monitor.unit_names([unit])[0]
    except UnknownUnit as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    require_unit(request, name, _token(x_unit_token, token))
    day = _day(monitor, as_of)
    try:
        result = monitor.check(name, day)
        freshness = monitor.freshness(result.unit)
    except UnknownUnit as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except Exception as exc:
        if isinstance(exc, DatabaseUnavailable) or is_outage(exc):
            raise _outage(exc, monitor) from None
        raise
    return {**result.to_json(), "data": freshness.to_json()}


@router.get("/reports/{quarter}", response_model=ReportOut, response_model_exclude_unset=True,
            responses={**REFUSED, 404: {"model": Problem, "description": "季度尚未结束，没有通报数据"}, **UNAVAILABLE},
            summary="季度通报数据",
            description="季度通报的数据，与 `monitor report` 写出的 report-季度.json 相同（现场生成，不写文件）。"
                        "仅限区大数据服务中心。")
def quarter_report(request: Request,
                   quarter: Annotated[str, Path(pattern=QUARTER, description="季度，如 2020Q3（1990–2100 年）",
                                                                examples=["2020Q3"])],
                   as_of: Annotated[date | None, Query(description="通报日期 YYYY-MM-DD（默认季度结束后第 10 天；"
                                                                   "不能早于季度最后一天，也不能晚于今天）")] = None,
                   x_unit_token: TokenHeader = None, token: TokenQuery = None) -> dict[str, Any]:
    _require_centre(request, _token(x_unit_token, token))
    monitor = app_monitor(request)
    quarter = quarter.upper()
    parse_quarter(quarter)  # the path's pattern took only these
    last_day = quarter_windows(quarter)[-1][2] - timedelta(days=1)
    if _today(monitor) <= last_day:
        raise HTTPException(status_code=404, detail=f"{quarter} 到 {last_day:%Y-%m-%d} 才结束，尚无通报数据")
    day = None if as_of is None else _day(monitor, as_of)
    if day is not None and day < last_day:
        raise _bad_param("query", "as_of", f"通报日期 {day} 在季度结束（{last_day}）之前", day.isoformat())
    try:
        with monitor.sessions() as session:
            model = build_quarter_report(session, monitor.settings, quarter, day)
    except Exception as exc:
        if isinstance(exc, DatabaseUnavailable) or is_outage(exc):
            raise _outage(exc, monitor) from None
        raise
    return report_dict(model)
