"""The dashboard in a real browser (issue 12): `monitor serve` as a subprocess on a copy of the demo, driven by
Playwright on the machine's Chromium (as the Weibo reader finds it). The overview's chart is drawn by the static
scripts under the CSP with no console error, a unit's months equal `monitor check`'s JSON, the 整改 loop works
through a unit's token link and is seen by the centre, a token opens nothing else; every page is screenshotted
(kept under the test run's tmp and copied to /tmp/dashboard-screenshots/)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import pytest

from config import load_settings
from crawler.readers.browser import CHROMIUM_ARGS, find_chromium
from monitors.web.security import Security, stored_secret
from storage.db import get_sessionmaker
from storage.models import Probe
from tests.helpers import DemoRun
from tests.web.browser_helpers import copy_demo, log_in, screenshot, serve, watched_page

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Locator, Page

CHROMIUM = find_chromium()
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="no Chromium binary on this machine (apt-get install "
                                                          "chromium, or playwright install chromium)")]

AS_OF = "2020-10-10"
UNIT = "审计局"  # a department with findings still open as of the demo's date
OTHER = "建新镇"
PASSWORD = "看板 correct horse"
NOTE = "已收到，本周内补发工作动态"
CHART_TIMEOUT = 10_000  # ms


@pytest.fixture(scope="module")
def site(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The settings file of a copy of the demo directory (the 整改 test changes its database), with a day of
    probes of the portal's home page (3 failed in a row) for the status page's chart and incidents."""
    settings = copy_demo(demo_run.out, tmp_path_factory.mktemp("browser") / "site")
    loaded = load_settings(settings)
    home = loaded.sites[0].url
    start = datetime(2020, 10, 9, 16, tzinfo=timezone.utc)  # 2020-10-10 00:00 in Shanghai
    with get_sessionmaker(loaded.monitor.database_url).begin() as session:
        for hour in range(24):
            failed = hour in (5, 6, 7)
            session.add(Probe(site_url=home, url=home, started_at=start + timedelta(hours=hour), ok=not failed,
                              http_status=None if failed else 200, latency_ms=None if failed else 300 + 7 * hour,
                              error="超过 15 秒未能打开" if failed else None))
    return settings


@pytest.fixture(scope="module")
def base(site: Path) -> Iterator[str]:
    with serve(site, PASSWORD) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def new_context(browser: Browser) -> BrowserContext:
    """A fresh context as the district's staff have it: Chinese, Shanghai time (the charts' axes are local time)."""
    return browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 900})


@pytest.fixture(scope="module")
def centre(browser: Browser, base: str) -> Iterator[BrowserContext]:
    """A browser context logged in as the centre through the login form."""
    context = new_context(browser)
    watched = watched_page(context)
    log_in(watched.page, base, PASSWORD)
    assert urlsplit(watched.page.url).path == "/", watched.page.url
    assert watched.page.locator("#nav-overview").is_visible() and not watched.errors, watched.errors
    watched.page.close()
    yield context
    context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def unit_token(site: Path, unit: str) -> str:
    """The unit's token as the server computes it: the secret the server kept in the copied database."""
    url = load_settings(site).monitor.database_url
    return Security(stored_secret(get_sessionmaker(url))).unit_token(unit)


def unit_path(unit: str) -> str:
    return f"/u/{quote(unit, safe='')}"


def cli_check(site: Path, unit: str) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-m", "monitors.cli", "--config", str(site), "check", "--unit", unit,
                             "--as-of", AS_OF, "--no-crawl", "--format", "json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1), result.stderr[-2000:]  # 1: the unit has findings
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def finding_row(scope: Page, rule: str, target: str) -> Locator:
    rule_q, target_q = json.dumps(rule, ensure_ascii=False), json.dumps(target, ensure_ascii=False)
    return scope.locator(f"#unit-findings tr.finding[data-rule={rule_q}][data-target={target_q}]")


