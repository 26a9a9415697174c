"""Size profiles (smoke | cpu | full), the compute device, and seeding.

One switch, ``COURSE_PROFILE``, sets the size of every notebook:

- ``smoke``: proves a notebook runs end to end, seconds on 2 CPU cores (CI);
- ``cpu``: what a student runs on a laptop, minutes per notebook;
- ``full``: GPU sizes, quality results checked by assertions on metrics.

The default is ``full`` where CUDA is available, else ``cpu``.

``COURSE_MAX_STEPS=N`` caps every training loop at N steps (``max_steps``, ``capped``): a *dry
run* that executes a profile's code paths (``make test-full-dry`` runs ``full`` on the CPU this
way) without its training, so quality targets are not asserted (``course_utils.quality``).
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, TypeVar, get_args

import numpy as np

ProfileName = Literal["smoke", "cpu", "full"]
PROFILES: tuple[str, ...] = get_args(ProfileName)
T = TypeVar("T")


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def current() -> ProfileName:
    """The active profile: $COURSE_PROFILE, else 'full' with CUDA, else 'cpu'.

    Raises ValueError (listing the valid names) for an unknown profile.
    """
    name = os.environ.get("COURSE_PROFILE", "").strip().lower()
    if not name:
        return "full" if _cuda_available() else "cpu"
    if name not in PROFILES:
        raise ValueError(
            f"unknown COURSE_PROFILE {name!r}: valid profiles are {', '.join(PROFILES)}"
        )
    return name  # type: ignore[return-value]


_MISSING: object = object()  # pick()'s default: no value given (None is a value)


def pick(*, smoke: T = _MISSING, cpu: T = _MISSING, full: T = _MISSING,  # type: ignore[assignment]
         profile: str | None = None, **others: object) -> T:
    """Return the value for the active profile (or ``profile`` if given).

    Every profile needs a value, even where another one is active: a notebook runs at all three.
    A missing or unknown profile name is a ValueError listing the valid ones.

    >>> pick(smoke=1, cpu=8, full=60, profile="cpu")
    8
    """
    valid = ", ".join(PROFILES)
    if others:
        raise ValueError(f"pick: unknown profile name(s) {', '.join(others)}; valid profiles are {valid}")
    values = {"smoke": smoke, "cpu": cpu, "full": full}
    missing = [k for k, v in values.items() if v is _MISSING]
    if missing:
        raise ValueError(f"pick: no value for the {', '.join(missing)} profile{'s' if len(missing) > 1 else ''}; "
                         f"give one for each of {valid} (e.g. pick(smoke=..., cpu=..., full=...))")
    name = profile if profile is not None else current()
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}: valid profiles are {valid}")
    return values[name]  # type: ignore[return-value]


_DEVICE_NOTES: set[str] = set()  # fallback messages already printed in this process


def _note_once(text: str) -> None:
    if text not in _DEVICE_NOTES:
        _DEVICE_NOTES.add(text)
        print(text)


def device() -> "torch.device":  # noqa: F821 - torch is imported lazily
    """The device to compute on: CUDA if available, else CPU ($COURSE_DEVICE overrides).

    COURSE_DEVICE is ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (Apple GPUs). One that this machine
    lacks falls back to the CPU with a message (printed once). On ``mps``, operations the Apple
    backend lacks run on the CPU (PYTORCH_ENABLE_MPS_FALLBACK=1, set by ``import course_utils``
    and by make when torch is not yet imported).
    """
    import torch

    forced = os.environ.get("COURSE_DEVICE", "").strip().lower()
    if not forced:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    kind, _, index = forced.partition(":")
    if kind not in ("cpu", "cuda", "mps") or (index and (kind != "cuda" or not index.isdigit())):
        raise ValueError(f"COURSE_DEVICE must be cpu, cuda, cuda:N or mps, got {os.environ['COURSE_DEVICE']!r}")
    if kind == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (index and int(index) >= count):
            _note_once(f"[device] COURSE_DEVICE={forced}, but this machine has {count} CUDA device(s): using the CPU")
            return torch.device("cpu")
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            _note_once("[device] COURSE_DEVICE=mps, but this torch build or machine offers no MPS (Apple GPU): "
                       "using the CPU")
            return torch.device("cpu")
        if os.environ.get("PYTORCH_ENABLE_MPS_FALLBACK") != "1":
            _note_once("[device] on mps, operations the Apple backend lacks will fail: start Jupyter with "
                       "PYTORCH_ENABLE_MPS_FALLBACK=1 (make lab does) so that they run on the CPU")
    return torch.device(forced)


def set_cpu_threads(n: int | None = None) -> int:
    """Use ``n`` intra-op torch threads on the CPU (default: $COURSE_THREADS, else ``default_threads()``);
    returns the number now in use.

    When another process competes for the cores, threads that wait for each other are far slower
    than one (measured here: 25x on 2 busy cores), so test runs that execute notebooks side by side
    set OMP_NUM_THREADS=1 and get one thread each. COURSE_THREADS=0 keeps torch's default (one thread
    per core). Has no effect on GPU work.
    """
    import torch

    cores = os.cpu_count() or 1
    if n is None:
        raw = os.environ.get("COURSE_THREADS", "").strip()
        if not raw:
            n = default_threads()
        else:
            try:
                n = int(raw)
            except ValueError:
                raise ValueError(f"COURSE_THREADS must be a whole number from 0 (torch's default) to {cores} "
                                 f"(this machine's cores), got {raw!r}") from None
            if not 0 <= n <= cores:
                raise ValueError(f"COURSE_THREADS must be from 0 (torch's default) to {cores} (this machine's cores), "
                                 f"got {n}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"thread count must be >= 0 (0 = torch's default), got {n!r}")
    if n > 0:
        torch.set_num_threads(min(n, cores))
    return torch.get_num_threads()


def default_threads() -> int:
    """Torch threads for a notebook when COURSE_THREADS is not set.

    OMP_NUM_THREADS where a test run set it (one thread per notebook run side by side); else the
    count ``make bench`` measured fastest on this machine (``threads_from_bench``); else
    ``DEFAULT_THREADS``; never more than the machine's cores.
    """
    cores = os.cpu_count() or 1
    raw = os.environ.get("OMP_NUM_THREADS", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return min(int(raw), cores)
    measured = threads_from_bench()
    return min(measured or DEFAULT_THREADS, cores)


#: Torch threads for a notebook run alone where this machine has no ``make bench`` measurement: one.
#: Measured (tools/bench_training.py, 07/11/12/14's training steps): on two busy cores a second thread
#: made every step slower (07: 15x); the README's thread table gives the numbers.
DEFAULT_THREADS = 1
MIN_GAIN = 1.2  # more threads only where they make the training steps at least this much faster


def threads_from_bench(path: Path | None = None) -> int | None:
    """The thread count ``make bench`` found fastest here (geometric mean over 07, 11, 12 and 14's training
    steps), if it beats one thread by ``MIN_GAIN``; None without a measurement of this machine's cores."""
    import json
    import math

    from course_utils.paths import build_dir

    path = path or build_dir() / "artifacts" / "bench_training" / "metrics-cpu.json"
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(m, dict) or m.get("cores") != (os.cpu_count() or 1):
        return None
    per: dict[int, list[float]] = {}
    for k, v in m.items():
        parts = k.split(".")
        if len(parts) == 3 and parts[1].startswith("threads_") and isinstance(v, (int, float)) and v > 0:
            per.setdefault(int(parts[1].removeprefix("threads_")), []).append(float(v))
    if 1 not in per:
        return None
    mean = {n: math.exp(sum(map(math.log, s)) / len(s)) for n, s in per.items() if len(s) == len(per[1])}
    best = min(mean, key=mean.get)
    return best if mean[1] / mean[best] >= MIN_GAIN else 1


