"""The distributed crawl (issue 13 part 6): `monitor crawl --distributed` hands the columns out through Redis,
`monitor worker` processes on any number of servers read them with scrapy-redis' scheduler and dupefilter, and
every worker writes through the same StoragePipeline to one PostgreSQL database.

What we chose, and why:
- **The column is the unit of work.** ColumnSpider keeps a column's read (pending requests, pages, problems) in
  memory and settles it once all its requests are done, so a column is read whole by one worker. A seed (one
  JSON a column: run, column, its crawl target, full, attempt) goes into the shared list `<prefix>:seeds`; a
  worker takes one with LMOVE into its own list `<prefix>:worker:<id>:held` (atomic: a seed is always in one of
  the two, never lost between them) and removes it from there once the column's outcome is stored.
- **scrapy-redis' Scheduler with a queue of each worker's own** (`<prefix>:worker:<id>:requests`, persistent),
  so a column's follow-up requests (next pages, article pages) stay with the worker that holds its state; its
  RFPDupeFilter (subclassed: `SeedDupeFilter`) sees only the seeds' first requests, fingerprinted by (run,
  column, attempt) in a per-run key, so a column seeded twice by mistake is read once. The spider's other
  requests stay dont_filter=True, as in a local crawl (a page reached twice within a column is its own guard).
- **Crawl state lives in the database**, as in a local crawl: the posts, and each column's fetch row of the run
  (`running` until its outcome is stored). That is what the coordinator watches (columns settled = fetch rows no
  longer `running`), and what decides whether a dead worker's column must be read again.
- **Liveness:** each worker refreshes `<prefix>:worker:<id>:alive` (SET EX heartbeat_seconds) every third of it.
  When it expires, the coordinator hands out again the columns the worker held whose fetch row is still
  `running`, with full=True and attempt+1 (a column broken off mid-read must be re-read whole: the incremental
  rule stops at stored posts, see crawler.spider), and deletes the worker's queue. After `max_attempts` a column
  is recorded as failed with the reason, never silently lost. A worker that stops (SIGTERM, Ctrl-C) deletes its
  heartbeat, so its columns are handed out at once.
- **One coordinator at a time** per key prefix (`<prefix>:coordinator`, SET NX EX, refreshed): it takes the crawl
  run as `monitor crawl` does (storage.crawl_lock.begin_run), so a coordinator that dies leaves a run the next
  crawl marks interrupted, and a next coordinator clears the seeds it left.

Not done by workers: the sites' home pages for the content checks (a local crawl reads them); the content
link step runs in the coordinator once every column is settled, as in a local crawl.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import redis
from scrapy_redis.dupefilter import RFPDupeFilter
from sqlalchemy import select

from config import Settings
from crawler.items import ColumnDoneItem, PageContentItem
from crawler.run import (CrawlSummary, ProgressPrinter, complete_urls_reader, outcome_text, scrapy_settings,
                         summarize)
from crawler.spider import ColumnSpider
from storage import queries
from storage.db import DatabaseUnavailable, get_sessionmaker, is_outage, normalise_url, outage_message, safe_url
from storage.models import ColumnFetch, FetchStatus

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

SEED = "monitor_seed"  # request meta: the raw seed of a column's first request
GIVE_UP_REASON = "工作进程 {n} 次在读取中退出，未能读完该栏目"
NO_WORKER_REASON = "没有可用的工作进程（monitor worker），未读取"


class DistributedError(Exception):
    """An expected failure of the distributed mode (no PostgreSQL, Redis unreachable, another coordinator):
    one line in Chinese for the user."""


@dataclass(frozen=True)
class Keys:
    """Every Redis key of the distributed mode, under the settings' key_prefix."""

    prefix: str

    @property
    def seeds(self) -> str:
        return f"{self.prefix}:seeds"

    @property
    def workers(self) -> str:
        return f"{self.prefix}:workers"

    @property
    def coordinator(self) -> str:
        return f"{self.prefix}:coordinator"

    def alive(self, worker: str) -> str:
        return f"{self.prefix}:worker:{worker}:alive"

    def held(self, worker: str) -> str:
        return f"{self.prefix}:worker:{worker}:held"

    def requests(self, worker: str) -> str:
        return f"{self.prefix}:worker:{worker}:requests"

    def seen(self, run_id: int) -> str:
        return f"{self.prefix}:run:{run_id}:seen"


