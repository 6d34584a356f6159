"""The link checker (crawler.content.linkcheck) against real loopback servers: statuses, HEAD refused or lying,
attachments and images answered with HTML pages, redirects, a server that never answers or drips, a 500 MB
attachment, 5,000 links on one host, hosts down, resets, internal addresses and per-host politeness, all
measured on the server's side."""
from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.content.linkcheck import LinkOutcome, check_links
from crawler.readers.http import DESKTOP_UA, internal_host
from tests.crawler.linkserver import HOLD, HangServer, LinkServer
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def srv() -> Iterator[LinkServer]:
    with LinkServer() as server:
        yield server


def check(links: list[tuple[str, str]], allowed: set[str], **kw: object) -> dict[str, LinkOutcome]:
    args: dict = dict(timeout=2.0, per_host=4, delay=0.0, retries=1, user_agent=DESKTOP_UA, allowed_netlocs=allowed)
    args.update(kw)
    outcomes = check_links(links, **args)
    assert len(outcomes) == len({u for u, _ in links})
    return {o.url: o for o in outcomes}


def test_statuses_and_head_that_cannot_be_trusted(srv: LinkServer) -> None:
    u = srv.url
    got = check([(f"{u}/ok", "link"), (f"{u}/missing", "link"), (f"{u}/error", "link"), (f"{u}/ok", "link"),
                 (f"{u}/head405", "link"), (f"{u}/headlies", "link")], {srv.netloc})
    assert (got[f"{u}/ok"].ok, got[f"{u}/ok"].http_status) == (True, 200)
    assert (got[f"{u}/missing"].ok, got[f"{u}/missing"].outcome) == (False, "HTTP 404 错误")
    assert (got[f"{u}/error"].ok, got[f"{u}/error"].outcome) == (False, "HTTP 500 错误")
    assert all(o.reachable_host for o in got.values())
    assert got[f"{u}/head405"].ok is True and got[f"{u}/headlies"].ok is True
    assert srv.hits["HEAD /ok"] == 1 and "GET /ok" not in srv.hits  # repeated link checked once, HEAD enough
    assert srv.hits["GET /headlies"] == 1 and srv.hits["GET /missing"] == 1  # a 404 on HEAD is confirmed
    # 500: HEAD, GET, then one retry with GET only (HEAD already known unreliable for it)
    assert (srv.hits["HEAD /error"], srv.hits["GET /error"]) == (1, 2)


def test_attachments_and_images_answered_with_web_pages(srv: LinkServer) -> None:
    u = srv.url
    got = check([(f"{u}/files/gone.pdf", "link"), (f"{u}/files/gone.pdf", "attachment"),
                 (f"{u}/files/login.docx", "attachment"), (f"{u}/files/real.pdf", "attachment"),
                 (f"{u}/img/fake.png", "image"), (f"{u}/img/real.png", "image"), (f"{u}/empty.pdf", "attachment"),
                 (f"{u}/files/gzip-gone.doc", "attachment"), (f"{u}/files/通知.pdf", "attachment")],
                {srv.netloc})
    gone = got[f"{u}/files/gone.pdf"]  # linked as a link and as an attachment: judged as the attachment
    assert (gone.ok, gone.http_status, gone.outcome) == (False, 200, "附件地址返回的是网页（文件不存在）")
    assert got[f"{u}/files/login.docx"].outcome == "附件地址返回的是网页（标题：用户登录）"
    assert got[f"{u}/files/real.pdf"].ok is True and "GET /files/real.pdf" not in srv.hits
    fake = got[f"{u}/img/fake.png"]
    assert fake.ok is False and fake.outcome.startswith("图片地址返回的是网页") and "404" in fake.outcome
    assert got[f"{u}/img/real.png"].ok is True
    assert (got[f"{u}/empty.pdf"].ok, got[f"{u}/empty.pdf"].http_status) == (True, 416)
    assert got[f"{u}/files/gzip-gone.doc"].outcome == "附件地址返回的是网页（文件不存在）"  # inflated, then read
    assert got[f"{u}/files/通知.pdf"].ok is True


