"""Notebook chores for the Makefile: build, check sync/outputs, execute into build/, render slides.

    python tools/nbtools.py build notebooks/*.py       # .py -> .ipynb, no outputs, stable cell ids
    python tools/nbtools.py check notebooks/*.py       # .ipynb in sync with .py, no outputs
    python tools/nbtools.py execute notebooks/*.ipynb  # -> build/executed/*.ipynb + .html
    python tools/nbtools.py slides notebooks/*.ipynb   # -> build/slides/*.slides.html
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_utils.paths import build_dir  # noqa: E402


def _notebook_from(py: Path):
    """The notebook jupytext makes of a .py source, with cell ids derived from the cells' content.

    jupytext gives new random ids on every conversion; ids from a hash of each cell keep the
    committed .ipynb diffs to the cells that really changed.
    """
    import hashlib

    import jupytext

    nb = jupytext.read(py)
    seen: dict[str, int] = {}
    for cell in nb.cells:
        digest = hashlib.sha1(f"{cell.cell_type}\n{cell.source}".encode()).hexdigest()[:10]
        seen[digest] = seen.get(digest, 0) + 1
        cell["id"] = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"
    return nb


def build(sources: list[Path]) -> int:
    """Write each .py source's .ipynb (no outputs, stable ids); only files whose content changes."""
    import jupytext

    for py in sources:
        text = jupytext.writes(_notebook_from(py), fmt="ipynb")
        target = py.with_suffix(".ipynb")
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            print(f"{py} -> {target}")
    return 0


def check(sources: list[Path]) -> int:
    """Every .py has an .ipynb equal to what jupytext makes of it, with no outputs."""
    import jupytext

    problems = []
    for py in sources:
        ipynb = py.with_suffix(".ipynb")
        if not ipynb.exists():
            problems.append(f"{ipynb} is missing: run `make notebooks`")
            continue
        committed = json.loads(ipynb.read_text(encoding="utf-8"))
        if any(c.get("outputs") or c.get("execution_count") for c in committed["cells"]):
            problems.append(f"{ipynb} has outputs: run `make notebooks` to regenerate it clean")
        expected = json.loads(jupytext.writes(_notebook_from(py), fmt="ipynb"))
        strip = lambda nb: [(c["cell_type"], c["source"], c.get("metadata", {}), c.get("id")) for c in nb["cells"]]  # noqa: E731
        if strip(committed) != strip(expected):
            problems.append(f"{ipynb} is out of sync with {py}: run `make notebooks`")
    for p in problems:
        print(p)
    print(f"checked {len(sources)} notebooks: {'OK' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


def execute(notebooks: list[Path]) -> int:
    """Execute each notebook in order into build/executed/ and render HTML beside it."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import CellExecutionError, ExecutePreprocessor

    out = build_dir() / "executed"
    out.mkdir(parents=True, exist_ok=True)
    failed = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        start = time.time()
        ep = ExecutePreprocessor(timeout=None, kernel_name="python3")
        try:
            ep.preprocess(nb, {"metadata": {"path": str(path.parent)}})
            status = "ok"
        except CellExecutionError as err:
            status = "FAILED"
            failed.append(path.name)
            print(str(err)[-2000:], file=sys.stderr)
        nbformat.write(nb, out / path.name)
        html, _ = HTMLExporter().from_notebook_node(nb)
        (out / path.with_suffix(".html").name).write_text(html, encoding="utf-8")
        print(f"{path.name}: {status} in {time.time() - start:.0f} s -> {out / path.stem}.html")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def slides(notebooks: list[Path]) -> int:
    """Render each notebook as reveal.js slides (from its slide metadata) into build/slides/."""
    import nbformat
    from nbconvert import SlidesExporter

    out = build_dir() / "slides"
    out.mkdir(parents=True, exist_ok=True)
    executed = build_dir() / "executed"
    for path in notebooks:
        # prefer the executed copy (with figures) when `make course` has made one
        src = executed / path.name if (executed / path.name).exists() else path
        nb = nbformat.read(src, as_version=4)
        exporter = SlidesExporter()
        exporter.reveal_scroll = True
        html, _ = exporter.from_notebook_node(nb)
        target = out / f"{path.stem}.slides.html"
        target.write_text(html, encoding="utf-8")
        print(f"{src} -> {target}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("command", choices=["build", "check", "execute", "slides"])
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args()
    return {"build": build, "check": check, "execute": execute, "slides": slides}[args.command](args.paths)


if __name__ == "__main__":
    sys.exit(main())
