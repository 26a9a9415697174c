"""The student bundle as a student gets it (`make test-student`), and nbgrader itself.

`make student` writes build/student/; here it is built into a temporary folder and run from a fresh
venv: ``python -m venv`` whose only link to the course's venv is a ``.pth`` line naming that venv's
site-packages (torch and the other pinned packages: installing them again would take minutes and the
network). The course's own ``course_utils`` is installed in editable mode there, but its finder is not
run from a ``.pth`` path line, so the kernel can import only the bundle's copy (checked: the kernel
prints where it imported it from, and without the bundle the fresh python cannot import it at all).

- no line of the answer key (solution blocks, the references' source) is in the bundle, nor in what its
  notebooks print when they run;
- every student notebook runs top to bottom at smoke; each exercise's check says "not attempted" under
  its heading, with the heading's own string;
- a wrong answer (the lecture's ½·exp(logvar) in 07.2) gives a short ✗ with its diagnosis and Run All
  reaches the last cell;
- nbgrader (pinned, in .venv-nbgrader: `make nbgrader-env`): ``generate_assignment`` keeps and removes what
  `make student` keeps and removes, and ``autograde`` scores a submission with one right and one wrong
  answer 1 and 0 (and the untouched exercise 0).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest

from course_utils.exercises import all_exercises
from course_utils.paths import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NOT_ATTEMPTED = re.compile(r"^… (?P<name>Exercise \d\d\.\d+ — .+?): not attempted", re.MULTILINE)
VERDICT = re.compile(r"^[✓✗] Exercise", re.MULTILINE)
NBGRADER_VENV = ROOT / ".venv-nbgrader"
SHOWN = ROOT / "build" / "student-e2e"  # what a test ran, kept to look at (a screenshot of its HTML)


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _patient_client(nb, **kwargs):
    """tools/nbtools.py's patient client: its wait for a cell's reply polls in one-second slices
    (a single long ``get_msg`` sometimes never wakes on a loaded machine, jupyter/nbclient#312)."""
    spec = importlib.util.spec_from_file_location("nbtools", ROOT / "tools" / "nbtools.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.patient_client(nb, **kwargs)


def _site_packages_venv(path: Path) -> Path:
    """A fresh venv at ``path`` that sees the course venv's packages through one .pth path line."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "course-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """(the bundle's folder, the fresh venv's python, a JUPYTER_PATH with a kernel of that python)."""
    root = tmp_path_factory.mktemp("build") / "student"
    assert _load("nbtools").student(NOTEBOOKS, out=root) == 0
    python = _site_packages_venv(tmp_path_factory.mktemp("venv") / "venv")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    alone = subprocess.run([str(python), "-c", "import course_utils"], cwd=tmp_path_factory.mktemp("elsewhere"),
                           env=env, capture_output=True, text=True)
    assert alone.returncode != 0 and "No module named 'course_utils'" in alone.stderr, alone.stderr
    kernels = tmp_path_factory.mktemp("jupyter")
    spec = kernels / "kernels" / "student-bundle"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "the student bundle", "language": "python"}))
    return root, python, kernels


def _run(nb, root: Path, kernels: Path, tmp_path: Path, monkeypatch):
    """Execute ``nb`` as a student would: the bundle's folder as the working directory, smoke sizes."""
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setenv("JUPYTER_PATH", str(kernels))
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nb.cells.append(nbformat.v4.new_code_cell("import course_utils\nprint('course_utils from', course_utils.__file__)"))
    client = _patient_client(nb, timeout=900, kernel_name="student-bundle", allow_errors=True,
                             resources={"metadata": {"path": str(root)}})
    client.execute()
    return nb


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def _ran_to_the_end(nb, name: str, root: Path) -> None:
    errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(nb.cells)
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{name}: cells raised: {errors[:3]}"
    skipped = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.execution_count is None]
    assert not skipped, f"{name}: cells not run: {skipped}"
    where = _text(nb.cells[-1])
    assert f"course_utils from {root}" in where, f"{name}: the kernel imported another course_utils: {where}"


def test_no_answer_in_the_bundle(bundle):
    problems = _load("student").leak_report(bundle[0], NOTEBOOKS, all_exercises())
    assert not problems, "\n".join(problems)


def test_the_students_requirements_are_met_offline(bundle):
    """pip, in the fresh venv, finds every pinned requirement of the bundle installed: nothing to fetch."""
    python = bundle[1]
    subprocess.run([str(python), "-m", "ensurepip", "--default-pip"], check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(python), "-m", "pip", "install", "--dry-run", "--no-index", "--no-deps", "-r",
                           str(bundle[0] / "requirements.txt")], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Would install" not in done.stdout, done.stdout[-2000:]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_student_version_runs_and_reports_not_attempted(path, bundle, tmp_path, monkeypatch):
    root, _, kernels = bundle
    student = _load("student")
    nb = nbformat.read(root / path.name, as_version=4)
    exercises = student.exercise_cells(nb, path.name)
    nb = _run(nb, root, kernels, tmp_path, monkeypatch)
    _ran_to_the_end(nb, path.name, root)
    said = []
    for ex in exercises:
        text = _text(nb.cells[ex.check])
        said.extend(m["name"] for m in NOT_ATTEMPTED.finditer(text))
        assert not VERDICT.search(text), f"{path.name}: a checker passed or failed a stub:\n{text}"
    assert said == [ex.name for ex in exercises], f"{path.name}: headings {[e.name for e in exercises]}, checks {said}"
    only, _ = student.solution_needles(NOTEBOOKS, all_exercises())
    printed = "\n".join(_text(c) for c in nb.cells)
    assert not [n for n in only if n in printed], f"{path.name}: an answer in what the notebook printed"
    instructor = json.loads(path.read_text(encoding="utf-8"))  # and none printed above its question
    assert student.unreviewed_answers_before_questions(nb, instructor, path.name, all_exercises()) == []


def test_a_wrong_answer_says_so_and_run_all_goes_on(bundle, tmp_path, monkeypatch):
    """07.2 with the lecture's σ = ½·exp(logvar): a short ✗ with the diagnosis, and the notebook runs to its end."""
    root, _, kernels = bundle
    student = _load("student")
    nb = nbformat.read(root / "07_vae.ipynb", as_version=4)
    ex = next(e for e in student.exercise_cells(nb) if e.number == "07.2")
    answer = ex.check - 1
    assert "def reparameterize" in nb.cells[answer].source
    nb.cells[answer].source = ("def reparameterize(mu, logvar, eps):\n"
                               "    std = 0.5 * torch.exp(logvar)  # the lecture's σ\n"
                               "    return mu + std * eps\n")
    nb.cells.insert(ex.check + 1, nbformat.v4.new_code_cell("ex.reparameterisation.hint()\n"
                                                            "ex.reparameterisation.hint()"))
    nb = _run(nb, root, kernels, tmp_path, monkeypatch)
    SHOWN.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, SHOWN / "07_vae-wrong-answer.ipynb")
    _ran_to_the_end(nb, "07_vae.ipynb", root)
    said = _text(nb.cells[ex.check])
    assert said.startswith("✗ Exercise 07.2 — the reparameterisation: wrong on test case 1 of 3"), said
    assert "Diagnosis: ½·exp(logvar) is not σ (the lecture's slip)" in said and "Traceback" not in said
    assert len(said.strip().splitlines()) == 3  # what, the diagnosis, where the hint is
    hints = _text(nb.cells[ex.check + 1]).splitlines()
    assert hints[0].startswith("※ Exercise 07.2 — the reparameterisation, hint 1 of 2") and "exp(½·logvar)" in hints[1]
    assert "exp(½·logvar)" not in hints[0] + said
    assert len(NOT_ATTEMPTED.findall("\n".join(_text(c) for c in nb.cells))) == 2  # 07.1 and 07.3 after it ran