def test_overview_lists_every_unit_and_draws_the_heat_map(centre: BrowserContext, base: str, site: Path) -> None:
    watched = watched_page(centre)
    page = watched.page
    page.goto(f"{base}/?as_of={AS_OF}")
    page.wait_for_selector("#heatmap-chart.ready canvas", timeout=CHART_TIMEOUT)  # charts.js ran under the CSP
    shown = page.locator("#heatmap-table tr.unit-row").evaluate_all("rows => rows.map(r => r.dataset.unit)")
    settings_units = [u.name for u in load_settings(site).units]
    assert sorted(shown) == sorted(settings_units) and len(shown) == len(set(shown))
    report = json.loads((site.parent / "report-2020Q3.json").read_text(encoding="utf-8"))
    townships_and_departments = {u["unit"] for u in report["units"]}
    assert townships_and_departments and townships_and_departments <= set(shown)
    months = page.locator("#heatmap-table thead th[data-month]").evaluate_all("ths => ths.map(t => t.dataset.month)")
    assert months[:3] == ["2020-07", "2020-08", "2020-09"]
    for unit in shown[:3]:  # a full row of month cells, each coloured by its state
        cells = page.locator(f"#heatmap-table tr.unit-row[data-unit={json.dumps(unit, ensure_ascii=False)}] "
                             "td[data-month]")
        assert cells.count() == len(months)
        classes = cells.evaluate_all("tds => tds.map(t => t.className)")
        assert all(re.search(r"\bcell-(ok|short|fail|open|none)\b", c) for c in classes), classes
    box = page.locator("#heatmap-chart canvas").first.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 200, box
    assert page.locator("#data-date").inner_text().startswith(f"评估日期：{AS_OF}")
    assert not watched.errors, watched.errors
    page.close()


def test_unit_page_months_equal_the_cli(centre: BrowserContext, base: str, site: Path) -> None:
    cli = cli_check(site, UNIT)
    watched = watched_page(centre)
    page = watched.page
    page.goto(f"{base}{unit_path(UNIT)}?as_of={AS_OF}")
    assert page.locator("#unit-name").inner_text() == UNIT
    cells = page.locator("#unit-months td[data-month]").evaluate_all(
        "tds => tds.map(t => [t.dataset.month, t.textContent.trim()])")
    shown = {}
    for month, text in cells:
        number = re.match(r"\d+", text)
        assert number, f"{month}: {text!r}"
        shown[month] = int(number.group())
    assert shown == cli["months"]
    rows = page.locator("#unit-findings tr.finding").evaluate_all(
        "trs => trs.map(t => [t.dataset.rule, t.dataset.target])")
    assert sorted(map(tuple, rows)) == sorted((f["rule"], f["target"]) for f in cli["findings"])
    assert not watched.errors, watched.errors
    page.close()


def test_unit_acknowledges_through_its_link_and_the_centre_sees_it(browser: Browser, centre: BrowserContext,
                                                                    base: str, site: Path, shots: Path) -> None:
    unit_context = new_context(browser)  # not logged in: only the token link
    watched = watched_page(unit_context)
    page = watched.page
    link = f"{base}{unit_path(UNIT)}?token={unit_token(site, UNIT)}"
    page.goto(f"{link}&as_of={AS_OF}")
    assert page.locator("#nav-unit").is_visible() and page.locator("#nav-overview").count() == 0
    assert UNIT in page.locator("#who").inner_text()
    open_rows = page.locator("#unit-findings tr.finding").filter(
        has=page.locator("button", has_text="确认收到"))
    assert open_rows.count() >= 1
    row = open_rows.first
    rule, target = row.get_attribute("data-rule") or "", row.get_attribute("data-target") or ""
    assert row.locator(".state-badge").inner_text() == "待处理"
    row.locator("textarea[name=note]").fill(NOTE)
    with page.expect_navigation():
        row.locator("button", has_text="确认收到").click()
    assert urlsplit(page.url).path == unit_path(UNIT) and "token=" in page.url  # back on the unit's own page
    screenshot(page, shots, "10-unit-after-acknowledge")  # (as of today: the form does not carry ?as_of=)
    page.goto(f"{link}&as_of={AS_OF}")
    acknowledged = finding_row(page, rule, target)
    assert acknowledged.locator(".state-badge").inner_text() == "已确认"
    note = acknowledged.locator(".state-note").inner_text()
    assert NOTE in note and UNIT in note
    assert acknowledged.locator("button", has_text="确认收到").count() == 0  # only 已整改 is left to the unit
    assert acknowledged.locator("button", has_text="已整改").count() == 1
    assert not watched.errors, watched.errors
    unit_context.close()

    centre_page = watched_page(centre)
    centre_page.page.goto(f"{base}{unit_path(UNIT)}?as_of={AS_OF}")
    seen = finding_row(centre_page.page, rule, target)
    assert seen.locator(".state-badge").inner_text() == "已确认"
    seen_note = seen.locator(".state-note").inner_text()
    assert NOTE in seen_note and f"（{UNIT}，" in seen_note  # the note and who wrote it
    assert seen.locator("button", has_text="核实通过").count() == 1
    assert not centre_page.errors, centre_page.errors
    centre_page.page.close()


