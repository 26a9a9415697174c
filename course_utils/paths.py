"""Where the course keeps its files: the repository root, data/ and build/."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

#: The repository root (course_utils is installed in editable mode from it).
ROOT = Path(__file__).resolve().parents[1]


class DataDirWarning(UserWarning):
    """$COURSE_DATA_DIR names a folder that does not exist (most likely a typo)."""


def data_dir() -> Path:
    """The local data folder: $COURSE_DATA_DIR if set, else <repo>/data.

    A COURSE_DATA_DIR that does not exist is warned about (DataDirWarning): nothing can be found
    there, and saving a checkpoint or a download would silently create it.
    """
    raw = os.environ.get("COURSE_DATA_DIR")
    if not raw:
        return ROOT / "data"
    path = Path(raw).expanduser()
    if not path.exists():
        warnings.warn(f"COURSE_DATA_DIR={raw} does not exist (a typo?): no data will be found there, and "
                      "saving a checkpoint or a download would create it. Fix the variable, or create the "
                      "folder to silence this warning.", DataDirWarning, stacklevel=2)
    return path


def build_dir() -> Path:
    """The build folder for executed notebooks and artifacts: $COURSE_BUILD_DIR or <repo>/build."""
    return Path(os.environ.get("COURSE_BUILD_DIR") or ROOT / "build").expanduser()


def checkpoint_dir() -> Path:
    """The checkpoint cache: $COURSE_CHECKPOINT_DIR, else <data dir>/checkpoints (git-ignored)."""
    forced = os.environ.get("COURSE_CHECKPOINT_DIR")
    return Path(forced).expanduser() if forced else data_dir() / "checkpoints"