# ----------------------------------------------------------------------------- nbgrader
def _nbgrader(course: Path, *args: str, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    """Run nbgrader from its venv in ``course`` (no PYTHONPATH unless given: the kernel imports what it names)."""
    if not (NBGRADER_VENV / "bin" / "nbgrader").exists():
        pytest.skip(f"nbgrader is not installed in {NBGRADER_VENV}: `make nbgrader-env` (pip, pinned in "
                    "requirements-nbgrader.txt)")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NBGRADER_EXECUTION", "COURSE_DATA_DIR")}
    env.update(extra_env or {})
    env["PATH"] = f"{NBGRADER_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"  # it runs `alembic` by name
    done = subprocess.run([str(NBGRADER_VENV / "bin" / "nbgrader"), *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _course(tmp_path: Path, assignment: str, notebooks: list[Path]) -> Path:
    """An nbgrader course folder: source/<assignment>/ holds the notebooks with nbgrader's cell metadata."""
    student = _load("student")
    course = tmp_path / "course"
    source = course / "source" / assignment
    source.mkdir(parents=True)
    for path in notebooks:
        nb = student.nbgrader_notebook(json.loads(path.read_text(encoding="utf-8")), path.name)
        (source / path.name).write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseDirectory.course_id = 'generative-models'\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{course / 'gradebook.db'}'\n"
        f"c.Exchange.root = '{course / 'exchange'}'\n"
        "c.ClearSolutions.code_stub = {'python': ''}  # make student leaves the solution cell out\n"
        "c.Execute.timeout = 900\n")
    return course


def _cells(nb) -> list[tuple[str, str]]:
    return [(c["cell_type"], "".join(c["source"])) for c in nb["cells"]]


def test_nbgrader_generate_assignment_keeps_and_removes_what_make_student_does(bundle, tmp_path):
    course = _course(tmp_path, "course", NOTEBOOKS)
    _nbgrader(course, "generate_assignment", "course", "--force")
    for path in NOTEBOOKS:
        released = json.loads((course / "release" / "course" / path.name).read_text(encoding="utf-8"))
        ours = json.loads((bundle[0] / path.name).read_text(encoding="utf-8"))
        emptied = [c for c in released["cells"] if not "".join(c["source"]).strip()]
        assert all(c["metadata"]["nbgrader"]["solution"] for c in emptied)  # nbgrader empties, we leave out
        kept = [c for c in _cells(released) if c[1].strip()]
        assert kept == _cells(ours), f"{path.name}: nbgrader's student version differs from make student's"
        locked = [c for c in released["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
        assert len(locked) == len(emptied) == len(_load("student").exercise_cells(ours))


def test_nbgrader_autograde_scores_one_right_one_wrong(bundle, tmp_path):
    root = bundle[0]
    name = "01_generative_vs_discriminative.ipynb"
    course = _course(tmp_path, "hw01", [ROOT / "notebooks" / name])
    _nbgrader(course, "generate_assignment", "hw01", "--force")
    nb = json.loads((course / "release" / "hw01" / name).read_text(encoding="utf-8"))

    def answer(stub_start: str, code: str) -> None:
        cell = next(c for c in nb["cells"] if "".join(c["source"]).startswith(stub_start))
        cell["source"] = code

    answer("def my_log_prior", "def my_log_prior(y):\n    return np.log(np.bincount(y, minlength=10) / len(y))\n")
    answer("def my_log_px_given_y", "def my_log_px_given_y(x, theta):\n"
                                    "    return (x * np.log(theta)).sum(axis=1)  # forgets the pixels that are off\n")
    submitted = course / "submitted" / "student1" / "hw01"
    submitted.mkdir(parents=True)
    (submitted / name).write_text(json.dumps(nb), encoding="utf-8")
    _nbgrader(course, "autograde", "hw01", "--force", extra_env={
        "PYTHONPATH": str(root), "COURSE_PROFILE": "smoke", "COURSE_BUILD_DIR": str(tmp_path / "build"),
        "COURSE_CHECKPOINT_DIR": str(tmp_path / "checkpoints"), "OMP_NUM_THREADS": "1"})
    scores = subprocess.run(
        [str(NBGRADER_VENV / "bin" / "python"), "-c",
         "import json, sys\nfrom nbgrader.api import Gradebook\n"
         f"with Gradebook('sqlite:///{course / 'gradebook.db'}') as gb:\n"
         f"    nb = gb.find_submission_notebook('{Path(name).stem}', 'hw01', 'student1')\n"
         "    print(json.dumps({g.name: [g.score, g.max_score] for g in nb.grades}))"],
        capture_output=True, text=True, check=True).stdout
    graded = json.loads(scores.strip().splitlines()[-1])
    SHOWN.mkdir(parents=True, exist_ok=True)
    (SHOWN / "nbgrader-scores.json").write_text(json.dumps(graded, indent=1))
    assert graded == {"ex01_1": [1.0, 1.0], "ex01_2": [0.0, 1.0], "ex01_3": [0.0, 1.0]}, graded
    autograded = json.loads((course / "autograded" / "student1" / "hw01" / name).read_text(encoding="utf-8"))
    failed = [c for c in autograded["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "ex01_2"][0]
    assert "Diagnosis: only the pixels that are on count here" in json.dumps(failed["outputs"], ensure_ascii=False)
