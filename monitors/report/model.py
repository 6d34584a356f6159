"""The quarterly report model: built once by evaluation, consumed by every writer (docx, xlsx, json).

Writers never query storage; everything they print is here, already computed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from config.model import CATEGORY_LABELS  # noqa: F401 - the one label set (check, the report, settings)

KIND_LABELS = {"township": "镇街", "department": "区直部门", "other": "其他单位"}

# 附件4, the register form units fill in and return (monitors.register.write_register writes it).
FORM_TITLE = "福州市政务新媒体详细汇总表"


@dataclass(frozen=True)
class UnitRow:
    """One row of attachments 1/2: a unit's posts in each month of the quarter."""

    unit: str
    kind: str  # township | department | other
    months: dict[str, int]  # "2020-07" -> posts, in calendar order, exactly the quarter's three months
    shortfalls: dict[str, int]  # "2020-07" -> how many posts short of the quota (only short months)
    status: str  # "完成" or "7月-7;8月-9;9月-10"
    partial_months: tuple[str, ...] = ()  # months whose count rests on a column not read whole

    @property
    def total(self) -> int:
        return sum(self.months.values())


@dataclass(frozen=True)
class ColumnIssue:
    """A stale, blank or partially read column, as listed in the notice."""

    unit: str
    column: str
    url: str
    category: str  # dynamic | notice | plan | disclosure | other
    last_post: date | None  # None for a blank column
    days_since: int | None  # days from last_post to as_of; None when blank
    limit_days: int
    note: str | None = None  # why a partial read was partial (已读取 75/107 条 …) or a page unreadable


@dataclass(frozen=True)
class ContentIssue:
    """One problem the content checks found (issue 11): a broken link, image or attachment, an external link, a
    typo or sensitive word, a column's pages without meta tags, a home page problem; one row of its attachment."""

    unit: str  # the unit that answers for it ("" for a site no unit answers for)
    rule: str  # link.broken, image.broken, attachment.broken, link.external, content.typo, content.sensitive, …
    severity: str  # veto | fail | warn
    page: str  # the page's URL (meta.missing: the column's URL; site.homepage_stale: the site's)
    detail: str  # the finding's sentence
    item: str = ""  # the link's URL, or the word as written
    text: str = ""  # the link's text, or the words around it
    outcome: str = ""  # what the check found, or the right form
    home: bool = False  # a problem of a site's home page (counted apart, as the national indicators count them)


@dataclass(frozen=True)
class NoticeText:
    """What the office writes into the notice itself (settings [report]); printed as given."""

    masthead: str = ""  # 发文机关标志 (red 版头 and separator line); "" for none
    doc_number: str = ""  # 发文字号
    next_steps: tuple[str, ...] = ()  # section 四's paragraphs; () prints the placeholder
    contact: str = ""  # 附注 (联系人、电话)
    sealed: bool = False  # 落款 for a seal (GB/T 9704-2012 §7.3.5.1) or without one (§7.3.5.2)


@dataclass(frozen=True)
class QuarterReport:
    quarter: str  # "2020Q3"
    months: list[str]  # ["2020-07", "2020-08", "2020-09"]
    as_of: date  # the date the notice is dated and rules are evaluated
    issuer: str  # 落款, e.g. "福州市仓山区人民政府办公室"
    district: str  # e.g. "仓山区"
    site_name: str  # e.g. "仓山区人民政府"
    quota: int  # monthly quota per unit, e.g. 10
    total_posts: int  # distinct posts published on the portal in the quarter
    units: list[UnitRow]
    good_units: dict[str, list[str]]  # kind -> units doing well (met quota every month, most posts first)
    short_units: dict[str, list[str]]  # kind -> units short in at least one month
    always_short_units: dict[str, list[str]]  # kind -> units short in every month of the quarter
    stale_columns: list[ColumnIssue]
    blank_columns: list[ColumnIssue]
    disclosure_posts: int  # posts in disclosure columns published in the quarter
    disclosure_stale: dict[str, list[ColumnIssue]]  # unit -> its disclosure columns past the limit
    site_findings: list = field(default_factory=list)  # site.unavailable and other site-level findings (dicts)
    accounts: list = field(default_factory=list)  # attachment 3 rows, filled by the new-media monitor (issue 3)
    partial_columns: list[ColumnIssue] = field(default_factory=list)  # not read whole: counts may be short
    unreadable_columns: list[ColumnIssue] = field(default_factory=list)  # no list recognised (column.unreadable)
    # The content checks' problems ([content] enabled), one row per link, word or page; None when they are off.
    content_issues: list[ContentIssue] | None = None
    notice: NoticeText = NoticeText()
    accounts_as_of: date | None = None  # the day accounts were judged (the quarter's last day); None: as_of

    def units_of(self, kind: str) -> list[UnitRow]:
        return [u for u in self.units if u.kind == kind]

    @property
    def last_day(self) -> date:
        """The quarter's last day."""
        year, month = map(int, self.months[-1].split("-"))
        return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)

    @property
    def accounts_day(self) -> date:
        return self.accounts_as_of or self.as_of

    def warnings(self) -> list[str]:
        """What the office should look at before sending the notice (printed by `report`, logged by the daemon)."""
        out = []
        if not self.notice.next_steps:
            out.append("通报第四部分“下一步工作要求”仍是待填写的占位文字：请在设置文件 [report] next_steps 中填写，"
                       "或在生成的通报中修改")
        short = {u.unit for u in self.units if u.shortfalls}
        for names in self.good_units.values():
            for name in names:
                if name in short:
                    out.append(f"设置 [report] good_units 把“{name}”列为做得较好的单位，但它本季度有月份未达到要求")
        return out

    @property
    def quarter_label(self) -> str:
        """'2020年第三季度'"""
        year, q = self.quarter.split("Q")
        return f"{year}年第{'一二三四'[int(q) - 1]}季度"
