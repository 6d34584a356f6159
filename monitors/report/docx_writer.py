"""The quarterly notice (通报) as a .docx laid out per GB/T 9704-2012 (党政机关公文格式).

Structure follows the seed notice (seed/000_9906537a5138fbc6.txt); every name and number comes from the
report model. Layout: A4, margins 37/35/28/26 mm (a 156 × 225 mm text block); title 2号 方正小标宋简体;
body 3号 仿宋_GB2312 at a fixed 28.95 pt line (225 mm / 22 lines), 28 characters a line via the document
grid; 一、 headings 黑体; page numbers 4号 as "— 1 —", odd pages right and even pages left. The attachment
tables follow the body, each on a new page.

python-docx because it is the maintained library for writing .docx; what it lacks (East Asian font names,
fields, the document grid, font fallbacks) is set on the XML directly here.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from docx import Document
from docx.document import Document as WordDocument
from lxml import etree
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_ROW_HEIGHT_RULE, WD_TABLE_ALIGNMENT
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK, WD_LINE_SPACING, WD_PARAGRAPH_ALIGNMENT
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.oxml.text.font import CT_RPr
from docx.shared import Mm, Pt, RGBColor
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from monitors.register import FOOTER as REGISTER_FOOTER
from monitors.register import HEADERS as REGISTER_HEADERS
from monitors.content_rules import CONTENT_LABELS, CONTENT_RULE_IDS, SITE_HOMEPAGE_STALE
from monitors.register import NAMELESS
from monitors.report.model import KIND_LABELS, ColumnIssue, ContentIssue, QuarterReport
from monitors.report.xlsx_writer import (
    NAME_HEADERS,
    ACCOUNT_HEADERS,
    CONTENT_HEADERS,
    NO_CONTENT_ISSUES,
    SERIOUS_TYPO,
    Attachment,
    account_rows,
    attachments,
    clean_text,
    content_row,
    is_home_issue,
    month_label,
    season_label,
    status_lines,
)
from monitors.textable import display_width

# GB/T 9704-2012 §5.2.1 and §7.1: fonts and sizes (2号 = 22 pt, 3号 = 16 pt, 4号 = 14 pt).
TITLE_FONT, TITLE_FALLBACK = "方正小标宋简体", "宋体"
BODY_FONT, BODY_FALLBACK = "仿宋_GB2312", "仿宋"
HEADING1_FONT = "黑体"
HEADING2_FONT, HEADING2_FALLBACK = "楷体_GB2312", "楷体"
LATIN_FONT = "Times New Roman"
TITLE_SIZE, BODY_SIZE, PAGE_NUMBER_SIZE, TABLE_SIZE = 22, 16, 14, 12
# 225 mm text block / 22 lines = 28.99 pt; Word's 公文 templates use 28.95 pt (579 twips) so 22 lines fit.
LINE_PITCH = Pt(28.95)
# 28 characters a line: 156 mm is 442.2 pt, 27.6 characters of 16 pt; tightening body text by 0.25 pt a
# character (w:spacing, in twentieths of a point) fits 28. A character grid (docGrid linesAndChars) would
# say the same to Word, but LibreOffice lays such grids out differently, so the spacing is explicit.
BODY_CHAR_SPACING = "-5"
INDENT_2_CHARS = Pt(2 * BODY_SIZE)
CHAR_TIGHTEN = 0.25  # BODY_CHAR_SPACING in points
CHAR = BODY_SIZE - CHAR_TIGHTEN  # one character of body text as laid out (pt)
TEXT_WIDTH = Mm(156).pt  # the text block (版心)
RED = RGBColor(0xFF, 0x00, 0x00)
RED_LINE_EIGHTHS = 8  # the 版头's separator line: 1 pt
MASTHEAD_MAX_SIZE = 42  # 初号; a longer 发文机关标志 is set smaller to fit the text block's width

ADDRESSEES = "区直各有关部门，各镇人民政府、街道办事处："
PLACEHOLDERS = (
    "【请填写下一步工作要求】",
    "【可按“一是……二是……三是……”分条填写整改要求、报送时限和联系方式】",
)


def cn_date(d: date) -> str:
    """2020-10-10 -> '2020年10月10日' (GB/T 9704: Arabic numerals, no leading zeros)."""
    return f"{d.year}年{d.month}月{d.day}日"


# ---------------------------------------------------------------------------------------------- XML helpers


def _set_fonts(element_rpr: CT_RPr, east_asia: str, latin: str = LATIN_FONT) -> None:
    rfonts = element_rpr.get_or_add_rFonts()
    rfonts.set(qn("w:ascii"), latin)
    rfonts.set(qn("w:hAnsi"), latin)
    rfonts.set(qn("w:eastAsia"), east_asia)
    rfonts.set(qn("w:cs"), latin)


def _run(paragraph: Paragraph, text: str, font: str = BODY_FONT, size: float = BODY_SIZE,
         bold: bool = False, latin: str = LATIN_FONT) -> Run:
    run = paragraph.add_run(text)
    run.font.size = Pt(size)
    run.font.bold = bold
    _set_fonts(run._element.get_or_add_rPr(), font, latin)
    return run


def _paragraph(doc: WordDocument, text: str = "", *, font: str = BODY_FONT, size: float = BODY_SIZE,
               indent: bool = True, align: WD_PARAGRAPH_ALIGNMENT = WD_ALIGN_PARAGRAPH.JUSTIFY,
               bold: bool = False) -> Paragraph:
    p = doc.add_paragraph()
    fmt = p.paragraph_format
    fmt.alignment = align
    if indent:
        _indent_chars(p, 2)
    else:
        fmt.first_line_indent = Pt(0)
    if text:
        _run(p, text, font, size, bold)
    return p


def _indent_chars(p: Paragraph, chars: int) -> None:
    """A first-line indent in characters (w:firstLineChars), with the points for readers that ignore it."""
    p.paragraph_format.first_line_indent = Pt(chars * BODY_SIZE)
    ind = p._p.get_or_add_pPr().get_or_add_ind()
    ind.set(qn("w:firstLineChars"), str(chars * 100))


def _add_field(paragraph: Paragraph, instruction: str, placeholder: str, font: str, size: float) -> None:
    """A complex field (begin / instrText / separate / result / end), as Word writes PAGE."""
    def fld(kind: str) -> None:
        run = _run(paragraph, "", font, size, latin=font)
        el = OxmlElement("w:fldChar")
        el.set(qn("w:fldCharType"), kind)
        run._r.append(el)

    fld("begin")
    run = _run(paragraph, "", font, size, latin=font)
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    run._r.append(instr)
    fld("separate")
    _run(paragraph, placeholder, font, size, latin=font)
    fld("end")


def _declare_font_fallbacks(doc: WordDocument) -> None:
    """Name a fallback (w:altName) for each GB font in the font table: machines without 方正小标宋简体 or
    仿宋_GB2312 then use 宋体 / 仿宋 instead of an arbitrary substitute."""
    for part in doc.part.package.iter_parts():
        if str(part.partname) != "/word/fontTable.xml":
            continue
        root = parse_xml(part.blob)
        for name, alt in ((TITLE_FONT, TITLE_FALLBACK), (BODY_FONT, BODY_FALLBACK),
                          (HEADING2_FONT, HEADING2_FALLBACK), (HEADING1_FONT, None)):
            font = parse_xml(
                f'<w:font {nsdecls("w")} w:name="{name}">'
                + (f'<w:altName w:val="{alt}"/>' if alt else "")
                + '<w:charset w:val="86"/><w:family w:val="auto"/><w:pitch w:val="variable"/></w:font>'
            )
            root.append(font)
        part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
        return


# ------------------------------------------------------------------------------------------- page setup


def _setup(doc: WordDocument) -> None:
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    # The page number sits 7 mm below the text block (GB/T 9704 §7.5): its baseline ~23 mm above the edge.
    section.footer_distance = Mm(23)
    section.header_distance = Mm(15)
    sect_pr = section._sectPr
    grid = sect_pr.find(qn("w:docGrid"))
    if grid is None:  # the default template has one; keep its place in the sequence
        grid = OxmlElement("w:docGrid")
        sect_pr.insert_element_before(grid, "w:printerSettings", "w:sectPrChange")
    grid.attrib.clear()
    grid.set(qn("w:type"), "lines")
    grid.set(qn("w:linePitch"), str(round(LINE_PITCH.pt * 20)))

    normal = doc.styles["Normal"]
    normal.font.size = Pt(BODY_SIZE)
    rpr = normal.element.get_or_add_rPr()
    _set_fonts(rpr, BODY_FONT)
    spacing = OxmlElement("w:spacing")
    spacing.set(qn("w:val"), BODY_CHAR_SPACING)
    # CT_RPr is a sequence: w:spacing goes before w:sz (Word rejects out-of-order children).
    rpr.insert_element_before(spacing, "w:w", "w:kern", "w:position", "w:sz", "w:szCs", "w:highlight",
                              "w:u", "w:effect", "w:vertAlign", "w:lang", "w:eastAsianLayout")
    lang = OxmlElement("w:lang")
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")
    rpr.append(lang)
    pf = normal.paragraph_format
    pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    pf.line_spacing = LINE_PITCH
    pf.space_before = pf.space_after = Pt(0)
    pf.widow_control = False

    # Page numbers: odd pages right, even pages left, one character in from the edge, "— 1 —".
    doc.settings.odd_and_even_pages_header_footer = True
    for footer, align in ((section.footer, WD_ALIGN_PARAGRAPH.RIGHT),
                          (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT)):
        footer.is_linked_to_previous = False
        p = footer.paragraphs[0]
        _off_grid(p)
        p.paragraph_format.alignment = align
        p.paragraph_format.first_line_indent = Pt(0)
        p.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
        if align == WD_ALIGN_PARAGRAPH.RIGHT:
            p.paragraph_format.right_indent = Pt(PAGE_NUMBER_SIZE)
        else:
            p.paragraph_format.left_indent = Pt(PAGE_NUMBER_SIZE)
        # GB/T 9704 §7.5: 4号半角宋体阿拉伯数字 — the digits in 宋体 too, not Times New Roman.
        _run(p, "— ", "宋体", PAGE_NUMBER_SIZE, latin="宋体")
        _add_field(p, "PAGE", "1", "宋体", PAGE_NUMBER_SIZE)
        _run(p, " —", "宋体", PAGE_NUMBER_SIZE, latin="宋体")


# ---------------------------------------------------------------------------------------------- the text


def _join(names: list[str]) -> str:
    return "、".join(clean_text(n) for n in names)


def _units_sentence(report: QuarterReport, kind: str, number: int) -> str:
    n = len(report.units_of(kind))
    label = KIND_LABELS.get(kind, kind)
    good = report.good_units.get(kind, [])
    short = report.short_units.get(kind, [])
    always = report.always_short_units.get(kind, [])
    season = season_label(report)
    parts = []
    if good:
        parts.append(f"信息发布工作做得较好的有：{_join(good)}")
    if short:
        sentence = f"有月份发布数量未达到每月信息发布要求的有：{_join(short)}"
        if always:
            sentence += f"，其中{_join(always)}{season}每月均未达到考核要求"
        parts.append(sentence)
    else:
        parts.append(f"各{label}{season}每月发布数量均达到要求")
    return f"{n}个{label}中，" + "；".join(parts) + f"（详见附件{number}）。"


def _issue_detail(issue: ColumnIssue) -> str:
    when = cn_date(issue.last_post) if issue.last_post else "无"
    return (f"“{clean_text(issue.column)}”（最近更新于{when}，已{issue.days_since}天未更新，"
            f"超过{issue.limit_days}天的更新期限）")


def _by_unit(issues: list[ColumnIssue]) -> "OrderedDict[str, list[ColumnIssue]]":
    grouped: OrderedDict[str, list[ColumnIssue]] = OrderedDict()
    for issue in issues:
        grouped.setdefault(clean_text(issue.unit), []).append(issue)
    return grouped


def _over_limit(issues: list[ColumnIssue]) -> str:
    limits = {i.limit_days for i in issues}
    if limits == {365}:
        return "超过一年未更新"
    return f"超过{max(limits)}天未更新" if len(limits) == 1 else "超过规定期限未更新"


def _portal_section(doc: WordDocument, report: QuarterReport, plan: Sequence[Attachment]) -> None:
    site = clean_text(report.site_name)
    _paragraph(doc, f"一、{site}门户网站维护情况", font=HEADING1_FONT)
    text = (f"1.{report.quarter_label}，{site}门户网站共发布信息{report.total_posts}条。"
            f"根据考核要求，各单位每月发布信息应达到{report.quota}条及以上。")
    text += "".join(_units_sentence(report, a.kind, a.number) for a in plan if a.kind in KIND_LABELS)
    _paragraph(doc, text)
    for finding in report.site_findings:  # site-level vetoes (site.unavailable) come first: they fail the site
        if finding.get("rule") in CONTENT_RULE_IDS:
            continue  # the home page's content problems are in the content paragraph (`_content_paragraph`)
        _paragraph(doc, clean_text(finding["detail"]) + "，按考核指标属单项否决，请网站主办单位立即排查。")

    stale, blank = report.stale_columns, report.blank_columns
    as_of = cn_date(report.as_of)
    if not stale and not blank:
        _paragraph(doc, f"2.网站栏目更新情况。截至{as_of}，{site}门户网站未发现更新不及时或空白的栏目。")
        return
    _paragraph(doc, f"2.网站栏目更新情况。截至{as_of}，{site}门户网站有{len(stale)}个栏目更新不及时、"
                    f"{len(blank)}个栏目未发布任何信息，具体如下：")
    sub = 1
    if stale:
        _paragraph(doc, f"（{sub}）更新不及时的栏目。")
        for unit, issues in _by_unit(stale).items():
            _paragraph(doc, f"{unit}：" + "；".join(_issue_detail(i) for i in issues) + "。")
        sub += 1
    if blank:
        _paragraph(doc, f"（{sub}）空白栏目。")
        for unit, issues in _by_unit(blank).items():
            _paragraph(doc, f"{unit}：" + "、".join(f"“{clean_text(i.column)}”" for i in issues) + "。")
    _paragraph(doc, "请上述栏目的维护单位按照要求加大维护更新力度。")


CONTENT_DEMAND = ("确保公开的内容未涉密、无错别字、无敏感信息、无发布非政府网站链接、排版正常、图片正常显示、"
                  "附件能够下载")
UNITS_NAMED = 8  # units the content paragraph names before 等


def content_counts(issues: Sequence[ContentIssue]) -> str:
    """'链接无法打开3处、错别字2处（其中严重表述错误1处）', in CONTENT_LABELS' order (a stale home page is a
    sentence of its own)."""
    parts = []
    for rule, label in CONTENT_LABELS.items():
        rows = [i for i in issues if i.rule == rule]
        if not rows or rule == SITE_HOMEPAGE_STALE:
            continue
        part = f"缺少元数据的页面{len(rows)}个" if rule == "meta.missing" else f"{label}{len(rows)}处"
        serious = sum(1 for i in rows if rule == "content.typo" and i.severity == "veto")
        parts.append(part + (f"（其中{SERIOUS_TYPO}{serious}处）" if serious else ""))
    return "、".join(parts)


def content_sentence(report: QuarterReport, number: int) -> str:
    """Section 一's paragraph on the content checks: the problems per kind on the article pages, the units
    concerned (详见附件N), then the home pages' apart, and a stale home page as the veto it is."""
    issues = report.content_issues or []
    site = clean_text(report.site_name)
    text = (f"3.网站内容检查情况。按照“谁发布谁负责”原则，信息发布应{CONTENT_DEMAND}。{report.quarter_label}，"
            f"对{site}门户网站首页和各单位新发布的文章页进行了检查")
    if not issues:
        return text + "，未发现链接无法打开、图片无法显示、附件无法下载、非政府网站链接、错别字、敏感词等内容问题。"
    pages = [i for i in issues if not is_home_issue(i)]
    homes = [i for i in issues if is_home_issue(i)]
    text += "，"
    if pages:
        units = list(dict.fromkeys(clean_text(i.unit) for i in pages if clean_text(i.unit)))
        named = "、".join(units[:UNITS_NAMED]) + ("等" if len(units) > UNITS_NAMED else "")
        text += f"文章页发现{content_counts(pages)}" + (f"，涉及{named}{len(units)}个单位" if units else "")
    else:
        text += "文章页未发现内容问题"
    home_counts = content_counts(homes)
    text += f"；网站首页发现{home_counts}" if home_counts else ""
    text += f"（详见附件{number}）。"
    stale = [clean_text(i.detail) for i in homes if i.rule == SITE_HOMEPAGE_STALE]
    if stale:
        text += "；".join(stale) + "，按考核指标属单项否决，请网站主办单位立即更新。"
    return text + "请相关单位对照附件逐条核实整改，落实信息发布三审制度和保密审查制度。"


