"""The Chinese notebooks: one source per notebook, two notebooks out, and a check that they cannot drift.

    python tools/i18n_build.py sync notebooks/NN_topic.py           # record the English of each markdown
                                                                     # cell in notebooks/zh/NN_topic.zh.md
    python tools/i18n_build.py sync --start notebooks/NN_topic.py   # ... creating the catalogue (a new one)
    python tools/i18n_build.py check notebooks/*.py                 # what `make lint` checks (below)

The Chinese of ``notebooks/NN_topic.py`` lives in ``notebooks/zh/NN_topic.zh.md``, a catalogue with one
entry per markdown cell, in order. Each entry holds the English it translates (an HTML comment, hidden
when the file is rendered) under a marker with that English's hash, then the Chinese:

    <!-- en 3f2a9c1e0b7d -->
    <!-- English
    ## Discriminative and generative models (判别模型 & 生成模型)
    -->
    ## 判别模型与生成模型
    ...

``make notebooks`` (``nbtools.py build``, through :func:`build_all`) writes ``notebooks/zh/NN_topic.ipynb``
from the English notebook: code cells and every cell's metadata as they are, each markdown cell's text
replaced by its Chinese, notebook metadata ``course_lang: "zh"`` (course_utils.i18n reads it, so the
code's messages are Chinese). ``make lint`` (``nbtools.py check``, through :func:`check_all`) fails when an
English cell differs from the English its Chinese records (showing the change), when a cell has no
Chinese, when an entry's English is gone, when a Chinese text writes a term another way than the
glossary or lacks the English at a term's first use, when English prose is left in a Chinese notebook,
and when a Chinese notebook is out of date. Notebooks listed in notebooks/zh/untranslated.txt are
reported, not failed, until their translation is complete.

When the English changed, ``sync`` writes the new English into the entry and keeps the English the
Chinese was written from in an "English before" block; lint fails (showing the change) until the
translator has updated the Chinese and deleted that block.
"""

from __future__ import annotations

import argparse
import ast
import copy
import difflib
import hashlib
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_utils import i18n  # noqa: E402
from course_utils.i18n import glossary  # noqa: E402

ZH = "zh"
UNTRANSLATED = "untranslated.txt"
RECORD = "course_build"  # the key nbtools.py records a generated notebook's cells under
_MARKER = re.compile(r"^<!-- en ([0-9a-f]{12})\b.*-->\s*$")
_OPEN_EN, _OPEN_BEFORE, _CLOSE = "<!-- English", "<!-- English before", "-->"


def en_hash(text: str) -> str:
    """The short hash an entry records of the English it translates."""
    return hashlib.sha256(text.strip().encode()).hexdigest()[:12]


def zh_dir(py: Path) -> Path:
    return py.parent / ZH


def catalogue_path(py: Path) -> Path:
    return zh_dir(py) / f"{py.stem}.zh.md"


def zh_notebook_path(py: Path) -> Path:
    return zh_dir(py) / f"{py.stem}.ipynb"


# --------------------------------------------------------------------------- the catalogue file


@dataclass
class Entry:
    """One markdown cell's Chinese, with the English it translates (and, when stale, the English before)."""

    en: str
    zh: str = ""
    before: str | None = None  # set by sync when the English changed: the English the Chinese was written from
    line: int = 0              # where the entry starts in the file (for messages)


@dataclass
class Catalogue:
    header: str
    entries: list[Entry] = field(default_factory=list)


def _header(py: Path) -> str:
    return (f"<!-- {py.stem}: the Chinese (中文) of each markdown cell of notebooks/{py.name}, in order.\n"
            "Write the Chinese under each English block (the English is hidden when this file is rendered).\n"
            f"`make notebooks` builds notebooks/zh/{py.stem}.ipynb from it; `make lint` checks it; `make "
            "translations` records a changed English here. How: CONTRIBUTING.md, \"Translating a notebook\". -->")


