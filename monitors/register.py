"""The new-media accounts register: 福州市政务新媒体详细汇总表 (attachment 4 of the seed notice), in and out.

Units fill in the city's form and send it to the 大数据服务中心; `monitor accounts import` reads it, checks
it (a missing name, a likely duplicate, no review mechanism, no contact, nothing to monitor) and turns it into
`[[units]]` / `[[accounts]]` blocks for `settings.toml`, which stays the single source of truth of what is
monitored. `monitor accounts export` writes the same form back from settings, with each account's newest post
and status from the database (the status rule is `monitors.rules.account_status`, through
`monitors.evaluate.Evaluator.account_rows`; nothing here re-implements it).

Reading is by header titles, not positions: the form has a title row and a 单位名称（盖章）row above the header,
填表人 and 注 lines below the rows, hand-merged cells and blank rows in between. Problems are Chinese sentences
naming the row as Excel numbers it (header rows counted), with its 序号 when it has one: 第8行（序号5）.

Units are settings units (`monitors.unit_names`: a name, an alias, 三叉街街道办事处 for 三叉街街道); an unknown
unit is an error naming the closest known ones, unless the import is asked to add new units (`add_units`).
Accounts on platforms we do not monitor (抖音, 今日头条, …) are listed in one problem: an error, unless the
import is asked to skip them (`skip_unsupported`).
"""
from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlsplit

from openpyxl import Workbook
from openpyxl.styles import Border

from config.model import PLATFORM_LABELS, AccountSettings, Settings
from config.toml_text import toml_str, toml_value
from crawler.readers.http import internal_host
from monitors.report.model import FORM_TITLE
from monitors.report.xlsx_writer import SHORT_FILL, clean_text, fit_widths, print_setup, set_cell, write_title
from monitors.sheets import Problem, SheetError, find_header, header_fields, open_workbook
from monitors.sheets import cell_text as _text
from monitors.sheets import http_url as _http_url
from monitors.unit_names import UnitNames, unit_key
from monitors.unit_names import norm as _norm

REGISTER_TITLE = FORM_TITLE  # 附件4 of the notice is this form
NAMELESS = "（未填写名称）"  # the settings name of an account the register gives no name (seed row 13)
NEW_UNIT_KIND = "other"

# Attachment 4's columns, in order, and the field each fills.
HEADERS = ["序号", "单位", "平台类型", "账号名称", "运营主体", "网址/二维码", "是否建立审核机制",
           "联系人姓名、手机号码", "负责人姓名、手机号码", "备注", "账号 ID", "任意一篇文章的 URL"]
FIELDS = ["no", "unit", "platform", "name", "operator", "url", "review", "contact", "owner", "note",
          "account_id", "sample_url"]
STATUS_HEADERS = ["最近更新", "监测状态"]  # our export only, after the form's 12 columns
FOOTER = [
    "填表人：　　　　　　　　　　联系电话：",
    "注：1.平台类型为开通（或入驻）新媒体平台的类型，如新浪微博、微信公众号、人民日报客户端等。",
    "2.运营主体为负责维护发布信息的本级单位或下设部门的名称。",
    "3.信息内容审核机制应附相关工作制度进行说明。",
]

# The register's platform names -> ours. Keys are compared after _norm (NFKC, no spaces, lower case).
PLATFORM_NAMES = {
    "新浪微博": "weibo", "微博": "weibo", "新浪": "weibo", "新浪微博号": "weibo", "微博号": "weibo", "weibo": "weibo",
    "微信公众号": "wechat", "微信": "wechat", "公众号": "wechat", "微信号": "wechat", "微信服务号": "wechat",
    "微信订阅号": "wechat", "微信公众平台": "wechat", "wechat": "wechat",
    "rss": "feed", "订阅源": "feed", "rss订阅": "feed", "rss订阅源": "feed", "atom": "feed", "feed": "feed",
}
# Ours -> the register's (export): 新浪微博, 微信公众号, 订阅源 (the names the rules print too).
PLATFORM_REGISTER_NAMES = dict(PLATFORM_LABELS)

