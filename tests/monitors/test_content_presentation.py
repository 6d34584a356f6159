"""How the content checks' problems (issue 11) are shown: the notice's attachment and paragraph, the report's
JSON, a unit's alert email (crawled strings escaped) and `monitor check`'s text."""
from __future__ import annotations

import json
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import docx
import openpyxl
import pytest

from monitors.alerts.compose import UnitFindings, compose_unit_email, decide
from monitors.cli import format_check_text
from monitors.evaluate import UnitResult
from monitors.report.model import ContentIssue, QuarterReport
from monitors.report.writers import write_report
from monitors.rules import Evidence, Finding, Severity, UnitFacts
from tests.monitors.test_report_writers import body_paragraphs, build_report

ARTICLE = "http://127.0.0.1:8700/sjj/gzdt/202009/t20200915_1.html"
SITE = "http://127.0.0.1:8700/"
ACCOUNTS = [{"unit": "大数据服务中心", "platform": "weibo", "name": "仓山发布", "status": "正常",
             "reason": None, "last_post": date(2020, 10, 8)}]


def issues() -> list[ContentIssue]:
    """Rows as monitors.evaluate.content_issues makes them: one a link, word or page."""
    broken = "《关于开展安全生产检查的通知》（栏目“工作动态”）有 2 个链接无法打开：…"
    return [
        ContentIssue("审计局", "link.broken", "fail", ARTICLE, broken, "http://127.0.0.1:8700/old/1.html",
                     "原文链接", "HTTP 404 错误"),
        ContentIssue("审计局", "link.broken", "fail", ARTICLE, broken, "http://127.0.0.1:8700/old/2.html",
                     "", "连接超时"),
        ContentIssue("建设局", "attachment.broken", "fail", ARTICLE.replace("sjj", "jsj"), "…附件无法下载",
                     "http://127.0.0.1:8700/jsj/file.doc", "申报表.doc", "附件地址返回的是网页（文件不存在）"),
        ContentIssue("建设局", "content.typo", "veto", ARTICLE.replace("sjj", "jsj"), "…严重表述错误",
                     "仓山区人民政付", "…召开【仓山区人民政付】常务会议…", "仓山区人民政府"),
        ContentIssue("民政局", "link.external", "fail", ARTICLE.replace("sjj", "mzj"), "…非政府网站链接",
                     "http://www.example.com/", "某公司", "非政府网站"),
        ContentIssue("民政局", "content.sensitive", "fail", ARTICLE.replace("sjj", "mzj"), "…敏感词",
                     "某敏感词", "…文中【某敏感词】出现…", ""),
        ContentIssue("区政府办", "link.broken", "fail", SITE, "网站“仓山区人民政府”首页有 1 个链接无法打开：…",
                     "http://127.0.0.1:8700/zt/", "专题专栏", "HTTP 500 错误", home=True),
        ContentIssue("区政府办", "meta.missing", "warn", SITE, "首页缺少元数据 SiteIDCode", SITE,
                     "仓山区人民政府", "SiteIDCode", home=True),
        ContentIssue("区政府办", "site.homepage_stale", "veto", SITE,
                     "网站“仓山区人民政府”首页最新信息日期为 2020-09-01，已 39 天未更新（超过 14 天）", home=True),
    ]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    report = build_report(accounts=ACCOUNTS, content_issues=issues())
    paths = write_report(report, tmp_path_factory.mktemp("content"))
    return {p.name: p for p in paths}


def _by_suffix(written: dict[str, Path], suffix: str) -> Path:
    return next(p for name, p in written.items() if name.endswith(suffix) and not name.startswith("附件4"))


# --- the report ----------------------------------------------------------------------------------------

