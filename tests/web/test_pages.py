"""The dashboard's pages (issue 12) over a copy of the demo's database: access, numbers equal to the CLI's,
report downloads without traversal, crawled text escaped."""
from __future__ import annotations

import json
import re
import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import select

from config import load_settings
from config.loader import ENV_SERVE_PASSWORD
from monitors.cli import main
from monitors.web.app import create_app
from monitors.web.security import SESSION_COOKIE
from storage.db import get_sessionmaker
from storage.models import Column, ColumnPost, Post, Probe
from tests.helpers import DemoRun

AS_OF = "2020-10-10"
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
XSS_UNIT = f"{SCRIPT}测试局"
XSS_COLUMN = f"工作动态{IMG}"
XSS_URL = "http://127.0.0.1:9/xss/list/"
UNIT = "建新镇"
OTHER = "仓山镇"
PASSWORD = "correct horse 电池"


@pytest.fixture(scope="module")
def site(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo with a unit and a column named with markup, a post titled with it, probes, and the
    reports written into the copy."""
    root = tmp_path_factory.mktemp("pages")
    for name in ("monitor.db", "monitor.db-wal", "monitor.db-shm"):
        if (demo_run.out / name).exists():
            shutil.copy(demo_run.out / name, root / name)
    url = f"sqlite:///{root / 'monitor.db'}"
    # the reports into the copy's own folder (the demo's settings write them beside it: out = ".")
    text = "\n".join(f'database_url = "{url}"' if line.startswith("database_url") else
                     'out = "reports"' if line.startswith("out = ") else line
                     for line in (demo_run.out / "settings.toml").read_text(encoding="utf-8").splitlines())
    text += (f'\n\n[[units]]\nname = {json.dumps(XSS_UNIT)}\nkind = "department"\n\n'
             f'[[columns]]\nunit = {json.dumps(XSS_UNIT)}\nname = {json.dumps(XSS_COLUMN)}\nurl = "{XSS_URL}"\n'
             'category = "dynamic"\n')
    (root / "settings.toml").write_text(text, encoding="utf-8")
    home = load_settings(root / "settings.toml").sites[0].url
    create_app(load_settings(root / "settings.toml"))  # prepares the database: the new unit and column exist
    sessions = get_sessionmaker(url)
    with sessions.begin() as session:
        column = session.scalar(select(Column).where(Column.url == XSS_URL))
        post = Post(url=XSS_URL + "t1.html", title=f"标题{SCRIPT}{IMG}", column_id=column.id,
                    published_at=datetime(2020, 10, 8, 2, tzinfo=timezone.utc), date_source="list")
        session.add(post)
        session.flush()
        session.add(ColumnPost(column_id=column.id, post_id=post.id))
        start = datetime(2020, 10, 9, 16, tzinfo=timezone.utc)  # 2020-10-10 00:00 in Shanghai
        for i in range(24):  # a day of probes of the portal's home page: 3 failed in a row (an incident)
            failed = i in (5, 6, 7)
            session.add(Probe(site_url=home, url=home,
                              started_at=start + timedelta(hours=i), ok=not failed, http_status=None if failed else 200,
                              latency_ms=None if failed else 300 + i, error="超过 15 秒未能打开" if failed else None))
    return root


@pytest.fixture()
def centre(site: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """Open access (no password): whoever reaches the dashboard is the centre."""
    monkeypatch.delenv(ENV_SERVE_PASSWORD, raising=False)
    return TestClient(create_app(load_settings(site / "settings.toml")))


@pytest.fixture()
def guarded(site: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """A password is set: the centre must log in; units use their tokens."""
    monkeypatch.setenv(ENV_SERVE_PASSWORD, PASSWORD)
    return TestClient(create_app(load_settings(site / "settings.toml")), follow_redirects=False)


def column_id(site: Path, url: str) -> int:
    with get_sessionmaker(f"sqlite:///{site / 'monitor.db'}")() as session:
        found = session.scalar(select(Column.id).where(Column.url == url))
    assert found is not None
    return found


def first_column(site: Path, unit: str) -> int:
    settings = load_settings(site / "settings.toml")
    return column_id(site, next(c.url for c in settings.columns if c.unit == unit))


def section(html: str, element_id: str) -> str:
    """The table with this id (pages are server-rendered: a regex over our own markup is enough)."""
    match = re.search(rf'<table id="{element_id}".*?</table>', html, re.S)
    assert match, element_id
    return match.group(0)


def test_each_page_opens_for_the_centre(centre: TestClient, site: Path) -> None:
    for path in ("/", "/units", f"/u/{quote(UNIT)}", f"/c/{first_column(site, UNIT)}", "/reports", "/status"):
        response = centre.get(path, params={"as_of": AS_OF})
        assert response.status_code == 200, path
        assert "区大数据服务中心" in response.text  # who is looking
        assert 'id="nav"' in response.text
    assert centre.get("/login").status_code == 200
    assert centre.get("/", params={"as_of": "2020-13-01"}).status_code == 400
    assert centre.get("/u/" + quote("没有这个单位"), params={"as_of": AS_OF}).status_code == 404
    # a column number beyond the table's integer key is refused, never a server error (Schemathesis found 2**63)
    assert centre.get(f"/c/{2 ** 63}").status_code == 422 and centre.get("/c/0").status_code == 422
    assert centre.get("/c/2147483647").status_code == 404


def test_the_heat_map_lists_every_unit_of_the_evaluation(centre: TestClient, site: Path) -> None:
    from monitors.app import Monitor

    evaluation = Monitor(load_settings(site / "settings.toml")).evaluate_all(date.fromisoformat(AS_OF))
    page = centre.get("/", params={"as_of": AS_OF}).text
    table = section(page, "heatmap-table")
    rows = re.findall(r'<tr class="unit-row" data-unit="([^"]*)"', table)
    assert rows == [str(escape(u.unit)) for u in evaluation.units]
    # the chart's data block carries the same units and months, and no markup that could end the block
    blob = re.search(r'<script type="application/json" id="heatmap-data">(.*?)</script>', page, re.S)
    assert blob
    data = json.loads(blob.group(1))
    assert data["units"] == [u.unit for u in evaluation.units] and data["months"] == evaluation.months
    short = next(u for u in evaluation.units if u.shortfalls)
    month, n = next(iter(short.shortfalls.items()))
    row = re.search(rf'data-unit="{re.escape(str(escape(short.unit)))}".*?</tr>', table, re.S)
    assert row and re.search(rf'data-month="{month}"[^>]*>\d+（差{n}）', row.group(0))
    assert 'id="rule-counts"' in page and 'id="account-status"' in page and 'id="availability-table"' in page


def test_a_unit_page_shows_the_numbers_of_check_json(centre: TestClient, site: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(site / "settings.toml"), "check", "--unit", UNIT,
                                       "--as-of", AS_OF, "--no-crawl", "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    check = json.loads(result.stdout)
    check = check[0] if isinstance(check, list) else check
    page = centre.get(f"/u/{quote(UNIT)}", params={"as_of": AS_OF}).text
    months = dict(re.findall(r'data-month="(\d{4}-\d\d)"[^>]*>(\d+)', section(page, "unit-months")))
    assert {m: int(n) for m, n in months.items()} == check["months"]
    assert len(re.findall(r'<tr class="finding ', section(page, "unit-findings"))) == len(check["findings"])
    columns = section(page, "unit-columns")
    assert [c["url"] for c in check["columns"]] == re.findall(r'<tr class="column-row [^"]*" data-url="([^"]*)"',
                                                               columns)
    assert len(re.findall(r'<tr class="account-row ', section(page, "unit-accounts"))) == len(check["accounts"])
    assert len(re.findall(r'<tr class="quarter-row"', section(page, "unit-history"))) == 4


def test_a_column_page_shows_its_posts_fetches_and_findings(centre: TestClient, site: Path) -> None:
    page = centre.get(f"/c/{first_column(site, UNIT)}", params={"as_of": AS_OF}).text
    counts = [int(n) for n in re.findall(r'data-month="[\d-]+">(\d+)<', section(page, "column-months"))]
    assert len(counts) == 12 and sum(counts) > 0
    assert re.search(r'<tr class="fetch-row cell-ok"><td>\d{4}-\d\d-\d\d \d\d:\d\d</td><td>正常',
                     section(page, "column-fetches"))
    assert 'id="column-data"' in page
    assert centre.get("/c/999999").status_code == 404


def test_the_centre_must_log_in_and_a_unit_token_opens_only_its_unit(guarded: TestClient, site: Path) -> None:
    home = guarded.get("/")
    assert home.status_code == 303 and home.headers["location"].startswith("/login")
    assert guarded.get("/status").status_code == 303
    token = guarded.app.state.security.unit_token(UNIT)  # type: ignore[attr-defined]
    own = guarded.get(f"/u/{quote(UNIT)}", params={"token": token, "as_of": AS_OF})
    assert own.status_code == 200 and f"当前：{UNIT}" in own.text
    assert f"/c/{first_column(site, UNIT)}?token={token}" in own.text  # its links keep the token
    assert guarded.get(f"/u/{quote(OTHER)}", params={"token": token}).status_code == 403
    assert guarded.get(f"/c/{first_column(site, UNIT)}", params={"token": token}).status_code == 200
    assert guarded.get(f"/c/{first_column(site, OTHER)}", params={"token": token}).status_code == 403
    assert guarded.get("/", params={"token": token}).status_code == 303  # the overview is the centre's
    assert guarded.get("/reports", params={"token": token}).status_code == 303
    assert guarded.get(f"/u/{quote(UNIT)}").status_code == 303  # no token, no session: log in


def login_csrf(client: TestClient) -> str:
    form = client.get("/login").text
    match = re.search(r'name="csrf" value="([^"]+)"', form)
    assert match
    return match.group(1)


def test_login_with_the_password_and_not_without(guarded: TestClient) -> None:
    csrf = login_csrf(guarded)
    wrong = guarded.post("/login", data={"password": "wrong", "csrf": csrf, "next": "/status"})
    assert wrong.status_code == 401 and "密码不正确" in wrong.text and SESSION_COOKIE not in wrong.cookies
    assert guarded.post("/login", data={"password": PASSWORD, "csrf": "forged"}).status_code == 403
    right = guarded.post("/login", data={"password": PASSWORD, "csrf": csrf, "next": "/status"})
    assert right.status_code == 303 and right.headers["location"] == "/status"
    cookie = right.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert guarded.get("/", params={"as_of": AS_OF}).status_code == 200
    page = guarded.get("/status", params={"as_of": AS_OF}).text
    csrf_centre = re.search(r'action="/logout".*?name="csrf" value="([^"]+)"', page, re.S)
    assert csrf_centre
    assert guarded.post("/logout", data={"csrf": csrf_centre.group(1)}).status_code == 303
    guarded.cookies.clear()
    assert guarded.get("/").status_code == 303
    # after logging in, only a path on this site is followed
    offsite = guarded.post("/login", data={"password": PASSWORD, "csrf": csrf, "next": "//evil.example/"})
    assert offsite.headers["location"] == "/"


def test_reports_are_generated_on_request_and_downloaded_without_traversal(centre: TestClient, site: Path) -> None:
    page = centre.get("/reports", params={"as_of": AS_OF}).text
    assert 'data-quarter="2020Q3"' in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    assert centre.post("/reports/2020Q3", data={"csrf": "forged"}).status_code == 403
    made = centre.post("/reports/2020Q3", data={"csrf": csrf.group(1)})
    assert made.status_code == 200 and 'id="report-message"' in made.text
    files = re.findall(r'class="report-file" href="(/reports/2020Q3/[^"]+)"', made.text)
    assert any(f.endswith(".docx") for f in files) and any(f.endswith(".xlsx") for f in files)
    download = centre.get(files[0])
    assert download.status_code == 200 and len(download.content) > 1000
    assert (site / "reports").is_dir()
    for bad in ("/reports/2020Q3/..%2Fsettings.toml", "/reports/2020Q3/..%2F..%2Fsettings.toml",
                "/reports/2020Q3/%2Fetc%2Fpasswd", "/reports/2020Q3/.monitor-hashes.json",
                "/reports/..%2F/settings.toml", "/reports/2020Q3/settings.toml", "/reports/2020Q3/monitor.db"):
        assert centre.get(bad).status_code == 404, bad
    assert centre.post("/reports/..%2F2020Q3", data={"csrf": csrf.group(1)}).status_code in (404, 405)
    assert centre.post("/reports/2020Q5", data={"csrf": csrf.group(1)}).status_code == 404


def test_the_status_page_shows_uptime_latency_and_incidents(centre: TestClient, site: Path) -> None:
    home = load_settings(site / "settings.toml").sites[0].url
    page = centre.get("/status", params={"as_of": AS_OF}).text
    portal = re.search(rf'<section class="site-status" data-site="{re.escape(home)}">.*?</section>', page, re.S)
    assert portal
    assert re.search(r'uptime-day cell-fail"><td>近 24 小时</td><td class="num">24</td><td class="num">3</td>'
                     r'<td class="num">87.50%', portal.group(0))
    incidents = re.findall(r'<tr class="incident cell-fail">.*?</tr>', portal.group(0), re.S)
    assert len(incidents) == 1 and '<td class="num">3</td>' in incidents[0] and "15 秒" in incidents[0]
    blob = re.search(r'id="latency-data">(.*?)</script>', page, re.S)
    assert blob and len(json.loads(blob.group(1))["sites"][0]["points"]) == 24


def test_crawled_and_configured_text_is_escaped(centre: TestClient, site: Path) -> None:
    pages = [centre.get("/", params={"as_of": AS_OF}).text, centre.get("/units").text,
             centre.get(f"/u/{quote(XSS_UNIT, safe='')}", params={"as_of": AS_OF}).text,
             centre.get(f"/c/{column_id(site, XSS_URL)}", params={"as_of": AS_OF}).text]
    for page in pages:
        assert SCRIPT not in page and IMG not in page and "<img" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in pages[2] + pages[3]
    # the heat map's JSON block holds the unit's name without a `</script>` that would close it
    assert re.search(r'id="heatmap-data">[^<]*\\u003cscript\\u003e', pages[0])
