"""The notice's office-written parts ([report] settings): 版头, 文号, section 四, units named, 附注, and the
落款 per GB/T 9704-2012 §7.3.5; the accounts sentence; warnings. Written with python-docx and read back."""
from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Mm

from config import SettingsError, parse_settings
from monitors.register import NAMELESS
from monitors.report.docx_writer import CHAR, TEXT_WIDTH, text_width
from monitors.report.model import NoticeText
from monitors.report.writers import write_report
from tests.monitors.test_report_writers import build_report

ISSUER, DATED = "福州市仓山区人民政府办公室", "2020年10月10日"
NOTICE = NoticeText(masthead="福州市仓山区人民政府办公室文件", doc_number="仓政办〔2020〕12号",
                    next_steps=("一是要进一步提高网站信息发布的数量及质量。", "二是要进一步完善信息审核制度。"),
                    contact="联系人：林某，联系电话：0591-12345678")


def notice(tmp_path: Path, **changes: object) -> docx.document.Document:
    path = next(p for p in write_report(build_report(**changes), tmp_path, formats=("docx",)))
    return docx.Document(str(path))


def texts(doc: docx.document.Document) -> list[str]:
    return [p.text for p in doc.paragraphs]


def test_masthead_number_and_red_line_come_before_the_title(tmp_path: Path) -> None:
    doc = notice(tmp_path, notice=NOTICE)
    paras = doc.paragraphs
    assert paras[0].text == "福州市仓山区人民政府办公室文件"
    assert str(paras[0].runs[0].font.color.rgb) == "FF0000"
    assert abs(paras[0].paragraph_format.space_before - Mm(35)) < Mm(0.1)  # §7.2.5: 35 mm below the block's top
    number = texts(doc).index("仓政办〔2020〕12号")
    assert texts(doc)[1:number] == ["", ""]  # 发文字号 two lines under the 发文机关标志
    border = paras[number]._p.pPr.find(qn("w:pBdr")).find(qn("w:bottom"))
    assert border.get(qn("w:color")) == "FF0000" and border.get(qn("w:space")) == "11"  # 4 mm below
    title = next(i for i, t in enumerate(texts(doc)) if t.startswith("关于2020年第三季度"))
    assert texts(doc)[number + 1:title] == ["", ""]  # the title two lines under the red line


def test_without_masthead_the_notice_starts_with_its_title(tmp_path: Path) -> None:
    doc = notice(tmp_path)
    assert doc.paragraphs[0].text.startswith("关于2020年第三季度")
    assert not any(p._p.pPr is not None and p._p.pPr.find(qn("w:pBdr")) is not None for p in doc.paragraphs)


def test_section_four_contact_and_named_units_from_settings(tmp_path: Path) -> None:
    report = build_report(notice=NOTICE)
    report = dataclasses.replace(report, good_units={"township": ["三叉街街道"], "department": ["教育局"]})
    path = next(iter(write_report(report, tmp_path, formats=("docx",))))
    lines = texts(docx.Document(str(path)))
    four = lines.index("四、下一步工作要求")
    assert lines[four + 1:four + 3] == list(NOTICE.next_steps)
    assert not any("【请填写" in line for line in lines)
    body = "\n".join(lines)
    assert "信息发布工作做得较好的有：三叉街街道；" in body and "信息发布工作做得较好的有：教育局；" in body
    dated = lines.index(DATED)
    assert lines[dated + 1] == "（联系人：林某，联系电话：0591-12345678）"  # 附注 (§7.3.7), the line after


def test_settings_name_the_units_and_refuse_unknown_ones() -> None:
    base = "[[units]]\nname = \"教育局\"\nkind = \"department\"\n"
    settings = parse_settings("[report]\ngood_units = [\"教育局\"]\nnext_steps = [\"一是……\"]\n"
                              "masthead = \"某某办公室文件\"\ndoc_number = \"某办〔2020〕1号\"\nsealed = true\n" + base)
    assert settings.report.good_units == ("教育局",) and settings.report.sealed
    with pytest.raises(SettingsError, match="good_units.*“审计局”未在"):
        parse_settings("[report]\ngood_units = [\"审计局\"]\n" + base)