def test_redirects_followed_within_limits(srv: LinkServer) -> None:
    u = srv.url
    got = check([(f"{u}/redir/5", "link"), (f"{u}/redir/6", "link"), (f"{u}/loop/a", "link"),
                 (f"{u}/cookie-gate", "link")], {srv.netloc})
    assert got[f"{u}/redir/5"].ok is True
    assert (got[f"{u}/redir/6"].ok, got[f"{u}/redir/6"].outcome) == (False, "重定向次数过多")
    assert (got[f"{u}/loop/a"].ok, got[f"{u}/loop/a"].outcome) == (False, "重定向次数过多")
    assert srv.count("/loop/a") <= 3
    assert got[f"{u}/cookie-gate"].ok is True  # set-cookie and redirect to itself: a WAF's challenge


def test_never_answering_and_dripping_servers_are_bounded(srv: LinkServer) -> None:
    with HangServer() as hang:
        links = [(f"{hang.url}/a.pdf", "attachment"), (f"{hang.url}/b", "link"),
                 (f"{srv.url}/drip", "link"), (f"{srv.url}/ok", "link")]
        start = time.monotonic()
        got = check(links, {srv.netloc, hang.netloc}, timeout=1.0, max_seconds_per_url=3.0, retries=2)
        elapsed = time.monotonic() - start
    print(f"\nnever-answering host and dripping URL: {elapsed:.2f} s (deadline 3 s a URL)")
    assert elapsed < 3.0 + 1.5
    assert hang.accepted >= 1
    for url in (f"{hang.url}/a.pdf", f"{hang.url}/b"):  # the whole host never answered: an outage
        assert (got[url].ok, got[url].reachable_host) == (None, False)
        assert "连接超时" in got[url].outcome
    drip = got[f"{srv.url}/drip"]  # its host answers other URLs: this one is broken
    assert (drip.ok, drip.outcome, drip.reachable_host) == (False, "连接超时", True)


def test_a_500_mb_attachment_is_not_downloaded(srv: LinkServer) -> None:
    start = time.monotonic()
    got = check([(f"{srv.url}/big.pdf", "attachment"), (f"{srv.url}/big-head.pdf", "attachment")], {srv.netloc})
    elapsed = time.monotonic() - start
    time.sleep(0.3)  # let the server's writer notice the closed connection
    print(f"\n500 MB attachment: {elapsed:.2f} s; server side: {srv.big_delivered / 1024:.0f} KB delivered to the "
          f"client (acknowledged), {srv.big_sent / 1024:.0f} KB written into its own socket (send buffer included)")
    assert got[f"{srv.url}/big.pdf"].ok is True and got[f"{srv.url}/big-head.pdf"].ok is True
    assert srv.hits["GET /big.pdf"] == 1 and "GET /big-head.pdf" not in srv.hits
    assert srv.big_delivered <= 1024 * 1024
    assert srv.big_sent <= 8 * 1024 * 1024  # the server's kernel buffer at most: 500 MB were never on their way
    assert elapsed < 3.0


CHILD = """
import json, sys, time
from crawler.content.linkcheck import check_links
url, netloc, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
links = [(f"{url}/page/{i}", "link") for i in range(n)]
links += links[: n // 10]  # repeated links
done = []

def status_kb(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))

with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets VmHWM (the peak RSS) to the current RSS
rss_before = status_kb("VmRSS")
start = time.monotonic()
out = check_links(links, timeout=5.0, per_host=4, delay=0.0, retries=1, user_agent="test",
                  allowed_netlocs={netloc}, progress=lambda d, t: done.append(d))
print(json.dumps({"seconds": time.monotonic() - start, "outcomes": len(out), "ok": sum(o.ok is True for o in out),
                  "rss_before_kb": rss_before, "peak_growth_kb": status_kb("VmHWM") - rss_before,
                  "progress": done == list(range(1, n + 1))}))
"""


