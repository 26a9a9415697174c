"""Static slides and HTML pages load nothing from the network (issue 13): every script, style sheet
and font they reference is a file beside them. The browser test (tests/e2e/test_browser.py) opens
them with the network cut off; this test reads what they reference, in a second, without a browser."""

import importlib.util
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

from course_utils.paths import ROOT

REMOTE = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.IGNORECASE)
LOCAL_REF = re.compile(r"""(?:src|href)\s*=\s*["'](_static/[^"'?#]+)""")


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tools():
    webassets = _load("webassets")
    problem = webassets.missing()
    if problem:
        pytest.skip(f"cannot render offline pages here: {problem}")
    return webassets, _load("nbtools")


def small_notebook():
    nb = nbformat.v4.new_notebook()
    nb.metadata["language_info"] = {"name": "python"}
    md = nbformat.v4.new_markdown_cell("# Title (标题)\n\nA formula: $p(x \\mid y)$.")
    md.metadata["slideshow"] = {"slide_type": "slide"}
    code = nbformat.v4.new_code_cell("x = 1")
    code.metadata["slideshow"] = {"slide_type": "fragment"}
    code.outputs = [nbformat.v4.new_output("display_data",
                                           data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})]
    nb.cells = [md, code]
    # widget state, as `make course` stores it: the page then loads the widget manager
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"version_major": 2, "version_minor": 0,
                                                                           "state": {}}}
    return nb


@pytest.mark.parametrize("slides", [False, True], ids=["html", "slides"])
def test_pages_reference_only_local_files(tools, tmp_path, slides):
    _, nbtools = tools
    html, _ = nbtools.html_exporter(tmp_path, slides=slides).from_notebook_node(small_notebook())
    remote = [m.group(0) for m in REMOTE.finditer(html)]
    assert not remote, f"the page loads from the network: {remote}"
    assert "import mermaid" not in html and "cdnjs" not in html and "unpkg.com" not in html
    local = set(LOCAL_REF.findall(html)) | set(re.findall(r"""[\"'](_static/[^\"'?]+)""", html))
    assert any("mathjax/MathJax.js" in u for u in local) and any("require.js" in u for u in local)
    assert any("embed-amd.js" in u for u in local), "the widget manager is not loaded"
    if slides:
        assert any("reveal.js/dist/reveal" in u for u in local)
    missing = [u for u in local if not (tmp_path / u).exists()]
    assert not missing, f"referenced but not staged: {missing}"


def test_missing_assets_are_named(tmp_path, monkeypatch):
    webassets = _load("webassets")
    monkeypatch.setenv("COURSE_WEB_ASSETS", str(tmp_path / "none"))
    assert "make setup" in webassets.missing()
    (tmp_path / "none").mkdir()
    (tmp_path / "none" / webassets.STAMP).write_text(json.dumps({"reveal.js@1.0.0": "sha512-x"}))
    assert "not the pinned versions" in webassets.missing()
    with pytest.raises(RuntimeError, match="make setup"):
        webassets.stage(Path(tmp_path / "out"))
