"""The student's copy of the course: notebooks without solutions, and a bundle with no answer in it.

An exercise in a notebook is four cells (nbgrader's markers, so nbgrader can take the notebooks):

1. a markdown heading ``### Exercise 07.1 — the KL term (练习 07.1)`` and the task;
2. the student's cell: a stub (a function returning None) that the student fills in;
3. the instructor's cell (hidden, skipped on slides): the solution between ``### BEGIN SOLUTION``
   and ``### END SOLUTION``, with whatever else only the solution can run, all inside the markers;
4. the check cell, ``_ = ex.kl_term(kl_term)``: ✓, "not attempted", or ✗ with a diagnosis.

The student version (:func:`student_notebook`) drops a cell that holds nothing but solution blocks
(the instructor's cell 3), replaces a solution block inside other code by a stub made from its own
code (a function keeps its signature and docstring and returns None, an assignment assigns None),
removes hidden tests (``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``), outputs and the build
records. nbgrader's ``generate_assignment``, given the same notebooks with :func:`nbgrader_notebook`'s
cell metadata and an empty code stub, keeps and removes the same (tests/e2e/test_student_notebooks.py).

The bundle (:func:`build_bundle`, ``make student``) is what an instructor hands out: the student
notebooks, ``course_utils`` with its exercise checkers turned into data (each exercise's test
inputs, expected outputs and registered mistakes' outputs, written by the instructor's references:
``course_utils/exercises/data/NN.k.pt``) and no reference module, the shipped data files, the
student's requirements and a README. :func:`find_leaks` looks for every solution line and every
line of the references' source in it; :func:`answers_before_questions` looks for an exercise's
answer in the cells above it.
"""

from __future__ import annotations

import ast
import copy
import inspect
import io
import json
import re
import shutil
import textwrap
import tokenize
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
STUB_COMMENT = "# YOUR CODE HERE"
#: A check cell: the whole cell is one call of an exercise's checker.
CHECK_CELL = re.compile(r"^\s*_ = ex\.(?P<attr>\w+)\((?P<arg>\w+)\)\s*$")
#: An exercise's heading; group "name" is the checker's own string, "Exercise 07.1 — the KL term".
HEADING = re.compile(r"^#{2,3}\s+(?P<name>Exercise (?P<nb>\d\d)\.(?P<k>\d+) — (?P<title>.+?))"
                     r"(?:\s+\(练习 \d\d\.\d+\))?\s*$", re.MULTILINE)


@dataclass
class Report:
    """What the transformation did to one notebook."""

    solution_blocks: int = 0  # blocks between the solution markers (one per exercise)
    dropped_cells: int = 0  # cells that held nothing but solutions (the instructor's), left out
    stubbed_blocks: int = 0  # blocks replaced by a stub in place
    hidden_blocks: int = 0  # hidden-test blocks removed


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _blocks(lines: list[str], begin: str, end: str, where: str) -> list[tuple[int, int]]:
    """(begin line, end line) index pairs of marked blocks; unbalanced markers are an error."""
    pairs, start = [], None
    for i, line in enumerate(lines):
        mark = line.strip()
        if mark == begin:
            if start is not None:
                raise ValueError(f"{where}: '{begin}' twice without '{end}' (line {i + 1})")
            start = i
        elif mark == end:
            if start is None:
                raise ValueError(f"{where}: '{end}' without '{begin}' (line {i + 1})")
            pairs.append((start, i))
            start = None
    if start is not None:
        raise ValueError(f"{where}: '{begin}' (line {start + 1}) is never closed by '{end}'")
    return pairs


