"""The Chinese notebooks (tools/i18n_build.py): built from one source, identical code, and no drift.

The planted cases below are what `make lint` must catch: an English cell changed under its Chinese, a
cell without Chinese, an entry whose cell is gone, an English record edited by hand, a Chinese notebook
edited in place, and a notebook neither translated nor on the not-yet-translated list.
"""

import json
import re
import shutil

import jupytext
import pytest

from course_utils.paths import ROOT

NOTEBOOKS = ROOT / "notebooks"
SOURCE = """# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # 01 · A notebook
# The first sentence of the notebook.

# %%
x = 1

# %% [markdown]
# Second cell: the variance is small.

# %% [markdown] slideshow={"slide_type": "notes"}
# Speaker notes: ask the class.
"""
CHINESE = ["# 01 · 一个笔记本\n笔记本的第一句话。", "第二个单元格：方差很小。", "讲者备注：问问同学们。"]


@pytest.fixture(scope="module")
def b(i18n_build):
    return i18n_build


@pytest.fixture
def py(tmp_path, b):
    """A small notebook with its Chinese complete (the catalogue written by sync, then translated)."""
    path = tmp_path / "notebooks" / "01_a.py"
    path.parent.mkdir()
    path.write_text(SOURCE)
    b.sync(path, jupytext.read(path), start=True)
    cat = b.parse(b.catalogue_path(path).read_text())
    for entry, zh in zip(cat.entries, CHINESE):
        entry.zh = zh
    b.catalogue_path(path).write_text(b.format_catalogue(cat))
    assert b.build_all({path: jupytext.read(path)}) == 0
    return path


def lint(b, py, capsys):
    rc = b.check_all([py], jupytext.read)
    return rc, capsys.readouterr().out


def test_catalogue_round_trip(b, py):
    text = b.catalogue_path(py).read_text()
    cat = b.parse(text)
    assert [e.zh for e in cat.entries] == CHINESE
    assert b.format_catalogue(cat) == text


def test_a_complete_translation_passes_and_builds_the_chinese_notebook(b, py, capsys):
    rc, out = lint(b, py, capsys)
    assert rc == 0, out
    nb = json.loads(b.zh_notebook_path(py).read_text())
    assert nb["metadata"]["course_lang"] == "zh" and "jupytext" not in nb["metadata"]
    assert ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"] == CHINESE
    assert ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"] == ["x = 1"]


def test_an_english_change_fails_lint_naming_notebook_cell_and_change(b, py, capsys):
    py.write_text(SOURCE.replace("the variance is small", "the variance is large"))
    rc, out = lint(b, py, capsys)
    assert rc == 1
    assert "01_a.py, markdown cell 2 of 3 (cell 3 of the notebook)" in out
    assert "the English changed since its Chinese was written" in out
    assert "-Second cell: the variance is small." in out and "+Second cell: the variance is large." in out
    # the translator's way: sync records the new English and keeps the old beside the Chinese, still failing
    b.sync(py, jupytext.read(py))
    text = b.catalogue_path(py).read_text()
    assert "STALE" in text and "<!-- English before\nSecond cell: the variance is small." in text
    rc, out = lint(b, py, capsys)
    assert rc == 1 and "marked STALE" in out and "+Second cell: the variance is large." in out
    # ... then updates the Chinese and deletes the 'English before' block: lint passes again
    cat = b.parse(text)
    cat.entries[1].zh, cat.entries[1].before = "第二个单元格：方差很大。", None
    b.catalogue_path(py).write_text(b.format_catalogue(cat))
    b.build_all({py: jupytext.read(py)})
    rc, out = lint(b, py, capsys)
    assert rc == 0, out


def test_missing_chinese_and_removed_cells_fail(b, py, capsys):
    py.write_text(SOURCE + "\n# %% [markdown]\n# A new cell.\n")
    rc, out = lint(b, py, capsys)
    assert rc == 1 and "markdown cell 4 of 4" in out and "has no Chinese" in out
    py.write_text(SOURCE.replace("# %% [markdown]\n# Second cell: the variance is small.\n", ""))
    rc, out = lint(b, py, capsys)
    assert rc == 1 and "an entry whose English is no longer in 01_a.py (“Second cell" in out


