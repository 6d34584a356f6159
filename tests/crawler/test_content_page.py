"""crawler/content/page.py: article bodies, links and attachments, meta tags and a home page's newest list date, on
the fixture portal and platform (fetched over loopback) and on sample pages written like TRS, Hanweb and the
provincial platform's article pages."""
from __future__ import annotations

import random
import time
import urllib.request
import zlib
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime

import pytest

from crawler.content.page import (ARTICLE_META, ATTACHMENT_EXTENSIONS, HOME_META, LinkRef, PageContent, missing_meta,
                                  read_article, read_home)
from crawler.encoding import decode_html, header_charset
from fixtures.fjplatform import fjplatform_posts
from fixtures.portal import DISTRICT_UNITS, SNAPSHOT, portal_columns, portal_posts, text
from fixtures.portal.articles import article_main
from fixtures.portal.model import PostSpec
from fixtures.server import FixtureServer, load_static_site


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return decode_html(answer.read(), header_charset(answer.headers.get("Content-Type")))


def by_url(page: PageContent) -> dict[str, LinkRef]:
    return {link.url: link for link in page.links}


def body_links(page: PageContent) -> set[tuple[str, str]]:
    return {(link.url, link.kind) for link in page.links if link.in_body}


# --- the fixture portal's article pages ---------------------------------------------------------------------------

COLUMNS = {c.path: c for c in portal_columns()}
POSTS = portal_posts()
OWNER: dict[str, PostSpec] = {}
for _p in POSTS:
    OWNER.setdefault(_p.path, _p)   # a post listed in two columns is rendered under the first (fixtures/portal/site.py)
HOT = sorted((p for p in POSTS if p.column_path == "/xwzx/csyw/"), key=lambda p: (p.published, p.path), reverse=True)[:6]


def source_of(post: PostSpec) -> str:
    unit = COLUMNS[post.column_path].unit
    return "仓山区人民政府办公室" if unit in DISTRICT_UNITS else f"仓山区{unit}"


def extras_of(post: PostSpec) -> list[str]:
    """The images and attachments fixtures/portal/articles.py puts in the post's body."""
    col = COLUMNS[post.column_path]
    return article_main(post, col, source_of(post), col.style, "101")[1]


def paragraphs_of(post: PostSpec) -> list[str]:
    # article_main draws the paragraphs first from a generator seeded with the path.
    rng = random.Random(zlib.crc32(post.path.encode()))
    day = f"{post.published.month}月{post.published.day}日"
    return [" ".join(p.split()) for p in text.body_paragraphs(rng, source_of(post), post.title, day)]


# Content problems are planted only in posts of 2020-09-01 .. 2020-10-09 (fixtures/portal/planted.py): older
# posts' bodies hold exactly what article_main draws.
CLEAN_BEFORE = datetime(2020, 9, 1)


def pick(style: str, prefix: str = "") -> PostSpec:
    """A post of one article style with an image or an attachment when the style has one, not in the hot list."""
    hot = {p.path for p in HOT}
    posts = [p for p in POSTS if OWNER[p.path] is p and COLUMNS[p.column_path].style == style
             and p.path not in hot and p.path.startswith(prefix) and p.published < CLEAN_BEFORE]
    both = [p for p in posts if {x.rsplit(".", 1)[1] for x in extras_of(p)} - {"png"} and
            any(x.endswith(".png") for x in extras_of(p))]
    return next(iter(both or [p for p in posts if extras_of(p)] or posts))


CASES = [("trs", ""), ("pic", ""), ("hanweb", ""), ("plain-table", ""), ("plain-div", ""), ("plain-slash", ""),
         ("nodate", ""), ("disclosure", ""), ("trs", "/czj/"), ("plain-table", "/cmz/"), ("trs", "/tjj/")]