def defined_names(code: str) -> set[str]:
    """Top-level names a piece of code defines (functions, classes, assignments, imports)."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _header_end(lines: list[str], node: ast.AST) -> tuple[int, int]:
    """(line index, column) just after the colon that ends a def/class header: comments below it stay out."""
    depth, start = 0, node.lineno - 1
    text = "\n".join(lines[start:]) + "\n"
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        elif tok.type == tokenize.OP and tok.string == ":" and depth == 0:
            return start + tok.end[0] - 1, tok.end[1]
    raise ValueError(f"no ':' ends the header of {getattr(node, 'name', '?')}")


def stub(code: str) -> str:
    """A stub for a solution: the same functions (signature, docstring) returning None, names set to None."""
    indent = re.match(r"[ \t]*", next((ln for ln in code.splitlines() if ln.strip()), "")).group(0)
    body = textwrap.dedent(code)
    try:
        tree = ast.parse(body)
    except SyntaxError:  # a fragment (e.g. the body of a function whose def is outside the markers)
        return f"{indent}{STUB_COMMENT}\n{indent}return None\n" if indent else f"{STUB_COMMENT}\n"
    lines = body.splitlines()
    out: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = node.body[0]
            start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
            end_line, end_col = _header_end(lines, node)  # decorators and signature, not the body's comments
            header = lines[start:end_line] + [lines[end_line][:end_col]]
            inner = " " * (node.col_offset + 4)
            out.extend(header)
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):  # keep the docstring: it is the task
                out.extend(lines[first.lineno - 1: first.end_lineno])
            if isinstance(node, ast.ClassDef):
                out.append(f"{inner}...  {STUB_COMMENT}")
            else:
                out.extend([f"{inner}{STUB_COMMENT}", f"{inner}return None"])
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [ast.unparse(t) for t in targets]
            if isinstance(node, ast.AnnAssign):
                out.append(f"{names[0]}: {ast.unparse(node.annotation)} = None  {STUB_COMMENT}")
            else:
                out.append(f"{' = '.join(names)} = None  {STUB_COMMENT}")
    if not out:
        out = [STUB_COMMENT]
    return textwrap.indent("\n".join(out), indent) + "\n"


def _replace_blocks(lines: list[str], pairs: list[tuple[int, int]], make) -> list[str]:
    out, last = [], 0
    for b, e in pairs:
        out.extend(lines[last:b])
        out.extend(make(lines[b + 1: e]))
        last = e + 1
    out.extend(lines[last:])
    return out


def is_check_cell(cell) -> bool:
    """Whether a cell is an exercise's check cell (``_ = ex.kl_term(kl_term)`` and nothing else)."""
    return cell.get("cell_type") == "code" and CHECK_CELL.match(_source(cell)) is not None


def student_notebook(nb, name: str = "notebook", *, keep_outputs: bool = False):
    """(the student version of ``nb``, a :class:`Report`); ``nb`` is left unchanged.

    ``keep_outputs``: keep the outputs of the cells that stay (pages of an executed notebook), except
    those of check cells and stubbed cells, which said what the solution gave.
    """
    nb = copy.deepcopy(nb)
    report = Report()
    cells = []
    for index, cell in enumerate(nb["cells"]):
        where = f"{name}, cell {index + 1}"
        src = _source(cell)
        if cell.get("cell_type") != "code":
            if BEGIN in src or BEGIN_HIDDEN in src:
                raise ValueError(f"{where}: solution markers in a {cell.get('cell_type')} cell (only code "
                                 "cells are turned into stubs)")
            cells.append(cell)
            continue
        lines = src.splitlines(keepends=True)
        hidden = _blocks(lines, BEGIN_HIDDEN, END_HIDDEN, where)
        report.hidden_blocks += len(hidden)
        lines = _replace_blocks(lines, hidden, lambda block: [])
        pairs = _blocks(lines, BEGIN, END, where)
        changed = bool(hidden)
        if pairs:
            report.solution_blocks += len(pairs)
            rest = "".join(_replace_blocks(lines, pairs, lambda block: []))
            if not rest.strip():  # nothing but solutions: the instructor's cell, left out
                report.dropped_cells += 1
                continue
            report.stubbed_blocks += len(pairs)
            lines = _replace_blocks(lines, pairs, lambda block: [stub("".join(block))])
            jupyter = cell.get("metadata", {}).get("jupyter", {})
            jupyter.pop("source_hidden", None)  # the student writes here: show it
            if not jupyter:
                cell.get("metadata", {}).pop("jupyter", None)
            changed = True
        cell["source"] = "".join(lines)
        if not keep_outputs or changed or is_check_cell(cell):
            cell["outputs"], cell["execution_count"] = [], None
        cells.append(cell)
    nb["cells"] = cells
    for key in ("course_build", "jupytext") + (() if keep_outputs else ("widgets",)):
        nb.get("metadata", {}).pop(key, None)
    leftovers = [m for m in (BEGIN, END, BEGIN_HIDDEN, END_HIDDEN) for c in cells if m in _source(c)]
    if leftovers:
        raise ValueError(f"{name}: markers left in the student version: {sorted(set(leftovers))}")
    return nb, report