def test_a_unit_link_opens_nothing_else(browser: Browser, base: str, site: Path, shots: Path) -> None:
    context = new_context(browser)
    page = context.new_page()
    token = unit_token(site, UNIT)
    response = page.goto(f"{base}{unit_path(OTHER)}?token={token}")
    assert response is not None and response.status == 403
    assert "链接无效" in page.locator("body").inner_text()
    assert OTHER not in page.content()
    screenshot(page, shots, "09-other-unit-refused")
    for path in ("/", "/units", "/status", "/reports"):
        page.goto(f"{base}{path}?token={token}")
        assert urlsplit(page.url).path == "/login", (path, page.url)
        assert page.locator("#login-form").is_visible()
    context.close()


def test_every_page_renders_and_is_screenshotted(browser: Browser, centre: BrowserContext, base: str, site: Path,
                                                 shots: Path) -> None:
    watched = watched_page(centre)
    page = watched.page
    q = f"?as_of={AS_OF}"

    page.goto(f"{base}/{q}")
    page.wait_for_selector("#heatmap-chart.ready canvas", timeout=CHART_TIMEOUT)
    screenshot(page, shots, "01-overview")

    page.goto(f"{base}/units{q}")
    assert page.locator("#units-table tr.unit-row").count() == len(load_settings(site).units)
    screenshot(page, shots, "02-units")

    page.goto(f"{base}{unit_path(UNIT)}{q}")
    assert page.locator("#unit-columns tr.column-row").count() >= 1
    screenshot(page, shots, "03-unit-centre")
    column_href = page.locator("#unit-columns tr.column-row a[href^='/c/']").first.get_attribute("href")
    assert column_href

    page.goto(f"{base}{column_href}")
    assert page.locator("#column-name").inner_text()
    page.wait_for_selector("#column-chart.ready canvas", timeout=CHART_TIMEOUT)
    assert page.locator("#column-months").count() == 1
    screenshot(page, shots, "04-column")

    page.goto(f"{base}/status{q}")
    assert page.locator("section.site-status").count() == len(load_settings(site).sites)
    portal = page.locator("section.site-status").first
    portal.locator(".latency-chart.ready canvas").wait_for(timeout=CHART_TIMEOUT)
    assert portal.locator("tr.incident").count() == 1  # the 3 failed probes in a row
    screenshot(page, shots, "05-status")

    page.goto(f"{base}/reports{q}")
    quarter = page.locator("#reports-table tr.quarter-row[data-quarter='2020Q3']")
    # the demo wrote the quarter's notice beside its settings, where the dashboard lists it ([schedule] out = ".")
    assert any(n.endswith(".docx") for n in quarter.locator("a.report-file").all_inner_texts())
    started = time.monotonic()
    with page.expect_navigation(timeout=120_000):  # the notice is written while the form waits
        quarter.locator("button.make-report").click()
    print(f"2020Q3 notice made through the browser in {time.monotonic() - started:.1f} s")
    assert "已生成 2020Q3 通报" in page.locator("#report-message").inner_text()
    files = page.locator("#reports-table tr.quarter-row[data-quarter='2020Q3'] a.report-file")
    names = files.all_inner_texts()
    assert any(n.endswith(".docx") for n in names) and any(n.endswith(".xlsx") for n in names), names
    with page.expect_download() as download_info:
        files.filter(has_text=".docx").first.click()
    download = download_info.value
    assert download.suggested_filename.endswith(".docx")
    assert Path(download.path()).read_bytes()[:2] == b"PK"  # a Word file is a zip
    screenshot(page, shots, "06-reports")
    assert not watched.errors, watched.errors
    page.close()

    unit_view = new_context(browser)  # what the unit sees through its link
    unit_page = watched_page(unit_view)
    unit_page.page.goto(f"{base}{unit_path(UNIT)}?token={unit_token(site, UNIT)}&as_of={AS_OF}")
    screenshot(unit_page.page, shots, "07-unit-own-link")
    unit_page.page.goto(f"{base}/login")
    assert unit_page.page.locator("#login-form").is_visible()
    screenshot(unit_page.page, shots, "08-login")
    assert not unit_page.errors, unit_page.errors
    unit_view.close()
