"""A CJK font that pip installs, registered with matplotlib: Chinese labels never render as empty boxes.

The font is Noto Sans SC 2.004 (noto-cjk's SubsetOTF/SC, SIL OFL 1.1, 8.3 MB), shipped by the
data-only package ``pylopdf-fonts-zh-cn`` (pinned in requirements.txt). No system font is needed.

- English (``lang() == "en"``): ``font.family = ["sans-serif", "Noto Sans SC"]``: matplotlib's usual
  DejaVu Sans draws the text and Noto Sans SC only the glyphs DejaVu lacks (a Chinese word in an
  English figure still renders), so English figures look as they always did.
- Chinese: ``font.family = ["Noto Sans SC", "sans-serif"]``: Noto Sans SC first. matplotlib's mathtext
  (a label with ``$...$``) draws the words around the math in the *first* family only, without
  fallback: with DejaVu first, "方差 $\\sigma^2$" would show boxes.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import resources
from pathlib import Path

#: The pip package that ships the font, the file in it, the family name matplotlib reads from it.
FONT_PACKAGE = "pylopdf_fonts_zh_cn"
FONT_FILE = "NotoSansSC-Regular.otf"
FONT_FAMILY = "Noto Sans SC"
#: sha256 of noto-cjk's Sans/SubsetOTF/SC/NotoSansSC-Regular.otf (version 2.004), as the package states.
FONT_SHA256 = "faa6c9df652116dde789d351359f3d7e5d2285a2b2a1f04a2d7244df706d5ea9"


@functools.lru_cache(maxsize=1)
def cjk_font_path() -> Path:
    """The installed Noto Sans SC file; a clear error naming the package when it is missing."""
    try:
        path = Path(str(resources.files(FONT_PACKAGE) / FONT_FILE)).resolve()
    except ModuleNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise FileNotFoundError(f"the CJK font {FONT_FILE} is not installed: it ships in the pip package "
                                f"pylopdf-fonts-zh-cn (run `make setup`, or `pip install -r requirements.txt`)")
    return path


def font_sha256() -> str:
    """sha256 of the installed font file (tests compare it with the upstream file's)."""
    return hashlib.sha256(cjk_font_path().read_bytes()).hexdigest()


@functools.lru_cache(maxsize=1)
def _register() -> None:
    from matplotlib import font_manager

    if not any(Path(f.fname) == cjk_font_path() for f in font_manager.fontManager.ttflist):
        font_manager.fontManager.addfont(str(cjk_font_path()))


def families(language: str) -> list[str]:
    """matplotlib's ``font.family`` for a language: Noto Sans SC first for zh, as a fallback for en."""
    return [FONT_FAMILY, "sans-serif"] if language == "zh" else ["sans-serif", FONT_FAMILY]


def use_cjk_font(language: str | None = None) -> str:
    """Register Noto Sans SC with matplotlib and set ``font.family`` for ``language`` (default: the
    current one); idempotent and cheap after the first call. Returns the font's family name."""
    import matplotlib as mpl

    if language is None:
        from . import lang

        language = lang()
    _register()
    wanted = families(language)
    if list(mpl.rcParams["font.family"]) != wanted:
        mpl.rcParams["font.family"] = wanted
    return FONT_FAMILY