@dataclass(frozen=True)
class Seed:
    run: int
    target: queries.CrawlTarget
    full: bool
    attempt: int = 1

    def dumps(self) -> str:
        return json.dumps({"run": self.run, "target": asdict(self.target), "full": self.full,
                           "attempt": self.attempt}, ensure_ascii=False, sort_keys=True)

    @classmethod
    def loads(cls, raw: str | bytes) -> Seed:
        data = json.loads(raw)
        return cls(data["run"], queries.CrawlTarget(**data["target"]), data["full"], data["attempt"])

    def fingerprint(self) -> str:
        return hashlib.sha1(f"{self.run}:{self.target.column_id}:{self.attempt}".encode()).hexdigest()


def connect(settings: Settings) -> redis.Redis:
    """The Redis of the settings, checked with a PING (DistributedError in Chinese when unreachable)."""
    url = settings.distributed.redis_url
    try:
        client = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10, decode_responses=True,
                                      password=settings.distributed.redis_password or None)
        client.ping()
    except redis.RedisError as exc:
        raise DistributedError(f"无法连接 Redis（{safe_url(url)}）：{exc}") from None
    return client


def require_shared_database(settings: Settings) -> None:
    from sqlalchemy.engine import make_url

    if make_url(normalise_url(settings.monitor.database_url)).get_backend_name() != "postgresql":
        raise DistributedError("分布式抓取需要各服务器共用的 PostgreSQL 数据库（[monitor] database_url = "
                               "\"postgresql://…\"），SQLite 文件只能用于单机抓取")


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


# --- the coordinator -----------------------------------------------------------------------------------------

Say = Callable[[str], None]


def crawl_distributed(settings: Settings, units: Sequence[str] | None = None, full: bool = False,
                      say: Say | None = None, *, poll: float = 0.5) -> CrawlSummary:
    """`monitor crawl --distributed`: start a run, hand its columns out to the workers, wait until every column
    is settled (re-handing the columns of dead workers), then the content link step, finish the run and return
    its summary, as `crawler.run.crawl_in_process`. The database must already be prepared (migrated, loaded)."""
    from storage.crawl_lock import begin_run

    require_shared_database(settings)
    client = connect(settings)
    keys = Keys(settings.distributed.key_prefix)
    ttl = coordinator_ttl(settings)
    if not client.set(keys.coordinator, "starting", nx=True, px=ttl):
        raise DistributedError(f"另一个分布式抓取正在进行（Redis 键 {keys.coordinator}）：请等它结束后再运行")
    url = settings.monitor.database_url
    sessions = get_sessionmaker(url)
    lock = None
    run_id = 0
    try:
        run_id, lock, _ = begin_run(sessions, url, full)
        client.set(keys.coordinator, str(run_id), px=ttl)
        with sessions.begin() as session:
            targets = queries.crawl_targets(session, units)
            queries.mark_running(session, run_id, [t.column_id for t in targets])
        client.set(keys.coordinator, str(run_id), px=ttl)  # workers take only the seeds of the run it names
        coordinator = Coordinator(settings, client, keys, sessions, run_id, targets, say)
        coordinator.seed(full)
        try:
            coordinator.wait(poll)
        finally:
            client.delete(keys.seeds, keys.seen(run_id))  # stopped or done: nothing of this run is handed out
        links = None
        if settings.content.enabled and targets:
            from crawler.content.linkstep import check_run_links

            links = check_run_links(settings, sessions, run_id, say)
        with sessions.begin() as session:
            queries.finish_run(session, run_id)
    except redis.RedisError as exc:
        raise DistributedError(f"与 Redis（{safe_url(settings.distributed.redis_url)}）的连接中断：{exc}；已保存的内容"
                               "保留，本次抓取下次记为中断，未读完的栏目下次完整重读") from None
    except Exception as exc:
        if not is_outage(exc):
            raise
        from crawler.pipelines import crawl_stopped

        raise DatabaseUnavailable(crawl_stopped(outage_message(exc, url))) from None
    finally:
        try:
            if client.get(keys.coordinator) in ("starting", str(run_id)):
                client.delete(keys.coordinator)  # workers with --exit-when-idle stop once it is gone
        except redis.RedisError:
            pass  # Redis gone: the key expires by itself
        if lock is not None:
            lock.release()  # after the run's row is final
    return replace(summarize(settings, run_id), links=links)


def coordinator_ttl(settings: Settings) -> int:
    """Milliseconds the coordinator's key outlives its last refresh: long enough for the slow steps between
    refreshes (marking 20,000 columns running), short enough that a dead coordinator's key soon goes."""
    return int(max(3 * settings.distributed.heartbeat_seconds, 30) * 1000)


