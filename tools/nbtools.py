"""Notebook chores for the Makefile: build, check sync/outputs, execute into build/, render slides.

    python tools/nbtools.py build notebooks/*.py       # .py -> .ipynb, no outputs, stable cell ids;
                                                       # refuses to overwrite a notebook with edits
    python tools/nbtools.py build --force notebooks/*.py  # ... and discards such edits
    python tools/nbtools.py check notebooks/*.py       # .ipynb in sync with .py, no outputs
    python tools/nbtools.py execute notebooks/*.ipynb  # -> build/executed/*.ipynb + .html
    python tools/nbtools.py slides notebooks/*.ipynb   # -> build/slides/*.slides.html
    python tools/nbtools.py student notebooks/*.ipynb  # -> build/student/*.ipynb, solutions stubbed
    python tools/nbtools.py present notebooks/*.ipynb  # -> build/present/*.ipynb, copies to present from
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_utils.paths import atomic_write, build_dir  # noqa: E402

#: Notebook metadata key where `build` records what it generated (to tell a student's edits apart).
RECORD = "course_build"


def _notebook_from(py: Path):
    """The notebook jupytext makes of a .py source, with cell ids derived from the cells' content.

    jupytext gives new random ids on every conversion; ids from a hash of each cell keep the
    committed .ipynb diffs to the cells that really changed.
    """
    import jupytext

    nb = jupytext.read(py)
    seen: dict[str, int] = {}
    for cell in nb.cells:
        digest = hashlib.sha1(f"{cell.cell_type}\n{cell.source}".encode()).hexdigest()[:10]
        seen[digest] = seen.get(digest, 0) + 1
        cell["id"] = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"
    return nb


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def cells_hash(nb: dict) -> str:
    """sha256 of what a student writes in a notebook: each cell's type and source, in order.

    Outputs, execution counts, ids and metadata are left out: running a notebook or a JupyterLab
    save changes them, and regenerating loses no work there.
    """
    cells = [[c["cell_type"], _source(c)] for c in nb["cells"]]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode()).hexdigest()


def _as_committed(path: Path) -> bool:
    """True when git has ``path`` committed with exactly this content (lint keeps committed notebooks generated)."""
    try:
        done = subprocess.run(["git", "-C", str(path.parent), "show", f"HEAD:./{path.name}"],
                              capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and done.stdout == path.read_bytes()


def _edits(target: Path, generated_hash: str) -> tuple[bool, bool]:
    """(the notebook has edits that regenerating would lose, the .py changed since the record).

    Safe to overwrite: the same cells as the .py would give (nothing to lose: outputs or a paired
    JupyterLab save), or the cells it was generated with (only the .py changed), or, for a notebook
    written before the record existed, unchanged since the last commit.
    """
    try:
        nb = json.loads(target.read_text(encoding="utf-8"))
        current = cells_hash(nb)
    except (ValueError, KeyError, TypeError):  # not a notebook any more: whatever it holds is someone's
        return True, True
    recorded = nb.get("metadata", {}).get(RECORD, {}).get("cells_sha256")
    if current == generated_hash or current == recorded:
        return False, recorded != generated_hash
    if recorded is None and _as_committed(target):
        return False, True
    if _through_py_hash(nb) == generated_hash:  # the edits are in the .py already (written back by jupytext)
        return False, True
    return True, recorded != generated_hash


def _through_py_hash(nb: dict) -> str | None:
    """``cells_hash`` of a notebook after a round trip through py:percent, the form its edits take in the .py.

    jupytext drops what the text form cannot hold (a cell's trailing newline, for one); without this,
    a notebook whose edits were written back into its .py as the refusal says still differs from what
    the .py gives, and `make notebooks` refused it again and again.
    """
    import jupytext

    try:
        text = jupytext.writes(jupytext.reads(json.dumps(nb), fmt="ipynb"), fmt="py:percent")
        return cells_hash(jupytext.reads(text, fmt="py:percent"))
    except Exception:  # noqa: BLE001 - a notebook jupytext cannot read has edits of its own
        return None


def _refusal(py: Path, target: Path, py_changed: bool) -> str:
    exe = Path(sys.executable).with_name("jupytext")
    jupytext = shlex.quote(str(exe)) if exe.exists() else "jupytext"
    if py_changed:  # both sides changed: write the notebook beside the .py and merge by hand
        side = py.with_name(f"{py.stem}.from-ipynb.py")
        keep = (f"`{jupytext} --to py:percent --output {shlex.quote(str(side))} {shlex.quote(str(target))}`\n"
                f"                     writes the notebook (edits included) as {side.name}; {py.name} changed too, "
                "so merge the two by hand, then run `make notebooks` again")
    else:
        keep = (f"`{jupytext} --to py:percent --output {shlex.quote(str(py))} {shlex.quote(str(target))}`\n"
                f"                     writes the notebook (edits included) into its source {py.name}; then "
                "`make notebooks` regenerates it with them")
    return (f"{target} was NOT regenerated: it has edits that {py} does not have (its cells changed since "
            "`make notebooks` wrote it). Nothing was overwritten.\n"
            f"  keep the edits:    {keep}\n"
            f"  discard the edits: `make notebooks FORCE=1` (or `python tools/nbtools.py build --force {py}`)")


def _language_info(target: Path) -> dict:
    """The ``language_info`` a generated notebook carries: what JupyterLab writes when its kernel starts.

    Without it, JupyterLab adds it on open and marks every notebook changed (then autosave rewrites
    tracked files). The notebook's own is kept when it has one, so that building with another Python
    does not rewrite every notebook for a version number; a new notebook gets the kernel's (ipykernel's
    own ``language_info``, the very dict JupyterLab receives from this venv's kernel).
    """
    try:
        info = json.loads(target.read_text(encoding="utf-8")).get("metadata", {}).get("language_info")
    except (OSError, ValueError, AttributeError):
        info = None
    if isinstance(info, dict) and info.get("name") == "python":
        return info
    from ipykernel.ipkernel import IPythonKernel

    return json.loads(json.dumps(IPythonKernel.language_info))


def _not_newer_than(ipynb: Path, py: Path) -> None:
    """Give the notebook its source's modification time.

    JupyterLab's jupytext refuses to open a paired notebook whose .ipynb is newer than its .py
    ("... is more recent than ...py": the text might be outdated), so a notebook written after its
    source would not open at all; and make rebuilds a notebook older than its .py (the Makefile's
    stale-notebook rule), so an up-to-date one gets the same time, not an older one.
    """
    if ipynb.stat().st_mtime_ns != py.stat().st_mtime_ns:
        os.utime(ipynb, ns=(ipynb.stat().st_atime_ns, py.stat().st_mtime_ns))


def build(sources: list[Path], force: bool = False) -> int:
    """Write each .py source's .ipynb (no outputs, stable ids), never over a student's edits.

    A notebook is rewritten only when it is missing, has the cells its .py gives, or is unchanged
    since it was generated (a hash of its cells is recorded in its metadata); otherwise it is left
    alone with a message saying how to keep or discard the edits (``force=True`` discards them).
    Returns 1 when a notebook was left alone.
    """
    import jupytext

    refused = 0
    english = {}
    for py in sources:
        nb = _notebook_from(py)
        generated_hash = cells_hash(nb)
        nb.metadata[RECORD] = {"source": py.name, "cells_sha256": generated_hash}
        target = py.with_suffix(".ipynb")
        nb.metadata["language_info"] = _language_info(target)
        english[py] = nb
        text = jupytext.writes(nb, fmt="ipynb")
        if target.exists() and target.read_text(encoding="utf-8") == text:
            _not_newer_than(target, py)
            continue
        if target.exists() and not force:
            edited, py_changed = _edits(target, generated_hash)
            if edited:
                print(_refusal(py, target, py_changed))
                refused += 1
                continue
        atomic_write(target, text)
        _not_newer_than(target, py)
        print(f"{py} -> {target}")
    refused += _i18n().build_all(english, force=force)  # notebooks/zh/NN.ipynb where a translation exists
    if refused:
        print(f"{refused} notebook(s) left alone: see above", file=sys.stderr)
    return 1 if refused else 0


def check(sources: list[Path]) -> int:
    """Every .py has an .ipynb equal to what jupytext makes of it, with no outputs."""
    import jupytext

    problems, notes = [], []
    for py in sources:
        ipynb = py.with_suffix(".ipynb")
        if not ipynb.exists():
            problems.append(f"{ipynb} is missing: run `make notebooks`")
            continue
        try:
            committed = json.loads(ipynb.read_text(encoding="utf-8"))
            if not isinstance(committed, dict) or not isinstance(committed.get("cells"), list):
                raise ValueError("no list of cells")
        except (ValueError, UnicodeDecodeError) as err:
            problems.append(f"{ipynb} is not a readable notebook ({type(err).__name__}: {str(err)[:100]}; cut short "
                            "by a full disk or a crash?): run `make notebooks FORCE=1` to regenerate it from its .py")
            continue
        if "language_info" not in committed.get("metadata", {}):
            notes.append(ipynb.name)
        if any(c.get("outputs") or c.get("execution_count") for c in committed["cells"]):
            problems.append(f"{ipynb} has outputs: run `make notebooks` to regenerate it clean")
        expected = json.loads(jupytext.writes(_notebook_from(py), fmt="ipynb"))
        strip = lambda nb: [(c["cell_type"], c["source"], c.get("metadata", {}), c.get("id")) for c in nb["cells"]]  # noqa: E731
        if strip(committed) != strip(expected):
            problems.append(f"{ipynb} is out of sync with {py}: run `make notebooks`")
    for p in problems:
        print(p)
    zh_failed = _i18n().check_all(sources, _notebook_from)  # the Chinese notebooks: drift, glossary, sync
    if notes:  # a note, not a failure: regenerating is the fix, and it is not urgent
        print(f"note: {len(notes)} notebook(s) lack language_info, so JupyterLab marks them changed as soon as "
              f"they open ({', '.join(notes)}): run `make notebooks`")
    print(f"checked {len(sources)} notebooks: {'OK' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems or zh_failed else 0


def _i18n():
    """tools/i18n_build.py: the Chinese notebooks, built and checked beside the English ones."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import i18n_build

    return i18n_build


TEMPLATES = Path(__file__).resolve().parent / "templates"


def html_exporter(out_dir: Path, slides: bool = False):
    """An nbconvert exporter whose pages load everything from ``out_dir/_static`` (staged here): offline.

    reveal.js, require.js, MathJax and the widget manager are local copies (tools/webassets.py), images
    (outputs and markdown) are embedded, and the templates (tools/templates/) drop the CDN-only extras.
    """
    from nbconvert import HTMLExporter, SlidesExporter

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import webassets

    urls = webassets.stage(out_dir)
    cls, template = (SlidesExporter, "course_reveal") if slides else (HTMLExporter, "course_lab")
    exporter = cls(template_name=template, extra_template_basedirs=[str(TEMPLATES)],
                   extra_template_paths=[str(TEMPLATES)])  # the second for course_mathjax.html.j2
    exporter.require_js_url = urls["require"]
    exporter.mathjax_url = urls["mathjax"]
    exporter.widget_renderer_url = urls["widgets"]
    exporter.embed_images = True
    if slides:
        exporter.reveal_url_prefix = urls["reveal"]
        exporter.reveal_scroll = True
        exporter.reveal_theme = "white"  # nbconvert's default, "simple", imports fonts from Google
    return exporter


CELL_TIMEOUT_S = {"smoke": 600, "cpu": 3600, "full": 4 * 3600}  # per cell, when COURSE_CELL_TIMEOUT is not set


def cell_timeout() -> int:
    """Seconds one cell may run: $COURSE_CELL_TIMEOUT, else a bound per profile (``CELL_TIMEOUT_S``)."""
    from course_utils import profile

    raw = os.environ.get("COURSE_CELL_TIMEOUT", "").strip()
    if not raw:
        return CELL_TIMEOUT_S[profile.current()]
    if not raw.isdigit() or not 1 <= int(raw) <= 7 * 86400:
        raise ValueError(f"COURSE_CELL_TIMEOUT must be a whole number of seconds from 1 to {7 * 86400}, got {raw!r}")
    return int(raw)


def _first_line(cell) -> str:
    lines = [ln for ln in _source(cell).splitlines() if ln.strip()]
    return (lines[0][:80] if lines else "(empty)")


class CellTookTooLong(TimeoutError):
    """A cell ran past its timeout; the message names the notebook's cell (index and first line)."""


def patient(client_class):
    """An nbclient client class whose wait for a cell's reply polls in one-second slices, and whose
    timeout error names the cell.

    nbclient waits for each execute_reply with a single shell-channel ``get_msg(timeout=...)`` (forever
    with ``timeout=None``); on a loaded machine that wait sometimes never wakes although the kernel
    has replied and gone idle (jupyter/nbclient#312, with ipywidgets in the notebook). A short poll
    repeated until the same deadline sees the waiting reply on its next call.
    """
    from queue import Empty
    from time import monotonic

    from nbclient.exceptions import CellTimeoutError
    from nbclient.util import ensure_async, run_sync

    class Patient(client_class):
        async def async_start_new_kernel_client(self):
            kc = await super().async_start_new_kernel_client()
            get_msg = kc.shell_channel.get_msg

            async def sliced_get_msg(timeout=None, **kw):
                deadline = None if timeout is None else monotonic() + timeout
                while True:
                    left = 1.0 if deadline is None else max(0.0, min(1.0, deadline - monotonic()))
                    try:
                        return await ensure_async(get_msg(timeout=left, **kw))
                    except Empty:
                        if deadline is not None and monotonic() >= deadline:
                            raise

            kc.shell_channel.get_msg = sliced_get_msg
            return kc

        async def async_execute_cell(self, cell, cell_index, *args, **kwargs):
            try:
                return await super().async_execute_cell(cell, cell_index, *args, **kwargs)
            except CellTimeoutError as err:
                raise CellTookTooLong(f"cell {cell_index} ({_first_line(cell)!r}) did not finish within "
                                      f"{self.timeout} s (COURSE_CELL_TIMEOUT); it was stopped") from err

        # nbclient's synchronous names wrap its own coroutines (what nbconvert's ExecutePreprocessor calls)
        start_new_kernel_client = run_sync(async_start_new_kernel_client)
        execute_cell = run_sync(async_execute_cell)

    Patient.__name__ = Patient.__qualname__ = f"Patient{client_class.__name__}"
    return Patient


def patient_client(nb, **kwargs):
    """A ``patient`` nbclient NotebookClient for ``nb`` (tests execute notebooks with it)."""
    from nbclient import NotebookClient

    return patient(NotebookClient)(nb, **kwargs)


def execute(notebooks: list[Path]) -> int:
    """Execute each notebook in order into build/executed/ and render HTML beside it (offline pages).

    Widget state is stored in the executed notebook (nbclient's default), so the pages, slides and site
    show each widget with the output it had when the notebook ran. Each cell may run ``cell_timeout()``
    seconds; the wait for a cell's reply is ``patient`` (it never hangs on a missed reply). A notebook
    that fails, times out or loses its kernel is named, and the others still run.
    """
    import nbformat
    from nbclient.exceptions import DeadKernelError
    from nbconvert.preprocessors import CellExecutionError, ExecutePreprocessor

    out = build_dir() / "executed"
    out.mkdir(parents=True, exist_ok=True)
    exporter = html_exporter(out)
    timeout = cell_timeout()
    runner = patient(ExecutePreprocessor)
    failed = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        start = time.time()
        ep = runner(timeout=timeout, startup_timeout=300, kernel_name="python3", store_widget_state=True)
        try:
            ep.preprocess(nb, {"metadata": {"path": str(path.parent)}})
            status = "ok"
        except CellExecutionError as err:
            status = "FAILED"
            failed.append(path.name)
            print(str(err)[-2000:], file=sys.stderr)
        except (CellTookTooLong, DeadKernelError, RuntimeError) as err:  # RuntimeError: a kernel that never started
            status = "FAILED"
            failed.append(path.name)
            print(f"{path.name}: {type(err).__name__}: {err}", file=sys.stderr)
        atomic_write(out / path.name, nbformat.writes(nb))
        html, _ = exporter.from_notebook_node(nb)
        atomic_write(out / path.with_suffix(".html").name, html)
        print(f"{path.name}: {status} in {time.time() - start:.0f} s -> {out / path.stem}.html", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def slides(notebooks: list[Path]) -> int:
    """Render each notebook as reveal.js slides (from its slide metadata) into build/slides/, offline."""
    import nbformat

    out = build_dir() / "slides"
    out.mkdir(parents=True, exist_ok=True)
    executed = build_dir() / "executed"
    exporter = html_exporter(out, slides=True)
    for path in notebooks:
        # prefer the executed copy (with figures) when `make course` has made one
        src = executed / path.name if (executed / path.name).exists() else path
        nb = nbformat.read(src, as_version=4)
        html, _ = exporter.from_notebook_node(nb)
        target = out / f"{path.stem}.slides.html"
        atomic_write(target, html)
        print(f"{src} -> {target}")
    return 0


def student(notebooks: list[Path]) -> int:
    """Write each notebook's student version (solutions replaced by stubs, tools/student.py) to build/student/."""
    import nbformat

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from student import student_notebook

    out = build_dir() / "student"
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    for path in notebooks:
        nb, report = student_notebook(nbformat.read(path, as_version=4), path.name)
        nbformat.write(nb, out / path.name)
        total += report.solution_blocks
        what = (f"{report.solution_blocks} solution(s) removed ({report.dropped_cells} instructor cell(s) left out, "
                f"{report.stubbed_blocks} stubbed in place)" if report.solution_blocks else "no exercises")
        if report.hidden_blocks:
            what += f", {report.hidden_blocks} hidden test block(s) removed"
        print(f"{path.name}: {what} -> {out / path.name}")
    print(f"{len(notebooks)} student notebooks, {total} exercises, in {out}")
    return 0


def present(notebooks: list[Path]) -> int:
    """Copy the notebooks to build/present/ to present from: running cells there never changes a tracked file.

    A live deck runs cells, and JupyterLab autosaves what runs (outputs, widget state) into the file
    it opened; from these copies nothing reaches notebooks/. The copies are plain notebooks (no
    jupytext pairing, so saving writes no .py) and are refreshed from notebooks/ on each call.
    """
    import nbformat

    out = build_dir() / "present"
    out.mkdir(parents=True, exist_ok=True)
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        for key in ("jupytext", RECORD):
            nb.metadata.pop(key, None)
        atomic_write(out / path.name, nbformat.writes(nb))
    print(f"{len(notebooks)} notebooks copied to {out} (refreshed from notebooks/ each time)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("command", choices=["build", "check", "execute", "slides", "student",
                                                       "present"])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--force", action="store_true",
                        help="build: overwrite notebooks even where they have edits (they are lost)")
    args = parser.parse_args()
    if args.command == "build":
        return build(args.paths, force=args.force)
    commands = {"check": check, "execute": execute, "slides": slides, "student": student, "present": present}
    return commands[args.command](args.paths)


if __name__ == "__main__":
    sys.exit(main())
