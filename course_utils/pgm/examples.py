"""The bundled example networks (asia, alarm, child, ...), read offline.

``example_network(name)`` reads data/networks/<name>.bif(.gz) (a user's data folder first, then
the copies shipped with the course) with :func:`~course_utils.pgm.bif.read_bif`, and falls back
to pgmpy's bundled copy. It sits above both the network class and the BIF reader, so neither of
them imports the other's user.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

from course_utils.paths import ROOT, data_dir
from course_utils.pgm.bif import read_bif
from course_utils.pgm.network import BayesianNetwork

#: Networks that ``example_network`` loads offline (pgmpy's bundled .bif files).
EXAMPLE_NETWORKS = (
    "asia", "cancer", "earthquake", "survey", "sachs", "child", "insurance", "alarm",
    "win95pts", "hailfinder", "hepar2", "andes", "pigs", "water", "link",
)


def example_network(name: str) -> BayesianNetwork:
    """A bundled network by name (offline): data/networks/<name>.bif(.gz) if present, else
    pgmpy's bundled copy. A fresh copy each call. See ``EXAMPLE_NETWORKS``."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a network's name (a string, one of {', '.join(EXAMPLE_NETWORKS)}), "
                        f"got {name!r}")
    return _load_example(name.lower()).copy()


def _load_example(name: str) -> BayesianNetwork:
    """The network ``name`` from the first .bif found (data dir, then the shipped copies), else pgmpy's.

    Parsing is cached on everything it depends on: the file found (so the data folder that
    ``COURSE_DATA_DIR`` points to) and its size and modification time.
    """
    # the shipped copies (data/networks/, survive pgmpy 1.3) and a user's data folder
    folders = dict.fromkeys([data_dir() / "networks", ROOT / "data" / "networks"])
    for path in (d / f"{name}{ext}" for d in folders for ext in (".bif", ".bif.gz")):
        if path.is_file():
            stat = path.stat()
            return _read_example_file(str(path), stat.st_size, stat.st_mtime_ns)
    return _pgmpy_example(name)


@functools.lru_cache(maxsize=16)
def _read_example_file(path: str, size: int, mtime_ns: int) -> BayesianNetwork:
    return read_bif(Path(path))


@functools.lru_cache(maxsize=16)
def _pgmpy_example(name: str) -> BayesianNetwork:
    if name not in EXAMPLE_NETWORKS:
        raise ValueError(f"unknown example network {name!r}: choose one of "
                         f"{', '.join(EXAMPLE_NETWORKS)} (or put {name}.bif under "
                         f"{data_dir() / 'networks'})")
    try:
        from pgmpy.utils import get_example_model
    except ImportError as err:  # pragma: no cover - depends on the pgmpy version
        raise RuntimeError(f"network {name!r}: no local copy under {data_dir() / 'networks'} "
                           "and this pgmpy has no get_example_model (removed in 1.3; the "
                           "course pins pgmpy 1.1.2)") from err
    # get_example_model reads pgmpy's bundled .bif offline; it is deprecated (FutureWarning,
    # removed in pgmpy 1.3 whose replacement downloads), hence the pin and the silenced warning.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        model = get_example_model(name)
    return BayesianNetwork.from_pgmpy(model)