@pytest.mark.parametrize(("style", "prefix"), CASES, ids=[f"{s}{p}" for s, p in CASES])
def test_fixture_article_body_text_and_links(portal: FixtureServer, style: str, prefix: str) -> None:
    post = pick(style, prefix)
    url = portal.base_url + post.path
    page = read_article(fetch(url), url)

    assert page.title == post.title
    for paragraph in paragraphs_of(post):
        assert paragraph in page.text
    for furniture in ("热点推荐", "专题专栏", "网站标识码", "主办单位", "当前位置", "分享到", "打印", "发布时间：",
                      *(p.title[:18] for p in HOT)):
        assert furniture not in page.text
    assert "\u3000" not in page.text and "  " not in page.text

    kinds = {"png": "image", "pdf": "attachment", "docx": "attachment"}
    assert body_links(page) == {(portal.base_url + x, kinds[x.rsplit(".", 1)[1]]) for x in extras_of(post)}
    links = by_url(page)
    for furniture in ("/zwgk/", "/images/logo.png", "/images/dzjg.png", "/images/zt-cwcj.png", HOT[0].path):
        assert links[portal.base_url + furniture].in_body is False
    # (some columns' templates lack meta tags on purpose: fixtures/portal/planted.py META_MISSING)
    expected_meta = {"ArticleTitle": post.title, "SiteIDCode": "3501040001", "ColumnName": COLUMNS[post.column_path].name}
    assert {k: v for k, v in page.meta.items() if k in expected_meta} == {
        k: v for k, v in expected_meta.items() if k in page.meta}


def test_every_fixture_article_before_the_planted_window() -> None:
    """All article pages published before CLEAN_BEFORE, as the server sends them: title, body links exact."""
    site = load_static_site("portal")
    checked = wrong = 0
    started = time.perf_counter()
    for post in OWNER.values():
        if post.published >= CLEAN_BEFORE:
            continue
        res = site.pages[post.path]
        url = "http://127.0.0.1" + post.path
        page = read_article(decode_html(res.body, header_charset(res.content_type)), url)
        expected = {"http://127.0.0.1" + x for x in extras_of(post)}
        checked += 1
        if page.title != post.title or {x.url for x in page.links if x.in_body} != expected \
                or "网站标识码" in page.text or not page.text.startswith(paragraphs_of(post)[0][:20]):
            wrong += 1
    print(f"{checked} fixture articles read in {time.perf_counter() - started:.1f} s, {wrong} wrong")
    assert checked > 4000 and wrong == 0


def test_the_picked_fixture_pages_cover_images_and_both_attachment_types() -> None:
    extras = [x for style, prefix in CASES for x in extras_of(pick(style, prefix))]
    assert {x.rsplit(".", 1)[1] for x in extras} == {"png", "pdf", "docx"}


@pytest.fixture(scope="module")
def platform() -> Iterator[FixtureServer]:
    with FixtureServer(site="fjplatform") as server:
        yield server


def test_platform_article(platform: FixtureServer) -> None:
    post = fjplatform_posts()[0]
    url = platform.base_url + post.path
    page = read_article(fetch(url), url)
    rng = random.Random(zlib.crc32(post.path.encode()))
    day = f"{post.published.month}月{post.published.day}日"
    assert page.title == post.title
    for paragraph in text.body_paragraphs(rng, "区政府办", post.title, day):
        assert paragraph in page.text
    assert "网站标识码" not in page.text and "当前位置" not in page.text and "发布时间" not in page.text
    assert body_links(page) == set()
    links = by_url(page)
    assert links[platform.base_url + "/wzdt/"].in_body is False
    assert links["http://bszs.conac.cn/"].in_body is False
    assert links[platform.base_url + "/fjdzapp/images/dzjg.png"].kind == "image"


# --- sample pages written like real CMS article pages -------------------------------------------------------------