def test_the_content_attachment_is_the_fifth_sheet_one_row_a_problem(written: dict[str, Path]) -> None:
    wb = openpyxl.load_workbook(_by_suffix(written, ".xlsx"))
    assert wb.sheetnames == ["附件1", "附件2", "附件3", "附件5", "栏目更新"]  # 附件4 is the form's own workbook
    ws = wb["附件5"]
    assert ws["A1"].value == "2020年第三季度仓山区政府网站内容问题清单"
    assert [c.value for c in ws[2]] == ["序号", "单位", "问题类型", "页面", "链接或词语", "链接文字或上下文", "检查结果"]
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=3)]
    assert len(rows) == len(issues())
    assert rows[0] == [1, "审计局", "链接无法打开", ARTICLE, "http://127.0.0.1:8700/old/1.html", "原文链接",
                       "HTTP 404 错误"]
    assert rows[2][2:] == ["附件无法下载", ARTICLE.replace("sjj", "jsj"), "http://127.0.0.1:8700/jsj/file.doc",
                           "申报表.doc", "附件地址返回的是网页（文件不存在）"]
    assert rows[3][2] == "错别字（严重表述错误）" and rows[3][6] == "应为“仓山区人民政府”"
    assert rows[4][2] == "非政府网站链接" and rows[5][2] == "敏感词"
    # the home page's rows are named apart, as the national indicators count them
    assert rows[6][2] == "首页链接无法打开" and rows[7][2] == "首页元数据缺失" and rows[7][6] == "缺少 SiteIDCode"
    assert rows[8][2] == "首页长期未更新" and rows[8][6].endswith("已 39 天未更新（超过 14 天）")
    assert ws.freeze_panes == "A3" and ws.print_title_rows.replace("$", "") == "2:2"
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1
    assert ws["A3"].font.name == "宋体" and ws["D3"].alignment.wrap_text


def test_the_notice_says_what_was_found_and_lists_attachment_5(written: dict[str, Path]) -> None:
    text = "\n".join(body_paragraphs(_by_suffix(written, ".docx")))
    paragraph = next(line for line in text.splitlines() if line.startswith("3.网站内容检查情况。"))
    assert "确保公开的内容未涉密、无错别字、无敏感信息、无发布非政府网站链接" in paragraph
    assert ("文章页发现链接无法打开2处、附件无法下载1处、非政府网站链接1处、错别字1处（其中严重表述错误1处）、"
            "敏感词1处，涉及审计局、建设局、民政局3个单位") in paragraph
    assert "网站首页发现链接无法打开1处、缺少元数据的页面1个（详见附件5）。" in paragraph
    assert "首页最新信息日期为 2020-09-01，已 39 天未更新（超过 14 天），按考核指标属单项否决" in paragraph
    assert "5.2020年第三季度仓山区政府网站内容问题清单" in text
    assert "4.福州市政务新媒体详细汇总表" in text
    doc = docx.Document(str(_by_suffix(written, ".docx")))
    table = doc.tables[-1]
    assert [c.text for c in table.rows[0].cells][:3] == ["序号", "单位", "问题类型"]
    assert len(table.rows) == 1 + len(issues())
    assert [c.text for c in table.rows[4].cells][2:] == ["错别字（严重表述错误）", ARTICLE.replace("sjj", "jsj"),
                                                         "仓山区人民政付", "…召开【仓山区人民政付】常务会议…",
                                                         "应为“仓山区人民政府”"]
    assert doc.sections[-1].orientation == 1  # landscape


def test_the_json_carries_the_rows(written: dict[str, Path]) -> None:
    data = json.loads(_by_suffix(written, ".json").read_text(encoding="utf-8"))
    assert len(data["content_issues"]) == len(issues())
    assert data["content_issues"][3] == {"unit": "建设局", "rule": "content.typo", "severity": "veto",
                                         "page": ARTICLE.replace("sjj", "jsj"), "detail": "…严重表述错误",
                                         "item": "仓山区人民政付", "text": "…召开【仓山区人民政付】常务会议…",
                                         "outcome": "仓山区人民政府", "home": False}


