"""The crawl's last step with `[content] enabled`: check the links, images and attachments on the pages this run
read, each URL once, and only those not checked within `[content] link_check_days` (the shared cache)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from crawler.content.linkcheck import check_links
from crawler.middlewares import netloc
from storage import queries
from storage.models import utcnow


@dataclass(frozen=True)
class LinkStepSummary:
    links: int = 0  # distinct URLs on the pages read in this run
    cached: int = 0  # of them, checked within link_check_days (no request)
    skipped: int = 0  # off the configured sites while [content] check_links = "site"
    checked: int = 0  # requested in this run
    broken: int = 0  # found broken in this run
    undetermined: int = 0  # their host could not be reached at all: checked again next run


def site_netlocs(settings: Settings) -> set[str]:
    """host:port of the configured sites and columns: links there are the district's own."""
    return {n for n in ({netloc(s.url) for s in settings.sites} | {netloc(c.url) for c in settings.columns}) if n}


def check_run_links(settings: Settings, sessions: sessionmaker[Session], run_id: int,
                    say: Callable[[str], None] | None = None) -> LinkStepSummary:
    own = site_netlocs(settings)
    fresh_after = utcnow() - timedelta(days=settings.content.link_check_days)
    with sessions() as session:
        total = queries.run_link_count(session, run_id)
        due = queries.links_due(session, run_id, fresh_after)
    skipped = 0
    if settings.content.check_links == "site":
        kept = [(url, kind) for url, kind in due if netloc(url) in own]
        skipped, due = len(due) - len(kept), kept
    cached = total - len(due) - skipped
    if say and total:
        say(f"检查链接：页面上共 {total} 个链接、图片和附件，{cached} 个 {settings.content.link_check_days} 天内已检查"
            + (f"，{skipped} 个不在本站（设置为只检查本站）" if skipped else "") + f"，本次检查 {len(due)} 个")
    if not due:
        return LinkStepSummary(total, cached, skipped)
    step = max(1, len(due) // 10)

    def progress(done: int, count: int) -> None:
        if say and (done % step == 0 or done == count):
            say(f"  链接检查进度：{done}/{count}")

    crawl = settings.crawl
    outcomes = check_links(due, timeout=crawl.timeout, per_host=crawl.concurrent_per_domain,
                           delay=crawl.download_delay, retries=crawl.retries, user_agent=crawl.user_agent,
                           allowed_netlocs=own, progress=progress)
    with sessions.begin() as session:
        queries.record_link_checks(session, [queries.LinkOutcomeRow(o.url, o.ok, o.http_status, o.outcome)
                                             for o in outcomes])
    broken = sum(o.ok is False for o in outcomes)
    undetermined = sum(o.ok is None for o in outcomes)
    if say:
        say(f"链接检查完成：检查 {len(outcomes)} 个，无法访问 {broken} 个"
            + (f"，{undetermined} 个因站点无法连接未能判断（下次再查）" if undetermined else ""))
    return LinkStepSummary(total, cached, skipped, len(outcomes), broken, undetermined)