def parse(text: str, name: str = "catalogue") -> Catalogue:
    """Read a catalogue; a malformed one is a ValueError naming the line."""
    lines = text.split("\n")
    i, header, entries = 0, [], []
    while i < len(lines) and not _MARKER.match(lines[i]):
        header.append(lines[i])
        i += 1
    while i < len(lines):
        marker = _MARKER.match(lines[i])
        start, recorded = i + 1, marker.group(1)
        i += 1
        blocks: dict[str, str] = {}
        while i < len(lines):
            stripped = lines[i].strip()
            if not stripped:
                i += 1
                continue
            kind = "before" if stripped == _OPEN_BEFORE else "en" if stripped == _OPEN_EN else None
            if kind is None:
                break
            if kind in blocks or (kind == "before" and "en" in blocks):
                raise ValueError(f"{name}:{i + 1}: a second '{stripped}' block in the entry of line {start}")
            j = i + 1
            while j < len(lines) and lines[j].strip() != _CLOSE:
                if _MARKER.match(lines[j]):
                    break
                j += 1
            if j == len(lines) or lines[j].strip() != _CLOSE:
                raise ValueError(f"{name}:{i + 1}: the '{stripped}' block is not closed by a line '-->'")
            blocks[kind] = "\n".join(lines[i + 1: j])
            i = j + 1
        if "en" not in blocks:
            raise ValueError(f"{name}:{start}: the entry has no '<!-- English' block (the English it translates)")
        if en_hash(blocks["en"]) != recorded:
            raise ValueError(f"{name}:{start}: the English block was edited by hand (it hashes to "
                             f"{en_hash(blocks['en'])}, the marker records {recorded}); it must stay the English "
                             "the Chinese translates: restore it, or run `make translations` to record the "
                             "notebook's current English there")
        body = []
        while i < len(lines) and not _MARKER.match(lines[i]):
            body.append(lines[i])
            i += 1
        entries.append(Entry(blocks["en"].strip("\n"), "\n".join(body).strip(), blocks.get("before"), start))
    return Catalogue("\n".join(header).strip(), entries)


def _block(opening: str, text: str) -> str:
    if any(ln.strip() == _CLOSE for ln in text.split("\n")) or _MARKER.match(text.split("\n")[0] or ""):
        raise ValueError(f"this English cannot be stored in a catalogue (a line is '-->'): {text[:80]!r}")
    return f"{opening}\n{text}\n{_CLOSE}"


def format_catalogue(cat: Catalogue) -> str:
    """The catalogue as text (parse(format_catalogue(c)) gives c back)."""
    parts = [cat.header]
    for e in cat.entries:
        flag = " · STALE: update the Chinese below, then delete the 'English before' block" if e.before else ""
        entry = [f"<!-- en {en_hash(e.en)}{flag} -->"]
        if e.before is not None:
            entry.append(_block(_OPEN_BEFORE, e.before))
        entry.append(_block(_OPEN_EN, e.en))
        if e.zh:
            entry.append(e.zh)
        parts.append("\n".join(entry))
    return "\n\n".join(parts) + "\n"


# --------------------------------------------------------------------------- matching cells and entries


def match(cells: list[str], entries: list[Entry]) -> tuple[list[Entry | None], list[Entry]]:
    """Pair each English markdown cell with its entry: the same English first, then by position.

    A cell whose English changed pairs with the unmatched entry between its neighbours' entries, so that
    an edited cell is reported as changed (with the change), not as one cell missing and another extra.
    Returns (the entry of each cell or None, the entries no cell has).
    """
    used: set[int] = set()
    paired: list[int | None] = []
    for text in cells:
        h = en_hash(text)
        k = next((k for k, e in enumerate(entries) if k not in used and en_hash(e.en) == h), None)
        if k is not None:
            used.add(k)
        paired.append(k)
    for c, k in enumerate(paired):
        if k is not None:
            continue
        lo = max((p for p in paired[:c] if p is not None), default=-1)
        hi = min((p for p in paired[c + 1:] if p is not None), default=len(entries))
        k = next((k for k in range(lo + 1, hi) if k not in used), None)
        if k is not None:
            used.add(k)
            paired[c] = k
    return ([None if k is None else entries[k] for k in paired],
            [e for k, e in enumerate(entries) if k not in used])


