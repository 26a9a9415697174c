"""Student versions (tools/student.py, `make student`): solutions become stubs, nothing of them is left.

Running every student notebook top to bottom is tests/e2e/test_student_notebooks.py (`make test-student`).
"""

import importlib.util
import json
import sys

import nbformat
import pytest

from course_utils.paths import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def student():
    spec = importlib.util.spec_from_file_location("student", ROOT / "tools" / "student.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["student"] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


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

    def check(fn):
        result = None if fn is None else fn(3)
        printed.append("not attempted" if result is None else f"got {result}")
        return result is not None

    ns["check"] = check
    for cell in nb.cells:
        if cell.cell_type == "code":
            exec(cell.source, ns)
    return ns, printed


STUDENT_CELL = "def square(x):\n    # YOUR CODE HERE\n    return None\n\n\ncheck(square)\n"
SOLUTION_CELL = ("# Solution: multiply x by itself\n### BEGIN SOLUTION\ndef square(x):\n    return x * x\n"
                 "### END SOLUTION\n\n\nassert check(square)\nassert square(4) == 16\n")
HIDDEN = {"slideshow": {"slide_type": "skip"}, "jupyter": {"source_hidden": True}}


def test_the_instructors_solution_cell_is_left_out(student):
    nb = notebook(("markdown", "**1.** Write `square`."), ("code", STUDENT_CELL), ("code", SOLUTION_CELL, HIDDEN),
                  ("code", "after = 1"))
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="got 9\n")]
    ns, printed = run(nb)
    assert printed == ["not attempted", "got 9"]  # the instructor's version passes its checker
    out, report = student.student_notebook(nb)
    assert (report.solution_blocks, report.dropped_cells, report.stubbed_blocks) == (1, 1, 0)
    assert [c.source for c in out.cells] == [nb.cells[0].source, STUDENT_CELL, "after = 1"]
    text = json.dumps(out)
    assert "x * x" not in text and "multiply" not in text and "got 9" not in text  # nothing of the solution
    assert "course_build" not in out.metadata and "jupytext" not in out.metadata
    ns, printed = run(out)
    assert printed == ["not attempted"] and ns["after"] == 1  # runs on, the checker says "not attempted"


def test_a_solution_without_a_stub_above_becomes_one(student):
    """nbgrader's own style: the solution is the only cell; the stub keeps the signature and docstring."""
    source = ('import math\n### BEGIN SOLUTION\ndef area(r: float) -> float:\n    """Area of a disc."""\n'
              "    return math.pi * r**2\n\n\n@staticmethod\ndef f(x): return x\nn_steps: int = 10\n"
              "a = b = 2\nprint('noise')\n### END SOLUTION\ncheck(area)\n")
    out, report = student.student_notebook(notebook(("code", source, HIDDEN)))
    assert (report.solution_blocks, report.dropped_cells, report.stubbed_blocks) == (1, 0, 1)
    stubbed = out.cells[0].source
    assert "math.pi" not in stubbed and "noise" not in stubbed and "BEGIN" not in stubbed
    assert '"""Area of a disc."""' in stubbed and "def area(r: float) -> float:" in stubbed
    assert "n_steps: int = None" in stubbed and "a = b = None" in stubbed
    assert "jupyter" not in out.cells[0].metadata  # shown to the student, who writes here
    ns, printed = run(out)
    assert printed == ["not attempted"] and ns["area"](1.0) is None and ns["f"](1) is None
    assert ns["area"].__doc__ == "Area of a disc."


def test_markers_inside_a_function_body(student):
    source = "def cube(x):\n    ### BEGIN SOLUTION\n    y = x**3\n    return y\n    ### END SOLUTION\ncheck(cube)\n"
    out, _ = student.student_notebook(notebook(("code", source)))
    assert "x**3" not in out.cells[0].source
    assert run(out)[1] == ["not attempted"]


def test_hidden_tests_are_removed(student):
    source = ("check(square)\n### BEGIN HIDDEN TESTS\nassert square(12) == 144  # a case students do not see\n"
              "### END HIDDEN TESTS\n")
    nb = notebook(("code", STUDENT_CELL.replace("check(square)\n", "")), ("code", source))
    out, report = student.student_notebook(nb)
    assert report.hidden_blocks == 1 and "144" not in json.dumps(out)
    assert run(out)[1] == ["not attempted"]


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