# An old TRS page: table layout, Word-pasted markup (<font>, <o:p>, inline styles), the attachment list after the
# body, a video iframe, print/close and mail links; served as GBK.
TRS_PAGE = """<html><head>
<meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<meta name="SiteName" content="某某区人民政府"><meta name="SiteDomain" content="www.example.gov.cn">
<meta name="SiteIDCode" content="3501000000"><meta name="ColumnName" content="通知公告">
<meta name="ArticleTitle" content="关于做好2020年秋季森林防火工作的通知"><meta name="PubDate" content="2020-10-09 09:30">
<meta name="ContentSource" content="区林业局">
<title>关于做好2020年秋季森林防火工作的通知_某某区人民政府</title>
<style>.TRS_Editor P{margin-top:5px;line-height:1.5;font-size:12pt;}</style>
</head><body>
<table width="1000" align="center" class="top"><tr><td><a href="/"><img src="../../images/logo.gif"></a></td>
<td>今天是2020年10月10日 星期六 <a href="javascript:void(0)" onclick="addFavorite()">加入收藏</a></td></tr></table>
<table width="1000" align="center"><tr><td class="nav"><a href="/xxgk/">信息公开</a> | <a href="/zwdt/">政务动态</a></td></tr></table>
<table width="1000" align="center"><tr>
<td width="260" valign="top" class="left"><div class="hot"><h3>热点信息</h3><ul>
<li><a href="../../zwdt/202010/t20201008_111.html">某某区召开秋冬季安全生产工作会议</a></li></ul></div></td>
<td valign="top">
<table width="100%"><tr><td class="position">您现在的位置：<a href="/">首页</a> &gt; <a href="../">通知公告</a></td></tr>
<tr><td align="center" class="title"><font size="5"><b>关于做好2020年秋季森林防火工作的通知</b></font></td></tr>
<tr><td align="center">发布时间：2020-10-09 09:30&nbsp;&nbsp;来源：区林业局</td></tr>
<tr><td class="bt_content">
<div class="TRS_Editor"><style>.TRS_Editor P{font-family:仿宋_GB2312;}</style>
<div class="Custom_UnionStyle">
<p align="center" style="text-align:center"><font face="宋体">各镇（街道）、区直有关单位：</font><o:p></o:p></p>
<p style="text-indent:2em">&nbsp;&nbsp;&nbsp; 当前已进入秋季<span style="font-family:仿宋_GB2312">森林防火</span>紧要期，
为切实做好　森林防火工作，现将有关事项通知如下。<o:p>&nbsp;</o:p></p>
<p><b>一、高度重视</b></p><p>　　各单位要<font color="#000000">落实</font>属地管理责任。<script>document.write("计数器")</script></p>
<p><img src="./W020201009555.jpg" alt="防火宣传图" oldsrc="W020201009555.jpg"></p>
<p><iframe src="http://video.example.gov.cn/player.html?vid=88" width="600"></iframe></p>
<p>联系邮箱：<a href="mailto:lyj@example.gov.cn">lyj@example.gov.cn</a>　电话：<a href="tel:0591-8888888">0591-8888888</a></p>
<p>详见<a href="http://www.forestry.gov.cn/main/1.html">国家林业和草原局通知</a>。</p>
</div></div>
</td></tr>
<tr><td class="fj"><p>附件：<a href="./P020201009555123.doc">1.森林防火责任表.doc</a></p>
<p><a href="./P020201009555124.XLS">2.值班安排表</a></p></td></tr>
<tr><td align="right"><a href="javascript:window.print()">【打印本页】</a> <a href="javascript:window.close()">【关闭窗口】</a></td></tr>
</table></td></tr></table>
<table width="1000" align="center" class="bottom"><tr><td>版权所有：某某区人民政府　网站标识码：3501000000
<a href="http://bszs.conac.cn/sitename?method=show&amp;id=1"><img src="/images/red.png"></a></td></tr></table>
</body></html>"""
TRS_URL = "http://www.example.gov.cn/zwgk/tzgg/202010/t20201009_555.html"


def test_trs_page_in_gbk() -> None:
    html = decode_html(TRS_PAGE.encode("gbk"), "text/html")
    page = read_article(html, TRS_URL)
    assert page.title == "关于做好2020年秋季森林防火工作的通知"
    assert page.text.splitlines()[:2] == [
        "各镇（街道）、区直有关单位：",
        "当前已进入秋季森林防火紧要期， 为切实做好 森林防火工作，现将有关事项通知如下。"]
    assert "各单位要落实属地管理责任。" in page.text
    assert "附件：1.森林防火责任表.doc" in page.text and "2.值班安排表" in page.text
    for outside in ("计数器", "热点信息", "您现在的位置", "发布时间", "网站标识码", "打印本页", "今天是", "TRS_Editor"):
        assert outside not in page.text
    base = "http://www.example.gov.cn/zwgk/tzgg/202010/"
    assert body_links(page) == {
        (base + "W020201009555.jpg", "image"), ("http://video.example.gov.cn/player.html?vid=88", "link"),
        ("http://www.forestry.gov.cn/main/1.html", "link"),
        (base + "P020201009555123.doc", "attachment"), (base + "P020201009555124.XLS", "attachment")}
    links = by_url(page)
    assert links[base + "P020201009555124.XLS"].text == "2.值班安排表"
    assert links[base + "W020201009555.jpg"].text == "防火宣传图"
    assert links["http://www.example.gov.cn/zwgk/images/logo.gif"].in_body is False
    assert links["http://www.example.gov.cn/zwgk/zwdt/202010/t20201008_111.html"].in_body is False
    assert links["http://bszs.conac.cn/sitename?method=show&id=1"].in_body is False
    assert not any(u.startswith(("mailto:", "tel:", "javascript:")) or "void(0)" in u for u in links)
    assert missing_meta(page.meta, "article") == ()


