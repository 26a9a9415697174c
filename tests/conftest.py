"""Shared fixtures: every test gets its own data/ and build/ folders and a known profile."""

import importlib.util
import sys

import pytest

from course_utils.paths import ROOT


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    """Point COURSE_DATA_DIR / COURSE_BUILD_DIR at a temp folder; profile smoke unless a test changes it."""
    (tmp_path / "data").mkdir()  # exists, as a real data folder does (a missing one is warned about)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.delenv("COURSE_DOWNLOAD", raising=False)
    monkeypatch.delenv("COURSE_CHECKPOINT_DIR", raising=False)
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    monkeypatch.delenv("COURSE_LANG", raising=False)  # English unless a test sets it (course_utils.i18n)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)  # set when pytest runs inside a Jupyter kernel
    return tmp_path


@pytest.fixture(scope="session")
def i18n_build():
    """tools/i18n_build.py (the Chinese notebooks' build and lint), imported as a module."""
    spec = importlib.util.spec_from_file_location("i18n_build", ROOT / "tools" / "i18n_build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["i18n_build"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
