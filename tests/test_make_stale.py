"""make rebuilds a notebook whose .py is newer before it runs, copies or renders it (issue 21, item 3)."""

import os
import shutil
import subprocess
import sys
import time

import pytest

from course_utils.paths import ROOT

SOURCE = """# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %%
x = 1
"""

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


@pytest.fixture
def repo(tmp_path):
    """A copy of the Makefile and tools/ with one notebook, and a venv that is this Python."""
    (tmp_path / "tools").mkdir()
    shutil.copy(ROOT / "Makefile", tmp_path)
    for tool in ("nbtools.py", "i18n_build.py"):  # nbtools builds the Chinese notebooks with i18n_build
        shutil.copy(ROOT / "tools" / tool, tmp_path / "tools")
    for name in ("requirements.txt", "requirements-nbgrader.txt", "pyproject.toml"):
        (tmp_path / name).write_text("")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    python = tmp_path / ".venv" / "bin" / "python"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    (tmp_path / ".venv" / ".installed").touch()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_a.py").write_text(SOURCE)
    return tmp_path


def make(repo, *args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(["make", "--no-print-directory", "-C", str(repo), *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_a_newer_source_is_rebuilt_and_an_edited_notebook_stops_make(repo):
    py, ipynb = repo / "notebooks" / "01_a.py", repo / "notebooks" / "01_a.ipynb"
    assert make(repo, "notebooks/01_a.ipynb").returncode == 0 and ipynb.exists()
    assert make(repo, "-q", "notebooks/01_a.ipynb").returncode == 0  # up to date: nothing to do
    time.sleep(0.01)
    py.write_text(SOURCE + "\n# %%\nraise RuntimeError('added to the .py')\n")
    assert "added to the .py" not in ipynb.read_text()  # control: the notebook is stale now
    assert make(repo, "-q", "notebooks/01_a.ipynb").returncode == 1  # make sees it
    done = make(repo, "notebooks/01_a.ipynb")
    assert done.returncode == 0 and "added to the .py" in ipynb.read_text()
    assert make(repo, "-q", "notebooks/01_a.ipynb").returncode == 0
    # a notebook with edits of its own and a newer .py: nothing is overwritten, make stops naming it
    edited = ipynb.read_text().replace("x = 1", "x = 'my work'")
    ipynb.write_text(edited)
    time.sleep(0.01)
    py.write_text(SOURCE.replace("x = 1", "x = 2"))
    done = make(repo, "notebooks/01_a.ipynb")
    assert done.returncode != 0 and "01_a.ipynb was NOT regenerated" in done.stdout
    assert ipynb.read_text() == edited


def test_every_target_that_runs_or_copies_notebooks_rebuilds_them_first(repo):
    for target in ("nbval", "test-cpu", "test-full-dry", "test-student", "course", "present", "slides",
                   "student", "site"):
        plan = make(repo, "-n", "-W", "notebooks/01_a.py", target).stdout
        assert "nbtools.py build notebooks/01_a.py" in plan, (target, plan)