# Hanweb: the whole page inside #barrierfree_container, the body in #zoom between the RSS markers, Hanweb's
# download servlet for attachments, a lazy image, a <video>, an anchor back to the top.
HANWEB_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8">
<meta name="SiteName" content="某某区人民政府"><meta name="SiteDomain" content="www.example.gov.cn">
<meta name="SiteIDCode" content="3501000000"><meta name="ColumnName" content="今日要闻">
<meta name="ArticleTitle" content=""><meta name="pubdate" content="2020-10-08 16:20">
<title>区长调研重点项目建设_今日要闻_某某区人民政府</title></head>
<body><div id="barrierfree_container">
<div class="top-bar"><a href="/">首页</a> <a href="/col/col10/index.html">无障碍</a></div>
<div class="header"><img src="/images/banner.jpg" alt="banner"></div>
<div class="nav"><ul><li><a href="/col/col20/index.html">政务公开</a></li></ul></div>
<div class="main w1200"><div class="bt-position">当前位置：<a href="/">首页</a> &gt; <a href="/col/col3001/index.html">今日要闻</a></div>
<div class="main-txt">
<h1 class="main-fl-bt">区长调研重点项目建设</h1>
<div class="main-fl-xx">发布日期：2020-10-08 16:20 信息来源：区政府办 浏览次数：<span id="hits"></span></div>
<div id="zoom" class="main-txt-con"><!--ZJEG_RSS.content.begin--><meta name="ContentStart">
<div><p>10月8日，区长带队调研重点项目建设情况。</p>
<p><img src="/images/loading.gif" data-src="/picture/0/2010081620123.jpg" alt="调研现场"></p>
<p><video src="/video/2020/1008/xm.mp4" controls></video></p>
<table border="1"><tr><td>项目</td><td>进度</td></tr><tr><td>滨江大道</td><td>80%</td></tr></table>
<p>调研组一行<a href="#top">返回顶部</a>还实地查看了安置房工地。</p></div>
<meta name="ContentEnd"><!--ZJEG_RSS.content.end--></div>
<div class="main-fj">相关附件：<a href="/module/download/downfile.jsp?classid=0&amp;filename=2010081620456.pdf">项目清单</a></div>
<div class="main-share">分享到：<a href="https://service.weibo.com/share/share.php?url=x">微博</a></div>
</div>
<div class="xgxw"><h3>相关新闻</h3><a href="/art/2020/10/7/art_3001_1.html">区政府召开常务会议</a></div>
</div>
<div class="footer-jcms">主办：某某区人民政府办公室 <a href="https://beian.miit.gov.cn/">闽ICP备05000000号</a></div>
</div></body></html>"""
HANWEB_URL = "http://www.example.gov.cn/art/2020/10/8/art_3001_2.html"


def test_hanweb_page() -> None:
    page = read_article(HANWEB_PAGE, HANWEB_URL)
    assert page.title == "区长调研重点项目建设"   # empty ArticleTitle: the h1
    assert page.text.splitlines() == ["10月8日，区长带队调研重点项目建设情况。", "项目 进度", "滨江大道 80%",
                                      "调研组一行返回顶部还实地查看了安置房工地。", "相关附件：项目清单"]
    site = "http://www.example.gov.cn"
    assert body_links(page) == {
        (site + "/picture/0/2010081620123.jpg", "image"), (site + "/video/2020/1008/xm.mp4", "link"),
        (site + "/module/download/downfile.jsp?classid=0&filename=2010081620456.pdf", "attachment")}
    links = by_url(page)
    assert links[site + "/art/2020/10/7/art_3001_1.html"].in_body is False
    assert links["https://service.weibo.com/share/share.php?url=x"].in_body is False
    assert links[site + "/images/banner.jpg"].in_body is False
    assert missing_meta(page.meta, "article") == ("ArticleTitle", "ContentSource")


def test_hanweb_page_without_its_body_mark() -> None:
    # an older Hanweb template: no #zoom; the densest block inside #barrierfree_container
    page = read_article(HANWEB_PAGE.replace('id="zoom" class="main-txt-con"', 'class="bt-con"'), HANWEB_URL)
    assert page.text == read_article(HANWEB_PAGE, HANWEB_URL).text
    assert {link.url for link in page.links if link.in_body} == {
        link.url for link in read_article(HANWEB_PAGE, HANWEB_URL).links if link.in_body}


# The provincial platform's newer template: <base href>, an .article wrapper with title, info, body and appendix
# boxes; relative links with whitespace and fragments; a data: image; the same link in the sidebar and the body.
PLATFORM_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><base href="http://zwgk.example.gov.cn/zfxxgk/">
<meta name="SiteName" content="某某区人民政府"><meta name="sitedomain" content="www.example.gov.cn">
<meta name="SiteIDCode" content=" "><meta name="ColumnName" content="政策解读">
<title>《某某区促进消费若干措施》政策解读</title></head><body>
<div class="topbar"><span>欢迎访问</span></div>
<div class="w1200 clearfix"><div class="crumbs">当前位置：<a href="/">首页</a></div>
<div class="gl-left sidebar"><ul><li><a href="zcjd/">政策解读</a></li><li><a href="zfwj/202009/t20200920_9.htm">某某区促进消费若干措施</a></li></ul></div>
<div class="article">
<div class="article-title"><h1>《某某区促进消费若干措施》政策解读</h1></div>
<div class="article-info">发布时间：2020-09-21 10:12　来源：区商务局　<a href="javascript:;" onclick="doZoom(16)">大</a></div>
<div class="article-content"><div class="view TRS_UEDITOR trs_paper_default">
<p style="text-indent: 2em;">一、出台背景。为提振消费，区政府印发<a href="
   zfwj/202009/t20200920_9.htm#p1 ">《某某区促进消费若干措施》</a>（以下简称《措施》）。</p>
<p style="text-indent: 2em;">二、主要内容。《措施》共十条。<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></p>
<p><a href="https://mp.weixin.qq.com/s/AbCdEf">“某某发布”微信公众号</a> <a href="#">&nbsp;</a> <a href="">空</a></p>
</div></div>
<div class="article-appendix"><span>附件：</span><a href="../uploadfiles/ 2020 09/附件1 申报表.docx">申报表</a>
<a href="/download?id=77">附件2：商户名单.xlsx</a></div>
<div class="article-share">分享：<a href="https://connect.qq.com/widget/shareqq/index.html">QQ</a></div>
</div></div>
<div class="footer"><p>网站标识码：3501000000</p></div></body></html>"""


