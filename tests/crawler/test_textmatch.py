"""crawler.content.textmatch: typos, protected terms and sensitive words found by one Aho-Corasick pass."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from config import load_settings
from config.model import ContentSettings
from crawler.content.textmatch import (
    SENSITIVE_RULE,
    TYPO_RULE,
    TextMatcher,
    normalise,
    parse_typos,
    read_word_file,
    shipped_dictionary,
)
from fixtures.portal import text as portal_text

DATA = Path(__file__).resolve().parents[2] / "crawler" / "content" / "data"
PLANTED = ["再接再励", "按步就班", "贯切", "一愁莫展", "针贬时弊", "迫不急待", "既使", "做为"]  # the fixture plants these

SETTINGS = """\
[monitor]
database_url = "sqlite:///monitor.db"

[[sites]]
name = "仓山区人民政府"
url = "http://127.0.0.1:8700/"

[[units]]
name = "审计局"
kind = "department"
url_prefixes = ["http://127.0.0.1:8700/sjj/"]

[[columns]]
unit = "审计局"
name = "工作动态"
url = "http://127.0.0.1:8700/sjj/gzdt/"
category = "dynamic"

[content]
enabled = true
typos = [["按装", "安装"], ["做为", "作为（设置）"]]
protected = { "仓山区人民政府" = ["苍山区人民政府", "仓山县人民政府"] }
sensitive_words = ["办证刻章"]
sensitive_file = "lists/敏感词.txt"
"""


def shipped() -> TextMatcher:
    d = shipped_dictionary()
    return TextMatcher(d.typos, (), (), d.guards)


def test_every_kind_found_with_context_suggestion_and_position() -> None:
    m = TextMatcher([("再接再励", "再接再厉")], [("仓山区人民政府", ["苍山区人民政府"])], ["赌博网站"])
    text = "会议要求，各单位要再接再励。苍山区人民政府提醒市民远离赌博网站。"
    hits = m.find(text)
    assert [(h.rule, h.term, h.suggestion, h.serious) for h in hits] == [
        (TYPO_RULE, "再接再励", "再接再厉", False),
        (TYPO_RULE, "苍山区人民政府", "仓山区人民政府", True),
        (SENSITIVE_RULE, "赌博网站", "", False),
    ]
    assert [h.position for h in hits] == [text.index("再接再励"), text.index("苍山区"), text.index("赌博网站")]
    assert hits[0].context == "会议要求，各单位要【再接再励】。苍山区人民政府提醒市民远离赌博网站。"
    assert hits[2].context == "位要再接再励。苍山区人民政府提醒市民远离【赌博网站】。"  # 20 characters before


def test_context_is_twenty_characters_each_side_without_newlines() -> None:
    before, after = "一" * 30 + "\n" + "二" * 5, "三" * 5 + "\r\n" + "四" * 30
    hit = TextMatcher([("贯切", "贯彻")], (), ()).find(before + "贯切" + after)[0]
    left, right = hit.context.split("【贯切】")
    assert left == "一" * 14 + " " + "二" * 5 and right == "三" * 5 + " " + "四" * 13  # \r\n: one space
    assert "\n" not in hit.context and "\r" not in hit.context


def test_shipped_dictionary_has_the_planted_pairs_and_enough_entries() -> None:
    d = shipped_dictionary()
    wrong = {w for w, _ in d.typos}
    assert set(PLANTED) <= wrong
    assert len(d.typos) >= 150 and len(wrong) == len(d.typos)  # no wrong form listed twice
    assert not wrong & {r for _, r in d.typos}  # no right form is another pair's wrong form
    assert "既使用" in d.guards
    assert all(any(w in g and w != g for w in wrong) for g in d.guards)  # each guard word holds a wrong form


def test_a_hit_inside_a_longer_guard_word_is_not_a_hit() -> None:
    m = shipped()
    assert m.find("单位既使用自有资金，又争取上级补助。") == []
    assert m.find("既使得群众满意，又提升了效率。") == []
    hits = m.find("既使困难再多，也要完成任务。")
    assert [(h.term, h.suggestion, h.position) for h in hits] == [("既使", "即使", 0)]
    # the guard holds only where it lies: a real 既使 in the same text as 既使用 is still reported
    both = m.find("既使用新设备，既使加班也要完成。")
    assert [h.position for h in both] == [7]
    # a guard from the third column of typos.tsv (全部份额: 全部 + 份额) and a plain 部份
    assert m.find("占全部份额的三成") == []
    assert [h.term for h in m.find("部份单位未按时报送")] == ["部份"]


def test_a_right_form_holding_its_wrong_form_never_flags_itself() -> None:
    # a district that wants its full name: 仓山 alone is wrong, and the right form 仓山区 holds it
    m = TextMatcher([("营商坏境", "营商环境"), ("坏境", "环境")], [("仓山区", ["仓山"])], ())
    assert m.find("仓山区优化营商环境") == []
    hits = m.find("仓山优化营商坏境")
    assert [(h.term, h.suggestion, h.serious) for h in hits] == [("仓山", "仓山区", True), ("营商坏境", "营商环境", False)]


def test_longest_hit_at_a_position_wins_within_a_rule() -> None:
    m = TextMatcher([("精减机构", "精简机构"), ("精减", "精简")], (), ["赌博", "赌博网站"])
    hits = m.find("精减机构，关闭赌博网站")
    assert [(h.rule, h.term) for h in hits] == [(TYPO_RULE, "精减机构"), (SENSITIVE_RULE, "赌博网站")]
    # every occurrence is reported (the caller groups them)
    assert [h.position for h in m.find("赌博。赌博。")] == [0, 3]


def test_a_typo_split_by_a_line_break_or_in_full_width_still_matches() -> None:
    m = shipped()
    text = "全镇上下要再接\n    再励，巩固成果。"
    hit = m.find(text)[0]
    assert (hit.term, hit.suggestion, hit.position) == ("再接再励", "再接再厉", text.index("再接"))
    assert "【再接 再励】" in hit.context
    # full-width letters fold to ASCII, lower case; whitespace next to a CJK character is layout
    text2 = "一些 ＶＰＮ 翻墙 软件"
    for word in ("vpn翻墙", "VPN 翻墙"):
        hit2 = TextMatcher((), (), [word]).find(text2)[0]
        assert (hit2.term, hit2.position) == (word, 3) and hit2.context == "一些 【ＶＰＮ 翻墙】 软件"
    # words separated by whitespace between Latin letters are not joined
    assert TextMatcher((), (), ["ab"]).find("a b") == []


def test_normalise_maps_back_to_the_original() -> None:
    norm, norm_starts, orig_starts = normalise("再接\n 再励 ＡＢ  c")
    assert norm == "再接再励ab c"
    assert norm_starts == [0, 2, 4, 6, 7] and orig_starts == [0, 4, 7, 9, 11]


def test_protected_terms_wrong_forms_are_serious() -> None:
    m = TextMatcher(shipped_dictionary().typos, [("仓山区人民政府", ["苍山区人民政府", "仓山县人民政府"])], ())
    hits = m.find("仓山县人民政府、仓山区人民政府联合发文")
    assert [(h.term, h.suggestion, h.serious, h.rule) for h in hits] == [
        ("仓山县人民政府", "仓山区人民政府", True, TYPO_RULE)]


def test_settings_load_and_extend_the_shipped_dictionary(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "敏感词.txt").write_text("# 本区敏感词\n\n代开发票  # 行尾注释\n  私家侦探\n", encoding="utf-8")
    (tmp_path / "settings.toml").write_text(SETTINGS, encoding="utf-8")
    settings = load_settings(tmp_path / "settings.toml")
    m = TextMatcher.from_settings(settings.content, tmp_path)
    text = "请按装新系统做为试点，苍山区人民政府提醒：有人代开发票、办证刻章，迫不急待的私家侦探。"
    found = {(h.rule, h.term, h.suggestion, h.serious) for h in m.find(text)}
    assert found == {
        (TYPO_RULE, "按装", "安装", False),               # settings typo
        (TYPO_RULE, "做为", "作为（设置）", False),         # a settings pair replaces the shipped one
        (TYPO_RULE, "苍山区人民政府", "仓山区人民政府", True),
        (SENSITIVE_RULE, "代开发票", "", False),           # from the file, relative to base_dir
        (SENSITIVE_RULE, "办证刻章", "", False),           # sensitive_words
        (TYPO_RULE, "迫不急待", "迫不及待", False),         # shipped
        (SENSITIVE_RULE, "私家侦探", "", False),
    }
    assert not any("本区敏感词" in h.term or "注释" in h.term for h in m.find(text))


def test_sensitive_file_missing_or_unreadable_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="找不到敏感词文件 .*nope.txt"):
        TextMatcher.from_settings(ContentSettings(sensitive_file="nope.txt"), tmp_path)
    (tmp_path / "gbk.txt").write_bytes("赌博网站\n".encode("gbk"))
    with pytest.raises(ValueError, match="无法读取敏感词文件 .*gbk.txt：不是 UTF-8"):
        TextMatcher.from_settings(ContentSettings(sensitive_file="gbk.txt"), tmp_path)
    (tmp_path / "dir.txt").mkdir()
    with pytest.raises(ValueError, match="无法读取敏感词文件 .*dir.txt"):
        TextMatcher.from_settings(ContentSettings(sensitive_file="dir.txt"), tmp_path)


def test_shipped_sensitive_sample_is_a_valid_word_file() -> None:
    words = read_word_file(DATA / "sensitive-sample.txt")
    assert 8 <= len(words) <= 20 and "代开发票" in words and not any(w.startswith("#") for w in words)
    m = TextMatcher((), (), words)
    assert [h.term for h in m.find("警惕办证刻章小广告")] == ["办证刻章"]


def test_bad_terms_and_bad_dictionary_lines_are_refused() -> None:
    with pytest.raises(ValueError, match="相同"):
        TextMatcher([("部署", "部署")], (), ())
    with pytest.raises(ValueError, match="敏感词不能为空"):
        TextMatcher((), (), ["  "])
    with pytest.raises(ValueError, match="第 2 行格式错误"):
        parse_typos(["# x", "只有一列"], "typos.tsv")


def test_knows_todays_dictionaries() -> None:
    m = TextMatcher.from_settings(ContentSettings(typos=(("按装", "安装"),), sensitive_words=("赌博网站",),
                                                  protected=(("仓山区人民政府", ("苍山区人民政府",)),)), Path("."))
    assert m.knows(TYPO_RULE, "再接再励") and m.knows(TYPO_RULE, "按装") and m.knows(TYPO_RULE, "苍山区人民政府")
    assert m.knows(SENSITIVE_RULE, "赌博网站") and m.knows(TYPO_RULE, "再接\n再励")
    assert not m.knows(SENSITIVE_RULE, "再接再励") and not m.knows(TYPO_RULE, "赌博网站")
    assert not m.knows(TYPO_RULE, "再接再厉") and not m.knows("content.other", "按装")
    assert not TextMatcher.from_settings(ContentSettings(), Path(".")).knows(SENSITIVE_RULE, "赌博网站")


def fixture_articles(count: int, seed: int = 11) -> list[str]:
    """Articles of the fixture portal's kind: a title and its body paragraphs, from fixtures/portal/text.py."""
    rng = random.Random(seed)
    units = [*portal_text.DEPT_TOPICS, "建新镇", "盖山镇", "下渡街道"]
    out = []
    for _ in range(count):
        unit = rng.choice(units)
        kind = "township" if unit.endswith(("镇", "街道")) else "department"
        title = rng.choice([portal_text.dynamic_title(rng, unit, kind), portal_text.notice_title(rng, unit),
                            portal_text.notice_title(rng, unit, policy=True),
                            portal_text.disclosure_title(rng, unit, rng.randint(1, 12)),
                            portal_text.district_title(rng)])
        out.append(title + "\n" + "\n".join(portal_text.body_paragraphs(rng, unit, title, "9月15日")))
    return out


def test_clean_official_text_has_no_hit() -> None:
    m = TextMatcher.from_settings(ContentSettings(), Path("."))
    articles = fixture_articles(3000)
    assert sum(len(a) for a in articles) > 500_000
    assert [h for a in articles for h in m.find(a)] == []
    # the same articles with the planted typos do have them, once each
    rng = random.Random(3)
    for article in articles[:200]:
        term = rng.choice(PLANTED)
        cut = article.index("。") + 1
        hits = m.find(article[:cut] + "各单位" + term + "落实。" + article[cut:])
        assert [(h.term, h.position) for h in hits] == [(term, cut + 3)]


def test_empty_matcher_and_empty_text() -> None:
    assert TextMatcher((), (), ()).find("任何文字") == []
    assert shipped().find("") == []