def solution_code(nb) -> tuple[set[str], set[str]]:
    """(the lines inside solution and hidden-test blocks, the code lines outside them): to prove that a
    student version keeps no line of a solution that is not also written elsewhere (a signature)."""
    inside, outside = set(), set()
    for cell in nb["cells"]:
        lines = _source(cell).splitlines()
        if cell.get("cell_type") != "code":
            continue
        marked = set()
        for begin, end in ((BEGIN, END), (BEGIN_HIDDEN, END_HIDDEN)):
            for b, e in _blocks(lines, begin, end, "notebook"):
                marked.update(range(b + 1, e))
        inside.update(lines[i] for i in marked if lines[i].strip())
        outside.update(ln for i, ln in enumerate(lines) if i not in marked)
    return inside, outside


# ----------------------------------------------------------------------------- the exercise layout
@dataclass
class ExerciseCells:
    """Where one exercise lives in a notebook (cell indices)."""

    number: str           # "07.1"
    name: str             # "Exercise 07.1 — the KL term"
    heading: int          # the markdown cell with the heading
    check: int | None     # the check cell
    solution: int | None  # the instructor's solution cell (absent in a student version)
    attr: str | None = None  # the checker it calls: ex.<attr>


def exercise_cells(nb, name: str = "notebook") -> list[ExerciseCells]:
    """The exercises of a notebook in order, each with its heading, solution and check cells."""
    found: list[ExerciseCells] = []
    for i, cell in enumerate(nb["cells"]):
        src = _source(cell)
        if cell.get("cell_type") == "markdown":
            found.extend(ExerciseCells(f"{m['nb']}.{m['k']}", m["name"], i, None, None)
                         for m in HEADING.finditer(src))
        elif cell.get("cell_type") == "code" and found:
            if BEGIN in src and found[-1].solution is None:
                found[-1].solution = i
            elif is_check_cell(cell) and found[-1].check is None:
                found[-1].check, found[-1].attr = i, CHECK_CELL.match(src)["attr"]
    return found


def layout_problems(nb, name: str) -> list[str]:
    """What is wrong with a notebook's exercises: numbering ("Exercise NN.k", k = 1, 2, ... in order, NN
    the notebook's number), a solution without a check cell after it, a check cell without a heading."""
    problems, number = [], name[:2]
    exercises = exercise_cells(nb, name)
    for k, ex in enumerate(exercises, start=1):
        if ex.number != f"{number}.{k}":
            problems.append(f"{name}: exercise {k} in order is numbered {ex.number}, expected {number}.{k}")
        if ex.check is None:
            problems.append(f"{name}: {ex.name} has no check cell (`_ = ex.<name>(<answer>)`) after it")
        if ex.solution is not None and ex.check is not None and ex.solution > ex.check:
            problems.append(f"{name}: {ex.name}: the check cell comes before the solution")
    headed = {ex.check for ex in exercises} | {ex.solution for ex in exercises}
    for i, cell in enumerate(nb["cells"]):
        if (BEGIN in _source(cell) or is_check_cell(cell)) and i not in headed:
            problems.append(f"{name}, cell {i + 1}: a solution or check cell under no 'Exercise NN.k' heading")
    return problems


