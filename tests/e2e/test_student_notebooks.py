"""Every notebook's student version runs top to bottom at smoke, each checker saying "not attempted".

`make test-student` (not part of `make unit`: it executes every notebook). The other two directions:
nbval (`make test`) runs the instructor versions, whose solution cells assert their checker passes,
and tests/test_exercises.py gives every registered checker its plausible wrong answers, each of which
must fail with a message that says what is wrong. This test ties the three together: each exercise
a student version reports is a registered one with at least one such mistake.
"""

import importlib
import importlib.util
import pkgutil
import re
import sys

import nbformat
import pytest

from course_utils.paths import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NOT_ATTEMPTED = re.compile(r"^\[(?P<name>[^\]]+)\] not attempted", re.MULTILINE)
CORRECT = re.compile(r"^\[[^\]]+\] correct", re.MULTILINE)


def _patient_client(nb, **kwargs):
    """tools/nbtools.py's patient client: its wait for a cell's reply polls in one-second slices
    (a single long ``get_msg`` sometimes never wakes on a loaded machine, jupyter/nbclient#312)."""
    spec = importlib.util.spec_from_file_location("nbtools", ROOT / "tools" / "nbtools.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.patient_client(nb, **kwargs)


def _student_module():
    spec = importlib.util.spec_from_file_location("student", ROOT / "tools" / "student.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["student"] = module
    spec.loader.exec_module(module)
    return module


def _registry():
    import course_utils.exercises as exercises

    for info in pkgutil.iter_modules(exercises.__path__):
        importlib.import_module(f"course_utils.exercises.{info.name}")
    return exercises.REGISTRY


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_student_version_runs_and_reports_not_attempted(path, tmp_path, monkeypatch):
    nb, report = _student_module().student_notebook(nbformat.read(path, as_version=4), path.name)
    if report.solution_blocks == 0:
        pytest.skip(f"{path.name} has no exercise (no {'### BEGIN SOLUTION'} block)")
    # as `make test` runs notebooks: smoke, fresh build and checkpoint folders, the repository's data
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    work = tmp_path / "student"
    work.mkdir()
    client = _patient_client(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(work)}})
    client.execute()  # a student version that crashes (a checker raising on a stub) fails here, with the cell

    said = []
    for cell in nb.cells:
        text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        said.extend(m["name"] for m in NOT_ATTEMPTED.finditer(text))
        assert not CORRECT.search(text), f"{path.name}: a checker passed on a stub:\n{text}"
    assert len(said) == report.solution_blocks, (
        f"{path.name}: {report.solution_blocks} solution block(s), but {len(said)} checker(s) said "
        f"'not attempted': {said}")
    assert len(set(said)) == len(said), f"{path.name}: an exercise reported twice: {said}"
    registry = _registry()
    for name in said:
        assert name in registry, f"{path.name}: exercise {name!r} is not registered (tests/test_exercises.py " \
                                 "would not try its wrong answers)"
        assert registry[name].mistakes, f"{name!r} has no plausible mistake to reject"