# Header titles (after _norm) -> field. Attachment 4's own titles plus those of attachment 3 and common variants.
_HEADER_ALIASES = {
    "序号": "no", "编号": "no",
    "单位": "unit", "单位名称": "unit", "维护单位": "unit", "开设单位": "unit", "主办单位": "unit",
    "平台类型": "platform", "平台": "platform", "政务新媒体类型": "platform", "类型": "platform",
    "账号名称": "name", "政务新媒体名称": "name", "名称": "name", "账号": "name", "新媒体名称": "name",
    "运营主体": "operator", "运营单位": "operator",
    "网址/二维码": "url", "网址": "url", "网址二维码": "url", "二维码": "url", "链接": "url", "地址": "url",
    "是否建立审核机制": "review", "审核机制": "review", "是否建立信息审核机制": "review",
    "备注": "note",
    "账号id": "account_id", "id": "account_id",
    "最近更新": "last_post", "监测状态": "status",  # our export's extra columns: read past, not imported
}
_HEADER_PREFIXES = [("联系人", "contact"), ("负责人", "owner"), ("任意一篇文章", "sample_url"),
                    ("文章url", "sample_url"), ("文章链接", "sample_url"), ("是否建立", "review")]
_YES = ("是", "有", "已", "建立", "y", "yes", "true", "√", "✓", "✔")
_NO = ("否", "无", "未", "没", "不", "n", "no", "false", "×", "✗")
_NOT_BUILT = ("未建立", "没有建立", "尚未", "暂未", "暂无", "还没")
_SCHEME = re.compile(r"^\s*([a-z][a-z0-9+.-]*):", re.I)   # a URL's scheme as written (http, file, gopher, …)
_PHONE = re.compile(r"1[3-9]\d{9}|\d{3,4}-?\d{7,8}|\d{7,8}")

RegisterError = SheetError  # a register that cannot be read at all (monitors.sheets); Problem.row is the sheet row
# The register's fields an account keeps besides unit, platform, name and url: export writes each back.
DETAILS = {"operator": "运营主体", "review": "是否建立审核机制", "contact": "联系人", "owner": "负责人",
           "note": "备注", "account_id": "账号 ID", "sample_url": "任意一篇文章的 URL"}


@dataclass(frozen=True)
class RegisterRow:
    """One account of the register, checked: `platform` is ours, `url` the address we monitor."""

    line: int  # sheet row (1-based)
    no: int | None  # 序号 as written
    unit: str
    platform_label: str  # 平台类型 as written
    platform: str  # weibo | wechat | feed
    name: str  # "" when the register gives none
    url: str  # resolved from 网址/二维码, else 账号 ID, else the article URL
    operator: str = ""
    review: bool | None = None
    contact: str = ""
    owner: str = ""
    note: str = ""
    account_id: str = ""
    sample_url: str = ""

    @property
    def label(self) -> str:
        return _label(self.no, self.line)

    def to_account(self, unit: str | None = None) -> AccountSettings:
        return AccountSettings(unit=unit or self.unit, platform=self.platform, name=self.name or NAMELESS,
                               url=self.url, operator=self.operator, review=self.review, contact=self.contact,
                               owner=self.owner, note=self.note, account_id=self.account_id,
                               sample_url=self.sample_url)


# --------------------------------------------------------------------------------------------- reading


def _label(no: int | None, line: int) -> str:
    """The row as Excel numbers it, with the 序号 written on it: 第8行（序号5）."""
    return f"第{line}行" + (f"（序号{no}）" if no is not None and no != line else "")


def platform_of(label: str) -> str | None:
    """Our platform for a register's 平台类型, or None when we do not monitor it (抖音, 今日头条, …)."""
    key = _norm(label)
    if key in PLATFORM_NAMES:
        return PLATFORM_NAMES[key]
    if "视频号" in key:  # 微信视频号 is not a 公众号
        return None
    if "新浪微博" in key:
        return "weibo"
    if "微信" in key and "公众" in key:
        return "wechat"
    return None