def nbgrader_notebook(nb, name: str = "notebook"):
    """A copy of ``nb`` whose exercise cells carry nbgrader's metadata: the solution cell an autograded
    answer (``solution``), the check cell a locked autograder test worth 1 point (grade id ``exNN_k``)."""
    problems = layout_problems(nb, name)
    if problems:
        raise ValueError("\n".join(problems))
    nb = copy.deepcopy(nb)
    for ex in exercise_cells(nb, name):
        grade_id = "ex" + ex.number.replace(".", "_")
        if ex.solution is not None:
            nb["cells"][ex.solution].setdefault("metadata", {})["nbgrader"] = {
                "grade": False, "grade_id": f"{grade_id}_solution", "locked": False, "schema_version": 3,
                "solution": True, "task": False}
        nb["cells"][ex.check].setdefault("metadata", {})["nbgrader"] = {
            "grade": True, "grade_id": grade_id, "locked": True, "points": 1, "schema_version": 3,
            "solution": False, "task": False}
    return nb


# ----------------------------------------------------------------------------- the bundle
#: Requirements an instructor needs and a student does not (building pages, slides, tests, lint).
INSTRUCTOR_ONLY = {"nbconvert", "jupytext", "jupyterlab-slideshow", "jupyter-server-mathjax", "sphinx", "myst-nb",
                   "pytest", "nbval", "pytest-xdist", "ruff", "playwright", "diffusers", "nbgrader"}
#: The course's own files a student's copy needs besides the package: the shipped data (no checkpoints).
SHIPPED_DATA = ["data/README.md", "data/networks"]

STUDENT_README = """\
# Generative models: the exercises (生成式模型：练习)

The notebooks of *Computer Simulation, Lecture 12: generative models* (计算机模拟 第12讲 生成式模拟),
each with its exercises left for you. Two commands, in this folder (Python 3.10 or newer; the first one
takes a few minutes, torch is large):

```bash
python -m pip install -r requirements.txt
python -m jupyter lab
```

Open a notebook, run it (Run → Run All Cells): it runs to the end whatever state your answers are
in. Under each exercise ("Exercise 07.1 — the KL term"), write your answer in the cell below its
task, run that cell, then the check cell after it:

- `✓ Exercise 07.1 — the KL term: correct on all 4 test cases.`
- `… not attempted yet`: the cell still returns None;
- `✗ ...`: the first test case your answer gets wrong (its inputs, what you got, what was expected)
  and, for a common mistake, what is wrong. `ex.kl_term.hint()` (the name the check cell uses) gives
  a hint; call it again for the next one.

`COURSE_PROFILE=smoke` makes every notebook quick (small sizes), `cpu` (the default without a GPU)
is what the notebooks are made for. Nothing here needs the network: every data set has an offline
default (`data/README.md`).

What is here: the notebooks ({n_notebooks}), `course_utils/` (the course's library; its exercise
checkers hold test inputs and expected outputs as data, in `course_utils/exercises/data/`),
`data/` (small shipped files), `requirements.txt`.
"""

TOPIC_MODULE = '''\
"""Checkers of {label} ({numbers}).

Written by `make student`: each exercise's test inputs, expected outputs and registered mistakes'
outputs are data in ``course_utils/exercises/data/NN.k.pt``; nothing here computes an answer.
"""

from course_utils.exercises.checking import load

{lines}
'''


def student_requirements(text: str) -> str:
    """The course's pinned requirements less the instructor's tools (pages, slides, tests, lint)."""
    out = ["# What the student notebooks need (the course's pinned versions, less the instructor's tools)."]
    for line in text.splitlines():
        name = re.split(r"[=<>!~ \[;#]", line.strip(), maxsplit=1)[0].lower()
        if not name or line.lstrip().startswith("#"):
            continue
        if name not in INSTRUCTOR_ONLY:
            out.append(line)
    return "\n".join(out) + "\n"


