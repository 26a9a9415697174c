"""Where the course keeps its files: the repository root, data/ and build/."""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root (course_utils is installed in editable mode from it).
ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """The local data folder: $COURSE_DATA_DIR if set, else <repo>/data."""
    return Path(os.environ.get("COURSE_DATA_DIR") or ROOT / "data").expanduser()


def build_dir() -> Path:
    """The build folder for executed notebooks and artifacts: $COURSE_BUILD_DIR or <repo>/build."""
    return Path(os.environ.get("COURSE_BUILD_DIR") or ROOT / "build").expanduser()


def checkpoint_dir() -> Path:
    """The checkpoint cache: $COURSE_CHECKPOINT_DIR, else <data dir>/checkpoints (git-ignored)."""
    forced = os.environ.get("COURSE_CHECKPOINT_DIR")
    return Path(forced).expanduser() if forced else data_dir() / "checkpoints"