def _review(text: str) -> bool | None | Literal["bad"]:
    """是/否/blank -> True/False/None; a description of the mechanism counts as yes; 'bad' if unreadable."""
    key = _norm(text)
    if not key:
        return None
    if key.startswith(_NO) or any(word in key for word in _NOT_BUILT):
        return False
    if key.startswith(_YES) or len(key) > 2:  # e.g. 三审三校制度: the mechanism described
        return True
    return "bad"


def _url_from_id(platform: str, account_id: str) -> str:
    """Where an account can be read knowing only its ID: a Weibo uid, a WeChat 微信号 / 原始 ID (via Sogou)."""
    account_id = account_id.strip()
    if not account_id:
        return ""
    if url := _http_url(account_id):
        return url
    if platform == "weibo" and account_id.isdigit():
        return f"https://weibo.com/u/{account_id}"
    if platform == "wechat" and re.fullmatch(r"[A-Za-z][\w-]{3,}", account_id):
        return f"https://weixin.sogou.com/weixin?type=1&query={quote(account_id)}&ie=utf8"
    return ""


def _weibo_profile(article_url: str) -> str:
    """weibo.com/{uid}/{mblogid} (a post) -> weibo.com/u/{uid} (its account)."""
    parts = urlsplit(article_url)
    m = re.fullmatch(r"/(\d{5,})/\w+/?", parts.path)
    if parts.hostname and parts.hostname.endswith("weibo.com") and m:
        return f"https://weibo.com/u/{m.group(1)}"
    return ""


def _header_fields(cells: list[str]) -> dict[int, str] | None:
    """Column index -> field when `cells` is the header row (单位, 平台类型 and 账号名称 found), else None."""
    return header_fields(cells, _HEADER_ALIASES, _HEADER_PREFIXES, ("unit", "platform", "name"))


def read_register(path: str | Path, skip_unsupported: bool = False) -> tuple[list[RegisterRow], list[Problem]]:
    """The register's accounts that can be monitored, and the problems found (errors first, then by row).

    Rows with an error, and rows on platforms we do not monitor, are not among the rows; the latter are listed in
    one problem (`unsupported_problem`), an error unless `skip_unsupported`.
    Raises RegisterError when the file cannot be read as a register at all.
    """
    workbook = open_workbook(path, "登记表")
    matrix, header, fields = find_header(
        workbook, _header_fields, "找不到表头：登记表应有“单位”“平台类型”“账号名称”等列（福州市政务新媒体详细汇总表）")
    rows: list[RegisterRow] = []
    problems: list[Problem] = []
    seen_units: dict[tuple[str, str], RegisterRow] = {}  # (unit key, platform) -> its first row
    seen_urls: dict[str, RegisterRow] = {}
    unsupported: list[tuple[int, str, str]] = []  # (sheet row, 平台类型, 账号名称)
    for r in range(header + 1, len(matrix)):
        cells = [_text(v) for v in matrix[r]]
        first = next((c for c in cells if c), "")
        if first.startswith(("填表人", "注：", "注:", "注 ")) or first == "注":
            break
        if _header_fields(cells):
            continue  # the header repeated (a printed form's page break)
        values: dict[str, str] = {}
        for i, field in fields.items():
            if i < len(cells) and cells[i]:
                # A header merged over two columns (联系人 | 手机号码) gives both to one field.
                values[field] = f"{values[field]} {cells[i]}" if field in values and values[field] != cells[i] \
                    else cells[i]
        if not any(v for f, v in values.items() if f not in ("no", "last_post", "status")):
            continue  # blank, or only a pre-printed 序号
        if (label := values.get("platform", "")) and platform_of(label) is None:
            unsupported.append((r + 1, label, values.get("name", "")))
            continue
        row, row_problems = _check_row(r + 1, values)
        problems += row_problems
        if row is None:
            continue
        if row.url in seen_urls:
            same_url = seen_urls[row.url]
            problems.append(Problem(row.line, "error",
                                    f"{row.label}：与{same_url.label}的监测地址相同（{row.url}），重复登记", row.line))
            continue
        other = seen_units.setdefault((unit_key(row.unit), row.platform), row)
        if other is not row:
            problems.append(Problem(row.line, "warning",
                                    f"{row.label}：与{other.label}同一单位“{other.unit}”同一平台“{other.platform_label}”，"
                                    "可能重复登记", row.line))
        seen_urls[row.url] = row
        if not any(p.level == "error" for p in row_problems):
            rows.append(row)
    if unsupported:
        problems.append(unsupported_problem(unsupported, skip_unsupported))
    problems.sort(key=lambda p: (p.level != "error", p.line))
    return rows, problems


