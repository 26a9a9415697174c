"""Words of a prompt in English, Chinese or both, for the course's small text encoders (13's CLIP).

English separates its words with spaces; Chinese does not ("一条深色的裤子" is four words: 一条 深色 的
裤子). With a known Chinese vocabulary, the classic way is **forward maximum matching** (正向最大匹配):
scanning left to right, take the longest vocabulary word that starts here. A prompt is read as

- a Chinese vocabulary word where one starts (the longest one; a word may hold Latin letters or digits,
  such as "T恤" or "数字3", and whitespace between its Chinese and Latin parts is allowed: "数字 3");
- else a run of other letters and digits (``[^\\W_]`` except Chinese characters): an English word,
  "café" or "ねこ" too;
- else a run of Chinese characters that begin no vocabulary word: one **unknown** word, kept and named
  (never dropped);
- spaces and punctuation separate words and are not words.

Maximum matching can split wrongly where a vocabulary word straddles two others (研究生命 → 研究生 命);
a vocabulary is checked by segmenting the texts it was made from (13 does this for every caption).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .glossary import term_pattern

#: Chinese (CJK unified ideographs, extension A, compatibility ideographs)
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
#: a letter or digit that is not Chinese (Latin, Greek, kana, …): the characters of a spaced word
_OTHER = r"[^\W_\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
_OTHER_RUN = re.compile(_OTHER + "+")


def is_chinese(word: str) -> bool:
    """Whether ``word`` holds a Chinese character (then it is matched by longest match, not by spaces)."""
    return CJK.search(word) is not None


class Segmenter:
    """Split texts into words: longest match over ``chinese`` (lower-cased), runs of other letters and digits.

    ``Segmenter(["一条", "深色", "的", "裤子"])("a dark 裤子，一条深色的裤子")``
    = ["a", "dark", "裤子", "一条", "深色", "的", "裤子"].
    """

    def __init__(self, chinese: Iterable[str] = ()) -> None:
        words = sorted({w.lower() for w in chinese}, key=lambda w: (-len(w), w))
        plain = [w for w in words if not is_chinese(w)]
        if plain:
            raise ValueError(f"chinese must hold words with a Chinese character; got {plain[:5]}")
        spaced = [w for w in words if re.search(r"\s", w)]
        if spaced:
            raise ValueError(f"a Chinese word has no spaces inside (they are allowed between its Chinese and Latin "
                             f"parts when matching); got {spaced[:5]}")
        self.chinese = tuple(words)
        # longest first: the alternation takes the first that matches; a word ending in a Latin letter or digit
        # must not end inside a Latin word ("数字3" is not the start of "数字35")
        alts = [term_pattern(w).pattern + (f"(?!{_OTHER})" if re.match(_OTHER, w[-1]) else "") for w in words]
        self._pattern = re.compile("|".join(alts)) if alts else None

    def __call__(self, text: str) -> list[str]:
        """The words of ``text`` (lower-cased), in order; unknown Chinese runs are words too."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        s, out, run, i = text.lower(), [], [], 0

        def flush() -> None:
            if run:
                out.append("".join(run))
                run.clear()

        while i < len(s):
            m = self._pattern.match(s, i) if self._pattern is not None else None
            if m is not None:
                flush()
                out.append(re.sub(r"\s+", "", m.group()))
                i = m.end()
            elif (m := _OTHER_RUN.match(s, i)) is not None:
                flush()
                out.append(m.group())
                i = m.end()
            elif CJK.match(s, i):
                run.append(s[i])  # begins no known word: part of an unknown Chinese word
                i += 1
            else:
                flush()  # a space or punctuation ends a word
                i += 1
        flush()
        return out