def _accounts_section(doc: WordDocument, report: QuarterReport, plan: Sequence[Attachment]) -> None:
    _paragraph(doc, "二、政务新媒体平台维护情况", font=HEADING1_FONT)
    _paragraph(doc, "根据《政府网站与政务新媒体检查指标、监管工作年度考核指标》要求，政务新媒体出现严重表述错误、"
                    "泄露国家秘密、发布或链接反动、暴力、色情等内容、因发布内容不当引发严重负面舆情、2周内无更新、"
                    "未提供有效互动功能、存在购买“粉丝”、强制要求群众点赞等弄虚作假行为等任意一种情况，即单项否决，"
                    "该政务新媒体平台即判定为不合格。")
    if not report.accounts:
        _paragraph(doc, "本期未纳入政务新媒体监测数据。")
        return
    number = next(a.number for a in plan if a.kind == "accounts")
    rows = account_rows(report)
    failed = [f"{r[1]}{r[2]}（未登记账号名称）" if r[3] == NAMELESS else f"{r[1]}“{r[3]}”"
              for r in rows if r[-1].startswith("不合格")]
    when = f"{season_label(report)}末" if report.accounts_day == report.last_day else cn_date(report.accounts_day)
    text = f"截至{when}，我区登记在册的政务新媒体共{len(rows)}个"
    text += (f"，其中2周内无更新、判定为不合格的有：{'、'.join(failed)}" if failed
             else "，均按要求及时更新信息")
    _paragraph(doc, text + f"（详见附件{number}）。")