def _copy_package(src: Path, dest: Path, exercises: dict) -> list[str]:
    """Copy course_utils without its reference modules; write each topic as data. Returns the topics."""
    from course_utils.exercises.checking import save_record

    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    package = dest / "exercises"
    by_topic: dict[str, list] = {}
    for ex in exercises.values():
        by_topic.setdefault(ex.module.rsplit(".", 1)[-1], []).append(ex)
    keep = {"__init__.py", "checking.py"}
    for path in package.glob("*.py"):
        if path.name not in keep:
            path.unlink()
    for topic, members in by_topic.items():
        lines = "\n".join(f'{ex.attr()} = load("{ex.number}")  # {ex.name}' for ex in members)
        numbers = ", ".join(ex.number for ex in members)
        label = f"course_utils.exercises.{topic}"
        (package / f"{topic}.py").write_text(TOPIC_MODULE.format(label=label, numbers=numbers, lines=lines),
                                             encoding="utf-8")
        for ex in members:
            save_record(ex.record(), package / "data" / f"{ex.number}.pt")
    return sorted(by_topic)


def build_bundle(out: Path, notebooks: list[Path], write: Callable[[dict, Path], bool],
                 log: Callable[[str], None] = print) -> int:
    """Write the student's copy into ``out``; ``write(nb, target)`` writes a notebook (False: it refused).

    Returns the number of notebooks that ``write`` refused to overwrite.
    """
    from course_utils.exercises import all_exercises

    exercises = all_exercises()
    out.mkdir(parents=True, exist_ok=True)
    refused, total = 0, 0
    for path in notebooks:
        nb = json.loads(path.read_text(encoding="utf-8"))
        problems = layout_problems(nb, path.name)
        if problems:
            raise ValueError("\n".join(problems))
        student, report = student_notebook(nb, path.name)
        total += report.solution_blocks
        if not write(student, out / path.name):
            refused += 1
            continue
        what = (f"{report.solution_blocks} solution(s) removed ({report.dropped_cells} instructor cell(s) left out, "
                f"{report.stubbed_blocks} stubbed in place)" if report.solution_blocks else "no exercises")
        if report.hidden_blocks:
            what += f", {report.hidden_blocks} hidden test block(s) removed"
        log(f"{path.name}: {what} -> {out / path.name}")
    topics = _copy_package(ROOT / "course_utils", out / "course_utils", exercises)
    for name in SHIPPED_DATA:
        src, dest = ROOT / name, out / name
        if src.is_dir():
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(src, dest, ignore=shutil.ignore_patterns("checkpoints", "__pycache__"))
        elif src.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
    (out / "requirements.txt").write_text(student_requirements((ROOT / "requirements.txt").read_text()),
                                          encoding="utf-8")
    (out / "README.md").write_text(STUDENT_README.format(n_notebooks=len(notebooks)), encoding="utf-8")
    log(f"{len(notebooks)} student notebooks, {total} exercises ({len(exercises)} checkers as data: "
        f"{', '.join(topics)}), in {out}")
    return refused


# ----------------------------------------------------------------------------- leaks
MIN_NEEDLE = 12  # shorter lines (`return y`, `import math`) are not an answer


def _significant(line: str) -> str | None:
    s = line.strip()
    if len(s) < MIN_NEEDLE or s.startswith(("import ", "from ", '"""', "'''")) or s in (BEGIN, END):
        return None
    return s


def _source_lines(fn: Callable) -> list[str]:
    try:
        return inspect.getsource(fn).splitlines()
    except (OSError, TypeError):
        return []


def course_material(notebooks: Iterable[Path], package: Path = ROOT / "course_utils") -> set[str]:
    """Every line (stripped) of what the course hands out anyway: the notebooks outside their solution blocks,
    and the package less the exercises' reference modules."""
    lines: set[str] = set()
    for path in notebooks:
        lines |= {ln.strip() for ln in solution_code(json.loads(Path(path).read_text(encoding="utf-8")))[1]}
    shipped = {"__init__.py", "checking.py"}
    for py in package.rglob("*.py"):
        if py.parent.name == "exercises" and py.name not in shipped:
            continue
        lines |= {ln.strip() for ln in py.read_text(encoding="utf-8").splitlines()}
    return lines


