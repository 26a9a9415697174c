"""Where the course keeps its files (the repository root, data/, build/, checkpoints) and how it writes them."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import socket
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

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


def checkpoint_dirs() -> list[Path]:
    """The checkpoint folders, in search order: $COURSE_CHECKPOINT_DIR, else [<data dir>/checkpoints].

    COURSE_CHECKPOINT_DIR may list several folders separated by ``os.pathsep`` (":" on Linux and
    macOS, ";" on Windows), e.g. a read-only folder of models an instructor trained and a folder
    of one's own: ``/srv/course-models:~/course-checkpoints``. Models load from any of them; new
    ones are written to the first that can be written (``checkpoint_dir``).
    """
    forced = os.environ.get("COURSE_CHECKPOINT_DIR", "")
    dirs = [Path(p).expanduser() for p in forced.split(os.pathsep) if p.strip()]
    return dirs or [data_dir() / "checkpoints"]


def _can_write(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (or in the nearest existing folder above it)."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def checkpoint_dir() -> Path:
    """Where new checkpoints go: the first folder of ``checkpoint_dirs()`` that can be written.

    When none can, the first is returned (writing there then fails with a message naming it).
    """
    dirs = checkpoint_dirs()
    return next((d for d in dirs if _can_write(d)), dirs[0])


# --------------------------------------------------------------------------- writing files

class DiskFullError(OSError):
    """A file could not be written because its disk (or quota) is full; the message names the file."""


_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}


def _tmp_name(path: Path) -> Path:
    """The temporary file beside ``path`` a writer uses: .<name>.<host>.<pid>.<random>.tmp."""
    host = socket.gethostname().replace(".", "-") or "host"
    return path.with_name(f".{path.name}.{host}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def atomic_write(path: str | Path, data: bytes | str | Callable[[BinaryIO], None]) -> Path:
    """Write ``data`` (bytes, text as UTF-8, or a function writing to a binary file) to ``path`` atomically.

    The data go to a temporary file beside ``path`` (created with mode 0666 less the umask, as
    ``open`` does), are flushed to disk, then renamed over ``path``: a reader sees the old file or
    the new one, never a part. A full disk is a ``DiskFullError`` that names ``path`` and says
    "disk full"; the old file is then left as it was and the temporary file removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        if err.errno in _DISK_FULL:
            raise DiskFullError(err.errno, f"disk full: could not write {path} ({err.strerror}); free some space "
                                f"on that disk (or point COURSE_BUILD_DIR / COURSE_CHECKPOINT_DIR elsewhere) "
                                "and run again; the previous file, if any, is unchanged") from err
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def remove_stale_tmp(path: str | Path, *, legacy_age_s: float = 3600.0) -> list[Path]:
    """Remove this user's temporary files of ``path`` whose writer is gone; returns them.

    A writer's temporary file is .<name>.<host>.<pid>.<random>.tmp (``atomic_write``): one of this
    host whose process no longer runs was left by a killed run. Files of another user, of another
    host (a shared folder) or of a live writer are never touched. The older naming
    <name><random>.tmp (before the pid was in the name) is removed when older than ``legacy_age_s``.
    """
    path = Path(path)
    host = socket.gethostname().replace(".", "-") or "host"
    removed = []
    try:
        candidates = list(path.parent.iterdir())
    except OSError:
        return removed
    uid = os.getuid() if hasattr(os, "getuid") else None
    for tmp in candidates:
        name = tmp.name
        if not name.endswith(".tmp"):
            continue
        stale = False
        if name.startswith(f".{path.name}."):
            parts = name[len(path.name) + 2:-len(".tmp")].split(".")
            if len(parts) == 3 and parts[0] == host and parts[1].isdigit():
                stale = not _pid_alive(int(parts[1]))
        elif name.startswith(path.name) and name != path.name:
            try:
                stale = time.time() - tmp.stat().st_mtime > legacy_age_s
            except OSError:
                continue
        if not stale:
            continue
        try:
            if uid is not None and tmp.stat().st_uid != uid:
                continue
            tmp.unlink()
            removed.append(tmp)
        except OSError:
            continue
    return removed