def _disclosure_section(doc: WordDocument, report: QuarterReport) -> None:
    _paragraph(doc, "三、政府信息公开工作情况", font=HEADING1_FONT)
    text = f"{report.quarter_label}，全区共主动公开政府信息{report.disclosure_posts}条。"
    stale = {clean_text(u): issues for u, issues in report.disclosure_stale.items() if issues}
    if stale:
        parts = []
        for unit, issues in stale.items():
            names = "、".join(f"“{clean_text(i.column)}”" for i in issues)
            parts.append(f"{unit}的{names}{'等' + str(len(issues)) + '个' if len(issues) > 1 else ''}栏目"
                         f"{_over_limit(issues)}")
        text += "其中，" + "；".join(parts) + "，请相关单位立即整改。"
    else:
        text += "各单位政府信息公开栏目均在规定期限内更新。"
    _paragraph(doc, text)


def _closing(doc: WordDocument, report: QuarterReport, plan: Sequence[Attachment]) -> None:
    _paragraph(doc, "四、下一步工作要求", font=HEADING1_FONT)
    for text in report.notice.next_steps or PLACEHOLDERS:
        _paragraph(doc, clean_text(text))
    # 专此通报, the 附件 list and the signature stay on one page: a signature alone on a page is not valid.
    closing = [_paragraph(doc, "专此通报"), _paragraph(doc)]
    # 附件说明 (GB/T 9704 §7.3.4): "附件：1.…" two characters in; further items, and a long name's second
    # line, align with the first item's name (hanging indents; "1." is about 12 pt of Times New Roman).
    number_width = Pt(12)
    name_left = Pt(5 * BODY_SIZE) + number_width
    for i, attachment in enumerate(plan):
        p = _paragraph(doc, indent=False)
        closing.append(p)
        p.paragraph_format.left_indent = name_left
        if i == 0:
            p.paragraph_format.first_line_indent = -(Pt(3 * BODY_SIZE) + number_width)
            _run(p, f"附件：{attachment.number}.{attachment.listing}")
        else:
            p.paragraph_format.first_line_indent = -number_width
            _run(p, f"{attachment.number}.{attachment.listing}")
    # 落款 (§7.3.5): one blank line before it unsealed; two sealed, so the seal's top is within a line of the
    # text above and the signature and date sit below the seal's centre.
    closing += [_paragraph(doc) for _ in range(2 if report.notice.sealed else 1)]
    issuer, dated = clean_text(report.issuer), cn_date(report.as_of)
    for text, (side, space) in zip((issuer, dated), signature_layout(issuer, dated, report.notice.sealed)):
        p = _paragraph(doc, text, indent=False, align=WD_ALIGN_PARAGRAPH.RIGHT if side == "right"
                       else WD_ALIGN_PARAGRAPH.LEFT)
        if side == "right":
            p.paragraph_format.right_indent = Pt(space)
        else:
            p.paragraph_format.left_indent = Pt(space)
        _no_autospace(p)
        closing.append(p)
    if report.notice.contact:  # 附注 (§7.3.7): 居左空二字加圆括号, the line after the date
        contact = clean_text(report.notice.contact).strip("（）()")
        closing.append(_paragraph(doc, f"（{contact}）", align=WD_ALIGN_PARAGRAPH.LEFT))
    for p in closing[:-1]:
        p.paragraph_format.keep_with_next = True