class Coordinator:
    """The waiting part of `crawl_distributed`: progress from the database, liveness from Redis."""

    def __init__(self, settings: Settings, client: redis.Redis, keys: Keys, sessions: sessionmaker[Session],
                 run_id: int, targets: Sequence[queries.CrawlTarget], say: Say | None) -> None:
        self.settings, self.client, self.keys, self.sessions = settings, client, keys, sessions
        self.run_id, self.say = run_id, say
        self.targets = {t.column_id: t for t in targets}
        self.printer = ProgressPrinter(targets, line=say) if say else None
        self.settled: set[int] = set()
        self.handed_again = 0  # columns handed out again after a worker died

    def seed(self, full: bool) -> None:
        """Seeds left by a coordinator that died are dropped; each column of the run is pushed, the sites taken in
        turn (one column of each site, then the next of each…): the columns read at once are on different sites,
        so the workers together do not crowd one server while others wait."""
        from crawler.middlewares import netloc

        self.client.delete(self.keys.seeds)
        self.recover_dead()  # workers that died since the last run: their queues and held lists go
        by_site: dict[str | None, list[queries.CrawlTarget]] = {}
        for target in self.targets.values():
            by_site.setdefault(netloc(target.url), []).append(target)
        pipe = self.client.pipeline(transaction=False)
        for turn in itertools.zip_longest(*by_site.values()):
            for target in turn:
                if target is not None:  # workers take from the right: first pushed, first read
                    pipe.lpush(self.keys.seeds, Seed(self.run_id, target, full).dumps())
        pipe.execute()

    def wait(self, poll: float) -> None:
        ttl = coordinator_ttl(self.settings)
        idle_since: float | None = None
        last_call = 0.0
        while True:
            self.client.set(self.keys.coordinator, str(self.run_id), px=ttl)
            self.progress()
            if len(self.settled) >= len(self.targets):
                return
            self.recover_dead()
            now = time.monotonic()
            if self.live_workers():
                idle_since = None
            else:
                if idle_since is None:
                    idle_since = now
                if now - last_call >= 60 and self.say:
                    self.say(f"等待工作进程：请在各服务器上运行 monitor worker（同一设置文件、同一 Redis "
                             f"{self.redis_name()}），尚有 {len(self.targets) - len(self.settled)} 个栏目未抓取")
                    last_call = now
                if now - idle_since >= self.settings.distributed.worker_wait:
                    self.give_up_all()
                    continue
            time.sleep(poll)

    def redis_name(self) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(self.settings.distributed.redis_url)
        return f"{parts.hostname or ''}:{parts.port or 6379}"

    def progress(self) -> None:
        """Each column settled since the last call: one line (crawler.run.ProgressPrinter's)."""
        with self.sessions() as session:
            rows = session.execute(select(ColumnFetch.column_id, ColumnFetch.status, ColumnFetch.reason,
                                          ColumnFetch.pages, ColumnFetch.new_posts)
                                   .where(ColumnFetch.run_id == self.run_id,
                                          ColumnFetch.status != FetchStatus.RUNNING)).all()
        for column_id, status, reason, pages, new_posts in rows:
            if column_id in self.settled:
                continue
            self.settled.add(column_id)
            if self.printer is not None:
                self.printer(ColumnDoneItem(column_id, FetchStatus(status), reason, pages=pages), new_posts)

    def live_workers(self) -> list[str]:
        return [w for w in self.workers() if self.client.exists(self.keys.alive(w))]

    def workers(self) -> list[str]:
        return sorted(_text(w) for w in self.client.smembers(self.keys.workers))

    def recover_dead(self) -> None:
        """Each registered worker whose heartbeat expired: its unsettled columns of this run handed out again,
        its queue and lists deleted, its name unregistered."""
        for worker in self.workers():
            if self.client.exists(self.keys.alive(worker)):
                continue
            held = [Seed.loads(raw) for raw in self.client.lrange(self.keys.held(worker), 0, -1)]
            again = [s for s in held if s.run == self.run_id]
            unsettled = self.unsettled({s.target.column_id for s in again})
            for seed in again:
                if seed.target.column_id in unsettled:
                    self.hand_again(seed, worker)
            self.client.delete(self.keys.held(worker), self.keys.requests(worker))
            self.client.srem(self.keys.workers, worker)

    def unsettled(self, column_ids: set[int]) -> set[int]:
        if not column_ids:
            return set()
        with self.sessions() as session:
            return set(session.scalars(select(ColumnFetch.column_id).where(
                ColumnFetch.run_id == self.run_id, ColumnFetch.column_id.in_(column_ids),
                ColumnFetch.status == FetchStatus.RUNNING)))

    def hand_again(self, seed: Seed, worker: str) -> None:
        name = f"{seed.target.unit} · {seed.target.name}"
        if seed.attempt >= self.settings.distributed.max_attempts:
            self.record_failed(seed.target.column_id, GIVE_UP_REASON.format(n=seed.attempt))
            return
        again = Seed(seed.run, seed.target, True, seed.attempt + 1)
        self.client.rpush(self.keys.seeds, again.dumps())  # the next taken
        self.handed_again += 1
        if self.say:
            self.say(f"工作进程 {worker} 已停止：{name} 交给其他工作进程完整重读（第 {again.attempt} 次）")

    def give_up_all(self) -> None:
        """No worker for worker_wait seconds: every column not settled is recorded as failed."""
        self.client.delete(self.keys.seeds)
        for column_id in self.unsettled(set(self.targets) - self.settled):
            self.record_failed(column_id, NO_WORKER_REASON)

    def record_failed(self, column_id: int, reason: str) -> None:
        with self.sessions.begin() as session:
            queries.record_fetch(session, self.run_id, column_id, status=FetchStatus.ERROR, reason=reason)