def unsupported_problem(rows: list[tuple[int, str, str]], skip: bool) -> Problem:
    """One problem (line 0: the whole sheet) listing the rows on platforms we do not monitor, by platform: an
    error (nothing is imported) unless `skip` (`--skip-unsupported`: the other rows are imported)."""
    by_platform: dict[str, list[str]] = {}
    for line, label, name in rows:
        by_platform.setdefault(label, []).append(f"第{line}行“{name or '未填写名称'}”")
    listed = "；".join(f"{label} {len(names)} 个（{'、'.join(names)}）" for label, names in by_platform.items())
    if skip:
        return Problem(0, "warning", f"已跳过暂不支持监测的平台上的账号 {len(rows)} 个：{listed}", 0)
    return Problem(0, "error", f"暂不支持监测的平台上有账号 {len(rows)} 个：{listed}。"
                               "请删除这些行，或加 --skip-unsupported 跳过它们、导入其余账号", 0)


def _check_row(line: int, values: dict[str, str]) -> tuple[RegisterRow | None, list[Problem]]:
    no_text = values.get("no", "")
    no = int(no_text) if no_text.isdigit() else None
    label = _label(no, line)
    problems: list[Problem] = []

    def problem(level: str, message: str) -> None:
        problems.append(Problem(line, level, f"{label}：{message}", line))

    unit = values.get("unit", "")
    platform_label = values.get("platform", "")
    name = values.get("name", "")
    if name == NAMELESS:
        name = ""
    if not platform_label:
        problem("error", "平台类型为空")
        return None, problems
    platform = platform_of(platform_label)
    if platform is None:  # read_register lists these rows apart (unsupported_problem)
        return None, problems
    if not unit:
        problem("error", "单位为空")
    account_id = values.get("account_id", "")
    sample_text = values.get("sample_url", "")
    sample_url = _http_url(sample_text)
    if sample_text and not sample_url:
        problem("warning", f"“任意一篇文章的 URL”不是有效网址：{sample_text}")
    written = values.get("url", "")
    scheme = _SCHEME.match(written)
    if scheme and scheme.group(1).lower() not in ("http", "https") and not _http_url(written):
        problem("error", f"网址“{written}”不是 http(s) 地址，不予登记")
        return None, problems
    url = (_http_url(written) or _url_from_id(platform, account_id)
           or (_weibo_profile(sample_url) if platform == "weibo" else sample_url if platform == "wechat" else ""))
    if not name:
        if url:
            problem("warning", f"账号名称为空，暂以“{NAMELESS}”登记")
        else:
            problem("error", "账号名称为空")
    if not url:
        problem("error", "没有可监测的地址（网址/二维码、账号 ID、任意一篇文章的 URL 都未填写有效网址）")
    reading = _review(values.get("review", ""))
    review: bool | None = None
    if reading == "bad":
        problem("warning", f"“是否建立审核机制”应填“是”或“否”，而不是“{values['review']}”，按未填写处理")
    else:
        review = reading
    if review is None:
        problem("warning", "未建立审核机制（未填写）")
    elif review is False:
        problem("warning", "未建立审核机制")
    contact = values.get("contact", "")
    if not contact:
        problem("warning", "缺少联系人")
    elif not _PHONE.search(contact):
        problem("warning", f"联系人“{contact}”没有手机号码")
    if any(p.level == "error" for p in problems) and not url:
        return None, problems
    return RegisterRow(line=line, no=no, unit=unit, platform_label=platform_label, platform=platform, name=name,
                       url=url, operator=values.get("operator", ""), review=review, contact=contact,
                       owner=values.get("owner", ""), note=values.get("note", ""), account_id=account_id,
                       sample_url=sample_url), problems


