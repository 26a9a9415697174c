"""`make notebooks` (tools/nbtools.py build) never overwrites a notebook a student edited (issue 10, item 1)."""

import importlib.util
import json
import shutil
import subprocess

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

# %% [markdown] slideshow={"slide_type": "slide"}
# # A notebook

# %% slideshow={"slide_type": "fragment"}
x = 1
"""


@pytest.fixture(scope="module")
def nbtools():
    spec = importlib.util.spec_from_file_location("nbtools", ROOT / "tools" / "nbtools.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def py(tmp_path):
    path = tmp_path / "nb" / "01_a.py"
    path.parent.mkdir()
    path.write_text(SOURCE, encoding="utf-8")
    return path


def sources(ipynb):
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in json.loads(ipynb.read_text(encoding="utf-8"))["cells"]]


def student_adds_a_cell(ipynb, text="my own work = 42"):
    """What an editor without jupytext's pairing does: the .ipynb changes, the .py does not."""
    nb = json.loads(ipynb.read_text(encoding="utf-8"))
    nb["cells"].append({"cell_type": "code", "execution_count": None, "id": "mine", "metadata": {},
                        "outputs": [], "source": [text]})
    ipynb.write_text(json.dumps(nb, indent=1), encoding="utf-8")


def test_a_changed_source_regenerates_an_unedited_notebook(nbtools, py):
    assert nbtools.build([py]) == 0
    ipynb = py.with_suffix(".ipynb")
    assert sources(ipynb)[-1] == "x = 1"
    py.write_text(SOURCE.replace("x = 1", "x = 2"), encoding="utf-8")
    assert nbtools.build([py]) == 0
    assert sources(ipynb)[-1] == "x = 2"
    assert nbtools.check([py]) == 0


def test_an_edited_notebook_is_not_overwritten(nbtools, py, capsys):
    # before: the student's cell was silently replaced by what the .py says
    nbtools.build([py])
    ipynb = py.with_suffix(".ipynb")
    student_adds_a_cell(ipynb)
    edited = ipynb.read_text(encoding="utf-8")
    capsys.readouterr()
    assert nbtools.build([py]) == 1
    assert ipynb.read_text(encoding="utf-8") == edited  # kept, byte for byte
    msg = capsys.readouterr().out
    assert str(ipynb) in msg and "--force" in msg and "jupytext" in msg
    # the .py changed as well: still refused (both sides have changes)
    py.write_text(SOURCE.replace("x = 1", "x = 3"), encoding="utf-8")
    assert nbtools.build([py]) == 1 and ipynb.read_text(encoding="utf-8") == edited
    # --force discards the edits on purpose
    assert nbtools.build([py], force=True) == 0
    assert sources(ipynb)[-1] == "x = 3"


def test_keeping_the_edits_as_the_message_says(nbtools, py, capsys):
    nbtools.build([py])
    ipynb = py.with_suffix(".ipynb")
    student_adds_a_cell(ipynb)
    capsys.readouterr()
    nbtools.build([py])
    msg = capsys.readouterr().out
    # the suggested command writes the notebook (edits included) back into its .py source
    command = next(line.strip().strip("`") for line in msg.splitlines() if "jupytext --to" in line)
    command = command.split("`")[1] if "`" in command else command
    subprocess.run(command, shell=True, check=True, cwd=py.parent, capture_output=True)
    assert "my own work = 42" in py.read_text(encoding="utf-8")
    assert nbtools.build([py]) == 0 and "my own work = 42" in sources(ipynb)[-1]


def test_outputs_and_paired_saves_are_not_edits(nbtools, py):
    nbtools.build([py])
    ipynb = py.with_suffix(".ipynb")
    nb = json.loads(ipynb.read_text(encoding="utf-8"))
    nb["cells"][-1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["1\n"]}]
    nb["cells"][-1]["execution_count"] = 1
    ipynb.write_text(json.dumps(nb), encoding="utf-8")
    assert nbtools.build([py]) == 0 and nbtools.check([py]) == 0  # outputs are no work: cleaned
    # JupyterLab with jupytext's pairing saves both files: the same cells, nothing to lose
    py.write_text(SOURCE + "\n# %%\ny = 2\n", encoding="utf-8")
    student_adds_a_cell(ipynb, "y = 2")
    assert nbtools.build([py]) == 0 and sources(ipynb)[-1] == "y = 2"


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_notebooks_generated_before_the_record_existed(nbtools, py, tmp_path, capsys):
    """A committed notebook without the hash record: safe if in sync, or unchanged since the commit."""
    nbtools.build([py])
    ipynb = py.with_suffix(".ipynb")
    nb = json.loads(ipynb.read_text(encoding="utf-8"))
    del nb["metadata"][nbtools.RECORD]
    ipynb.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(py.parent)]
    subprocess.run(["git", "-C", str(py.parent), "init", "-q"], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "x"], check=True)
    py.write_text(SOURCE.replace("x = 1", "x = 5"), encoding="utf-8")
    assert nbtools.build([py]) == 0 and sources(ipynb)[-1] == "x = 5"  # as committed: regenerated
    del_record = json.loads(ipynb.read_text(encoding="utf-8"))
    del del_record["metadata"][nbtools.RECORD]
    ipynb.write_text(json.dumps(del_record, indent=1), encoding="utf-8")
    student_adds_a_cell(ipynb)
    py.write_text(SOURCE.replace("x = 1", "x = 6"), encoding="utf-8")
    capsys.readouterr()
    assert nbtools.build([py]) == 1 and "my own work = 42" in sources(ipynb)[-1]
    assert str(ipynb) in capsys.readouterr().out