def text_width(text: str) -> float:
    """Points a body line of `text` takes: 16 pt a CJK character, 8 pt a half-width one (Times New Roman
    digits), less the 0.25 pt of BODY_CHAR_SPACING each."""
    return sum(display_width(c) * BODY_SIZE / 2 - CHAR_TIGHTEN for c in text)


def _no_autospace(p: Paragraph) -> None:
    """No extra space between Chinese and digits (2020年10月10日 as written), so the line is as wide as
    `text_width` says and the 落款 lands where §7.3.5 puts it."""
    ppr = p._p.get_or_add_pPr()
    for tag in ("w:autoSpaceDE", "w:autoSpaceDN"):
        el = OxmlElement(tag)
        el.set(qn("w:val"), "0")
        ppr.insert_element_before(
            el, *([] if tag == "w:autoSpaceDN" else ["w:autoSpaceDN"]), "w:bidi", "w:adjustRightInd",
            "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap",
            "w:jc", "w:textDirection", "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl", "w:divId",
            "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange")


def signature_layout(issuer: str, dated: str, sealed: bool) -> tuple[tuple[str, float], tuple[str, float]]:
    """Where the 发文机关署名 and the 成文日期 lines go, GB/T 9704-2012 §7.3.5: for each, ("right", the space
    to its right) or ("left", its left indent), in points. The line §7.3.5 fixes by its right end is set
    right-aligned, so it lands there whatever the fonts; the other is placed from it by `text_width`.

    Unsealed (§7.3.5.2): the signature 右空二字; the date on the next line, its first character two characters
    right of the signature's; a date longer than that allows is 右空二字 and the signature moves left with it.
    Sealed (§7.3.5.1): the date 右空四字, the signature centred on the date."""
    w_issuer, w_date = text_width(issuer), text_width(dated)
    if sealed:
        issuer_left = TEXT_WIDTH - 4 * CHAR - (w_date + w_issuer) / 2
        return ("left", max(0.0, min(issuer_left, TEXT_WIDTH - w_issuer))), ("right", 4 * CHAR)
    if w_date + 2 * CHAR <= w_issuer:
        return ("right", 2 * CHAR), ("left", max(0.0, TEXT_WIDTH - 2 * CHAR - w_issuer + 2 * CHAR))
    return ("left", max(0.0, TEXT_WIDTH - 2 * CHAR - w_date - 2 * CHAR)), ("right", 2 * CHAR)


