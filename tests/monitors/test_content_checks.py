"""The content checks end to end (issue 11): the fixture portal crawled on loopback with `[content] enabled`, its
links checked for real, the rules evaluated as of 2020-10-10; every planted problem found at the right page, unit
and rule, nothing else (precision and recall 1.0), and a second crawl within the cache's age checks no link again."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from config import Settings, load_settings
from crawler.run import run_crawl
from fixtures import substale
from fixtures.portal import write_settings
from fixtures.portal.planted import ARTICLE_META, RULES, content_toml, expected_keys, key, score
from fixtures.server import FixtureServer
from monitors.app import Monitor
from monitors.evaluate import Evaluation
from storage.db import get_sessionmaker
from storage.models import LinkCheck, Page

pytestmark = pytest.mark.slow

AS_OF = date(2020, 10, 10)
FAST = "\n[crawl]\ndownload_delay = 0.0\nautothrottle = false\nconcurrent_per_domain = 8\ntimeout = 10.0\nretries = 1\n"


@dataclass
class Checked:
    settings: Settings
    evaluation: Evaluation
    server: FixtureServer
    first_requests: list[tuple[str, str]]


def portal_settings(tmp: Path, base_url: str, content: bool = True) -> Settings:
    path = tmp / "settings.toml"
    write_settings(path, base_url, f"sqlite:///{tmp / 'monitor.db'}")
    with path.open("a", encoding="utf-8") as f:
        f.write(FAST + ("\n" + content_toml() if content else ""))
    return load_settings(path)


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Checked:
    with FixtureServer(site="portal") as server:
        settings = portal_settings(tmp_path_factory.mktemp("content"), server.base_url)
        run_crawl(settings)
        first = list(server.requests)
        evaluation = Monitor(settings).evaluate_all(AS_OF)
        yield Checked(settings, evaluation, server, first)


def found_keys(evaluation: Evaluation) -> set[tuple[str, str, str, str]]:
    """Each content finding's problems as fixtures.portal.planted keys (rule, unit, page, what)."""
    keys = set()
    for result in evaluation.units:
        for f in result.findings:
            if f.rule not in RULES:
                continue
            if f.rule == "meta.missing":
                names = {n for e in f.evidence for n in e.outcome.split()}
                keys.add(key(f.rule, result.unit, f.target, ",".join(n for n in ARTICLE_META if n in names)))
                continue
            assert f.evidence, f
            keys |= {key(f.rule, result.unit, f.target, e.item) for e in f.evidence}
    owned = {id(f) for result in evaluation.units for f in result.findings}  # a site's own unit reports them
    keys |= {key(f.rule, "", f.target, e.item) for f in evaluation.site_findings
             if f.rule in RULES and id(f) not in owned for e in f.evidence}
    return keys


def test_every_planted_problem_is_found_and_nothing_else(checked: Checked) -> None:
    found = found_keys(checked.evaluation)
    precision, recall = score(found)
    print(f"\ncontent checks on the fixture portal: {len(found)} problems found, {len(expected_keys())} planted; "
          f"precision {precision:.3f}, recall {recall:.3f}")
    assert sorted(found - expected_keys()) == [] and sorted(expected_keys() - found) == []
    assert (precision, recall) == (1.0, 1.0)


def test_findings_say_where_and_what(checked: Checked) -> None:
    result = checked.evaluation.unit("发改局")
    assert result is not None
    attachment = next(f for f in result.findings if f.rule == "attachment.broken")
    assert attachment.target.endswith("/xxgk/fgj/content_5845068.html") and attachment.measure == 1
    assert "附件无法下载" in attachment.detail or "无法下载" in attachment.detail
    assert "网页" in attachment.evidence[0].outcome  # a 200 HTML error page is not the file
    office = checked.evaluation.unit("区政府办")
    assert office is not None
    home = [f for f in office.findings if f.rule in ("link.broken", "image.broken") and "首页" in f.detail]
    assert {f.rule for f in home} == {"link.broken", "image.broken"}
    typo = next(f for r in checked.evaluation.units for f in r.findings
                if f.rule == "content.typo" and any(e.item == "仓山县人民政府" for e in f.evidence))
    assert typo.severity == "veto" and "【仓山县人民政府】" in typo.evidence[0].text


def test_the_portal_home_page_is_current(checked: Checked) -> None:
    assert not [f for r in checked.evaluation.units for f in r.findings if f.rule == "site.homepage_stale"]


def test_a_second_crawl_within_the_cache_age_checks_no_link_again(checked: Checked) -> None:
    assert any(method == "HEAD" for method, _ in checked.first_requests)  # the first crawl checked links
    sessions = get_sessionmaker(checked.settings.monitor.database_url)
    with sessions() as session:
        before = {url: at for url, at in session.execute(select(LinkCheck.url, LinkCheck.checked_at))}
    checked.server.clear_requests()
    run_crawl(checked.settings)
    with sessions() as session:
        after = {url: at for url, at in session.execute(select(LinkCheck.url, LinkCheck.checked_at))}
        homes = session.scalar(select(func.count()).select_from(Page).where(Page.kind == "home"))
    assert homes == 1  # the home page was read again, its links all checked within link_check_days
    assert after == before
    assert not [r for r in checked.server.requests if r[0] == "HEAD"]


def test_a_plain_crawl_reads_no_article_or_home_page_for_content(tmp_path: Path) -> None:
    with FixtureServer(site="portal") as server:
        settings = portal_settings(tmp_path, server.base_url, content=False)
        run_crawl(settings)
        requests = list(server.requests)
    with get_sessionmaker(settings.monitor.database_url)() as session:
        assert session.scalar(select(func.count()).select_from(Page)) == 0
    assert not [r for r in requests if r[0] == "HEAD"]
    assert ("GET", "/") not in requests


def test_a_home_page_that_stopped_and_a_site_over_the_column_veto(tmp_path: Path) -> None:
    with FixtureServer(site="substale") as server:
        path = tmp_path / "settings.toml"
        path.write_text(f'[monitor]\ndatabase_url = "sqlite:///{tmp_path / "m.db"}"\n' + FAST
                        + substale.settings_toml(server.base_url)
                        + '\n[content]\nenabled = true\ncheck_links = "site"\n', encoding="utf-8")
        settings = load_settings(path)
        run_crawl(settings)
    result = Monitor(settings).check(substale.UNIT, AS_OF)
    stale = [f for f in result.findings if f.rule == "site.homepage_stale"]
    veto = [f for f in result.findings if f.rule == "site.columns_veto"]
    assert len(stale) == 1 and stale[0].severity == "veto"
    truth = substale.TRUTH["site.homepage_stale"]
    assert (stale[0].measure, stale[0].limit, stale[0].since) == (truth["days"], truth["limit"], truth["newest"])
    assert len(veto) == 1 and "空白栏目 6 个" in veto[0].detail


def test_the_report_rows_mark_only_the_protected_words_serious(checked: Checked) -> None:
    from fixtures.portal.planted import PROTECTED
    from monitors.evaluate import content_issues

    rows = content_issues(checked.evaluation, checked.settings)
    serious = {r.item for r in rows if r.rule == "content.typo" and r.severity == "veto"}
    assert serious == {wrong for _, forms in PROTECTED for wrong in forms}
    assert {r.home for r in rows if r.page.rstrip("/") == checked.server.base_url.rstrip("/")} == {True}
    assert not [r for r in rows if r.home and r.page.rstrip("/") != checked.server.base_url.rstrip("/")]