def _markdown_cells(nb) -> list[tuple[int, str]]:
    """(position in the notebook, English source) of each markdown cell."""
    return [(n, cell.source) for n, cell in enumerate(nb.cells) if cell.cell_type == "markdown"]


def _read_catalogue(py: Path) -> Catalogue | None:
    path = catalogue_path(py)
    if not path.exists():
        return None
    return parse(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path))


def _diff(old: str, new: str) -> str:
    lines = difflib.unified_diff(old.split("\n"), new.split("\n"), "English the Chinese translates",
                                 "English now", lineterm="", n=1)
    return "\n".join("      " + ln for ln in lines)


def drift(py: Path, nb, cat: Catalogue) -> tuple[list[str], int]:
    """The problems of a catalogue against its notebook's English, and how many cells are translated."""
    md = _markdown_cells(nb)
    found, orphans = match([src for _, src in md], cat.entries)
    problems, done = [], 0
    for k, ((pos, src), entry) in enumerate(zip(md, found), 1):
        first = src.strip().split("\n")[0][:70]
        where = f"{py.name}, markdown cell {k} of {len(md)} (cell {pos + 1} of the notebook), “{first}”"
        if entry is None or not entry.zh:
            problems.append(f"{where}: has no Chinese (write it in {catalogue_path(py).name}"
                            + ("; `make translations` adds the cell's entry)" if entry is None else ")"))
        elif entry.en.strip() != src.strip():
            problems.append(f"{where}: the English changed since its Chinese was written; update the Chinese "
                            f"(`make translations` records the new English). The change:\n"
                            + _diff(entry.before if entry.before is not None else entry.en, src))
        elif entry.before is not None:
            problems.append(f"{where}: marked STALE in {catalogue_path(py).name} (line {entry.line}): update the "
                            "Chinese, then delete its 'English before' block. The change:\n" + _diff(entry.before, src))
        else:
            done += 1
    for e in orphans:
        problems.append(f"{catalogue_path(py).name}, line {e.line}: an entry whose English is no longer in "
                        f"{py.name} (“{e.en.strip().split(chr(10))[0][:70]}”): delete it (`make translations` does)")
    return problems, done


def sync(py: Path, nb, start: bool = False) -> str:
    """Rewrite the catalogue in the notebook's cell order: new cells get an entry with the English and no
    Chinese, changed cells keep their Chinese and get the new English with the old as 'English before',
    entries of removed cells are dropped (and printed). Returns what it did."""
    cat = _read_catalogue(py)
    if cat is None:
        if not start:
            return f"{py.name}: no catalogue yet (start one with `make translations NB={py.stem[:2]}`)"
        cat = Catalogue(_header(py))
    md = [src for _, src in _markdown_cells(nb)]
    found, orphans = match(md, cat.entries)
    new, changed, added = [], 0, 0
    for src, entry in zip(md, found):
        if entry is None:
            new.append(Entry(src.strip("\n")))
            added += 1
        elif entry.en.strip() == src.strip():
            new.append(entry)
        elif not entry.zh:  # nothing translated yet: only the English to record
            new.append(Entry(src.strip("\n")))
        else:
            before = entry.before if entry.before is not None else entry.en
            new.append(Entry(src.strip("\n"), entry.zh, None if before.strip() == src.strip() else before))
            changed += 1
    for e in orphans:
        print(f"{py.name}: dropped the entry of a removed English cell (“{e.en.strip()[:60]}”), its Chinese was:\n"
              f"{e.zh}\n")
    path = catalogue_path(py)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = format_catalogue(Catalogue(cat.header or _header(py), new))
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return (f"{py.name} -> {path.name}: {len(md)} markdown cells, {added} new, {changed} changed (marked STALE), "
            f"{len(orphans)} dropped")