def test_platform_template_with_base_href() -> None:
    page = read_article(PLATFORM_PAGE, "http://www.example.gov.cn/zfxxgk/zcjd/202009/t20200921_10.htm")
    assert page.title == "《某某区促进消费若干措施》政策解读"   # no ArticleTitle meta: the h1
    assert page.text.splitlines() == [
        "一、出台背景。为提振消费，区政府印发《某某区促进消费若干措施》（以下简称《措施》）。",
        "二、主要内容。《措施》共十条。", "“某某发布”微信公众号 空", "附件：申报表 附件2：商户名单.xlsx"]
    base = "http://zwgk.example.gov.cn/"
    assert body_links(page) == {
        (base + "zfxxgk/zfwj/202009/t20200920_9.htm", "link"), ("https://mp.weixin.qq.com/s/AbCdEf", "link"),
        (base + "uploadfiles/%202020%2009/附件1%20申报表.docx", "attachment"),
        ("http://zwgk.example.gov.cn/download?id=77", "attachment")}
    links = by_url(page)
    # the sidebar links the same document first: one LinkRef, the sidebar's text, in the body all the same
    assert links[base + "zfxxgk/zfwj/202009/t20200920_9.htm"] == LinkRef(
        base + "zfxxgk/zfwj/202009/t20200920_9.htm", "link", "某某区促进消费若干措施", True)
    assert links["https://connect.qq.com/widget/shareqq/index.html"].in_body is False
    assert not any(link.url.startswith("data:") or link.url == base + "zfxxgk/" for link in page.links)
    assert missing_meta(page.meta, "article") == ("SiteIDCode", "ArticleTitle", "PubDate", "ContentSource")
    assert missing_meta(page.meta, "home") == ("SiteIDCode",)