# --- the worker ----------------------------------------------------------------------------------------------


def worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def worker_scrapy_settings(settings: Settings, keys: Keys, worker: str) -> dict[str, Any]:
    """The local crawl's Scrapy settings (crawler.run.scrapy_settings) plus scrapy-redis' scheduler on this
    worker's own persistent queue and the seeds' dupefilter."""
    return {
        **scrapy_settings(settings.crawl, settings.monitor.database_url, 0),  # items carry their run
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "SCHEDULER_QUEUE_KEY": keys.requests(worker),
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",  # article pages (priority 1) first
        "SCHEDULER_PERSIST": True,  # a worker's queue outlives it: the coordinator deletes it
        "DUPEFILTER_CLASS": "crawler.distributed.SeedDupeFilter",
        "SCHEDULER_DUPEFILTER_KEY": f"{keys.prefix}:dupefilter",  # unused: SeedDupeFilter keys by run
        "REDIS_URL": settings.distributed.redis_url,
        # MONITOR_REDIS_PASSWORD (config.loader): scrapy-redis passes REDIS_PARAMS to redis.Redis.from_url
        "REDIS_PARAMS": {"password": settings.distributed.redis_password} if settings.distributed.redis_password
        else {},
        "MONITOR_REDIS_PREFIX": keys.prefix,
    }


class SeedDupeFilter(RFPDupeFilter):
    """scrapy-redis' RFPDupeFilter keyed by run: a seed's fingerprint is (run, column, attempt), stored in
    `<prefix>:run:<run>:seen` (deleted by the coordinator at the run's end, and expiring after two days
    anyway). Only seeds reach it: every other request of the spider is dont_filter=True."""

    SEEN_TTL = 2 * 24 * 3600

    @classmethod
    def from_spider(cls, spider: Any) -> SeedDupeFilter:
        from scrapy_redis.connection import get_redis_from_settings

        settings = spider.settings
        dupefilter = cls(get_redis_from_settings(settings), key=settings.get("SCHEDULER_DUPEFILTER_KEY"),
                         debug=settings.getbool("DUPEFILTER_DEBUG"))
        dupefilter.keys = Keys(settings.get("MONITOR_REDIS_PREFIX"))
        return dupefilter

    def request_seen(self, request: Any) -> bool:
        raw = request.meta.get(SEED)
        if raw is None:
            return bool(super().request_seen(request))
        seed = Seed.loads(raw)
        key = self.keys.seen(seed.run)
        added = self.server.sadd(key, seed.fingerprint())
        self.server.expire(key, self.SEEN_TTL)
        return added == 0

    def close(self, reason: str = "") -> None:
        """Nothing to delete: the seen sets belong to the runs (scrapy-redis' own close deletes its key)."""