def run_child(srv: LinkServer, n: int) -> dict:
    """check_links in a fresh process (its peak RSS is its own; the server stays in this one)."""
    proc = subprocess.run([sys.executable, "-c", CHILD, srv.url, srv.netloc, str(n)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_five_thousand_links_on_one_host(srv: LinkServer) -> None:
    small = run_child(srv, 50)
    srv.peak = 0
    big = run_child(srv, 5000)
    grown = big["peak_growth_kb"] / 1024
    print(f"\n5,000 links (+500 repeated), per_host=4: {big['seconds']:.1f} s; peak RSS during the call "
          f"+{grown:.1f} MB over {big['rss_before_kb'] / 1024:.0f} MB (50 links: +{small['peak_growth_kb'] / 1024:.1f} MB); "
          f"server peak in flight {srv.peak}")
    assert big["outcomes"] == big["ok"] == 5000 and big["progress"] and small["ok"] == 50
    assert all(srv.hits[f"HEAD /page/{i}"] == (2 if i < 50 else 1) for i in range(5000))
    assert "GET /page/60" not in srv.hits
    assert srv.peak <= 4
    assert grown < 20
    assert big["seconds"] < 60


def test_per_url_memory_is_bounded_in_process(srv: LinkServer) -> None:
    links = [(f"{srv.url}/big.pdf?i={i}", "attachment") for i in range(32)]
    links += [(f"{srv.url}/page/{i}", "link") for i in range(300)]
    tracemalloc.start()
    try:
        got = check(links, {srv.netloc}, per_host=16, timeout=5.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"\n32 × 500 MB attachments and 300 pages, 16 at once: tracemalloc peak {peak / 1e6:.1f} MB "
          f"(server threads included), {srv.big_delivered / 1024:.0f} KB most delivered on one connection")
    assert [o for o in got.values() if not o.ok] == []
    assert peak < 30 * 1024 * 1024


def test_a_host_down_as_a_whole_is_not_broken_links() -> None:
    down = f"127.0.0.1:{free_port()}"
    links = [(f"http://{down}/a", "link"), (f"http://{down}/b.pdf", "attachment"), (f"http://{down}/c.png", "image")]
    start = time.monotonic()
    got = check(links, {down}, retries=2)
    print(f"\nhost down (refused): {time.monotonic() - start:.2f} s")
    for outcome in got.values():
        assert (outcome.ok, outcome.http_status, outcome.reachable_host) == (None, None, False)
        assert outcome.outcome == "未检查：网站无法访问（无法连接（连接被拒绝））"


def test_many_links_on_a_dead_host_stop_early() -> None:
    with HangServer() as hang:
        links = [(f"{hang.url}/{i}", "link") for i in range(40)]
        start = time.monotonic()
        got = check(links, {hang.netloc}, timeout=0.5, max_seconds_per_url=1.5, retries=0, per_host=4)
        elapsed = time.monotonic() - start
    print(f"\n40 links on a host that never answers: {elapsed:.2f} s, {hang.accepted} connections")
    assert all(o.ok is None and not o.reachable_host for o in got.values())
    # HEAD and GET for each of 40 links would be 80 connections: the host's breaker stopped them early
    assert elapsed < 6 and hang.accepted < 40


def test_a_reset_url_on_a_host_that_answers_is_broken(srv: LinkServer) -> None:
    got = check([(f"{srv.url}/reset", "link"), (f"{srv.url}/ok", "link")], {srv.netloc})
    reset = got[f"{srv.url}/reset"]
    assert (reset.ok, reset.outcome, reset.reachable_host) == (False, "无法连接（连接被重置）", True)
    assert srv.hits["HEAD /reset"] == 1 and srv.hits["GET /reset"] == 2  # reset on HEAD: GET, then a retry


def test_a_reset_on_head_is_confirmed_by_get(srv: LinkServer) -> None:
    url = f"{srv.url}/head-reset"
    assert check([(url, "link")], {srv.netloc})[url].ok is True
    assert (srv.hits["HEAD /head-reset"], srv.hits["GET /head-reset"]) == (1, 1)


def test_internal_addresses_are_never_requested(srv: LinkServer) -> None:
    port = srv.port
    links = [("http://10.0.0.1/notice.pdf", "attachment"), ("http://169.254.169.254/latest/meta-data/", "link"),
             (f"http://localhost:{port}/never-localhost", "link"), (f"http://[::1]:{port}/never-v6", "link"),
             (f"http://2130706433:{port}/never-decimal", "link"), (f"{srv.url}/to-internal", "link"),
             ("ftp://example.gov.cn/a.doc", "attachment"), (f"{srv.url}/ok\r\n", "link")]
    host = socket.gethostname()
    resolves_internal = all(internal_host(str(i[4][0])) for i in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    if resolves_internal and not internal_host(host):
        links.append((f"http://{host}:{port}/never-by-name", "link"))
    start = time.monotonic()
    got = check(links, {srv.netloc}, timeout=3.0)
    assert time.monotonic() - start < 2  # 10.0.0.1 would have hung for the timeout
    for url, _ in links[:5] + links[8:]:
        assert (got[url].ok, got[url].outcome, got[url].reachable_host) == (None, "未检查：内网地址", True), url
    assert (got[f"{srv.url}/to-internal"].ok, got[f"{srv.url}/to-internal"].outcome) == (None, "未检查：重定向到内网地址")
    assert got["ftp://example.gov.cn/a.doc"].outcome == "未检查：不是 http/https 地址"
    assert got[f"{srv.url}/ok\r\n"].ok is True  # CR/LF stripped, then requested
    assert not [key for key in srv.hits if "never" in key]
    assert srv.count("/to-internal") == 1
    if len(links) > 8:
        print(f"\n{host} resolves to an internal address: not requested")


def test_an_allowed_loopback_netloc_is_requested(srv: LinkServer) -> None:
    url = f"http://localhost:{srv.port}/ok"
    assert check([(url, "link")], {f"localhost:{srv.port}"})[url].ok is True
    assert srv.count("/ok") == 1


def test_per_host_concurrency_and_delay_measured_by_the_server(srv: LinkServer) -> None:
    links = [(f"{srv.url}/hold?i={i}", "link") for i in range(12)]
    start = time.monotonic()
    check(links, {srv.netloc}, per_host=3)
    elapsed = time.monotonic() - start
    print(f"\n12 held answers, per_host=3: peak {srv.peak} in flight, {elapsed:.2f} s")
    assert srv.peak == 3
    assert elapsed >= 4 * HOLD

    with LinkServer() as polite:
        check([(f"{polite.url}/ok?i={i}", "link") for i in range(6)], {polite.netloc}, per_host=4, delay=0.3)
        times = [t for t, _ in polite.starts]
    gaps = [b - a for a, b in zip(times, times[1:])]
    print(f"delay=0.3: gaps between request starts {[round(g, 3) for g in gaps]}")
    assert len(times) == 6 and min(gaps) >= 0.25  # spaced by the client; the margin is the server's scheduling


def test_retry_after_is_honoured(srv: LinkServer) -> None:
    start = time.monotonic()
    got = check([(f"{srv.url}/busy", "link")], {srv.netloc})
    assert got[f"{srv.url}/busy"].ok is True
    assert time.monotonic() - start >= 0.95


def test_called_from_a_running_event_loop(srv: LinkServer) -> None:
    async def inside() -> dict[str, LinkOutcome]:
        return check([(f"{srv.url}/ok", "link")], {srv.netloc})

    assert asyncio.run(inside())[f"{srv.url}/ok"].ok is True