def answer_key(notebooks: Iterable[Path], exercises: dict) -> dict[str, str]:
    """Every line of the answer key: each solution block's lines, and each line of the exercises' right
    answers' and references' source (a line's code without its comment counts too).

    Returns {line (stripped): where it comes from}; imports, ``def`` lines, docstring quotes and lines
    shorter than MIN_NEEDLE are left out (`return y` is no answer).
    """
    needles: dict[str, str] = {}

    def add(line: str, origin: str) -> None:
        for candidate in (line, line.split("  #")[0]):
            s = _significant(candidate)
            if s and not s.startswith(("def ", "@")):
                needles.setdefault(s, origin)

    for path in notebooks:
        inside, _ = solution_code(json.loads(Path(path).read_text(encoding="utf-8")))
        for line in inside:
            add(line, f"{Path(path).name}, a solution block")
    for ex in exercises.values():
        for role, fn in (("right answer", ex.right), ("reference", ex.reference)):
            for line in _source_lines(fn):
                add(line, f"{ex.name}: the {role}'s source")
    return needles


def solution_needles(notebooks: list[Path], exercises: dict) -> tuple[dict[str, str], dict[str, str]]:
    """(the answer key's lines that nothing but the answer key holds: none may be in a student's copy,
    the answer key's lines that the course material also holds (within one of its lines): a signature, a
    plumbing line, or the library's own version of an algorithm that a later cell runs; each must be known)."""
    key = answer_key(notebooks, exercises)
    material = "\n".join(course_material(notebooks))
    only = {k: v for k, v in key.items() if k not in material}
    shared = {k: v for k, v in key.items() if k in material}
    return only, shared