# ---------------------------------------------------------------------------------------- to settings


def _internal_address(row: RegisterRow, site_hosts: set[str]) -> str | None:
    """The row's first URL (monitored address, article URL) on an internal host not among the sites' hosts."""
    for url in (row.url, row.sample_url):
        host = urlsplit(url).hostname if url else None
        if host and host not in site_hosts and internal_host(host):
            return url
    return None


def _site_hosts(settings: Settings) -> set[str]:
    """Host names of the configured sites and columns (the test fixtures run on loopback and count as sites)."""
    return {h for u in [*(s.url for s in settings.sites), *(c.url for c in settings.columns)]
            if (h := urlsplit(u).hostname)}


def new_rows(rows: list[RegisterRow], settings: Settings, add_units: bool = False, update: bool = False
             ) -> tuple[list[RegisterRow], list[RegisterRow], list[Problem]]:
    """(rows to add, rows whose URL is already in settings, problems): warnings about likely duplicates of
    configured accounts and about configured accounts whose details the register gives otherwise (updated
    only with `update`: `detail_updates`);
    an error for each new row whose address is internal (`internal_host`) and not on a configured site's host,
    and for each new row whose unit settings do not have (`monitors.unit_names`, with the closest known units)
    unless `add_units`; such a row is not added."""
    configured = {a.url: a for a in settings.accounts}
    units = UnitNames.of(settings.units)
    site_hosts = _site_hosts(settings)
    by_name = {(unit_key(a.unit), a.platform, _norm(a.name)): a for a in settings.accounts}
    fresh, known, problems = [], [], []
    unknown: dict[str, None] = {}  # units settings do not have, in order
    for row in rows:
        if (old := configured.get(row.url)) is not None:
            known.append(row)
            if changed := _changed_details(row, old):
                then = "按登记表更新" if update else "未更新（加 --update 按登记表更新设置）"
                problems.append(Problem(row.line, "warning", f"{row.label}：账号已在设置中（{old.unit}“{old.name}”），"
                                        f"登记表的{'、'.join(changed)}与设置不同，{then}", row.line))
            continue
        if internal := _internal_address(row, site_hosts):
            problems.append(Problem(row.line, "error",
                                    f"{row.label}：地址 {internal} 指向本机、内网或云元数据地址，不予登记",
                                    row.line))
            continue
        if row.unit and not add_units and units.find(row.unit) is None:
            problems.append(Problem(row.line, "error", f"{row.label}：{units.unknown(row.unit)}", row.line))
            unknown[row.unit] = None
            continue
        twin = by_name.get((unit_key(row.unit), row.platform, _norm(row.name))) if row.name else None
        if twin is not None:
            problems.append(Problem(row.line, "warning",
                                    f"{row.label}：设置中已有“{twin.unit}”的{PLATFORM_REGISTER_NAMES[twin.platform]}"
                                    f"“{twin.name}”（{twin.url}），网址不同，可能重复", row.line))
        fresh.append(row)
    if unknown:  # one summary, before the rows (line 0: the whole sheet)
        problems.append(Problem(0, "error", f"设置中没有的单位 {len(unknown)} 个（{'、'.join(unknown)}）：请先在设置中"
                                "添加，或写入相应单位的 aliases，或加 --add-units 把它们作为新单位一并导入", 0))
    return fresh, known, problems


def _changed(row: RegisterRow, account: AccountSettings) -> dict[str, object]:
    """The details (DETAILS keys -> the register's value) a row fills in otherwise than the configured account."""
    new = row.to_account(account.unit)
    return {key: getattr(new, key) for key in DETAILS
            if getattr(new, key) not in (None, "") and getattr(new, key) != getattr(account, key)}


def _changed_details(row: RegisterRow, account: AccountSettings) -> list[str]:
    return [DETAILS[key] for key in _changed(row, account)]


