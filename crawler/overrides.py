"""Per-column selector overrides (settings `[columns.selectors]`) for the rare page the heuristics cannot read.

A selector starting with "/" or "(" is XPath, anything else CSS.
"""
from __future__ import annotations

from urllib.parse import urldefrag, urljoin

from parsel import Selector, SelectorList

from config.model import Selectors
from crawler.dates import parse_date
from crawler.extract import ListEntry
from crawler.pagination import PageRequest


def _select(node: Selector, query: str) -> SelectorList:
    return node.xpath(query) if query.startswith(("/", "(", ".")) else node.css(query)


def extract_with_selectors(html: str, page_url: str, selectors: Selectors) -> list[ListEntry]:
    assert selectors.item, "the spider reads with selectors only when the column sets selectors.item"
    entries: list[ListEntry] = []
    for item in _select(Selector(text=html), selectors.item):
        link = item.css("a[href]")[:1] if not selectors.title else _select(item, selectors.title)
        if not link:
            continue
        href = link.attrib.get("href") or link.css("a::attr(href)").get()
        if not href:
            continue
        title = (link.attrib.get("title") or " ".join(link.css("::text").getall())).strip()
        date_text = " ".join(_select(item, selectors.date).css("::text").getall()) if selectors.date else \
            " ".join(item.css("::text").getall())
        date = parse_date(date_text)
        entries.append(ListEntry(title=" ".join(title.split()), url=urldefrag(urljoin(page_url, href))[0],
                                 date=date, needs_article=date is None))
    return entries


def next_page_with_selector(html: str, page_url: str, selectors: Selectors) -> PageRequest | None:
    href = _select(Selector(text=html), selectors.next_page).css("::attr(href)").get() \
        if selectors.next_page else None
    if not href or href.startswith(("javascript", "#")):
        return None
    url = urljoin(page_url, href)
    return None if url == page_url else PageRequest(url)