def test_the_english_record_cannot_be_edited_by_hand(b, py, capsys):
    path = b.catalogue_path(py)
    path.write_text(path.read_text().replace("Second cell: the variance is small.", "Second cell: anything."))
    rc, out = lint(b, py, capsys)
    assert rc == 1 and "the English block was edited by hand" in out


def test_a_chinese_notebook_edited_in_place_is_not_overwritten(b, py, capsys):
    target = b.zh_notebook_path(py)
    nb = json.loads(target.read_text())
    nb["cells"][1]["source"] = "x = 2  # edited in JupyterLab"
    target.write_text(json.dumps(nb))
    py.write_text(SOURCE.replace("x = 1", "x = 3"))
    assert b.build_all({py: jupytext.read(py)}) == 1
    assert "x = 2" in target.read_text()  # left alone
    assert "was NOT regenerated" in capsys.readouterr().out
    assert b.build_all({py: jupytext.read(py)}, force=True) == 0
    assert "x = 3" in target.read_text()


def test_untranslated_notebooks_must_be_listed_and_the_list_is_printed(b, py, capsys, tmp_path):
    other = py.with_name("02_b.py")
    other.write_text(SOURCE)
    rc, out = b.check_all([py, other], jupytext.read), capsys.readouterr().out
    assert rc == 1 and "02_b.py has no Chinese" in out and "untranslated.txt" in out
    (py.parent / "zh" / "untranslated.txt").write_text("# not yet\n02_b\n")
    rc, out = b.check_all([py, other], jupytext.read), capsys.readouterr().out
    assert rc == 0, out
    assert "not yet translated, allowed by" in out and "not started: 02_b" in out
    (py.parent / "zh" / "untranslated.txt").write_text("01_a\n02_b\n")  # 01 is complete: the list is stale
    rc, out = b.check_all([py, other], jupytext.read), capsys.readouterr().out
    assert rc == 1 and "01_a is fully translated: take it off" in out


def test_a_stale_translation_planted_in_the_real_notebook_00_fails(b, tmp_path, capsys):
    """What `make lint` shows on the real 00 when one English sentence changes under its Chinese."""
    work = tmp_path / "notebooks"
    (work / "zh").mkdir(parents=True)
    shutil.copy(NOTEBOOKS / "00_overview.py", work)
    shutil.copy(NOTEBOOKS / "zh" / "00_overview.zh.md", work / "zh")
    py = work / "00_overview.py"
    assert b.build_all({py: jupytext.read(py)}) == 0
    assert b.check_all([py], jupytext.read) == 0, capsys.readouterr().out
    py.write_text(py.read_text().replace("Both classify; only the\n# generative one can draw new points.",
                                         "Both classify; only the\n# generative one can sample new points."))
    assert b.check_all([py], jupytext.read) == 1
    out = capsys.readouterr().out
    assert re.search(r"00_overview.py, markdown cell 3 of \d+ \(cell 3 of the notebook\), "
                     r"“### The same data, two models”: the English changed", out), out
    assert "+generative one can sample new points." in out