class WorkerSpider(ColumnSpider):
    """ColumnSpider fed by seeds from Redis instead of a list of targets; stays open while the worker runs."""

    name = "columns"

    def __init__(self, settings: Settings, client: redis.Redis, keys: Keys, worker: str, *,
                 exit_when_idle: bool = False, say: Say | None = None, **kwargs: Any) -> None:
        from crawler.middlewares import netloc

        self.monitor = settings
        self.client, self.keys, self.worker = client, keys, worker
        self.exit_when_idle, self.say = exit_when_idle, say
        complete_urls = complete_urls_reader(get_sessionmaker(settings.monitor.database_url), lambda: self.crawler)

        netlocs = {n for s in settings.sites if (n := netloc(s.url))}
        super().__init__([], complete_urls=complete_urls, full=False, timezone=settings.monitor.timezone,
                         selectors={c.url: c.selectors for c in settings.columns if c.selectors},
                         allowed_netlocs=netlocs, max_pages=settings.crawl.max_pages_per_column,
                         max_entries=settings.crawl.max_entries_per_page, content=None, **kwargs)
        self.held: dict[int, tuple[str, Seed]] = {}  # column id -> (raw seed, seed) being read here
        self.run_id: int | None = None
        self.started = time.monotonic()
        self.coordinator_seen = False
        self.beat_at = 0.0
        self.complained_at = 0.0
        self.settled_count = 0
        self.loop: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> WorkerSpider:
        from scrapy import signals

        from crawler.pipelines import column_settled

        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.idle, signal=signals.spider_idle)
        crawler.signals.connect(spider.opened, signal=signals.spider_opened)
        crawler.signals.connect(spider.closed_worker, signal=signals.spider_closed)
        crawler.signals.connect(spider.dropped, signal=signals.request_dropped)
        crawler.signals.connect(spider.settled, signal=column_settled)
        return spider

    # --- seeds ---

    def opened(self, spider: Any) -> None:
        from twisted.internet import task

        self.beat()
        self.loop = task.LoopingCall(self.tick)
        self.loop.start(0.2, now=True)

    def beat(self) -> None:
        ttl = self.monitor.distributed.heartbeat_seconds
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self.keys.alive(self.worker), str(time.time()), px=int(ttl * 1000))
        pipe.sadd(self.keys.workers, self.worker)
        pipe.execute()
        self.beat_at = time.monotonic()

    def tick(self) -> None:
        """Every 0.2 s: the heartbeat when a third of it has passed, and seeds taken up to columns_per_worker."""
        try:
            if time.monotonic() - self.beat_at >= self.monitor.distributed.heartbeat_seconds / 3:
                self.beat()
            self.take()
        except Exception as exc:  # noqa: BLE001 - Redis gone for a moment: the next tick tries again
            if time.monotonic() - self.complained_at >= 10:  # one line every 10 s, not five a second
                self.complained_at = time.monotonic()
                print(f"工作进程 {self.worker}：Redis 暂时不可用（{exc}），稍后重试", file=sys.stderr, flush=True)

    def take(self) -> None:
        engine = getattr(self.crawler, "engine", None)
        if engine is None or engine.spider is None or getattr(self.crawler, "_monitor_database_lost", False):
            return
        while len(self.held) < self.monitor.distributed.columns_per_worker:
            taken = self.client.lmove(self.keys.seeds, self.keys.held(self.worker), "RIGHT", "LEFT")
            if taken is None:
                return
            raw = _text(taken)
            seed = Seed.loads(raw)
            current = self.client.get(self.keys.coordinator)
            column_id = seed.target.column_id
            if current != str(seed.run) or column_id in self.held:
                # A seed of a run no coordinator waits for, or a column this worker is reading already.
                self.client.lrem(self.keys.held(self.worker), 1, raw)
                continue
            engine.crawl(self.first_request(raw, seed))

    def first_request(self, raw: str, seed: Seed) -> Any:
        from crawler.middlewares import Validators, netloc
        from crawler.pagination import PageRequest
        from crawler.spider import ColumnState

        if seed.run != self.run_id:  # a new run: articles requested in the last one may be asked again
            self.run_id = seed.run
            self.requested_articles.clear()
        target = replace(seed.target, needs_full=seed.full or seed.target.needs_full)
        if (host := netloc(target.url)) is not None:
            self.allowed_netlocs.add(host)
        state = ColumnState(target)
        self.states[target.column_id] = state
        self.held[target.column_id] = (raw, seed)
        validators = None if self._full(state) else Validators(target.etag, target.last_modified)
        request = self._list_request(state, PageRequest(target.url), first=True, validators=validators)
        # Through the dupefilter (the seed's fingerprint); Scrapy's OffsiteMiddleware would drop it otherwise
        # (allowed_domains is fixed when the spider opens): OffsiteGuardMiddleware still guards it.
        return request.replace(dont_filter=False, meta={**request.meta, SEED: raw, "allow_offsite": True})

    def dropped(self, request: Any, spider: Any = None) -> None:
        """A seed the dupefilter has seen: it is read (or was) by whoever took it first."""
        raw = request.meta.get(SEED)
        if raw is not None:
            self.forget(request.meta["column_id"], raw)

    def settled(self, item: ColumnDoneItem, new_posts: int) -> None:
        held = self.held.get(item.column_id)
        if held is None:
            return
        self.settled_count += 1
        if self.say:
            self.say(f"[运行 {held[1].run}] {held[1].target.unit} · {held[1].target.name}："
                     f"{outcome_text(item, new_posts)}")
        self.forget(item.column_id, held[0])

    def forget(self, column_id: int, raw: str) -> None:
        self.client.lrem(self.keys.held(self.worker), 1, raw)
        self.held.pop(column_id, None)
        self.states.pop(column_id, None)

    def idle(self, spider: Any) -> None:
        from scrapy.exceptions import DontCloseSpider

        try:
            self.take()
            if self.exit_when_idle and not self.held and not self.client.llen(self.keys.seeds):
                if self.client.exists(self.keys.coordinator):
                    self.coordinator_seen = True
                elif self.coordinator_seen or time.monotonic() - self.started > 30:
                    return  # nothing to do and no run under way: the spider closes
        except redis.RedisError:
            pass  # Redis gone for a moment: tick() says so and tries again
        raise DontCloseSpider

    def closed_worker(self, spider: Any, reason: str) -> None:
        """Stopped (a signal, an outage, idle): the heartbeat goes at once, so the coordinator hands out the
        columns still held here, and nothing more is taken."""
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        try:
            self.client.delete(self.keys.alive(self.worker))
        except Exception as exc:  # noqa: BLE001 - Redis gone: the heartbeat expires by itself
            print(f"工作进程 {self.worker}：Redis 不可用（{exc}）", file=sys.stderr, flush=True)

    # --- items carry their run ---

    def _maybe_done(self, state: Any) -> Iterator[ColumnDoneItem]:
        for item in super()._maybe_done(state):
            held = self.held.get(item.column_id)
            item.run_id = held[1].run if held else self.run_id
            yield item

    def parse_article(self, response: Any) -> Iterator[Any]:
        for item in super().parse_article(response):
            if isinstance(item, PageContentItem):
                item.run_id = self.run_id
            yield item