def detail_updates(known: Iterable[RegisterRow], settings: Settings) -> dict[str, dict[str, object]]:
    """Configured account URL -> the details the register gives otherwise (`update_accounts_text` writes them)."""
    configured = {a.url: a for a in settings.accounts}
    return {row.url: changed for row in known if (changed := _changed(row, configured[row.url]))}


_TABLE = re.compile(r"\s*\[")
_ACCOUNTS = re.compile(r"\s*\[\[\s*accounts\s*\]\]\s*(#.*)?$")


def update_accounts_text(text: str, updates: Mapping[str, Mapping[str, object]]) -> str:
    """The settings text with each `[[accounts]]` block whose url is in `updates` given those keys (a key's line
    replaced, or a line added after the block's last key); comments and everything else kept. ValueError naming
    the account when a block cannot be edited this way (inline tables, a value over several lines)."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if _ACCOUNTS.match(line)]
    done: set[str] = set()
    for start in reversed(starts):  # from the end: inserting lines keeps the earlier blocks' positions
        end = next((j for j in range(start + 1, len(lines)) if _TABLE.match(lines[j])), len(lines))
        try:
            url = tomllib.loads("".join(lines[start + 1:end])).get("url")
        except tomllib.TOMLDecodeError:
            continue
        if not isinstance(url, str) or url not in updates:
            continue
        for key, value in updates[url].items():
            new = f"{key} = {toml_value(value)}\n"
            at = next((j for j in range(start + 1, end) if re.match(rf"\s*{key}\s*=", lines[j])), None)
            if at is not None:
                try:
                    tomllib.loads(lines[at])
                except tomllib.TOMLDecodeError:
                    raise ValueError(f"无法更新账号 {url} 的 {key}：设置中该项跨多行，请手工修改") from None
                lines[at] = new
            else:
                last = max((j for j in range(start, end) if lines[j].strip() and not lines[j].lstrip().startswith("#")))
                if not lines[last].endswith("\n"):
                    lines[last] += "\n"
                lines.insert(last + 1, new)
                end += 1
        done.add(url)
    if missing := [url for url in updates if url not in done]:
        raise ValueError(f"无法更新账号 {missing[0]}：设置中找不到它的 [[accounts]] 块，请手工修改")
    return "".join(lines)


def rows_to_toml(rows: list[RegisterRow], known_units: UnitNames | Iterable[str], source: str = "") -> str:
    """`[[units]]` (kind "other") for units `known_units` does not name (rows `new_rows` let through with
    `add_units`), then one `[[accounts]]` a row, all fields."""
    names = known_units if isinstance(known_units, UnitNames) else UnitNames(known_units)
    added: list[str] = []
    blocks: list[str] = []
    for row in rows:
        unit = names.resolve(row.unit)
        if unit not in names:
            names.add(unit)
            added.append(unit)
        account = row.to_account(unit)
        lines = [f"# {row.label}{'' if unit == row.unit else f'，登记表单位“{row.unit}”按“{unit}”记入'}",
                 "[[accounts]]"]
        for key in ("unit", "platform", "name", "url", *DETAILS):
            value = getattr(account, key)
            if value is None or value == "":
                continue
            lines.append(f"{key} = {toml_value(value)}")
        blocks.append("\n".join(lines))
    head = [f"# 政务新媒体登记表导入{f'（{source}）' if source else ''}：新增单位 {len(added)} 个，账号 {len(rows)} 个"]
    unit_blocks = [f"[[units]]\nname = {toml_str(u)}\nkind = {toml_str(NEW_UNIT_KIND)}" for u in added]
    return "\n\n".join(head + unit_blocks + blocks) + "\n"


# ------------------------------------------------------------------------------------------- writing


def _date_text(day: date | str | None) -> str:
    if isinstance(day, date):
        return f"{day.year}年{day.month}月{day.day}日"
    return day or ""


def write_register(path: str | Path, accounts: Iterable[AccountSettings],
                   statuses: Mapping[str, tuple[str, object]] | None = None, *,
                   title: str = REGISTER_TITLE, date: date | str | None = None, unit_name: str = "") -> Path:
    """Attachment 4's layout: merged title, 单位名称（盖章）/填表日期, the 12 columns (+ 最近更新, 监测状态 when
    `statuses` maps account URLs to (status, newest post)), one row an account, 填表人 and the 注 lines."""
    path = Path(path)
    headers = HEADERS + (STATUS_HEADERS if statuses is not None else [])
    ncols = len(headers)
    wb = Workbook()
    ws = wb.active
    ws.title = "政务新媒体"
    write_title(ws, clean_text(title), ncols)
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=ncols)
    unit_text = clean_text(unit_name) or "　" * 8
    stamp = set_cell(ws, 2, 1, f"单位名称（盖章）：{unit_text}　　　　填表日期：{_date_text(date)}", align="left")
    stamp.border = Border()
    for c, header in enumerate(headers, 1):
        set_cell(ws, 3, c, header, bold=True, wrap=True)
    ws.freeze_panes = "A4"
    r = 3
    for r, account in enumerate(accounts, start=4):
        review = "" if account.review is None else "是" if account.review else "否"
        values = [r - 3, clean_text(account.unit), PLATFORM_REGISTER_NAMES.get(account.platform, account.platform),
                  clean_text(account.name), clean_text(account.operator), clean_text(account.url), review,
                  clean_text(account.contact), clean_text(account.owner), clean_text(account.note),
                  clean_text(account.account_id), clean_text(account.sample_url)]
        if statuses is not None:
            status, last = statuses.get(account.url, ("尚未读取", None))
            values += [str(last or "")[:10] or "—", clean_text(status)]
        for c, value in enumerate(values, 1):
            cell = set_cell(ws, r, c, value, align="center" if c in (1, 3, 7) or c > 12 else "left")
            if c == 14 and not str(value).startswith("正常"):
                cell.fill = SHORT_FILL
    # Widths from the header and the rows only: the footer's long 注 lines are merged across the sheet.
    fit_widths(ws, 3, {c: 6 for c in range(1, ncols + 1)})
    for width_col in ("F", "K", "L"):  # URLs: wide enough to read, not the whole sheet
        ws.column_dimensions[width_col].width = min(ws.column_dimensions[width_col].width or 20, 50)
    print_setup(ws, (3, 3))  # before the footer: the autofilter covers the accounts' rows only
    for i, text in enumerate(FOOTER, start=r + 1):
        ws.merge_cells(start_row=i, start_column=1, end_row=i, end_column=ncols)
        cell = set_cell(ws, i, 1, text, align="left")
        cell.border = Border()
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def account_statuses(settings: Settings, as_of: date) -> dict[str, tuple[str, str | None]] | None:
    """Each configured account's (status, newest post date) as of a date, from the database; None when the
    database has not been created yet. The status is `Evaluator.account_rows`' (monitors.rules.account_status)."""
    from datetime import timedelta

    from sqlalchemy.engine import make_url

    from monitors.evaluate import Evaluator
    from storage import queries
    from storage.db import get_sessionmaker, normalise_url, schema_ready

    url = settings.monitor.database_url
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
            and not Path(parsed.database).exists():
        return None
    if not schema_ready(url):
        return None
    with get_sessionmaker(url)() as session:
        evaluator = Evaluator(session, settings)
        facts = queries.account_facts(session, evaluator.at(as_of + timedelta(days=1)))
        rows = evaluator.account_rows(facts, as_of)
    out: dict[str, tuple[str, str | None]] = {}
    for row in rows:
        status = row["status"] + (f"（{row['reason']}）" if row["reason"] else "")
        out[row["url"]] = (status, row["last_post"][:10] if row["last_post"] else None)
    return out


__all__ = ["DETAILS", "HEADERS", "NAMELESS", "PLATFORM_NAMES", "PLATFORM_REGISTER_NAMES", "Problem", "RegisterError",
           "RegisterRow", "UnitNames", "account_statuses", "detail_updates", "internal_host", "new_rows",
           "platform_of", "read_register", "rows_to_toml", "unit_key", "unsupported_problem", "update_accounts_text",
           "write_register"]