# --------------------------------------------------------------------------- building the Chinese notebook

UNTRANSLATED_NOTE = "> **（尚未翻译）**\n\n"


def _ids(cells) -> None:
    """Cell ids from the cells' content, as nbtools gives the English notebook's (code cells keep theirs)."""
    seen: dict[str, int] = {}
    for cell in cells:
        digest = hashlib.sha1(f"{cell.cell_type}\n{cell.source}".encode()).hexdigest()[:10]
        seen[digest] = seen.get(digest, 0) + 1
        cell["id"] = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"


def zh_notebook(py: Path, nb_en, cat: Catalogue):
    """The Chinese notebook: the English one with each markdown cell's text replaced by its Chinese."""
    nb = copy.deepcopy(nb_en)
    md_cells = [c for c in nb.cells if c.cell_type == "markdown"]
    found, _ = match([c.source for c in md_cells], cat.entries)
    for cell, entry in zip(md_cells, found):
        cell.source = entry.zh if entry is not None and entry.zh else UNTRANSLATED_NOTE + cell.source
    _ids(nb.cells)
    nb.metadata.pop("jupytext", None)  # not paired with a .py: JupyterLab must not write one beside it
    nb.metadata[i18n.METADATA_KEY] = "zh"
    nb.metadata.pop(RECORD, None)
    return nb


def cells_hash(nb) -> str:
    """The same hash as nbtools.cells_hash (each cell's type and source, in order)."""
    cells = [[c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"]]
             for c in nb["cells"]]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode()).hexdigest()


def _writes(py: Path, nb) -> str:
    import jupytext

    nb.metadata[RECORD] = {"source": f"{py.name} + zh/{catalogue_path(py).name}", "cells_sha256": cells_hash(nb)}
    return jupytext.writes(nb, fmt="ipynb")


def build_all(english: dict[Path, object], force: bool = False) -> int:
    """Write notebooks/zh/NN.ipynb for each English notebook that has a catalogue; never over edits made
    in a Chinese notebook (unless ``force``). Returns the number of notebooks left alone or failed."""
    refused = 0
    for py, nb_en in english.items():
        try:
            cat = _read_catalogue(py)
        except ValueError as err:
            print(f"{zh_notebook_path(py)} was NOT built: {err}")
            refused += 1
            continue
        if cat is None:
            continue
        target = zh_notebook_path(py)
        text = _writes(py, zh_notebook(py, nb_en, cat))
        if target.exists():
            old = target.read_text(encoding="utf-8")
            if old == text:
                continue
            try:
                nb_old = json.loads(old)
                edited = cells_hash(nb_old) not in (nb_old["metadata"].get(RECORD, {}).get("cells_sha256"),
                                                    json.loads(text)["metadata"][RECORD]["cells_sha256"])
            except (ValueError, KeyError, TypeError):
                edited = True
            if edited and not force:
                print(f"{target} was NOT regenerated: its cells were edited since `make notebooks` wrote it. The "
                      f"Chinese notebook is generated: write Chinese in {catalogue_path(py)} and code in {py}, "
                      "then `make notebooks`; `make notebooks FORCE=1` discards the edits")
                refused += 1
                continue
        target.write_text(text, encoding="utf-8")
        print(f"{py} + {catalogue_path(py).name} -> {target}")
    return refused


# --------------------------------------------------------------------------- what lint checks

_PROSE = re.compile(r"[A-Za-z][A-Za-z'’\-]*(?:[ \t]+[A-Za-z][A-Za-z'’\-]*){3,}")
_NOT_PROSE = re.compile(r"```.*?```|\$\$.*?\$\$|\$[^$\n]+\$|`[^`\n]+`|<[^>\n]*>|\]\([^)\n]*\)|https?://\S+"
                        r"|《[^》\n]*》|“[^”\n]*”|（[^（）\n]*）|\([^()\n]*\)", re.S)