def test_checks_on_with_nothing_found_say_so(tmp_path: Path) -> None:
    paths = write_report(build_report(content_issues=[]), tmp_path)
    wb = openpyxl.load_workbook(next(p for p in paths if p.suffix == ".xlsx"))
    assert wb.sheetnames == ["附件1", "附件2", "附件3", "栏目更新"]  # numbered after what exists
    assert wb["附件3"]["A3"].value == "本季度未发现内容问题" and wb["附件3"].max_row == 3
    text = "\n".join(body_paragraphs(next(p for p in paths if p.suffix == ".docx")))
    assert "未发现链接无法打开、图片无法显示、附件无法下载、非政府网站链接、错别字、敏感词等内容问题。" in text
    assert "3.2020年第三季度仓山区政府网站内容问题清单" in text
    data = json.loads(next(p for p in paths if p.suffix == ".json").read_text(encoding="utf-8"))
    assert data["content_issues"] == []


def test_checks_off_change_nothing(tmp_path: Path) -> None:
    report: QuarterReport = build_report(accounts=ACCOUNTS)
    assert report.content_issues is None
    paths = write_report(report, tmp_path)
    wb = openpyxl.load_workbook(next(p for p in paths if p.suffix == ".xlsx"))
    assert wb.sheetnames == ["附件1", "附件2", "附件3", "栏目更新"]
    text = "\n".join(body_paragraphs(next(p for p in paths if p.suffix == ".docx")))
    assert "内容检查" not in text and "内容问题清单" not in text and "附件5" not in text
    data = json.loads(next(p for p in paths if p.suffix == ".json").read_text(encoding="utf-8"))
    assert "content_issues" not in data


def test_a_home_page_finding_among_the_sites_findings_is_not_called_a_site_veto(tmp_path: Path) -> None:
    stale = {"rule": "link.broken", "severity": "fail", "target": SITE, "unit": "区政府办",
             "detail": "网站“仓山区人民政府”首页有 1 个链接无法打开"}
    paths = write_report(build_report(site_findings=[stale], content_issues=issues()[6:7]), tmp_path, ["docx"])
    text = "\n".join(body_paragraphs(paths[0]))
    assert "首页有 1 个链接无法打开，按考核指标属单项否决" not in text
    assert "网站首页发现链接无法打开1处（详见附件3）" in text


# --- the unit's email ----------------------------------------------------------------------------------

HOSTILE_TEXT = '"><img src=x onerror=alert(1)><script>alert("t")</script>'


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))


def content_finding(n: int = 12) -> Finding:
    links = [Evidence(f"http://127.0.0.1:8700/old/{i}.html", f"链接{i}", "HTTP 404 错误") for i in range(n - 2)]
    links.insert(0, Evidence('http://127.0.0.1:8700/a?q="><img src=x onerror=alert(1)>', HOSTILE_TEXT,
                             "HTTP 404 错误"))
    links.insert(1, Evidence("javascript:alert(1)", "点此", "HTTP 404 错误"))
    return Finding("link.broken", Severity.FAIL, ARTICLE, f"《<b>通知</b>》有 {n} 个链接无法打开：…", unit="审计局",
                   measure=n, evidence=tuple(links))


def test_a_content_findings_links_are_listed_under_it_escaped() -> None:
    typo = Finding("content.typo", Severity.FAIL, ARTICLE.replace("t2020", "x"), "《通知》有 1 处错别字或错误表述",
                   unit="审计局", measure=1, evidence=(Evidence("以经", f"…工作【以经】完成{HOSTILE_TEXT}", "已经"),))
    items, _, _ = decide([UnitFindings("审计局", [content_finding(), typo], frozenset())], [], date(2020, 10, 10), 7)
    email = compose_unit_email("审计局", ["sjj@example.org"], ["centre@example.org"], items["审计局"],
                               date(2020, 10, 10), "仓山区人民政府")
    text, body = email.text, email.html

    # text: the sentence, then up to ten links with their text and outcome, then how many more
    lines = text.splitlines()
    first = lines.index(next(line for line in lines if "个链接无法打开" in line))
    shown = [line for line in lines[first + 1:first + 12] if line.startswith("     - ")]
    assert len(shown) == 10
    assert shown[2] == "     - http://127.0.0.1:8700/old/0.html “链接0”（HTTP 404 错误）"
    assert lines[first + 11] == "     …另有 2 处，共 12 处"
    assert "要求：信息发布应落实三审制度和保密审查制度，确保页面链接能够正常打开" in text
    assert "     - “以经” …工作【以经】完成" in text and "（应为“已经”）" in text

    # html: nothing crawled becomes markup; only http(s) links are links
    assert "<script>" not in body and "<img" not in body and "<b>通知" not in body
    assert "&lt;script&gt;" in body and "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in body
    parser = Tags()
    parser.feed(body)
    tags = {tag for tag, _ in parser.tags}
    assert not tags & {"script", "img", "b"}
    hrefs = [attrs["href"] for tag, attrs in parser.tags if tag == "a"]
    assert 'http://127.0.0.1:8700/a?q="><img src=x onerror=alert(1)>' in hrefs  # the attribute holds it whole
    assert all(h.startswith(("http://", "https://")) for h in hrefs) and "javascript:alert(1)" in body
    assert "…另有 2 处，共 12 处" in body
    assert "确保公开的内容无错别字" in body