def _masthead(doc: WordDocument, report: QuarterReport) -> None:
    """版头 (§7.2): the red 发文机关标志 35 mm below the text block's top, the 发文字号 two lines under it, a red
    line as wide as the text block 4 mm under the number, the title two lines below the line. Without a
    masthead a 发文字号 alone is centred above the title."""
    mark, number = clean_text(report.notice.masthead), clean_text(report.notice.doc_number)
    last = None
    if mark:
        p = _paragraph(doc, indent=False, align=WD_ALIGN_PARAGRAPH.CENTER)
        _off_grid(p)
        size = min(MASTHEAD_MAX_SIZE, TEXT_WIDTH / max(1, len(mark)) - 1)
        p.paragraph_format.space_before = Mm(35)
        p.paragraph_format.line_spacing = Pt(size * 1.2)
        run = _run(p, mark, TITLE_FONT, size)
        run.font.color.rgb = RED
        p.paragraph_format.keep_with_next = True
        last = p
    if number:
        if mark:
            _paragraph(doc)
            _paragraph(doc)
        last = _paragraph(doc, number, indent=False, align=WD_ALIGN_PARAGRAPH.CENTER)
    if mark and last is not None:
        _red_line_below(last)
    if last is not None:
        for _ in range(2 if mark else 1):
            _paragraph(doc)