def max_steps() -> int | None:
    """The cap on training steps from $COURSE_MAX_STEPS (a positive integer), or None when unset."""
    raw = os.environ.get("COURSE_MAX_STEPS", "").strip()
    if not raw:
        return None
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"COURSE_MAX_STEPS must be a positive whole number of steps, got {raw!r}")
    return n


def capped(n: int) -> int:
    """``n``, or the COURSE_MAX_STEPS cap if that is smaller: for training loops written in a notebook."""
    cap = max_steps()
    return n if cap is None else min(n, cap)


def dry_run() -> bool:
    """True when COURSE_MAX_STEPS caps training: results are not trained ones, quality is not asserted."""
    return max_steps() is not None


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block with torch's global generator seeded by ``seed``, restoring the caller's state after.

    For library code that builds or trains a model reproducibly without changing the caller's
    random numbers (no hidden ``torch.manual_seed``).
    """
    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def seed_everything(seed: int = 0) -> None:
    """Seed Python's, NumPy's and torch's global generators (CPU and CUDA)."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def summary() -> dict[str, str]:
    """A small description of the environment for a notebook's environment-check cell."""
    import platform

    import torch

    dev = device()
    info = {
        "profile": current(),
        "device": str(dev),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu threads": str(torch.get_num_threads()),
    }
    if dev.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(dev)
    return info
