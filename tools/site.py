"""The course as one static site: the executed notebooks in lecture order (Sphinx + myst-nb), offline.

    python tools/site.py notebooks/[0-9][0-9]_*.ipynb     # -> build/site/index.html (make site)
    python tools/site.py --student notebooks/[0-9][0-9]_*.ipynb  # -> build/site-student/ (make site-student)

The student's site is made the same way from build/executed-student/ (`make course-student`: the
executed notebooks without their solution cells); the instructor's, build/site/, shows the solutions.

Each notebook's executed copy (build/executed/, from `make course`) becomes a page with its outputs
and figures; widgets show the state they had when the notebook ran (the local widget manager); the
contents page lists every notebook with its sections, in English and Chinese as the notebooks name
them; Sphinx adds previous/next links and a search page. MathJax, require.js and the widget manager
are local files (tools/webassets.py), so the site renders with no network, opened from disk.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(TOOLS))

import webassets  # noqa: E402

from course_utils.paths import build_dir  # noqa: E402

TITLE = "Generative models · 生成式模型"
HEADING = re.compile(r"^(#{1,2}|###(?= Exercise \d))\s+(.+?)\s*$", re.MULTILINE)  # exercises: their number


def headings(nb: dict) -> tuple[str, list[str]]:
    """(the notebook's title: its first # heading, its ## section headings) from its markdown cells."""
    title, sections = None, []
    for cell in nb["cells"]:
        if cell.get("cell_type") != "markdown":
            continue
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        src = re.sub(r"```.*?```", "", src, flags=re.DOTALL)  # no headings from code blocks
        for hashes, text in HEADING.findall(src):
            if len(hashes) == 1 and title is None:
                title = text
            elif len(hashes) >= 2:
                sections.append(text)
    return title or "", sections


def _md(text: str) -> str:
    """Heading text for a markdown table cell (a `|` would end the cell)."""
    return text.replace("|", "\\|")


def index_page(entries: list[tuple[str, str, list[str]]]) -> str:
    """The contents page: the lecture's parts in order, each with its sections, and the toctree."""
    rows = [f"| [{_md(title) or stem}]({stem}.ipynb) | {' · '.join(_md(s) for s in sections)} |"
            for stem, title, sections in entries]
    return "\n".join([
        f"# {TITLE}",
        "",
        "The notebooks of *Computer Simulation, Lecture 12: generative models* (计算机模拟 第12讲 生成式模拟),",
        "executed, in the order of the lecture: graphical models and inference, autoencoders and VAEs, GANs,",
        "diffusion. Every formula of the lecture is code; the outputs and figures are those of one run",
        "(`make course`). To run the notebooks yourself, open them in JupyterLab (`make lab`).",
        "",
        "## Contents (目录)",
        "",
        "| notebook | sections (章节) |",
        "|---|---|",
        *rows,
        "",
        "```{toctree}",
        ":maxdepth: 2",
        ":caption: Notebooks (笔记本)",
        ":hidden:",
        "",
        *(stem for stem, _, _ in entries),
        "```",
        "",
    ])


CONF = '''\
# Sphinx configuration written by tools/site.py (build/site-src is generated: edit tools/site.py)
project = {title!r}
author = "the course authors"
extensions = ["myst_nb"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
myst_update_mathjax = False        # its settings are for MathJax 3+ (they would hide every formula from MathJax 2)
nb_execution_mode = "off"          # the notebooks were executed by `make course`
nb_ipywidgets_js = {widgets!r}     # local require.js and widget manager, never a CDN
html_theme = "alabaster"
html_title = {title!r}
html_static_path = ["_static"]
html_sidebars = {{"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}}
html_theme_options = {{"description": "Lecture 12, as runnable notebooks", "fixed_sidebar": True,
                      "page_width": "1200px", "sidebar_width": "260px"}}
html_show_sourcelink = False
html_show_copyright = False
html_show_search_summary = False  # summaries fetch each page: a page opened from disk may not (CORS)
html_copy_source = False
exclude_patterns = ["_build"]
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]
# MathJax 2 from jupyter-server-mathjax (in _static/mathjax), with the STIX-Web fonts it ships
mathjax_path = {mathjax!r}
mathjax2_config = {{
    "HTML-CSS": {{"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web", "imageFont": None,
                 "styles": {{"@font-face": {{"font-family": "MathJax_Blank", "src": "local('MathJax_Blank')"}}}}}},
    "messageStyle": "none",
}}
'''


def build(notebooks: list[Path], out: Path | None = None, strict: bool = False, student: bool = False) -> int:
    """Write the Sphinx sources under build/site-src from the executed notebooks and build build/site.

    ``student``: from build/executed-student/ (no solution cells) into build/site-student/.
    """
    suffix = "-student" if student else ""
    executed = build_dir() / f"executed{suffix}"
    src = build_dir() / f"site-src{suffix}"
    out = out or build_dir() / f"site{suffix}"
    missing = [p.name for p in notebooks if not (executed / p.name).exists()]
    if missing:
        print(f"no executed copy in {executed} of: {', '.join(missing)}.\n"
              f"Run `make course{' course-student' if student else ''}` first (every notebook at your profile; "
              "`COURSE_PROFILE=smoke make course` takes about a minute).", file=sys.stderr)
        return 1
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    urls = webassets.stage(src, mathjax=False)  # require.js and the widget manager into _static/
    mathjax = src / "_static" / "mathjax"
    shutil.copytree(webassets.mathjax_dir(), mathjax)
    entries = []
    for path in notebooks:
        nb = json.loads((executed / path.name).read_text(encoding="utf-8"))
        shutil.copy2(executed / path.name, src / path.name)
        entries.append((path.stem, *headings(nb)))
    (src / "index.md").write_text(index_page(entries), encoding="utf-8")
    widgets = {url.removeprefix("_static/"): {} for url in (urls["require"], urls["widgets"])}  # Sphinx adds _static/
    (src / "conf.py").write_text(CONF.format(title=TITLE, widgets=widgets,
                                             mathjax=f"mathjax/MathJax.js?config={webassets.MATHJAX_CONFIG}"),
                                 encoding="utf-8")
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", "1", str(src), str(out)]
    if strict:
        command.append("-W")
    done = subprocess.run(command)
    if done.returncode == 0:
        print(f"site: {out / 'index.html'} ({len(notebooks)} notebooks)")
    return done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--strict", action="store_true", help="Sphinx warnings are errors")
    parser.add_argument("--student", action="store_true",
                        help="the students' site: build/executed-student/ (no solutions) -> build/site-student/")
    args = parser.parse_args()
    return build(args.notebooks, strict=args.strict, student=args.student)


if __name__ == "__main__":
    sys.exit(main())