def _red_line_below(p: Paragraph) -> None:
    """A red line under the paragraph, 4 mm below its text, as wide as the text block (§7.2.7)."""
    borders = parse_xml(f'<w:pBdr {nsdecls("w")}><w:bottom w:val="single" w:sz="{RED_LINE_EIGHTHS}" '
                        f'w:space="11" w:color="{RED}"/></w:pBdr>')
    p._p.get_or_add_pPr().insert_element_before(
        borders, "w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct",
        "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd", "w:snapToGrid",
        "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap", "w:jc",
        "w:textDirection", "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle",
        "w:rPr", "w:sectPr", "w:pPrChange")


# ------------------------------------------------------------------------------------------ attachments


def _off_grid(p: Paragraph) -> None:
    """Let a paragraph keep its own line height instead of snapping to the body's 28.95 pt line grid."""
    el = OxmlElement("w:snapToGrid")
    el.set(qn("w:val"), "0")
    p._p.get_or_add_pPr().insert_element_before(
        el, "w:bidi", "w:adjustRightInd", "w:spacing", "w:ind", "w:contextualSpacing", "w:jc",
        "w:textAlignment", "w:outlineLvl", "w:rPr")


def _cell_text(cell: _Cell, text: str, bold: bool = False) -> None:
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    p = cell.paragraphs[0]
    _off_grid(p)
    p.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.paragraph_format.first_line_indent = Pt(0)
    p.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
    _run(p, text, HEADING1_FONT if bold else BODY_FONT, TABLE_SIZE)