@dataclass
class WorkerResult:
    worker: str
    columns: int  # columns settled by this worker
    reason: str  # Scrapy's close reason (finished, shutdown, database_unavailable)


def run_worker(settings: Settings, worker: str | None = None, *, exit_when_idle: bool = False,
               say: Say | None = None) -> WorkerResult:
    """`monitor worker`: read the columns handed out through Redis until stopped (SIGTERM, Ctrl-C: Scrapy's
    graceful stop, then the heartbeat is deleted), or, with `exit_when_idle`, until no run is under way."""
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    from crawler.pipelines import OUTAGE_REASON, crawl_stopped, database_lost

    require_shared_database(settings)
    client = connect(settings)
    keys = Keys(settings.distributed.key_prefix)
    worker = worker or worker_name()
    process = CrawlerProcess(worker_scrapy_settings(settings, keys, worker))
    crawler = process.create_crawler(WorkerSpider)
    lost: list[BaseException] = []
    reasons: list[str] = []
    crawler.signals.connect(lambda error: lost.append(error), signal=database_lost, weak=False)

    def closed(spider: Any, reason: str) -> None:
        reasons.append(reason)

    crawler.signals.connect(closed, signal=signals.spider_closed, weak=False)
    if say:
        say(f"工作进程 {worker} 已启动：从 Redis {safe_url(settings.distributed.redis_url)} 领取栏目，"
            f"写入 {safe_url(settings.monitor.database_url)}")
    process.crawl(crawler, settings, client, keys, worker, exit_when_idle=exit_when_idle, say=say)
    process.start()
    spider = crawler.spider
    if lost or OUTAGE_REASON in reasons:
        raise DatabaseUnavailable(crawl_stopped(outage_message(lost[0] if lost else OSError("数据库写入失败"),
                                                               settings.monitor.database_url)))
    return WorkerResult(worker, getattr(spider, "settled_count", 0), reasons[0] if reasons else "finished")