def jupyterlab_opens_and_saves(ipynb, version):
    """What JupyterLab adds to a notebook when its kernel starts and the notebook is saved."""
    nb = json.loads(ipynb.read_text(encoding="utf-8"))
    nb["metadata"]["language_info"] = {"name": "python", "version": version, "mimetype": "text/x-python",
                                       "codemirror_mode": {"name": "ipython", "version": 3},
                                       "pygments_lexer": "ipython3", "nbconvert_exporter": "python",
                                       "file_extension": ".py"}
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2,
                                                                               "version_minor": 0}}
    nb["cells"][-1]["metadata"]["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00Z"}
    nb["cells"][-1]["metadata"]["scrolled"] = True
    ipynb.write_text(json.dumps(nb, indent=1), encoding="utf-8")


def test_generated_notebooks_carry_the_kernels_language_info(nbtools, py):
    """Without language_info JupyterLab adds it on open and marks the notebook changed (issue 13)."""
    import platform

    nbtools.build([py])
    info = json.loads(py.with_suffix(".ipynb").read_text(encoding="utf-8"))["metadata"]["language_info"]
    # what ipykernel reports to JupyterLab from this interpreter, field by field
    assert info["name"] == "python" and info["version"] == platform.python_version()
    assert info["pygments_lexer"] == "ipython3" and info["file_extension"] == ".py"
    assert info["codemirror_mode"] == {"name": "ipython", "version": 3}


def test_metadata_jupyterlab_writes_is_not_an_edit(nbtools, py):
    """The edit-detecting hash covers cells only: JupyterLab's metadata neither blocks nor changes it."""
    nbtools.build([py])
    ipynb = py.with_suffix(".ipynb")
    recorded = json.loads(ipynb.read_text(encoding="utf-8"))["metadata"][nbtools.RECORD]["cells_sha256"]
    jupyterlab_opens_and_saves(ipynb, "3.99.0")
    opened = json.loads(ipynb.read_text(encoding="utf-8"))
    assert nbtools.cells_hash(opened) == recorded
    py.write_text(SOURCE.replace("x = 1", "x = 7"), encoding="utf-8")
    assert nbtools.build([py]) == 0 and sources(ipynb)[-1] == "x = 7"  # regenerated, not refused
    rebuilt = json.loads(ipynb.read_text(encoding="utf-8"))
    # the notebook's language_info is kept (no rewrite of every notebook for another Python's version)
    assert rebuilt["metadata"]["language_info"]["version"] == "3.99.0"
    assert "widgets" not in rebuilt["metadata"] and "execution" not in rebuilt["cells"][-1]["metadata"]
    before = ipynb.read_bytes()
    assert nbtools.build([py]) == 0 and ipynb.read_bytes() == before  # stable: a second build writes nothing


def test_a_generated_notebook_is_not_newer_than_its_source(nbtools, py):
    """JupyterLab's jupytext refuses to open a paired .ipynb that is more recent than its .py."""
    import os

    nbtools.build([py])
    ipynb = py.with_suffix(".ipynb")
    assert ipynb.stat().st_mtime_ns <= py.stat().st_mtime_ns
    later = py.stat().st_mtime_ns + 5_000_000_000
    os.utime(ipynb, ns=(later, later))  # e.g. written by an older nbtools, or a checkout
    assert nbtools.build([py]) == 0 and ipynb.stat().st_mtime_ns <= py.stat().st_mtime_ns


def test_keeping_an_edit_that_ends_with_a_newline_does_not_loop(nbtools, py, capsys):
    """jupytext drops a cell's trailing newline on the way to the .py: the edit is kept, not refused again."""
    nbtools.build([py])
    ipynb = py.with_suffix(".ipynb")
    student_adds_a_cell(ipynb, "y = 2\n")
    assert nbtools.build([py]) == 1  # control: an edit the .py does not have is refused
    exe = ROOT / ".venv" / "bin" / "jupytext"
    jupytext = str(exe) if exe.exists() else "jupytext"
    subprocess.run([jupytext, "--to", "py:percent", "--output", str(py), str(ipynb)], check=True, capture_output=True)
    capsys.readouterr()
    assert nbtools.build([py]) == 0, capsys.readouterr().out
    assert sources(ipynb)[-1] == "y = 2"


def test_a_truncated_notebook_is_named_by_check(nbtools, py, capsys):
    nbtools.build([py])
    ipynb = py.with_suffix(".ipynb")
    ipynb.write_text(ipynb.read_text(encoding="utf-8")[:100], encoding="utf-8")  # a disk that filled up
    assert nbtools.check([py]) == 1
    assert f"{ipynb} is not a readable notebook" in capsys.readouterr().out