def english_prose(markdown: str) -> list[str]:
    """Runs of four or more English words outside math, code, links, parentheses, quotes “…” and titles 《…》.

    Names (scikit-learn, MNIST) and the English of a term in parentheses are left; a sentence is not.
    """
    text = markdown
    for _ in range(3):  # parentheses inside parentheses
        text = _NOT_PROSE.sub(" ", text)
    return [m.group() for m in _PROSE.finditer(text)]


_CJK_EDGE = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
_BLOCK_START = re.compile(r"^\s*(?:[-*+] |\d+[.)] |\||#|>|\$\$|```|<)")


def soft_breaks(markdown: str) -> list[str]:
    """Line breaks inside a Chinese paragraph: Markdown renders each as a space (browsers keep it between
    Chinese characters), so a Chinese paragraph is one line. Returns the text around each break."""
    lines, found, fenced = markdown.split("\n"), [], False
    for a, b in zip(lines, lines[1:]):
        if a.strip().startswith("```") or a.count("$$") % 2:  # a fence, or a $$ block opened or closed
            fenced = not fenced                                   # (also "... x.$$" closing a content line)
        if fenced or not a.strip() or not b.strip() or a.endswith("  ") or _BLOCK_START.match(b):
            continue
        if a.rstrip().endswith("$$"):  # after display math the text starts a new line: no space is seen
            continue
        if a.lstrip().startswith(("|", "#")):
            continue
        if _CJK_EDGE.match(a.rstrip()[-1]) or _CJK_EDGE.match(b.lstrip()[0]):
            found.append(f"…{a.rstrip()[-12:]}⏎{b.lstrip()[:12]}…")
    return found


