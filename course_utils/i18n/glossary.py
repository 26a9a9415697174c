"""The course's 术语表 (glossary.tsv beside this file) and the two checks every Chinese text must pass.

- :func:`wrong_terms`: a term written another way than the glossary's (模式坍塌 for 模式崩溃), unless that
  spelling is part of a longer term of the glossary (生成器 inside 手写数字生成器) or stands in a quotation
  “…” (the lecture quoted word for word: 讲义作“隐Markov模型”);
- :func:`first_use_problems`: in a Chinese notebook, the first use of a term in running text (headings
  and quotations are left out) is followed by its English in parentheses, d2l-zh's convention:
  变分推断（variational inference）.

Terms match across the space a writer may or may not put between Chinese and Latin letters
(KL 散度 = KL散度).
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from pathlib import Path

GLOSSARY = Path(__file__).with_name("glossary.tsv")
FROM = ("lecture", "usual", "course")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Term:
    """One row of the glossary."""

    en: tuple[str, ...]    # the English term and its other forms (the first is the main one)
    zh: str                # the Chinese the course writes
    source: str            # lecture | usual | course
    wrong: tuple[str, ...]  # other spellings that fail the check
    paren: bool            # English in parentheses at the first use in each Chinese notebook
    note: str
    line: int              # line in glossary.tsv


def term_pattern(term: str) -> re.Pattern:
    """A regex for a Chinese term that allows (or not) whitespace between Chinese and Latin characters."""
    parts, prev, gap = [], None, False
    for ch in term:
        if ch.isspace():
            gap = True
            continue
        if prev is not None and (gap or (_CJK.match(ch) is None) != (_CJK.match(prev) is None)):
            parts.append(r"\s*")
        parts.append(re.escape(ch))
        prev, gap = ch, False
    return re.compile("".join(parts))


@functools.lru_cache(maxsize=4)
def load(path: Path = GLOSSARY) -> tuple[Term, ...]:
    """The glossary's terms; a malformed row is an error naming its line."""
    terms, seen = [], {}
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = [(n, ln) for n, ln in enumerate(lines, 1) if ln.strip() and not ln.startswith("#")]
    header = rows[0][1].split("\t")
    if header != ["en", "zh", "from", "wrong", "paren", "note"]:
        raise ValueError(f"{path}:{rows[0][0]}: the header must be en, zh, from, wrong, paren, note; got {header}")
    for n, ln in rows[1:]:
        cells = next(csv.reader([ln], delimiter="\t", quoting=csv.QUOTE_NONE))
        if not 5 <= len(cells) <= 6:
            raise ValueError(f"{path}:{n}: {len(cells)} columns, expected 5 or 6 (tab-separated)")
        en, zh, source, wrong, paren, *rest = (c.strip() for c in cells)
        if source not in FROM:
            raise ValueError(f"{path}:{n}: from={source!r}; valid values are {', '.join(FROM)}")
        if paren not in ("yes", "no"):
            raise ValueError(f"{path}:{n}: paren={paren!r}; valid values are yes, no")
        if not en or not _CJK.search(zh):
            raise ValueError(f"{path}:{n}: needs an English term and a Chinese one, got {en!r} / {zh!r}")
        if zh in seen:
            raise ValueError(f"{path}:{n}: {zh} is already the term of line {seen[zh]}")
        seen[zh] = n
        terms.append(Term(tuple(e.strip() for e in en.split("|") if e.strip()), zh, source,
                          tuple(w.strip() for w in wrong.split("|") if w.strip()), paren == "yes",
                          rest[0] if rest else "", n))
    return tuple(terms)


def _spans(text: str, terms: tuple[Term, ...]) -> list[tuple[int, int, str]]:
    """Every occurrence (start, end, zh) of every glossary term in ``text``."""
    return [(m.start(), m.end(), t.zh) for t in terms for m in term_pattern(t.zh).finditer(text)]


def _inside_longer(start: int, end: int, spans: list[tuple[int, int, str]]) -> bool:
    return any(s <= start and end <= e and e - s > end - start for s, e, _ in spans)


_QUOTE = re.compile(r"“[^”]*”|「[^」]*」")


@dataclass(frozen=True)
class WrongTerm:
    """A spelling the glossary rejects, where it was found."""

    found: str
    term: Term
    where: str
    context: str

    def __str__(self) -> str:
        return (f"{self.where}: 「{self.found}」 should be written 「{self.term.zh}」 ({self.term.en[0]}; "
                f"glossary.tsv line {self.term.line}): …{self.context}…")


def wrong_terms(text: str, where: str, terms: tuple[Term, ...] | None = None) -> list[WrongTerm]:
    """Each place in ``text`` that writes a glossary term another way (not inside a longer right term)."""
    terms = load() if terms is None else terms
    spans = _spans(text, terms)
    quoted = [m.span() for m in _QUOTE.finditer(text)]
    found, seen = [], set()
    for term in terms:
        for variant in term.wrong:
            for m in term_pattern(variant).finditer(text):
                if m.span() in seen or any(s <= m.start() and m.end() <= e for s, e in quoted):
                    continue
                if not _inside_longer(m.start(), m.end(), spans):
                    seen.add(m.span())
                    context = text[max(0, m.start() - 12): m.end() + 12].replace("\n", " ")
                    found.append(WrongTerm(m.group(), term, where, context))
    return found


_HEADING = re.compile(r"^\s{0,3}#")
_MATH_CODE = re.compile(r"```.*?```|\$\$.*?\$\$|\$[^$\n]+\$|`[^`\n]+`", re.S)
_PAREN_AFTER = re.compile(r"[\s*_]*[（(]([^（）()]*(?:[（(][^（）()]*[）)][^（）()]*)*)[）)]")


def _norm(s: str) -> str:
    return re.sub(r"[\s\-‐’'`]+", " ", s.lower()).strip()


def running_text(markdown: str) -> str:
    """The course's own prose: headings, math, code and quotations “…” blanked out (offsets kept)."""
    blank = _MATH_CODE.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), markdown)
    blank = _QUOTE.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), blank)
    return "\n".join(" " * len(ln) if _HEADING.match(ln) else ln for ln in blank.split("\n"))


def first_use_problems(cells: list[str], where: str, terms: tuple[Term, ...] | None = None) -> list[str]:
    """Terms whose first use in running text (cells in order) lacks its English in parentheses."""
    terms = load() if terms is None else terms
    text = "\n\n".join(running_text(c) for c in cells)
    spans = _spans(text, terms)
    problems = []
    for term in terms:
        if not term.paren:
            continue
        first = next((m for m in term_pattern(term.zh).finditer(text)
                      if not _inside_longer(m.start(), m.end(), spans)), None)
        if first is None:
            continue
        after = _PAREN_AFTER.match(text, first.end())
        inside = _norm(after.group(1)) if after else ""
        if not any(_norm(form) in inside for form in term.en):
            line = text[: first.start()].count("\n") + 1
            shown = text[max(0, first.start() - 10): first.end() + 16].replace("\n", " ").strip()
            problems.append(f"{where}: the first use of {term.zh} (running text, line {line} of the markdown: "
                            f"…{shown}…) needs its English in parentheses after it: "
                            f"{term.zh}（{term.en[0]}）")
    return problems