def start(doc: docx.document.Document, text: str) -> float:
    """Where the line's first character sits (pt from the text block's left edge): a right-aligned line from
    its right indent and its width, a left-aligned one from its left indent."""
    p = next(p for p in doc.paragraphs if p.text == text)
    fmt = p.paragraph_format
    if fmt.alignment == WD_ALIGN_PARAGRAPH.RIGHT:
        return TEXT_WIDTH - fmt.right_indent.pt - text_width(text)
    assert fmt.alignment == WD_ALIGN_PARAGRAPH.LEFT and not fmt.right_indent
    return fmt.left_indent.pt


def right_space(doc: docx.document.Document, text: str) -> float:
    return TEXT_WIDTH - start(doc, text) - text_width(text)


def test_signature_without_seal(tmp_path: Path) -> None:
    """§7.3.5.2: 发文机关署名右空二字; 成文日期 its first character two characters right of the signature's."""
    doc = notice(tmp_path)
    lines = texts(doc)
    assert lines.index(DATED) == lines.index(ISSUER) + 1  # the date on the line under the signature
    assert right_space(doc, ISSUER) == pytest.approx(2 * CHAR, abs=0.5)
    assert start(doc, DATED) - start(doc, ISSUER) == pytest.approx(2 * CHAR, abs=0.5)
    # the signature fixed by its right end: right-aligned, wherever the fonts put its characters
    assert next(p for p in doc.paragraphs if p.text == ISSUER).alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert lines[lines.index(ISSUER) - 1] == "" and lines[lines.index(ISSUER) - 2] != ""  # 正文下空一行


def test_signature_with_seal(tmp_path: Path) -> None:
    """§7.3.5.1: 成文日期右空四字; 发文机关署名 centred on the date."""
    doc = notice(tmp_path, notice=NoticeText(sealed=True))
    lines = texts(doc)
    assert lines.index(DATED) == lines.index(ISSUER) + 1
    assert next(p for p in doc.paragraphs if p.text == DATED).alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert right_space(doc, DATED) == pytest.approx(4 * CHAR, abs=0.5)
    assert start(doc, ISSUER) + text_width(ISSUER) / 2 == pytest.approx(
        start(doc, DATED) + text_width(DATED) / 2, abs=0.5)


def test_a_date_longer_than_the_signature_keeps_two_characters_right(tmp_path: Path) -> None:
    doc = notice(tmp_path, issuer="区府办")
    assert right_space(doc, DATED) == pytest.approx(2 * CHAR, abs=0.5)
    assert start(doc, DATED) - start(doc, "区府办") == pytest.approx(2 * CHAR, abs=0.5)


def test_accounts_sentence_says_the_day_judged_and_names_a_nameless_account(tmp_path: Path) -> None:
    accounts = [{"unit": "三叉街街道", "platform": "wechat", "name": NAMELESS, "status": "不合格", "reason": None,
                 "last_post": date(2020, 6, 12)},
                {"unit": "教育局", "platform": "wechat", "name": "福州仓山区教育局", "status": "正常", "reason": None,
                 "last_post": date(2020, 9, 27)}]
    body = "\n".join(texts(notice(tmp_path, accounts=accounts, accounts_as_of=date(2020, 9, 30))))
    assert "截至第三季度末，我区登记在册的政务新媒体共2个" in body
    assert "判定为不合格的有：三叉街街道微信公众号（未登记账号名称）（详见附件3）" in body
    assert NAMELESS not in body
    later = "\n".join(texts(notice(tmp_path / "later", accounts=accounts, accounts_as_of=date(2020, 10, 10))))
    assert "截至2020年10月10日，我区登记在册的政务新媒体共2个" in later and "第三季度末" not in later


def test_placeholder_and_a_short_named_unit_are_warned_of(tmp_path: Path) -> None:
    report = build_report()
    assert any("下一步工作要求" in w and "next_steps" in w for w in report.warnings())
    written = write_report(report, tmp_path, formats=("docx",))
    assert written.warnings == report.warnings()
    named = dataclasses.replace(build_report(notice=NOTICE), good_units={"township": ["螺洲镇"], "department": []})
    assert named.warnings() == ["设置 [report] good_units 把“螺洲镇”列为做得较好的单位，但它本季度有月份未达到要求"]


def test_the_json_says_the_day_the_accounts_were_judged(tmp_path: Path) -> None:
    report = build_report(accounts_as_of=date(2020, 9, 30))
    path = next(iter(write_report(report, tmp_path, formats=("json",))))
    assert json.loads(path.read_text(encoding="utf-8"))["accounts_as_of"] == "2020-09-30"
