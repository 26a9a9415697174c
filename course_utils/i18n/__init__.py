"""What the code shows a reader, in the notebook's language: one setting, no second copy of any code.

    from course_utils.i18n import t, tr
    print(t("quality.met", name=..., value=..., sign="≥", target=..., profile="cpu"))  # a catalogue message
    ax.set_title(tr("both give p(y=1 | x)", "两者都给出 p(y=1 | x)"))           # a notebook's own words

The language (:func:`lang`) is ``en`` or ``zh``, decided in this order:

1. ``COURSE_LANG`` (``en`` or ``zh``; ``zh-CN``/``zh_CN`` are accepted), when set;
2. the notebook the kernel runs, when the kernel knows it (JupyterLab's server passes its path as
   ``JPY_SESSION_NAME``): its metadata ``course_lang`` (``make notebooks`` writes ``"zh"`` into every
   Chinese notebook), so a Chinese notebook copied anywhere still speaks Chinese;
3. the kernel's working folder: nbval, nbclient (``make course``) and JupyterLab start the kernel in
   the notebook's folder; a folder whose notebooks are all Chinese by their metadata (notebooks/zh/,
   and any copy of it) is Chinese;
4. otherwise ``en``.

Messages of the shared modules live in catalogues (:mod:`course_utils.i18n.catalogue`, or a module's own,
added with :func:`register`), each key with its English and Chinese side by side; :func:`t` formats one.
A notebook's own labels use :func:`tr`, both texts in the one code cell. Both strings of a ``tr`` call
are built in every language (an f-string error shows in the English run too), and ``register`` refuses
a message whose two texts do not take the same fields.
"""

from __future__ import annotations

import functools
import json
import os
import string
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")

#: Notebook metadata key that names a notebook's language (written by ``make notebooks``).
METADATA_KEY = "course_lang"

_ALIASES = {"en": "en", "en-us": "en", "en_us": "en", "en-gb": "en", "zh": "zh", "zh-cn": "zh",
            "zh_cn": "zh", "zh-hans": "zh"}

_MESSAGES: dict[str, dict[str, str]] = {}


def _parse_lang(raw: str, where: str) -> Lang:
    code = _ALIASES.get(raw.strip().lower())
    if code is None:
        raise ValueError(f"{where}={raw!r} is not a course language: valid values are en, zh (zh-CN and zh_CN "
                         "are read as zh)")
    return code  # type: ignore[return-value]


@functools.lru_cache(maxsize=8)
def _notebook_lang(path: str, mtime_ns: int) -> Lang | None:
    """The ``course_lang`` in a notebook file's metadata (None when absent or unreadable)."""
    try:
        meta = json.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError, AttributeError):
        return None
    raw = meta.get(METADATA_KEY) if isinstance(meta, dict) else None
    return _parse_lang(raw, f"{path}: metadata {METADATA_KEY}") if isinstance(raw, str) else None


@functools.lru_cache(maxsize=16)
def _folder_lang(folder: str) -> Lang | None:
    """``zh`` when the folder holds notebooks and every one of them is Chinese by its metadata."""
    found = set()
    for path in Path(folder).glob("*.ipynb"):
        try:
            found.add(_notebook_lang(str(path), path.stat().st_mtime_ns) or "en")
        except OSError:
            continue
    return "zh" if found == {"zh"} else None


def lang() -> Lang:
    """The language of what the code shows: COURSE_LANG, else the notebook's metadata, else its folder's."""
    raw = os.environ.get("COURSE_LANG", "")
    if raw.strip():
        return _parse_lang(raw, "COURSE_LANG")
    session = os.environ.get("JPY_SESSION_NAME", "")
    if session.endswith(".ipynb"):
        try:
            return _notebook_lang(session, Path(session).stat().st_mtime_ns) or "en"
        except OSError:  # renamed or removed since the kernel started: ask the folder
            pass
    try:
        return _folder_lang(str(Path.cwd())) or "en"
    except OSError:  # the working folder was removed
        return "en"


def _fields(text: str) -> set[str]:
    """The names of the ``{fields}`` a format string takes."""
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(text) if name}


def register(messages: Mapping[str, Mapping[str, str]]) -> None:
    """Add messages ``{key: {"en": ..., "zh": ...}}`` to the catalogue used by :func:`t`.

    Each message needs both languages, taking the same ``{fields}``; a key registered before with other
    texts is refused (two modules would otherwise overwrite each other's words).
    """
    for key, texts in messages.items():
        missing = [code for code in LANGS if not str(texts.get(code, "")).strip()]
        if missing:
            raise ValueError(f"message {key!r} has no {' and no '.join(missing)} text: every message needs en and zh")
        extra = set(texts) - set(LANGS)
        if extra:
            raise ValueError(f"message {key!r} has texts for {sorted(extra)}: valid languages are {', '.join(LANGS)}")
        en, zh = _fields(texts["en"]), _fields(texts["zh"])
        if en != zh:
            raise ValueError(f"message {key!r}: the English takes fields {sorted(en)}, the Chinese {sorted(zh)}; "
                             "both must take the same")
        old = _MESSAGES.get(key)
        if old is not None and old != dict(texts):
            raise ValueError(f"message {key!r} is already registered with other texts")
        _MESSAGES[key] = {code: texts[code] for code in LANGS}


def messages() -> dict[str, dict[str, str]]:
    """A copy of every registered message (for tests and tools)."""
    return {key: dict(texts) for key, texts in _MESSAGES.items()}


def _fonts_follow() -> None:
    """Keep matplotlib's fonts in step with the language, where matplotlib is in use (never imports it)."""
    if "matplotlib" in sys.modules:
        from .fonts import use_cjk_font

        use_cjk_font()


def t(key: str, /, **fields: Any) -> str:
    """The message ``key`` in the current language, formatted with ``fields`` (str.format)."""
    texts = _MESSAGES.get(key)
    if texts is None:
        prefix = key.split(".")[0]
        near = sorted(k for k in _MESSAGES if k.startswith(prefix + "."))
        raise KeyError(f"no message {key!r} in the course's catalogues"
                       + (f" (keys under {prefix!r}: {', '.join(near)})" if near else ""))
    text = texts[lang()]
    _fonts_follow()
    try:
        return text.format(**fields)
    except KeyError as err:
        raise KeyError(f"message {key!r} needs the field {err.args[0]!r}: it takes {sorted(_fields(text))}") from None


def tr(en: str, zh: str) -> str:
    """``en`` or ``zh``, whichever is the current language: a notebook's own label, both texts in one cell."""
    if not isinstance(en, str) or not isinstance(zh, str):
        raise TypeError(f"tr(en, zh) takes two strings, got {type(en).__name__} and {type(zh).__name__}")
    _fonts_follow()
    return zh if lang() == "zh" else en


from .catalogue import MESSAGES as _SHARED  # noqa: E402  (the shared modules' messages)

register(_SHARED)
