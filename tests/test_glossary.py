"""The 术语表 (course_utils/i18n/glossary.tsv): the lecture's terms, and every Chinese text written with them."""

import os
import re
from pathlib import Path

import pytest

from course_utils.i18n import glossary
from course_utils.paths import ROOT

# the terms issue 20 names (the lecture's own first, then the usual ones): typed here from the issue,
# not read from the glossary
ISSUE_TERMS = ["判别模型", "生成模型", "概率图模型", "贝叶斯网络", "马尔可夫随机场", "局部马尔可夫性质", "变量消去法",
               "信念传播", "联合树算法", "变分推断", "变分下界", "自编码器", "变分自编码器", "生成对抗网络",
               "模式崩溃", "扩散模型", "正向过程", "反向过程", "分类器引导", "无分类器引导"]


def _lecture() -> str | None:
    """The lecture's Chinese text: shared/ in or beside the repository (CI copies it beside), or $COURSE_LECTURE."""
    name = "lecture/lecture12_generative_models.zh.txt"
    for folder in (os.environ.get("COURSE_LECTURE_DIR"), ROOT / "shared", ROOT.parent / "shared",
                   ROOT.parent.parent / "shared"):
        if folder and (Path(folder) / name).is_file():
            return (Path(folder) / name).read_text(encoding="utf-8")
    return None


@pytest.fixture(scope="module")
def b(i18n_build):
    return i18n_build


def test_the_glossary_has_the_issues_terms():
    terms = {t.zh: t for t in glossary.load()}
    assert [z for z in ISSUE_TERMS if z not in terms] == []
    assert len(terms) >= 100
    assert terms["变分下界"].en[:2] == ("evidence lower bound", "ELBO")


def test_the_from_column_tells_the_truth_about_the_lecture():
    lecture = _lecture()
    if lecture is None:
        pytest.skip("the lecture text (shared/lecture/) is not beside this checkout")
    wrong = [(t.zh, t.source) for t in glossary.load()
             if (t.source == "lecture") != bool(glossary.term_pattern(t.zh).search(lecture))]
    assert wrong == []
    # control: a term the lecture never writes, claimed as the lecture's, is caught
    assert not glossary.term_pattern("去噪扩散概率模型").search(lecture)


def test_no_right_term_contains_a_wrong_variant_and_variants_differ_from_terms():
    terms = glossary.load()
    right = {t.zh for t in terms}
    assert [w for t in terms for w in t.wrong if w in right] == []
    assert [str(w) for t in terms for w in glossary.wrong_terms(t.zh, f"line {t.line}")] == []


def test_a_wrong_spelling_is_found_unless_inside_a_longer_right_term():
    found = glossary.wrong_terms("训练时出现了模式坍塌，生成器只画一种数字。", "x")
    assert sorted((w.found, w.term.zh) for w in found) == [("模式坍塌", "模式崩溃"), ("生成器", "生成网络")]
    assert glossary.wrong_terms("讲义的手写数字生成器一节。", "x") == []  # 生成器 inside 手写数字生成器
    assert glossary.wrong_terms("隐马尔可夫模型（讲义作“隐Markov模型”）", "x") == []  # the lecture quoted
    assert [w.found for w in glossary.wrong_terms("讲义作隐Markov模型", "x")] == ["隐Markov模型"]  # not quoted
    assert [w.found for w in glossary.wrong_terms("KL距离与KL 距离", "x")] == ["KL距离", "KL 距离"]
    kl = glossary.term_pattern("KL 散度")
    assert kl.fullmatch("KL散度") and kl.fullmatch("KL 散度") and not kl.fullmatch("KL 距离")


def test_every_chinese_text_of_the_course_uses_the_glossarys_terms(b):
    sources = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    texts = b.chinese_texts(sources)
    assert any(where.startswith("00_overview.zh.md") for where, _ in texts)  # the catalogues are read
    assert any("(tr)" in where for where, _ in texts)  # and the notebooks' tr() labels
    assert any(where == "README.zh-CN.md" for where, _ in texts)
    assert [str(w) for where, text in texts for w in glossary.wrong_terms(text, where)] == []
    planted = [(where, text.replace("模式崩溃", "模式坍塌")) for where, text in texts]  # control
    assert any(glossary.wrong_terms(text, where) for where, text in planted)


def test_english_at_first_use_in_each_translated_notebook(b):
    listed, _ = b.untranslated_list(ROOT / "notebooks")
    checked = 0
    for md in sorted((ROOT / "notebooks" / "zh").glob("*.zh.md")):
        if md.name.removesuffix(".zh.md") in listed:
            continue
        cells = [e.zh for e in b.parse(md.read_text(encoding="utf-8")).entries]
        assert glossary.first_use_problems(cells, md.name) == []
        # control: without the parentheses that carry English, the same check fails
        bare = [re.sub(r"（[^（）]*[A-Za-z][^（）]*）", "", c) for c in cells]
        assert len(glossary.first_use_problems(bare, md.name)) > 10
        checked += 1
    assert checked >= 1


def test_first_use_rule_details():
    ok = ["# 变分推断\n", "变分推断（variational inference）很常用。变分推断再出现就不用了。"]
    assert glossary.first_use_problems(ok, "x") == []  # a heading is not the first use
    assert glossary.first_use_problems(["**密度估计**（density estimation，即训练）"], "x") == []
    late = ["变分推断很常用。", "变分推断（variational inference）"]
    assert len(glossary.first_use_problems(late, "x")) == 1
    assert glossary.first_use_problems(["变分自编码器（VAE）。"], "x") == []  # 自编码器 inside it is not a use
    quoted = ["讲义说：“计算状态间转移概率”。转移概率（transition probability）"]
    assert glossary.first_use_problems(quoted, "x") == []  # a quotation of the lecture is not the first use
