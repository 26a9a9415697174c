"""course_utils.i18n: one setting (COURSE_LANG, a notebook's metadata, its folder) picks what code shows."""

import json

import pytest

from course_utils import data, i18n, plotting, quality, train
from course_utils.i18n import lang, register, t, tr
from course_utils.paths import ROOT


def _notebook(path, meta):
    path.write_text(json.dumps({"cells": [], "metadata": meta, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_t_and_tr_follow_course_lang(monkeypatch):
    fields = dict(name="acc", value=0.93, sign="≥", target=0.9, profile="cpu")
    assert lang() == "en"  # the tests' default (conftest clears COURSE_LANG)
    assert t("quality.met", **fields) == "[quality] acc = 0.93 ≥ 0.9 (cpu target) ✓"
    assert tr("density", "密度") == "density"
    monkeypatch.setenv("COURSE_LANG", "zh-CN")
    assert lang() == "zh"
    assert t("quality.met", **fields) == "[质量] acc = 0.93 ≥ 0.9（cpu 档目标）✓"
    assert tr("density", "密度") == "密度"


def test_a_wrong_language_names_the_valid_ones(monkeypatch):
    monkeypatch.setenv("COURSE_LANG", "fr")
    with pytest.raises(ValueError, match="COURSE_LANG='fr' is not a course language: valid values are en, zh"):
        lang()


def test_unknown_key_and_missing_field_say_what_is_wrong():
    with pytest.raises(KeyError, match="no message 'quality.nope'.*quality.met"):
        t("quality.nope")
    with pytest.raises(KeyError, match="needs the field 'profile'"):
        t("quality.no_target", name="x", value=1.0)


def test_language_from_the_notebook_metadata_and_from_the_folder(tmp_path, monkeypatch):
    zh_nb = _notebook(tmp_path / "zh_copy.ipynb", {"course_lang": "zh"})
    en_nb = _notebook(tmp_path / "en.ipynb", {})
    monkeypatch.setenv("JPY_SESSION_NAME", str(zh_nb))  # JupyterLab: a Chinese notebook copied anywhere
    assert lang() == "zh"
    monkeypatch.setenv("JPY_SESSION_NAME", str(en_nb))  # control: an English one in the same folder
    assert lang() == "en"
    monkeypatch.delenv("JPY_SESSION_NAME")
    folder = tmp_path / "only_zh"
    folder.mkdir()
    _notebook(folder / "a.ipynb", {"course_lang": "zh"})
    monkeypatch.chdir(folder)  # nbval / nbclient: the kernel starts in the notebook's folder
    assert lang() == "zh"
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    _notebook(mixed / "a.ipynb", {"course_lang": "zh"})
    _notebook(mixed / "b.ipynb", {})
    monkeypatch.chdir(mixed)  # control: a folder that also holds an English notebook is not Chinese
    assert lang() == "en"
    monkeypatch.chdir(ROOT / "notebooks" / "zh")  # the real folders
    assert lang() == "zh"
    monkeypatch.chdir(ROOT / "notebooks")
    assert lang() == "en"
    monkeypatch.setenv("COURSE_LANG", "en")  # the setting wins over the folder
    monkeypatch.chdir(ROOT / "notebooks" / "zh")
    assert lang() == "en"


def test_register_refuses_what_would_break_a_language(monkeypatch):
    monkeypatch.setattr(i18n, "_MESSAGES", dict(i18n.messages()))  # what this test registers goes away after it
    with pytest.raises(ValueError, match="the English takes fields \\['a'\\], the Chinese \\['b'\\]"):
        register({"test.fields": {"en": "{a} done", "zh": "{b} 完成"}})
    with pytest.raises(ValueError, match="has no zh text"):
        register({"test.half": {"en": "only English"}})
    with pytest.raises(ValueError, match="already registered with other texts"):
        fields = "{name}{value}{sign}{target}{profile}"
        register({"quality.met": {"en": fields, "zh": fields}})
    register({"test.ok": {"en": "{n} images", "zh": "{n} 张图像"}})  # the right shape is accepted
    assert i18n.messages()["test.ok"]["zh"] == "{n} 张图像"


def test_every_message_formats_in_both_languages_and_the_chinese_is_chinese(monkeypatch):
    import re
    import string

    cjk = re.compile(r"[\u4e00-\u9fff]")
    for key, texts in i18n.messages().items():
        names = {f for _, f, _, _ in string.Formatter().parse(texts["en"]) if f}
        for code in ("en", "zh"):
            monkeypatch.setenv("COURSE_LANG", code)
            shown = t(key, **{n: 1 for n in names})  # format specs (:.4g, :,) take a number
            assert "{" not in shown, (key, code, shown)
        assert cjk.search(texts["zh"]) or key.startswith("exercise.correct"), f"{key}: the Chinese text has no Chinese"
        assert not cjk.search(texts["en"].replace("（", "")), f"{key}: Chinese in the English text"
    assert not cjk.search("[quality] x (cpu target) ✓")  # control: the check sees an English text as English


def test_quality_lines_in_chinese(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_LANG", "zh")
    monkeypatch.setenv("COURSE_PROFILE", "cpu")
    assert quality.at_least(tr("accuracy", "准确率"), 0.93, cpu=0.90)
    assert capsys.readouterr().out.strip() == "[质量] 准确率 = 0.93 ≥ 0.9（cpu 档目标）✓"
    with pytest.raises(AssertionError, match="准确率 = 0.85，未达到 cpu 档的目标 ≥ 0.9"):
        quality.at_least(tr("accuracy", "准确率"), 0.85, cpu=0.90)
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    quality.at_least("准确率", 0.1, cpu=0.9)
    assert "（smoke 档没有目标）" in capsys.readouterr().out


def test_the_data_source_line_in_chinese_keeps_the_data_identity(monkeypatch, capsys):
    english = data.load("digits")
    line_en = capsys.readouterr().out.strip()
    assert line_en == ("[data] digits/train: 1,437 images 1×8×8 from "
                       "embedded: sklearn.datasets.load_digits (1,797 8x8 digits)")
    monkeypatch.setenv("COURSE_LANG", "zh")
    chinese = data.load("digits")
    assert capsys.readouterr().out.strip() == ("[数据] digits/train：1,437 张图像，1×8×8，来源："
                                               "内置：sklearn.datasets.load_digits（1,797 张 8x8 手写数字）")
    assert chinese.source == english.source  # checkpoint keys hash the source: no retraining per language
    assert data.shown_source("local: /d/faces (3 image files)") == "本地：/d/faces（3 个图像文件）"
    assert data.sources()["digits"] == "内置：scikit-learn（1,797 张 8x8 手写数字）"


def test_code_branches_on_the_source_record_not_on_its_shown_text(monkeypatch, isolated_dirs):
    """10 picks 32×32 for the embedded faces: in Chinese the shown text no longer starts with 'embedded'
    (the branch took 64×64 there), the record sources(shown=False) still does, in both languages."""
    monkeypatch.setenv("COURSE_LANG", "zh")
    assert not data.sources()["faces"].startswith("embedded")  # the text a reader sees
    assert data.sources(shown=False)["faces"] == "embedded: scikit-image LFW (100 faces)"
    faces = isolated_dirs / "data" / "faces"
    monkeypatch.setattr(data, "_has_images", lambda folder: folder == faces)  # a folder of faces, as 10 sees it
    assert data.sources(shown=False)["faces"] == f"local: {faces}"
    assert data.sources()["faces"] == f"本地：{faces}"
    monkeypatch.setenv("COURSE_LANG", "en")
    assert data.sources(shown=False)["faces"] == data.sources()["faces"] == f"local: {faces}"


def test_figures_in_chinese_save_beside_the_english_ones(monkeypatch, isolated_dirs):
    import matplotlib.pyplot as plt

    history = train.History()
    history.steps["loss"] = [3.0, 2.0, 1.0]
    monkeypatch.setenv("COURSE_LANG", "zh")
    fig = plotting.plot_history(history, labels={"loss": tr("loss", "损失")})
    assert (fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()) == ("训练步数", "数值")
    assert [x.get_text() for x in fig.axes[0].get_legend().get_texts()] == ["损失"]  # the legend too
    plotting.savefig(fig, "00_overview", "loss")
    monkeypatch.setenv("COURSE_LANG", "en")
    fig_en = plotting.plot_history(history, labels={"loss": tr("loss", "损失")})
    assert fig_en.axes[0].get_xlabel() == "training step"
    assert [x.get_text() for x in fig_en.axes[0].get_legend().get_texts()] == ["loss"]
    with pytest.raises(ValueError, match=r"labels names curves \['los'\] that are not plotted"):
        plotting.plot_history(history, labels={"los": "a typo"})  # a misspelt key would leave the English
    plotting.savefig(fig_en, "00_overview", "loss")
    folder = isolated_dirs / "build" / "artifacts" / "00_overview"
    assert sorted(p.name for p in folder.iterdir()) == ["loss.png", "loss.zh.png"]
    plt.close("all")