def _repeat_header(table: Table, rows: int) -> None:
    for row in table.rows:
        row.height_rule = WD_ROW_HEIGHT_RULE.AT_LEAST
        row.height = Mm(7.5)
    for row in table.rows[:rows]:
        tr_pr = row._tr.get_or_add_trPr()
        el = OxmlElement("w:tblHeader")
        el.set(qn("w:val"), "true")
        tr_pr.append(el)


def _attachment_heading(doc: WordDocument, attachment: Attachment) -> None:
    p = _paragraph(doc, indent=False, align=WD_ALIGN_PARAGRAPH.LEFT)
    p.paragraph_format.page_break_before = True
    _run(p, f"附件{attachment.number}", HEADING1_FONT)
    title = _paragraph(doc, indent=False, align=WD_ALIGN_PARAGRAPH.CENTER)
    # Too long for one line at 2号: break before "政府网站信息更新情况" rather than inside a word.
    head, sep, tail = attachment.title.rpartition("政府网站信息更新情况")
    if sep and head:
        _run(title, head, TITLE_FONT, TITLE_SIZE).add_break(WD_BREAK.LINE)
        _run(title, sep + tail, TITLE_FONT, TITLE_SIZE)
    else:
        _run(title, attachment.title, TITLE_FONT, TITLE_SIZE)
    _paragraph(doc, indent=False)


def _units_table(doc: WordDocument, report: QuarterReport, attachment: Attachment) -> None:
    _attachment_heading(doc, attachment)
    months = report.months
    ncols = len(months) + 2
    rows = report.units_of(attachment.kind)
    table = doc.add_table(rows=2 + len(rows), cols=ncols)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    head = table.rows[0].cells
    name_cell = head[0].merge(table.rows[1].cells[0])
    _cell_text(name_cell, NAME_HEADERS.get(attachment.kind, "单位名称"), bold=True)
    count_cell = head[1].merge(head[len(months)])
    _cell_text(count_cell, "网站信息更新数（单位：条）", bold=True)
    status_cell = head[ncols - 1].merge(table.rows[1].cells[ncols - 1])
    _cell_text(status_cell, "完成情况", bold=True)
    for i, month in enumerate(months):
        _cell_text(table.rows[1].cells[1 + i], month_label(month), bold=True)
    _repeat_header(table, 2)
    for r, unit in enumerate(rows, start=2):
        cells = table.rows[r].cells
        _cell_text(cells[0], clean_text(unit.unit))
        for i, month in enumerate(months):
            _cell_text(cells[1 + i], str(unit.months.get(month, 0)))
        _cell_text(cells[ncols - 1], status_lines(unit.status))


def _accounts_table(doc: WordDocument, report: QuarterReport, attachment: Attachment) -> None:
    _attachment_heading(doc, attachment)
    headers = ACCOUNT_HEADERS
    rows = account_rows(report)
    table = doc.add_table(rows=1 + len(rows), cols=len(headers))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for c, header in enumerate(headers):
        _cell_text(table.rows[0].cells[c], header, bold=True)
    _repeat_header(table, 1)
    for r, values in enumerate(rows, start=1):
        for c, value in enumerate(values):
            _cell_text(table.rows[r].cells[c], value)


FORM_BLANK_ROWS = 6  # rows a unit writes its accounts into on the printed form


def _landscape_page(doc: WordDocument) -> None:
    """A new landscape A4 section with GB/T 9704's margins turned with the page."""
    section = doc.add_section(WD_SECTION.NEW_PAGE)
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Mm(297), Mm(210)
    section.top_margin, section.bottom_margin = Mm(28), Mm(26)
    section.left_margin, section.right_margin = Mm(37), Mm(35)


