"""`make course` (tools/nbtools.py execute) never hangs: a patient reply wait, a per-cell timeout naming the cell.

Each test starts a kernel (seconds): the slow ones run a notebook of a few tiny cells.
"""

import importlib.util
import subprocess
import sys
import time

import nbformat
import pytest

from course_utils.paths import ROOT


@pytest.fixture(scope="module")
def nbtools():
    spec = importlib.util.spec_from_file_location("nbtools_exec", ROOT / "tools" / "nbtools.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nb(*sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


# A kernel client whose long shell waits never wake, as in jupyter/nbclient#312: a get_msg with no
# timeout (or a long one) sleeps although the reply is there; a short one returns it.
DEAF = '''
import asyncio
from nbclient.util import run_sync
from nbconvert.preprocessors import ExecutePreprocessor

class Deaf(ExecutePreprocessor):
    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        get_msg = kc.shell_channel.get_msg
        async def deaf_get_msg(timeout=None, **kw):
            if timeout is None or timeout > 5:
                await asyncio.sleep(3600)
            return await get_msg(timeout=timeout, **kw)
        kc.shell_channel.get_msg = deaf_get_msg
        return kc
    start_new_kernel_client = run_sync(async_start_new_kernel_client)
'''


def _run_deaf(patient: bool, limit: float) -> tuple[str, float]:
    code = DEAF + f'''
import importlib.util, nbformat
spec = importlib.util.spec_from_file_location("nbtools", {str(ROOT / "tools" / "nbtools.py")!r})
nbtools = importlib.util.module_from_spec(spec); spec.loader.exec_module(nbtools)
cls = nbtools.patient(Deaf) if {patient} else Deaf
nb = nbformat.v4.new_notebook(); nb.cells = [nbformat.v4.new_code_cell("x = 6 * 7"), nbformat.v4.new_code_cell("x")]
cls(timeout=None if not {patient} else 60, kernel_name="python3").preprocess(nb, {{}})
print("RESULT", nb.cells[1].outputs[0]["data"]["text/plain"])
'''
    start = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=limit)
        return done.stdout + done.stderr, time.monotonic() - start
    except subprocess.TimeoutExpired:
        return "HUNG", time.monotonic() - start


def test_a_reply_that_a_long_wait_misses_is_seen_by_the_patient_wait():
    out, seconds = _run_deaf(patient=True, limit=120)
    assert "RESULT 42" in out, out[-2000:]
    # control: nbconvert's own client with no cell timeout waits forever on the same kernel client
    control, control_s = _run_deaf(patient=False, limit=min(60.0, 3 * seconds + 20))
    assert control == "HUNG", control[-2000:]


def test_a_cell_past_its_timeout_is_named(nbtools):
    runner = nbtools.patient(__import__("nbconvert").preprocessors.ExecutePreprocessor)
    nb = _nb("x = 1", "import time\ntime.sleep(30)  # the slow one", "y = 2")
    with pytest.raises(nbtools.CellTookTooLong, match=r"cell 1 \('import time'\) did not finish within 3 s"):
        runner(timeout=3, kernel_name="python3").preprocess(nb, {})


def test_execute_writes_pages_and_names_a_failing_notebook(nbtools, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_CELL_TIMEOUT", "5")
    good, slow = tmp_path / "01_good.ipynb", tmp_path / "02_slow.ipynb"
    nbformat.write(_nb("print(6 * 7)"), good)
    nbformat.write(_nb("import time; time.sleep(60)"), slow)
    monkeypatch.setattr(nbtools, "html_exporter", lambda out: type("E", (), {
        "from_notebook_node": staticmethod(lambda nb: ("<html></html>", {}))})())
    start = time.monotonic()
    assert nbtools.execute([good, slow]) == 1
    assert time.monotonic() - start < 45
    err = capsys.readouterr().err
    assert "02_slow.ipynb: CellTookTooLong: cell 0 ('import time; time.sleep(60)') did not finish within 5 s" in err
    executed = tmp_path / "build" / "executed"
    assert "42" in (executed / "01_good.ipynb").read_text() and (executed / "02_slow.html").exists()


def test_cell_timeout_comes_from_the_profile_or_the_environment(nbtools, monkeypatch):
    assert nbtools.cell_timeout() == 600  # smoke (tests/conftest.py)
    monkeypatch.setenv("COURSE_PROFILE", "cpu")
    assert nbtools.cell_timeout() == 3600
    monkeypatch.setenv("COURSE_CELL_TIMEOUT", "90")
    assert nbtools.cell_timeout() == 90
    for bad in ("0", "-3", "1.5", "soon"):
        monkeypatch.setenv("COURSE_CELL_TIMEOUT", bad)
        with pytest.raises(ValueError, match="COURSE_CELL_TIMEOUT must be a whole number of seconds from 1"):
            nbtools.cell_timeout()
