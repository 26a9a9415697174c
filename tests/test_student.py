"""The student's copy (tools/student.py, `make student`): solutions out, nothing of them left, answers
not above their questions, one numbering, nbgrader's metadata, and a bundle with no answer in it.

Running the bundle's notebooks in a fresh venv, and nbgrader itself, is tests/e2e/test_student_notebooks.py
(`make test-student`).
"""

import ast
import importlib.util
import json
import re
import sys

import nbformat
import pytest

from course_utils.exercises import all_exercises
from course_utils.paths import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXERCISES = all_exercises()


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def student():
    return _load("student")


def notebook(*cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "course_build": {"cells_sha256": "x"}, "jupytext": {"formats": "ipynb,py:percent"}}
    for kind, source, *meta in cells:
        cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        cell.metadata = meta[0] if meta else {}
        nb.cells.append(cell)
    return nb


def run(nb):
    """Execute a notebook's code cells in one namespace; return it and what `check` printed."""
    printed, ns = [], {}

    class Ex:
        @staticmethod
        def square(fn):
            result = None if fn is None else fn(3)
            printed.append("not attempted" if result is None else f"got {result}")
            return result is not None

    ns["ex"] = Ex
    for cell in nb.cells:
        if cell.cell_type == "code":
            exec(cell.source, ns)
    return ns, printed


HEADING = "### Exercise 99.1 — squares (练习 99.1)\nWrite `square`."
STUDENT_CELL = "def square(x):\n    # YOUR CODE HERE\n    return None\n"
SOLUTION_CELL = ("### BEGIN SOLUTION\n# multiply x by itself\ndef square(x):\n    return x * x\n\n\n"
                 "assert square(4) == 16\n### END SOLUTION\n")
CHECK_CELL = "_ = ex.square(square)\n"
HIDDEN = {"slideshow": {"slide_type": "skip"}, "jupyter": {"source_hidden": True}}


def exercise_notebook():
    return notebook(("markdown", HEADING), ("code", STUDENT_CELL), ("code", SOLUTION_CELL, HIDDEN),
                    ("code", CHECK_CELL), ("code", "after = 1"))


def test_the_instructors_solution_cell_is_left_out(student):
    nb = exercise_notebook()
    nb.cells[3].outputs = [nbformat.v4.new_output("stream", text="got 9\n")]
    assert run(nb)[1] == ["got 9"]  # the instructor's version passes its checker
    out, report = student.student_notebook(nb)
    assert (report.solution_blocks, report.dropped_cells, report.stubbed_blocks) == (1, 1, 0)
    assert [c.source for c in out.cells] == [HEADING, STUDENT_CELL, CHECK_CELL, "after = 1"]
    text = json.dumps(out)
    assert "x * x" not in text and "multiply" not in text and "got 9" not in text  # nothing of the solution
    assert "course_build" not in out.metadata and "jupytext" not in out.metadata
    ns, printed = run(nbformat.from_dict(out))
    assert printed == ["not attempted"] and ns["after"] == 1  # runs on, the checker says "not attempted"


def test_pages_keep_their_outputs_but_not_the_checks(student):
    nb = exercise_notebook()
    nb.cells[3].outputs = [nbformat.v4.new_output("stream", text="✓ Exercise 99.1 — squares\n")]
    nb.cells[4].outputs = [nbformat.v4.new_output("stream", text="a figure\n")]
    out, _ = student.student_notebook(nb, keep_outputs=True)
    assert out.cells[2].outputs == [] and out.cells[3].outputs[0]["text"] == "a figure\n"


def test_a_solution_with_code_around_it_becomes_a_stub(student):
    """nbgrader's own style: the solution inside a cell that keeps other code; the stub keeps the signature."""
    source = ('import math\n### BEGIN SOLUTION\ndef area(r: float) -> float:\n    """Area of a disc."""\n'
              "    return math.pi * r**2\n\n\n@staticmethod\ndef f(x): return x\nn_steps: int = 10\n"
              "a = b = 2\nprint('noise')\n### END SOLUTION\nprint(area)\n")
    out, report = student.student_notebook(notebook(("code", source, HIDDEN)))
    assert (report.solution_blocks, report.dropped_cells, report.stubbed_blocks) == (1, 0, 1)
    stubbed = out.cells[0].source
    assert "math.pi" not in stubbed and "noise" not in stubbed and "BEGIN" not in stubbed
    assert '"""Area of a disc."""' in stubbed and "def area(r: float) -> float:" in stubbed
    assert "n_steps: int = None" in stubbed and "a = b = None" in stubbed
    assert "jupyter" not in out.cells[0].metadata  # shown to the student, who writes here
    ns, _ = run(nbformat.from_dict(out))
    assert ns["area"](1.0) is None and ns["f"](1) is None and ns["area"].__doc__ == "Area of a disc."