def _cells(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for c in cells:
        c["source"] = "".join(c["source"])
    return cells


def same_code(en_cells, zh_cells) -> list[str]:
    """Differences between two notebooks other than markdown text: cell types, code, cell metadata."""
    if len(en_cells) != len(zh_cells):
        return [f"{len(en_cells)} cells vs {len(zh_cells)}"]
    out = []
    for k, (e, z) in enumerate(zip(en_cells, zh_cells), 1):
        if e["cell_type"] != z["cell_type"] or e.get("metadata") != z.get("metadata"):
            out.append(f"cell {k}: type or metadata differ")
        elif e["cell_type"] == "code" and e["source"] != z["source"]:
            out.append(f"cell {k}: code differs")
    return out


ZH_NOTEBOOKS = sorted((NOTEBOOKS / "zh").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("zh", ZH_NOTEBOOKS, ids=lambda p: p.stem)
def test_the_chinese_notebooks_code_is_the_english_notebooks_code(b, zh):
    en_cells, zh_cells = _cells(NOTEBOOKS / zh.name), _cells(zh)
    assert same_code(en_cells, zh_cells) == []
    tampered = json.loads(json.dumps(zh_cells))  # control: one character of one code cell
    k = next(i for i, c in enumerate(tampered) if c["cell_type"] == "code")
    tampered[k]["source"] = tampered[k]["source"].replace("=", "==", 1)
    assert same_code(en_cells, tampered) == [f"cell {k + 1}: code differs"]


@pytest.mark.parametrize("zh", ZH_NOTEBOOKS, ids=lambda p: p.stem)
def test_a_chinese_notebook_has_no_english_prose(b, zh):
    listed, _ = b.untranslated_list(NOTEBOOKS)
    if zh.stem in listed:
        pytest.skip(f"{zh.stem} is on the not-yet-translated list")
    md = ["".join(c["source"]) for c in _cells(zh) if c["cell_type"] == "markdown"]
    assert [run for cell in md for run in b.english_prose(cell)] == []
    assert all(re.search(r"[\u4e00-\u9fff]", cell) for cell in md)
    en_md = ["".join(c["source"]) for c in _cells(NOTEBOOKS / zh.name) if c["cell_type"] == "markdown"]
    assert sum(len(b.english_prose(cell)) for cell in en_md) > 10  # control: the English notebook fails it


def test_the_repository_passes_the_chinese_lint(b, capsys):
    sources = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
    rc = b.check_all(sources, b._notebook_from)  # the English notebooks as nbtools builds them
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "not yet translated, allowed by notebooks/zh/untranslated.txt" in out
    assert "Chinese notebooks: 1 translated (00_overview)" in out or "00_overview" in out.split("translated (")[1]


def test_english_prose_detector(b):
    assert b.english_prose("这是中文，带一个名字 scikit-learn 和公式 $p(x \\mid y)$。") == []
    assert b.english_prose("变分推断（variational inference，VI）很常用。") == []
    assert b.english_prose("引用《Denoising Diffusion Probabilistic Models》这篇论文。") == []
    assert b.english_prose("这里还有 an English sentence left over。") == ["an English sentence left over"]


def test_soft_line_breaks_in_chinese_paragraphs(b):
    """A line break inside a Chinese paragraph renders as a space (“几乎一致。 接下来”): one line per paragraph."""
    assert b.soft_breaks("两个分类器几乎一致。\n接下来看采样。") == ["…两个分类器几乎一致。⏎接下来看采样。…"]
    assert b.soft_breaks("两个分类器几乎一致。接下来看采样。\n\n下一段。") == []
    assert b.soft_breaks("列表：\n1. 第一项\n2. 第二项\n| a | b |\n|---|---|") == []
    assert b.soft_breaks("English lines\nbreak freely.") == []
    # a $$ block closed at the end of a content line ends the block: the breaks after it are still found
    # (they went unseen when only a line starting with $$ could close it); the text after display math is not
    # a break
    assert b.soft_breaks("公式：\n$$a = b\n+ c.$$\n第一句。\n第二句。") == ["…第一句。⏎第二句。…"]
    assert b.soft_breaks("公式：\n$$a = b$$\n接着说。") == []
    # a display block closed at the end of its last line ("… x.$$") ends the block: the paragraph after it is
    # checked (it was taken for more display math, so its breaks went unreported)
    assert b.soft_breaks("推导：\n$$a = b\n  + c.$$\n于是\n得到。") == ["…于是⏎得到。…"]
    assert b.soft_breaks("$$a = b$$\n于是得到。") == []  # the break beside a display block is no soft break