# A page no template mark names: the body is the densest block, not the sidebar list or the footer.
UNMARKED_PAGE = """<html><head><title>关于开展2020年度统计执法检查的公告 - 某某区统计局</title></head><body>
<div id="top"><a href="/"><img src="/logo.png"></a></div>
<div id="menu"><a href="/a/">机构概况</a><a href="/b/">统计数据</a><a href="/c/">统计公报</a></div>
<div class="wrap"><div class="lbox"><h4>最新公告</h4>
<p><a href="/n/1.html">关于开展2020年度统计执法检查的公告</a></p><p><a href="/n/2.html">某某区第七次全国人口普查公告（第一号）</a></p>
<p><a href="/n/3.html">关于报送2020年三季度统计报表的通知</a></p></div>
<div class="rbox"><h2>关于开展2020年度统计执法检查的公告</h2>
<div class="info">2020-09-28</div>
<div class="wz"><p>根据《中华人民共和国统计法》及其实施条例，区统计局决定开展2020年度统计执法检查。</p>
<p>检查对象为辖区内规模以上工业企业、限额以上批发零售企业和住宿餐饮企业。</p>
<p>检查时间为2020年10月至11月，请各被检查单位予以配合。</p></div></div></div>
<div id="foot">版权所有 某某区统计局 地址：某某路1号 电话：0591-0000000</div></body></html>"""


def test_unmarked_page_falls_back_to_the_densest_block() -> None:
    page = read_article(UNMARKED_PAGE, "http://tjj.example.gov.cn/n/1.html")
    assert page.title == "关于开展2020年度统计执法检查的公告 - 某某区统计局"
    assert page.text.splitlines()[0].startswith("根据《中华人民共和国统计法》")
    assert "请各被检查单位予以配合。" in page.text
    assert "人口普查" not in page.text and "版权所有" not in page.text and "机构概况" not in page.text
    assert body_links(page) == set()
    assert len(page.links) == 8 and missing_meta(page.meta, "home") == HOME_META


# --- links ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("href", "kind"), [
    ("/a/b.PDF", "attachment"), ("/a/b.docx?v=2", "attachment"), ("/download.jsp?file=x.pdf", "attachment"),
    ("/dl?filename=%E9%99%84%E4%BB%B6.wps", "attachment"), ("/a/b.ofd", "attachment"), ("/a/b.rar", "attachment"),
    ("/a/b.html", "link"), ("/a/pdf/", "link"), ("/show.asp?id=5", "link"), ("/a/b.jpg", "link"),
])
def test_attachment_kinds(href: str, kind: str) -> None:
    page = read_article(f'<html><body><div class="TRS_Editor"><a href="{href}">下载</a></div></body></html>',
                        "http://x.gov.cn/")
    assert [(link.kind, link.in_body) for link in page.links] == [(kind, True)]


def test_extension_list() -> None:
    assert {".doc", ".docx", ".pdf", ".xls", ".xlsx", ".zip", ".rar", ".wps", ".ofd", ".et", ".dps", ".ppt", ".pptx",
            ".7z", ".txt", ".csv", ".ceb"} <= ATTACHMENT_EXTENSIONS
    assert all(ext.startswith(".") and ext == ext.lower() for ext in ATTACHMENT_EXTENSIONS)


def test_dead_links_skipped_and_texts_cut() -> None:
    long = "很长的标题" * 60
    html = ("<html><body><div id='content'>" + "".join(f'<a href="{h}">x</a>' for h in (
        "javascript:void(0)", " JavaScript:go()", "mailto:a@b.cn", "tel:110", "data:text/plain,1", "#", "#top", "",
        "about:blank", "ftp://x.gov.cn/a")) + f'<a href="/ok#frag">{long}</a><img src="/i.png#x" alt=" 图　片 "></div>'
            "</body></html>")
    page = read_article(html, "http://x.gov.cn/dir/page.html")
    assert [(link.url, link.kind) for link in page.links] == [("http://x.gov.cn/ok", "link"),
                                                            ("http://x.gov.cn/i.png", "image")]
    assert len(page.links[0].text) == 200 and page.links[1].text == "图 片"