def test_markers_inside_a_function_body(student):
    source = "def cube(x):\n    ### BEGIN SOLUTION\n    y = x**3\n    return y\n    ### END SOLUTION\n"
    out, _ = student.student_notebook(notebook(("code", source)))
    assert "x**3" not in out.cells[0].source
    assert run(nbformat.from_dict(out))[0]["cube"](2) is None


def test_hidden_tests_are_removed(student):
    source = ("_ = ex.square(square)\n### BEGIN HIDDEN TESTS\nassert square(12) == 144  # a case students do not "
              "see\n### END HIDDEN TESTS\n")
    out, report = student.student_notebook(notebook(("code", STUDENT_CELL), ("code", source)))
    assert report.hidden_blocks == 1 and "144" not in json.dumps(out)
    assert run(nbformat.from_dict(out))[1] == ["not attempted"]


@pytest.mark.parametrize("source, says", [
    ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
    ("x = 1\n### END SOLUTION\n", "without"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", "twice"),
])
def test_unbalanced_markers_are_an_error(student, source, says):
    with pytest.raises(ValueError, match=says):
        student.student_notebook(notebook(("code", source)))


def test_markers_in_markdown_are_an_error(student):
    with pytest.raises(ValueError, match="markdown"):
        student.student_notebook(notebook(("markdown", "### BEGIN SOLUTION\nanswer\n### END SOLUTION")))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_course_notebooks_keep_no_solution(student, path):
    """Every notebook of the course: its student version holds no line of any solution."""
    nb = nbformat.read(path, as_version=4)
    out, report = student.student_notebook(nb, path.name)
    assert report.solution_blocks == report.dropped_cells + report.stubbed_blocks
    solution, elsewhere = student.solution_code(nb)  # a signature is in the student's cell too: not a leak
    kept = {ln for c in out.cells for ln in c.source.splitlines()}
    leaked = sorted(ln for ln in solution - elsewhere if ln in kept)
    assert not leaked, f"{path.name}: solution lines in the student version: {leaked[:5]}"


# ----------------------------------------------------------------------------- one numbering
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_one_numbering_in_every_notebook(student, path):
    """'Exercise NN.k' in order, the heading's string = the checker's name, the check cell calls that exercise,
    and the site's contents show the same string."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert student.layout_problems(nb, path.name) == []
    site = _load("site")
    _, sections = site.headings(nb)
    found = student.exercise_cells(nb, path.name)
    assert [ex.number for ex in found] == sorted(n for n in EXERCISES if n.startswith(path.name[:2]))
    for ex in found:
        registered = EXERCISES[ex.number]
        assert ex.name == registered.name  # the string the checker prints
        assert registered.attr() == ex.attr, f"{ex.name}: its check cell calls ex.{ex.attr}"
        assert any(s.startswith(registered.name) for s in sections), f"{ex.name} is not in the site's contents"
    markdown = "\n".join(c["source"] if isinstance(c["source"], str) else "".join(c["source"])
                         for c in nb["cells"] if c["cell_type"] == "markdown")
    stray = [m for m in re.findall(r"Exercise \d+(?:\.\d+)?", markdown) if not re.fullmatch(r"Exercise \d\d\.\d+", m)]
    assert not stray, f"{path.name}: exercises named another way: {stray}"
    assert "**1.**" not in markdown


# ----------------------------------------------------------------------------- answers before questions
def _student_and_instructor(student, path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    return student.student_notebook(nb, path.name)[0], nb


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_answer_above_its_question(student, path):
    """No cell above an exercise (code, output, prose) holds a line of its solution or an expression its
    solution or registered right answer returns, in any spelling (x.sqrt() = torch.sqrt(x), any names)."""
    out, nb = _student_and_instructor(student, path)
    assert student.unreviewed_answers_before_questions(out, nb, path.name, EXERCISES) == []
    problems = student.answers_before_questions(out, nb, path.name, EXERCISES)
    for name, number in student.REVIEWED_EARLIER:  # each reviewed one is still there (else drop it from the list)
        if name == path.name:
            assert any(f"Exercise {number} " in p for p in problems), (name, number)


def _move_above(nb, source_marker: str, number: str, student):
    """A copy of nb with the first code cell containing source_marker moved just above Exercise number."""
    nb = json.loads(json.dumps(nb))
    cells = nb["cells"]
    i = next(k for k, c in enumerate(cells) if c["cell_type"] == "code" and source_marker in
             ("".join(c["source"]) if isinstance(c["source"], list) else c["source"]))
    cell = cells.pop(i)
    heading = next(ex.heading for ex in student.exercise_cells(nb) if ex.number == number)
    cells.insert(heading, cell)
    return nb


@pytest.mark.parametrize("name, marker, number", [
    ("07_vae.ipynb", "z = mu + torch.exp(0.5 * logvar) * eps", "07.2"),      # the two cases
    ("12_guided_diffusion.ipynb", "def sample_free_guided", "12.3"),
    ("08_gan.ipynb", "def d_loss(", "08.1"),                                  # and the ones this test found
    ("06_autoencoders.ipynb", "err_pca = sq_err(", "06.1"),
    ("11_diffusion.ipynb", "mu_eps = (x_t - b_t", "11.2"),
    ("04_exact_inference.ipynb", "def eliminate(", "04.2"),
])
def test_an_answer_moved_above_its_question_is_found(student, name, marker, number):
    """Control: the cells that held the answer above its exercise before (the issue's 07 and 12 among
    them) are found when put back there."""
    out, nb = _student_and_instructor(student, ROOT / "notebooks" / name)
    assert not [p for p in student.answers_before_questions(out, nb, name, EXERCISES) if f"Exercise {number} " in p]
    moved = _move_above(out, marker, number, student)
    problems = student.answers_before_questions(moved, nb, name, EXERCISES)
    assert [p for p in problems if f"Exercise {number} " in p], f"{name}: {marker!r} above {number} not found"


def test_the_spelling_does_not_hide_an_answer(student):
    keys = student.key_expressions("def f(x_t, t, eps, S):\n    return (x_t - S.beta[t] / torch.sqrt(1 - "
                                   "S.alpha_bar[t]) * eps) / torch.sqrt(S.alpha[t])\n")
    same = student.all_expressions("mu = (a - s.beta[t] / (1 - s.alpha_bar[t]).sqrt() * e) / s.alpha[t].sqrt()")
    other = student.all_expressions("mu = (a - s.beta[t] / (1 - s.alpha_bar[t]) * e) / s.alpha[t].sqrt()")
    assert keys & set(same) and not keys & set(other)


# ----------------------------------------------------------------------------- nbgrader's metadata
def test_nbgrader_metadata(student):
    out = student.nbgrader_notebook(exercise_notebook(), "99_x.ipynb")
    solution, check = out.cells[2].metadata["nbgrader"], out.cells[3].metadata["nbgrader"]
    assert solution["solution"] and not solution["grade"] and solution["grade_id"] == "ex99_1_solution"
    assert check["grade"] and check["locked"] and check["points"] == 1 and check["grade_id"] == "ex99_1"
    assert "nbgrader" not in out.cells[1].metadata  # the student's cell: a plain cell that nbgrader keeps
    broken = exercise_notebook()
    broken.cells.pop(3)  # no check cell after the solution
    with pytest.raises(ValueError, match="no check cell"):
        student.nbgrader_notebook(broken, "99_x.ipynb")


# ----------------------------------------------------------------------------- the bundle
@pytest.fixture(scope="module")
def bundle(tmp_path_factory, student):
    nbtools = _load("nbtools")
    root = tmp_path_factory.mktemp("build") / "student"
    assert nbtools.student(NOTEBOOKS, out=root) == 0
    return root, nbtools


def test_the_bundle_holds_what_a_student_needs_and_nothing_else(bundle):
    root, _ = bundle
    top = sorted(p.name for p in root.iterdir())
    assert top == sorted([p.name for p in NOTEBOOKS] + ["README.md", "requirements.txt", "course_utils", "data"])
    exercises_dir = root / "course_utils" / "exercises"
    modules = sorted(p.name for p in exercises_dir.glob("*.py"))
    assert modules == ["__init__.py", "checking.py", "diffusion.py", "graphical_models.py", "guidance.py",
                       "neural_models.py", "text_to_image.py", "video.py"]
    assert sorted(p.stem for p in (exercises_dir / "data").glob("*.pt")) == list(EXERCISES)
    assert not list((root / "data").rglob("checkpoints"))
    readme = (root / "README.md").read_text()
    assert "pip install -r requirements.txt" in readme and "jupyter lab" in readme
    reqs = (root / "requirements.txt").read_text()
    assert "torch==2.14.1" in reqs and "pytest" not in reqs and "Sphinx" not in reqs


def test_the_bundles_topic_modules_compute_nothing(bundle):
    """Each generated topic module is imports and `name = load("NN.k")` lines: no function, no arithmetic."""
    root, _ = bundle
    for topic in ("diffusion", "graphical_models", "guidance", "neural_models", "text_to_image", "video"):
        tree = ast.parse((root / "course_utils" / "exercises" / f"{topic}.py").read_text())
        for node in tree.body:
            assert isinstance(node, (ast.Expr, ast.ImportFrom, ast.Assign)), ast.dump(node)[:80]
            if isinstance(node, ast.Assign):
                assert isinstance(node.value, ast.Call) and node.value.func.id == "load", ast.unparse(node)
                assert isinstance(node.value.args[0], ast.Constant)


def _needles(student):
    return student.solution_needles(NOTEBOOKS, EXERCISES)


def test_no_answer_in_the_bundle(bundle, student):
    problems = student.leak_report(bundle[0], NOTEBOOKS, EXERCISES)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("where", ["07_vae.ipynb", "course_utils/neural/layers.py", "README.md",
                                   "course_utils/exercises/data/07.1.pt"])
def test_a_planted_answer_is_found(bundle, student, tmp_path, where):
    """Control: 07.1's solution line, planted in a notebook's cell, a module, the README or a data file."""
    import shutil

    import torch

    root = tmp_path / "student"
    shutil.copytree(bundle[0], root)
    line = "return -0.5 * torch.sum(1 + logvar - mu.pow(2) - torch.exp(logvar), dim=-1)"
    target = root / where
    if where.endswith(".ipynb"):
        nb = json.loads(target.read_text())
        stub = next(c for c in nb["cells"] if "def kl_term" in "".join(c["source"]))
        stub["source"] = "def kl_term(mu, logvar):\n    " + line + "\n"
        target.write_text(json.dumps(nb))
    elif where.endswith(".pt"):
        data = torch.load(target, weights_only=True)
        data["hints"].append(line)
        torch.save(data, target)
    else:
        target.write_text(target.read_text() + "\n# " + line + "\n")
    only, _ = _needles(student)
    found = student.find_leaks(root, only)
    assert [(f, origin) for ln, origin, f in found if ln == line] == [(where, "07_vae.ipynb, a solution block")]


def test_make_student_never_overwrites_a_students_edits(bundle, capsys):
    root, nbtools = bundle
    target = root / "01_generative_vs_discriminative.ipynb"
    assert nbtools.student(NOTEBOOKS[:2], out=root) == 0  # unchanged: rewritten quietly
    nb = json.loads(target.read_text())
    nb["cells"][-1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "ran"}]
    target.write_text(json.dumps(nb))
    assert nbtools.student(NOTEBOOKS[:2], out=root) == 0  # outputs are no edit
    stub = next(i for i, c in enumerate(nb["cells"]) if "def my_log_prior" in "".join(c["source"]))
    nb["cells"][stub]["source"] = "def my_log_prior(y):\n    return my_work\n"
    target.write_text(json.dumps(nb))
    capsys.readouterr()
    assert nbtools.student(NOTEBOOKS[:2], out=root) == 1
    assert "NOT rewritten" in capsys.readouterr().out
    assert "my_work" in target.read_text()  # the student's work is still there
    assert nbtools.student(NOTEBOOKS[:2], force=True, out=root) == 0
    assert "my_work" not in target.read_text()


def test_the_students_requirements_cover_every_import(bundle):
    """Every package the bundle's code imports is in its requirements.txt (or ships with Python, or is
    installed by one that is)."""
    from importlib.metadata import packages_distributions

    root, _ = bundle
    dists = packages_distributions()
    reqs = {re.split(r"[=<>]", ln)[0].strip().lower().replace("_", "-")
            for ln in (root / "requirements.txt").read_text().splitlines() if ln and not ln.startswith("#")}
    pulled_in = {"pandas": "pgmpy", "PIL": "matplotlib", "IPython": "ipykernel", "scipy": "scikit-learn",
                 "sklearn": "scikit-learn", "skimage": "scikit-image"}
    missing = set()
    sources = [p.read_text() for p in (root / "course_utils").rglob("*.py")]
    sources += ["\n".join("".join(c["source"]) for c in json.loads(p.read_text())["cells"] if c["cell_type"] == "code")
                for p in root.glob("*.ipynb")]
    for text in sources:
        for top in re.findall(r"^\s*(?:import|from) ([A-Za-z_]\w*)", text, re.MULTILINE):
            if top in sys.stdlib_module_names or top in ("course_utils", "__future__"):
                continue
            names = {d.lower().replace("_", "-") for d in dists.get(top, [])}
            if not names & reqs and pulled_in.get(top, "").lower() not in reqs:
                missing.add(top)
    assert not missing, f"imported but not in the student's requirements.txt: {sorted(missing)}"


def test_numbering_out_of_order_or_without_a_check_is_a_problem(student):
    """Control for the numbering test: exercises 99.2 before 99.1, and a solution with no check cell."""
    nb = exercise_notebook()
    nb.cells[0].source = HEADING.replace("99.1", "99.2")
    nb.cells.extend(exercise_notebook().cells[:3])  # 99.1 after it, without its check cell
    problems = student.layout_problems(json.loads(json.dumps(nb)), "99_x.ipynb")
    assert any("numbered 99.2, expected 99.1" in p for p in problems)
    assert any("has no check cell" in p for p in problems)


def test_course_student_pages_hold_no_solution(student, tmp_path, monkeypatch):
    """make course-student: an executed notebook's page without its solution cells (outputs kept, the check's
    report on the solution cleared)."""
    nbtools = _load("nbtools")
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path))
    path = ROOT / "notebooks" / "07_vae.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    for ex in student.exercise_cells(nb):  # as `make course` leaves them: outputs under the check cells
        nb["cells"][ex.check]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": f"✓ {ex.name}\n"}]
    figure = next(i for i, c in enumerate(nb["cells"])
                  if c["cell_type"] == "code" and "savefig" in "".join(c["source"]))
    nb["cells"][figure]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "a figure was here\n"}]
    (tmp_path / "executed").mkdir()
    (tmp_path / "executed" / path.name).write_text(json.dumps(nb), encoding="utf-8")
    assert nbtools.course_student([path]) == 0
    import html as html_lib

    def page_text(html: str) -> str:  # what the page shows: tags (pygments' spans) removed
        return html_lib.unescape(re.sub(r"<[^>]+>", "", html))

    text = page_text((tmp_path / "executed-student" / "07_vae.html").read_text(encoding="utf-8"))
    page = json.loads((tmp_path / "executed-student" / path.name).read_text(encoding="utf-8"))
    solution, elsewhere = student.solution_code(nb)
    answers = [ln.strip() for ln in solution - elsewhere if len(ln.strip()) > 12]
    for shown in (text, json.dumps(page, ensure_ascii=False)):
        assert not [a for a in answers if a in shown]
    assert "a figure was here" in text and "✓ Exercise 07.1" not in text
    exporter = nbtools.html_exporter(tmp_path / "x")
    instructor = page_text(exporter.from_notebook_node(nbformat.reads(json.dumps(nb), as_version=4))[0])
    assert len([a for a in answers if a in instructor]) >= 6  # control: the instructor's page shows them