#: Answer-key lines the course material itself also holds (so a student's copy holds them too), each
#: reviewed. Anything else of the answer key found in a student's copy, or a new shared line, is a leak.
REVIEWED_SHARED = {
    # the library's own versions of what an exercise asks for, which later cells run (DESIGN.md:
    # course_utils holds the tested algorithms the notebooks reuse at scale)
    "std = torch.exp(0.5 * logvar)": "07.2: course_utils.neural.autoencoders.VAE.reparameterize, trained with in 07",
    "return mu + std * eps": "07.2: the same method",
    "return ab.sqrt() * x0 + (1 - ab).sqrt() * eps": "11.1: NoiseSchedule.q_sample, used by 11–14 to train",
    "return (1 + w) * eps_c - w * eps_u": "12.3: notebook 14's video sampler uses classifier-free guidance",
    # 04's elimination loop (section 2), after Exercise 04.2 and the lecture's algorithm in full
    "used = [f for f in factors if v in f.variables]": "04.2: the lecture's VE loop, after the exercise",
    "psi = used[0]": "04.2: the same loop",
    "for f in used[1:]:": "04.2: the same loop",
    "psi = psi * f": "04.2: the same loop",
    "logits = scale * F_img @ G_txt.T": "13.1: the logits only, in the check's one-direction mistake, after it",
    "ab = S.alpha_bar[t]": "11.1: a table lookup, in 12's toy (the tilted target), a later notebook",
    # plumbing, no answer
    "col = {v: i for i, v in enumerate(bn.variables)}": "a column index, in course_utils.pgm.sampling",
    "for v, s in ev.items():": "a loop header, in course_utils.pgm.sampling",
    "return total": "02.1: a bare return, in course_utils.pgm",
    "return count": "in course_utils.pgm (return counts)",
    "return torch.tensor(out)": "in course_utils.metrics",
    "with torch.no_grad():": "everywhere",
    "with warnings.catch_warnings():": "in course_utils.pgm.network",
    'warnings.simplefilter("ignore", ConvergenceWarning)': "in notebook 03",
}
def _notebook_text(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    parts = []
    for cell in nb.get("cells", []):
        parts.append(_source(cell))
        for out in cell.get("outputs", []):
            text = out.get("text") or out.get("data", {}).get("text/plain", "")
            parts.append("".join(text) if isinstance(text, list) else text)
    return "\n".join(parts)


def bundle_texts(root: Path) -> dict[str, str]:
    """Every file under ``root`` as text: notebooks' sources and outputs, archives' members, the rest as is."""
    texts = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = str(path.relative_to(root))
        raw = path.read_bytes()
        text = raw.decode("utf-8", errors="ignore")
        if path.suffix == ".ipynb":
            text += "\n" + _notebook_text(path)
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                text += "\n" + "\n".join(z.read(n).decode("utf-8", errors="ignore") for n in z.namelist())
        texts[rel] = text
    return texts


def leak_report(root: Path, notebooks: list[Path], exercises: dict) -> list[str]:
    """What of the answer key is in the student's copy at ``root``: lines only the answer key holds, and
    answer-key lines the course material holds that no one has reviewed (:data:`REVIEWED_SHARED`)."""
    only, shared = solution_needles(notebooks, exercises)
    problems = [f"{f}: {line!r} ({origin})" for line, origin, f in find_leaks(root, only)]
    unreviewed = {line: origin for line, origin in shared.items() if line not in REVIEWED_SHARED}
    problems += [f"{f}: {line!r} ({origin}; the course material holds it too, and no one reviewed that)"
                 for line, origin, f in find_leaks(root, unreviewed)]
    problems += [f"REVIEWED_SHARED lists {line!r}, which the course no longer shares with the answer key"
                 for line in sorted(set(REVIEWED_SHARED) - set(shared))]
    return problems


def find_leaks(root: Path, needles: dict[str, str]) -> list[tuple[str, str, str]]:
    """(line, where it comes from, the file of the bundle that holds it) for each needle found in ``root``."""
    found = []
    for rel, text in bundle_texts(root).items():
        for needle, origin in needles.items():
            if needle in text:
                found.append((needle, origin, rel))
    return found


# ----------------------------------------------------------------------------- answers before questions
#: Elementwise functions written either way (``torch.sqrt(x)``, ``x.sqrt()``, ``np.sqrt(x)``): compared as one.
FUNCS = {"sqrt", "exp", "log", "log1p", "expm1", "abs", "tanh", "sigmoid", "softmax", "log_softmax", "logsumexp",
         "sum", "mean", "norm", "clamp", "pow", "square", "sin", "cos", "arccos", "acos", "argmax", "max"}
MIN_NODES = 5  # smaller expressions (`1 - ab`, `x.sqrt()`) are everywhere


class _Canon(ast.NodeTransformer):
    """One spelling per expression: ``torch.f(x)`` and ``x.f()`` become ``f(x)``; names become v0, v1, ..."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def visit_Call(self, node: ast.Call) -> ast.AST:
        f = node.func
        args = [self.visit(a) for a in node.args]
        keywords = [self.visit(k) for k in node.keywords]
        if isinstance(f, ast.Attribute) and f.attr in FUNCS:
            if isinstance(f.value, ast.Name) and f.value.id in ("torch", "np", "numpy", "math", "F"):
                return ast.Call(ast.Name(f.attr, ast.Load()), args, keywords)
            return ast.Call(ast.Name(f.attr, ast.Load()), [self.visit(f.value), *args], keywords)
        # a function called by name keeps its name: forward(x, pi, A, B) is not backward(x, pi, A, B)
        func = f if isinstance(f, ast.Name) else self.visit(f)
        return ast.Call(func, args, keywords)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in FUNCS:
            return node
        return ast.Name(self.names.setdefault(node.id, f"v{len(self.names)}"), ast.Load())


def _size(node: ast.AST) -> int:
    return sum(1 for n in ast.walk(node) if isinstance(n, (ast.expr, ast.keyword)))


def _canon(node: ast.expr) -> str:
    return ast.dump(_Canon().visit(copy.deepcopy(node)), annotate_fields=False)


def _parse(code: str) -> ast.AST | None:
    try:
        return ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return None


def _formula(node: ast.AST) -> bool:
    """Arithmetic (an operator, or an elementwise function such as exp): not a call, a tuple or a lookup."""
    return any(isinstance(n, (ast.BinOp, ast.UnaryOp)) or (isinstance(n, ast.Call) and (
        isinstance(n.func, ast.Attribute) and n.func.attr in FUNCS or isinstance(n.func, ast.Name) and n.func.id
        in FUNCS)) for n in ast.walk(node))


def key_expressions(code: str) -> set[str]:
    """The answers a piece of code gives: what its functions return (and a lambda's body), when a formula."""
    tree = _parse(code)
    keys = set()
    if tree is None:
        return keys
    for node in ast.walk(tree):
        value = node.value if isinstance(node, ast.Return) else node.body if isinstance(node, ast.Lambda) else None
        if value is not None and _size(value) >= MIN_NODES and _formula(value):
            keys.add(_canon(value))
    return keys


def _formula_line(line: str) -> str | None:
    """A solution line that writes a formula (an arithmetic operator in its code), long enough to be one."""
    s = _significant(line)
    code = s.split("#")[0] if s else ""
    return s if s and re.search(r"[-+*/@]", code) else None


def all_expressions(code: str) -> dict[str, str]:
    """Every expression in a piece of code (and its parts): {its :func:`key_expressions` spelling: its text}."""
    tree = _parse(code)
    if tree is None:
        return {}
    return {_canon(n): ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.expr) and _size(n) >= MIN_NODES}


def _function_code(fn: Callable) -> str:
    """The source of a function, or of a lambda cut out of the statement it sits in."""
    src = textwrap.dedent("\n".join(_source_lines(fn)))
    if _parse(src) is not None:
        return src
    start = src.find("lambda")
    text = src[start:] if start >= 0 else src
    while text:
        try:
            ast.parse(text, mode="eval")
            return text
        except SyntaxError:
            text = text[:-1].rstrip()
    return ""


INLINE_CODE = re.compile(r"`([^`\n]+)`")


def answers_before_questions(student_nb, instructor_nb, name: str, exercises: dict) -> list[str]:
    """Where a cell above an exercise (code, output or prose) holds its answer: a line of its solution, or
    an expression its solution or the registered right answer computes (spelled alike: ``x.sqrt()`` is
    ``torch.sqrt(x)``, names do not matter)."""
    problems = []
    solution_cells = {ex.number: _source(instructor_nb["cells"][ex.solution])
                      for ex in exercise_cells(instructor_nb, name) if ex.solution is not None}
    for ex in exercise_cells(student_nb, name):
        code = solution_cells.get(ex.number, "")
        keys = key_expressions(code)
        lines = {s for s in map(_formula_line, code.splitlines()) if s}
        if ex.number in exercises:
            right = _function_code(exercises[ex.number].right)
            keys |= key_expressions(right)
        for i, cell in enumerate(student_nb["cells"][:ex.heading]):
            src = _source(cell)
            outputs = "\n".join("".join(o.get("text", "")) for o in cell.get("outputs", []))
            if cell.get("cell_type") == "code":
                exprs = all_expressions(src)
            else:
                exprs = {k: v for span in INLINE_CODE.findall(src) for k, v in all_expressions(span).items()}
            hit = sorted(exprs[k] for k in keys & set(exprs))
            text_hit = sorted(ln for ln in lines if ln in src or ln in outputs)
            if hit or text_hit:
                shown = (text_hit or hit)[0]
                problems.append(f"{name}: cell {i + 1} ({cell.get('cell_type')}) above {ex.name} holds its answer: "
                                f"{shown[:160]}")
    return problems


#: Cells above an exercise that hold an expression of its answer, each reviewed (see the reason).
REVIEWED_EARLIER = {
    ("04_exact_inference.ipynb", "04.1"): "k⁴ + k³ + k², the cost of eliminating x2 first that the exercise "
                                          "compares with: the x3-first cost is the same polynomial, the point "
                                          "the exercise makes",
    ("11_diffusion.ipynb", "11.3"): "√ᾱ x0 + √(1 − ᾱ) ε, the closed form (Exercise 11.1's answer) in Algorithm 1 "
                                    "on the toy: the DDIM step's second half re-noises x̂_0 with it",
}


def unreviewed_answers_before_questions(student_nb, instructor_nb, name: str, exercises: dict) -> list[str]:
    """:func:`answers_before_questions` less the cases in :data:`REVIEWED_EARLIER`."""
    return [p for p in answers_before_questions(student_nb, instructor_nb, name, exercises)
            if not any(p.startswith(f"{nb}:") and f"Exercise {n} " in p for nb, n in REVIEWED_EARLIER)]