def test_empty_and_broken_input() -> None:
    for html in ("", "   ", "<?xml version='1.0' encoding='utf-8'?>", "\x00\x00"):
        assert read_article(html, "http://x.gov.cn/") == PageContent("", "", {}, ())
        assert read_home(html, "http://x.gov.cn/") == PageContent("", "", {}, ())
    page = read_article("<?xml version='1.0' encoding='gbk'?><html><body><div class='content'><p>正文" + "字" * 60,
                        "http://x.gov.cn/")
    assert page.text == "正文" + "字" * 60


# --- meta -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("meta", "kind", "missing"), [
    ({}, "article", ARTICLE_META),
    ({}, "home", HOME_META),
    ({k: "x" for k in ARTICLE_META}, "article", ()),
    ({k.lower(): "x" for k in ARTICLE_META}, "article", ()),
    ({"SITENAME": "x", "SiteDomain": "x", "SiteIDCode": "  "}, "home", ("SiteIDCode",)),
    ({"SiteName": "x", "SiteDomain": "x", "SiteIDCode": "1", "PubDate": ""}, "article",
     ("ColumnName", "ArticleTitle", "PubDate", "ContentSource")),
])
def test_missing_meta(meta: dict[str, str], kind: str, missing: tuple[str, ...]) -> None:
    assert missing_meta(meta, kind) == missing


def test_missing_meta_refuses_an_unknown_kind() -> None:
    with pytest.raises(ValueError):
        missing_meta({}, "column")


def test_meta_names_as_written() -> None:
    page = read_article('<html><head><meta name="SiteName" content=""><meta name="SiteName" content="区政府">'
                        '<meta name=" pubdate " content=" 2020-10-09 "><meta property="og:title" content="x">'
                        '<meta http-equiv="X-UA-Compatible" content="IE=edge"></head><body></body></html>',
                        "http://x.gov.cn/")
    assert page.meta == {"SiteName": "区政府", "pubdate": "2020-10-09"}


# --- home pages -----------------------------------------------------------------------------------------------------

HOME_BOXES = {"/xwzx/csyw/": 8, "/col/col3001/index.html": 8, "/zwgk/tzgg/": 8, "/zwgk/zcjd/": 8, "/xwzx/tpxw/": 4}


def test_fixture_home_page(portal: FixtureServer) -> None:
    by_col: dict[str, list[PostSpec]] = defaultdict(list)
    for p in POSTS:
        by_col[p.column_path].append(p)
    listed = [p for path, n in HOME_BOXES.items()
              for p in sorted(by_col[path], key=lambda p: (p.published, p.path), reverse=True)[:n]]
    html = fetch(portal.base_url + "/")
    page = read_home(html, portal.base_url + "/", today=SNAPSHOT.date())
    assert page.newest_date == max(p.published.date() for p in listed)
    assert page.dated_items == len(listed)
    assert page.title == "仓山区人民政府" and missing_meta(page.meta, "home") == ()
    assert not any(link.in_body for link in page.links)
    links = by_url(page)
    assert links[portal.base_url + "/images/pic/0.png"].kind == "image"
    assert links[portal.base_url + listed[0].path].kind == "link"


HOME_PAGE = """<html><head><meta name="SiteIDCode" content="3501000000"><title>某某区人民政府</title></head><body>
<div class="top-bar">今天是2020年10月12日 星期一 <a href="/wza/">无障碍</a></div>
<div class="header"><a href="/">首页</a><span>2020-10-11</span></div>
<div class="clock"><span>今天是：2020年10月13日</span> <a href="/tq/">天气</a></div>
<ul class="news">
<li><a href="/a/1.html">关于2020年10月11日停水的通知</a></li>
<li><a href="/a/2.html" title="某某区召开安全生产会议"><span class="t">某某区召开安全生产会议</span><span class="d">2020-09-30</span></a></li>
<li><a href="/a/3.html">某某区开展消防宣传</a> <em>2020/9/29</em></li>
<li><a href="/a/4.html">十年规划（2020-2030）征求意见</a></li>
</ul>
<table class="gk"><tr><td><a href="/g/1.html">政府工作报告</a></td><td>2020年9月28日</td></tr></table>
<div class="dt"><div class="news-item"><a href="/d/1.html">街道动态一则</a><span class="time">[09-27]</span></div></div>
<div class="bm"><dl><dt><a href="/b/1.html">部门动态一则</a></dt><dd class="time">2020.09.26</dd></dl></div>
<div class="article-summary"><h3><a href="javascript:;">某某区2020年10月1日起施行新规</a></h3><p>2020-10-01 起施行，详见正文。</p></div>
<div class="pic"><li><a href="/p/1.html"><img src="/p/1.jpg"></a><p><a href="/p/1.html">图片新闻</a></p></li></div>
<div class="footer">Copyright © 2005-2020 某某区人民政府 版权所有 更新日期：2020-10-12 <a href="/map/">网站地图</a></div>
</body></html>"""