def _content_table(doc: WordDocument, report: QuarterReport, attachment: Attachment) -> None:
    """附件N, the content checks' problems: one row a link, word or page, on landscape pages (URLs are long)."""
    _landscape_page(doc)
    p = _paragraph(doc, indent=False, align=WD_ALIGN_PARAGRAPH.LEFT)
    _run(p, f"附件{attachment.number}", HEADING1_FONT)
    _run(_paragraph(doc, indent=False, align=WD_ALIGN_PARAGRAPH.CENTER), attachment.title, TITLE_FONT, TITLE_SIZE)
    _paragraph(doc, indent=False)
    issues = report.content_issues or []
    headers = CONTENT_HEADERS
    table = doc.add_table(rows=1 + max(1, len(issues)), cols=len(headers))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for c, header in enumerate(headers):
        _cell_text(table.rows[0].cells[c], header, bold=True)
    if not issues:
        row = table.rows[1].cells
        _cell_text(row[0].merge(row[-1]), NO_CONTENT_ISSUES)
    for r, (row, issue) in enumerate(zip(list(table.rows)[1:], issues), start=1):  # rows[r] is O(rows): once
        for cell, value in zip(row.cells, [str(r), *content_row(issue)]):
            _cell_text(cell, value)
    _repeat_header(table, 1)


def _form_table(doc: WordDocument, attachment: Attachment) -> None:
    """附件4 as the seed prints it: the blank register form (monitors.register's columns and notes) on a
    landscape page of its own, for units that fill it in on paper; the workbook beside the notice is the same."""
    _landscape_page(doc)
    p = _paragraph(doc, indent=False, align=WD_ALIGN_PARAGRAPH.LEFT)
    _run(p, f"附件{attachment.number}", HEADING1_FONT)
    _run(_paragraph(doc, indent=False, align=WD_ALIGN_PARAGRAPH.CENTER), attachment.title, TITLE_FONT, TITLE_SIZE)
    _paragraph(doc, "单位名称（盖章）：" + "　" * 16 + "填表日期：", indent=False, size=TABLE_SIZE)
    table = doc.add_table(rows=1 + FORM_BLANK_ROWS, cols=len(REGISTER_HEADERS))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for c, header in enumerate(REGISTER_HEADERS):
        _cell_text(table.rows[0].cells[c], header, bold=True)
    _repeat_header(table, 1)
    for line in REGISTER_FOOTER:
        p = _paragraph(doc, line, indent=False, align=WD_ALIGN_PARAGRAPH.LEFT, size=TABLE_SIZE)
        _off_grid(p)
        p.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE


# ------------------------------------------------------------------------------------------------ entry


def write_docx(report: QuarterReport, path: Path) -> Path:
    """Write the notice to `path` and return it."""
    doc = Document()
    _declare_font_fallbacks(doc)
    _setup(doc)
    plan = attachments(report)

    _masthead(doc, report)
    title = _paragraph(doc, indent=False, align=WD_ALIGN_PARAGRAPH.CENTER)
    # Break the title where the meaning allows (GB/T 9704 §7.2.3), before "检查情况的通报".
    head = f"关于{report.quarter_label}全区网站和政务新媒体"
    _run(title, head, TITLE_FONT, TITLE_SIZE).add_break(WD_BREAK.LINE)
    _run(title, "检查情况的通报", TITLE_FONT, TITLE_SIZE)
    _paragraph(doc, indent=False)
    _paragraph(doc, ADDRESSEES, indent=False)
    season = season_label(report)
    _paragraph(doc, "根据《国务院办公厅关于印发政府网站发展指引的通知》（国办发〔2017〕47号，以下简称《指引》）、"
                    "《国务院办公厅秘书局关于印发政府网站与政务新媒体检查指标、监管工作年度考核指标的通知》"
                    "（国办秘函〔2019〕19号）要求，近期区大数据服务中心根据国务院办公厅、省政府办公厅和市政府办公厅"
                    f"对政府网站与政务新媒体的考核指标要求，对{season}区政府门户网站维护情况、新媒体平台维护情况"
                    "和政府信息公开工作情况进行检查，现将有关情况通报如下：")
    _portal_section(doc, report, plan)
    if content := next((a for a in plan if a.kind == "content"), None):
        _paragraph(doc, content_sentence(report, content.number))
    _accounts_section(doc, report, plan)
    _disclosure_section(doc, report)
    _closing(doc, report, plan)

    for attachment in plan:
        if attachment.kind == "accounts":
            _accounts_table(doc, report, attachment)
        elif attachment.kind == "form":  # also written as a workbook beside the notice: writers.write_form
            _form_table(doc, attachment)
        elif attachment.kind == "content":
            _content_table(doc, report, attachment)
        else:
            _units_table(doc, report, attachment)

    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    return path
