"""Chinese on figures renders with the CJK font pip installs (Noto Sans SC), never as empty boxes.

The machine may also have system CJK fonts (Debian's fonts-noto-cjk: "Noto Sans CJK SC"); a student's
laptop may not. These checks name the pip font's family and file, so a system font cannot pass them.
"""

import warnings

import matplotlib
import numpy as np
import pytest
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from course_utils import plotting  # noqa: F401  (importing it registers the font)
from course_utils.i18n import fonts

TEXT = "生成模型与判别模型：扩散模型的正向过程"


def _render(text: str, **font) -> np.ndarray:
    """The pixels of ``text`` drawn alone on a small Agg canvas (warnings, e.g. a missing glyph, raise)."""
    fig = Figure(figsize=(4.5, 0.6), dpi=100)
    FigureCanvasAgg(fig)
    fig.text(0.02, 0.3, text, fontsize=14, **font)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., 0].copy()


def test_the_pip_font_is_noto_sans_sc_as_published():
    path = fonts.cjk_font_path()
    assert path.name == "NotoSansSC-Regular.otf" and "site-packages" in str(path)
    assert fonts.font_sha256() == fonts.FONT_SHA256  # noto-cjk Sans/SubsetOTF/SC, version 2.004
    assert font_manager.FontProperties(fname=str(path)).get_name() == "Noto Sans SC"


def test_matplotlib_resolves_the_family_to_the_pip_file():
    fonts.use_cjk_font("zh")
    found = font_manager.findfont(font_manager.FontProperties(family="Noto Sans SC"), fallback_to_default=False)
    assert str(found) == str(fonts.cjk_font_path())
    assert list(matplotlib.rcParams["font.family"]) == ["Noto Sans SC", "sans-serif"]
    fonts.use_cjk_font("en")
    assert list(matplotlib.rcParams["font.family"]) == ["sans-serif", "Noto Sans SC"]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_chinese_glyphs_come_from_the_pip_font(language):
    fonts.use_cjk_font(language)
    drawn = _render(TEXT)  # the course's settings, no font named
    reference = _render(TEXT, fontproperties=font_manager.FontProperties(fname=str(fonts.cjk_font_path())))
    assert (drawn < 128).sum() > 500, "nothing was drawn"
    assert np.array_equal(drawn, reference), "the Chinese was drawn with another font than the pip one"


def test_control_without_the_font_chinese_becomes_boxes():
    fonts.use_cjk_font("zh")
    reference = _render(TEXT)
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        with pytest.raises(UserWarning, match="missing from font"):
            _render(TEXT)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fig = Figure(figsize=(4.5, 0.6), dpi=100)
            FigureCanvasAgg(fig)
            fig.text(0.02, 0.3, TEXT, fontsize=14)
            fig.canvas.draw()
            boxes = np.asarray(fig.canvas.buffer_rgba())[..., 0]
    assert not np.array_equal(boxes, reference)


def _label_figure() -> Figure:
    fig = Figure(figsize=(5, 3), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot([0, 1], [1, 0], label="数据，y=0")
    ax.set(title=r"正向过程：$x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon$",
           xlabel="时间步 t", ylabel="方差 $\\sigma^2$")
    ax.legend()
    return fig


def test_a_chinese_label_with_math_renders_and_saves_as_png_pdf_svg(tmp_path, caplog):
    """mathtext draws the words around $...$ in the first family only: Noto first in Chinese makes it work.
    (mathtext reports a missing glyph through logging, not as a warning.)"""
    fonts.use_cjk_font("zh")
    fig = _label_figure()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fmt in ("png", "pdf", "svg"):
            fig.savefig(tmp_path / f"label.{fmt}")
    assert not [r for r in caplog.records if "glyph" in r.getMessage()]
    assert (tmp_path / "label.pdf").stat().st_size > 1000
    fonts.use_cjk_font("en")  # control: DejaVu first, Noto Sans SC only as a fallback
    _label_figure().savefig(tmp_path / "control.png")
    missing = {r.getMessage() for r in caplog.records if "does not have a glyph" in r.getMessage()}
    assert any("U+65b9" in m for m in missing), missing  # 方 of 方差 $\sigma^2$: a box