def test_requirement_lines_for_every_content_rule() -> None:
    from monitors.alerts.compose import AlertItem, requirement
    from config.model import RuleSettings

    for rule in ("link.broken", "image.broken", "attachment.broken", "link.external", "content.typo",
                 "content.sensitive", "meta.missing", "site.homepage_stale"):
        said = requirement(AlertItem("审计局", rule, SITE, "fail", "…", "new"), RuleSettings())
        assert said, rule
    stale = requirement(AlertItem("区政府办", "site.homepage_stale", SITE, "veto", "…", "new", limit=14),
                        RuleSettings())
    assert stale and "14天内无更新即单项否决" in stale


# --- monitor check -------------------------------------------------------------------------------------

def test_check_lists_five_pieces_of_evidence_then_the_count() -> None:
    finding = content_finding()
    typo = Finding("content.typo", Severity.FAIL, ARTICLE, "《通知》有 1 处错别字或错误表述", unit="审计局",
                   evidence=(Evidence("以经", "…工作【以经】\n完成…", "已经"),))
    result = UnitResult("审计局", "department", date(2020, 10, 10), UnitFacts("审计局", "department", [], []),
                        [finding, typo], [])
    lines = format_check_text(result).splitlines()
    first = next(i for i, line in enumerate(lines) if "个链接无法打开" in line)
    assert lines[first + 3] == "     - http://127.0.0.1:8700/old/0.html 链接0（HTTP 404 错误）"
    assert [line.startswith("     - ") for line in lines[first + 1:first + 7]] == [True] * 5 + [False]
    assert lines[first + 6] == "     …共 12 处"
    assert lines[first + 8] == "     - 以经 …工作【以经】 完成…（应为“已经”）"


# --- the monthly summary -------------------------------------------------------------------------------

def test_the_monthly_summary_counts_content_findings_per_rule_once() -> None:
    from monitors.evaluate import Evaluation
    from monitors.summary import content_counts

    home = Finding("link.broken", Severity.FAIL, SITE, "网站“仓山区人民政府”首页有 1 个链接无法打开",
                   evidence=(Evidence("http://127.0.0.1:8700/zt/", "专题", "HTTP 404 错误"),))
    stale = Finding("site.homepage_stale", Severity.VETO, SITE, "网站“仓山区人民政府”首页…已 39 天未更新")
    quota = Finding("quota.monthly", Severity.FAIL, "2020-09", "9月发布3条，差7条", unit="审计局")
    facts = UnitFacts("审计局", "department", [], [])
    units = [UnitResult("审计局", "department", date(2020, 9, 30), facts, [content_finding(), quota], []),
             UnitResult("区政府办", "other", date(2020, 9, 30), facts, [home, stale], [])]
    evaluation = Evaluation(date(2020, 9, 30), ["2020-09"], units, [home, stale], [])
    assert content_counts(evaluation) == {"link.broken": {"findings": 2, "items": 13},
                                          "site.homepage_stale": {"findings": 1, "items": 1}}
