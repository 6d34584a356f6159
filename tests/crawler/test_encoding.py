"""crawler.encoding: meta first, then header, then detection; never raises."""
from pathlib import Path

import pytest

from crawler.encoding import decode_html, declared_charset, normalise_charset

PAGES = Path(__file__).parent / "pages"
TEXT = "示例区人民政府关于开展会计信息质量检查的公告，发布时间：2020-09-15"


def _page(charset_meta: str | None, body_text: str = TEXT) -> str:
    meta = f'<meta http-equiv="Content-Type" content="text/html; charset={charset_meta}">' if charset_meta else ""
    return f"<html><head>{meta}<title>通知</title></head><body><p>{body_text}</p></body></html>"


CASES = [
    # (bytes, header charset, expected substring)
    (_page("gb2312").encode("gb18030"), "utf-8", TEXT),        # header lies, meta and bytes GBK
    (_page("gbk").encode("gbk"), None, TEXT),
    (_page("GB2312").encode("gb18030"), "gb2312", TEXT),
    (_page("gb2312", TEXT + "㙍").encode("gb18030"), None, "㙍"),  # outside GB2312/GBK: read as GB18030
    (_page("utf-8").encode("utf-8"), "gbk", TEXT),             # header lies the other way
    (_page("gb2312").encode("utf-8"), None, TEXT),             # stale meta on a re-saved UTF-8 page
    (_page(None).encode("gb18030"), "utf-8", TEXT),            # no meta, header lies: detected
    (_page(None).encode("gb18030"), None, TEXT),
    (_page(None).encode("utf-8"), None, TEXT),
    ("\ufeff".encode("utf-8") + _page("gbk").encode("utf-8"), None, TEXT),   # BOM wins
    (b'<?xml version="1.0" encoding="GBK"?><datastore><record>' + TEXT.encode("gbk") + b"</record></datastore>",
     "utf-8", TEXT),
    (_page("no-such-charset").encode("utf-8"), "bogus", TEXT),
]


@pytest.mark.parametrize(("body", "header", "expected"), CASES)
def test_decode_html(body, header, expected):
    assert expected in decode_html(body, header)


def test_gbk_sample_page_with_lying_header():
    text = decode_html((PAGES / "gbk_list.html").read_bytes(), "utf-8")
    assert "示例区财政局关于2020年部门预算编制工作的通知" in text
    assert "\ufffd" not in text


@pytest.mark.parametrize("body", [b"", b"\xff\xfe\xfd\x80\x81", bytes(range(256)), b"<html>plain ascii</html>"])
def test_decode_never_raises(body):
    assert isinstance(decode_html(body, "utf-8"), str)


def test_a_few_broken_bytes_do_not_lose_the_declared_charset():
    body = _page("gbk").encode("gbk").replace(b"</p>", b"\x81</p>")   # a title cut mid-character
    assert TEXT in decode_html(body, "utf-8")


@pytest.mark.parametrize(("name", "expected"), [
    ("gb2312", "gb18030"), ("GBK", "gb18030"), ("x-gbk", "gb18030"), ("UTF-8", "utf-8"), ("utf8", "utf-8"),
    ("nonsense", None), (None, None),
])
def test_normalise_charset(name, expected):
    assert normalise_charset(name) == expected


def test_declared_charset_reads_meta_and_xml():
    assert declared_charset(b'<meta charset="gb2312">') == "gb18030"
    assert declared_charset(b'<?xml version="1.0" encoding="UTF-8"?>') == "utf-8"
    assert declared_charset(b"<html></html>") is None