def test_home_list_dates() -> None:
    page = read_home(HOME_PAGE, "http://www.example.gov.cn/")
    # the title's date, the clocks, the header's and the footer's dates are not list dates; [09-27] has no year
    # nor a box whose only link is a script's
    assert (page.newest_date, page.dated_items) == (date(2020, 9, 30), 4)
    dated = read_home(HOME_PAGE, "http://www.example.gov.cn/", today=date(2020, 10, 12))
    assert (dated.newest_date, dated.dated_items) == (date(2020, 9, 30), 5)
    assert not any(link.in_body for link in page.links)
    assert [link.url for link in page.links if link.kind == "image"] == ["http://www.example.gov.cn/p/1.jpg"]


def test_home_hanweb_datastore_records() -> None:
    records = "".join(f'<record><![CDATA[<li><a href="/art/2020/10/{d}/art_3001_{d}.html">今日要闻{d}</a>'
                      f'<span class="bt-data-time">2020-10-{d:02d}</span></li>]]></record>' for d in (8, 6, 9))
    html = ('<html><body><div class="yw"><ul><li><a href="/a.html">置顶新闻标题</a><span>2020-09-01</span></li></ul>'
            f'<script type="text/xml"><datastore><nextgroup></nextgroup><recordset>{records}</recordset></datastore>'
            "</script></div></body></html>")
    page = read_home(html, "http://www.example.gov.cn/")
    assert (page.newest_date, page.dated_items) == (date(2020, 10, 9), 4)


def test_home_year_less_dates_and_post_dated_items() -> None:
    items = "".join(f'<li><a href="/a/{i}.html">第{i}条新闻标题</a><span>{d}</span></li>'
                    for i, d in enumerate(["[12-30]", "01-03", "2021-06-01", "02-29"]))
    html = f"<html><body><ul>{items}</ul></body></html>"
    page = read_home(html, "http://x.gov.cn/", today=date(2021, 1, 4))
    # 12-30 is last year's, 01-03 this year's, 2021-06-01 is after tomorrow, 02-29 the last leap day (2020)
    assert (page.newest_date, page.dated_items) == (date(2021, 1, 3), 3)
    assert read_home(html, "http://x.gov.cn/").newest_date == date(2021, 6, 1)


# --- a page of 5,000 links ------------------------------------------------------------------------------------------

def test_five_thousand_links_parse_fast() -> None:
    rows = "".join(f'<li><a href="/zwgk/202009/t202009{i % 28 + 1:02d}_{i}.html">第{i}条信息标题文字</a>'
                   f'<span>2020-09-{i % 28 + 1:02d}</span></li>' for i in range(4000))
    body = "".join(f'<p>正文第{i}段。<a href="/up/{i}.pdf">附件{i}</a><img src="/img/{i}.png"></p>' for i in range(500))
    html = (f'<html><body><div class="side"><ul>{rows}</ul></div><div class="TRS_Editor">{body}</div>'
            '<div class="footer">网站标识码</div></body></html>')
    started = time.perf_counter()
    article = read_article(html, "http://x.gov.cn/")
    article_s = time.perf_counter() - started
    started = time.perf_counter()
    home = read_home(html, "http://x.gov.cn/")
    home_s = time.perf_counter() - started
    print(f"5,000 links: read_article {article_s * 1000:.0f} ms, read_home {home_s * 1000:.0f} ms")
    assert len(article.links) == 5000 and sum(link.in_body for link in article.links) == 1000
    assert home.dated_items == 4000 and home.newest_date == date(2020, 9, 28)
    assert article_s < 1.5 and home_s < 1.5