def untranslated_list(notebooks_dir: Path) -> tuple[list[str], Path]:
    path = notebooks_dir / ZH / UNTRANSLATED
    if not path.exists():
        return [], path
    names = [ln.split("#")[0].strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    return [n for n in names if n], path


def tr_strings(py: Path) -> list[tuple[int, str]]:
    """(line, text) of the Chinese argument of every ``tr(en, zh)`` call in a notebook's source."""
    found = []
    for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and len(node.args) == 2 and (
                getattr(node.func, "id", None) == "tr" or getattr(node.func, "attr", None) == "tr"):
            arg = node.args[1]
            parts = [arg] if isinstance(arg, ast.Constant) else getattr(arg, "values", [])
            text = "".join(p.value for p in parts if isinstance(p, ast.Constant) and isinstance(p.value, str))
            found.append((node.lineno, text))
    return found


def chinese_texts(sources: list[Path]) -> list[tuple[str, str]]:
    """(where, text) of every Chinese text the course shows: catalogues, tr() labels, messages, README."""
    texts = []
    for py in sources:
        try:
            cat = _read_catalogue(py)
        except ValueError:
            cat = None  # reported by the drift check
        for e in cat.entries if cat else []:
            texts.append((f"{catalogue_path(py).name}:{e.line}", e.zh))
        texts += [(f"{py.name}:{n} (tr)", s) for n, s in tr_strings(py)]
    texts += [(f"course_utils.i18n message {k}", v["zh"]) for k, v in i18n.messages().items()]
    readme = ROOT / "README.zh-CN.md"
    if readme.exists():
        texts.append((readme.name, readme.read_text(encoding="utf-8")))
    return texts


def check_all(sources: list[Path], notebook_from: Callable[[Path], object]) -> int:
    """Everything `make lint` checks about the Chinese notebooks (see the module's docstring); prints a
    summary every time, with the list of notebooks not yet translated. Returns 1 on a problem."""
    import jupytext

    problems, in_progress, done = [], [], []
    if not sources:
        return 0
    if not (sources[0].parent / ZH).is_dir():  # a folder of notebooks that has no translations at all
        print(f"{sources[0].parent} has no {ZH}/ folder: no Chinese notebooks to check")
        return 0
    listed, list_path = untranslated_list(sources[0].parent)
    stems = {py.stem for py in sources}
    for name in listed:
        if name not in stems:
            problems.append(f"{list_path}: {name} is not a notebook (the names are NN_topic, without .py)")
    for py in sources:
        nb_en = notebook_from(py)
        try:
            cat = _read_catalogue(py)
        except ValueError as err:
            problems.append(str(err))
            continue
        target = zh_notebook_path(py)
        if cat is None:
            if py.stem not in listed:
                problems.append(f"{py.name} has no Chinese ({catalogue_path(py)} is missing): start it with "
                                f"`make translations NB={py.stem[:2]}`, or add {py.stem} to {list_path}")
            if target.exists():
                problems.append(f"{target} has no catalogue {catalogue_path(py).name} to be built from: delete it")
            continue
        drifted, n_done = drift(py, nb_en, cat)
        n_cells = len(_markdown_cells(nb_en))
        if py.stem in listed:
            if drifted:
                in_progress.append(f"{py.stem} ({n_done}/{n_cells} cells)")
            else:
                problems.append(f"{py.stem} is fully translated: take it off {list_path}")
        else:
            problems += drifted
            zh_cells = [e.zh for e in cat.entries]
            problems += glossary.first_use_problems(zh_cells, catalogue_path(py).name)
            for e in cat.entries:
                for run in english_prose(e.zh):
                    problems.append(f"{catalogue_path(py).name}:{e.line}: English prose left in the Chinese: “{run}”")
                for brk in soft_breaks(e.zh):
                    problems.append(f"{catalogue_path(py).name}:{e.line}: a line break inside a Chinese paragraph "
                                    f"shows as a space ({brk}): write the paragraph on one line")
            done.append(py.stem)
        if not target.exists():
            problems.append(f"{target} is missing: run `make notebooks`")
            continue
        committed = json.loads(target.read_text(encoding="utf-8"))
        if any(c.get("outputs") or c.get("execution_count") for c in committed["cells"]):
            problems.append(f"{target} has outputs: run `make notebooks` to regenerate it clean")
        nb_en.metadata.pop("jupytext", None)
        expected = json.loads(jupytext.writes(zh_notebook(py, nb_en, cat), fmt="ipynb"))
        strip = lambda nb: [(c["cell_type"], c["source"], c.get("metadata", {}), c.get("id")) for c in nb["cells"]]  # noqa: E731
        if strip(committed) != strip(expected) or committed["metadata"].get(i18n.METADATA_KEY) != "zh":
            problems.append(f"{target} is out of sync with {py.name} and {catalogue_path(py).name}: "
                            "run `make notebooks`")
    for stray in sorted((sources[0].parent / ZH).glob("*.ipynb")):
        if stray.stem not in stems:
            problems.append(f"{stray} has no English source notebooks/{stray.stem}.py: delete it")
    problems += [str(w) for where, text in chinese_texts(sources) for w in glossary.wrong_terms(text, where)]
    for p in problems:
        print(p)
    not_started = [n for n in listed if n in stems and not catalogue_path(sources[0].parent / f"{n}.py").exists()]
    print(f"Chinese notebooks: {len(done)} translated ({', '.join(done) or 'none'}); not yet translated, allowed by "
          f"{list_path.relative_to(ROOT) if list_path.is_relative_to(ROOT) else list_path}: "
          f"{len(in_progress) + len(not_started)}"
          + (f"; in progress: {', '.join(in_progress)}" if in_progress else "")
          + (f"; not started: {', '.join(not_started)}" if not_started else ""))
    print(f"checked the Chinese of {len(sources)} notebooks: {'OK' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


def _notebook_from(py: Path):
    """The English notebook nbtools builds (imported here so that this module runs alone)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from nbtools import _notebook_from as english

    return english(py)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("command", choices=["sync", "check"])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--start", action="store_true", help="sync: create the catalogue where there is none")
    args = parser.parse_intermixed_args()
    if args.command == "check":
        return check_all(args.paths, _notebook_from)
    for py in args.paths:
        print(sync(py, _notebook_from(py), start=args.start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
