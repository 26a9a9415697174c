"""Bad input and faults a class meets, each tried and its outcome classified (issue 21, item 6).

    python tools/probes.py [--json out.json]        # with this checkout's course_utils (PYTHONPATH)

Each probe does one thing a student, an instructor or a machine can do wrong, and says what the
right outcome is. The outcome is classified as

- handled:      the right answer (a value checked against an independent one, or a documented fallback);
- clear:        an error of a plain type whose message names the argument (or file) and what is valid;
- silent wrong: no error and a wrong answer (a NaN, a stale model, another state);
- work lost:    someone's file renamed, emptied or overwritten;
- crash:        a raw error that names neither the argument nor its valid range;
- hang:         no answer within the probe's time limit.

Run it with the PYTHONPATH of two checkouts to compare them (the report's before/after table).
Probes that need another account run under ``setpriv`` when this runs as root (else they are skipped).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

OUTCOMES = ("handled", "clear", "silent wrong", "work lost", "crash", "hang")
PROBES: list[tuple[str, str, str, object]] = []  # (family, name, regex of a clear message, function)


def probe(family: str, name: str, clear: str):
    def wrap(fn):
        PROBES.append((family, name, clear, fn))
        return fn
    return wrap


class Hang(Exception):
    pass


@contextlib.contextmanager
def env(**values):
    old = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = str(v)
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _schedule():
    from course_utils.diffusion.schedule import NoiseSchedule

    return NoiseSchedule.linear(10)


def _x():
    import torch

    return torch.ones(2, 3)


# --------------------------------------------------------------------------- diffusion schedule
T_RANGE = r"\bt\b.*(1\.\.|0\.\.|range|between|integer|whole)"


@probe("schedule", "q_sample(x0, t=-1)", T_RANGE)
def _():
    return "silent wrong" if _schedule().q_sample(_x(), -1) is not None else "handled"


@probe("schedule", "q_sample(x0, t=T+1)", T_RANGE)
def _():
    _schedule().q_sample(_x(), 11)
    return "silent wrong"


@probe("schedule", "q_sample(x0, t=2.5)", T_RANGE)
def _():
    _schedule().q_sample(_x(), 2.5)
    return "silent wrong"


@probe("schedule", "q_sample(x0, t=tensor([1., 2.])) (float tensor)", T_RANGE)
def _():
    import torch

    _schedule().q_sample(_x(), torch.tensor([1.0, 2.0]))
    return "silent wrong"


@probe("schedule", "q_sample(x0 of 2, t of 3 values)", r"\bt\b.*(batch|shape|examples|values)")
def _():
    import torch

    _schedule().q_sample(_x(), torch.tensor([1, 2, 3]))
    return "silent wrong"


@probe("schedule", "q_posterior(x0, x_t, t=-1)", T_RANGE)
def _():
    _schedule().q_posterior(_x(), _x(), -1)
    return "silent wrong"


@probe("schedule", "predict_x0(x_t, t=-2, eps)", T_RANGE)
def _():
    _schedule().predict_x0(_x(), -2, _x())
    return "silent wrong"


@probe("schedule", "NoiseSchedule.linear(T=0)", r"\bT\b.*>=")
def _():
    _schedule().linear(0)
    return "silent wrong"


@probe("schedule", "NoiseSchedule.linear(beta_T=1.5)", r"beta.*\(0, 1\)")
def _():
    from course_utils.diffusion.schedule import NoiseSchedule

    NoiseSchedule.linear(10, 1e-4, 1.5)
    return "silent wrong"


@probe("schedule", "ddim_timesteps(n_steps=T+5)", r"n_steps.*(1\.\.|range|<=)")
def _():
    steps = _schedule().ddim_timesteps(15)
    return "handled" if len(steps) == 10 else "silent wrong"


@probe("schedule", "RespacedSampler(n_steps=0)", r"n_steps.*1\.\.")
def _():
    from course_utils.diffusion.sampling import RespacedSampler

    RespacedSampler(_schedule(), 0)
    return "silent wrong"


@probe("schedule", "guided sampling with a guidance scale of NaN", r"(scale|guid).*(finite|NaN)")
def _():
    import torch

    from course_utils.diffusion.sampling import RespacedSampler

    s = float("nan")
    x = RespacedSampler(_schedule(), 5).sample(lambda x, t: torch.zeros_like(x), torch.zeros(2, 3),
                                               generator=torch.Generator().manual_seed(0),
                                               guide=lambda x, t: s * torch.ones_like(x))
    return "silent wrong" if torch.isnan(x).any() else "handled"


# --------------------------------------------------------------------------- graphical models
def _chain():
    """a -> b with p(b=1 | a=0) = 0: evidence {a: 0, b: 1} has probability zero."""
    from course_utils.pgm.factor import Factor
    from course_utils.pgm.network import BayesianNetwork

    return BayesianNetwork({"a": [], "b": ["a"], "c": ["b"]},
                           {"a": Factor(["a"], [2], [0.5, 0.5]),
                            "b": Factor(["b", "a"], [2, 2], [[1.0, 0.3], [0.0, 0.7]]),
                            "c": Factor(["c", "b"], [2, 2], [[0.9, 0.2], [0.1, 0.8]])})


ZERO = r"(probability zero|impossible|zero probability)"


@probe("pgm", "belief_propagation with evidence of probability zero", ZERO)
def _():
    from course_utils.pgm.propagation import belief_propagation

    bn = _chain()
    ev = {"a": 0, "b": 1}
    factors = [f.reduce(ev) for f in bn.factors]
    res = belief_propagation(factors)
    return "silent wrong" if np.isfinite(res.marginals["c"].values).all() else "handled"


@probe("pgm", "variable_elimination with evidence of probability zero", ZERO)
def _():
    from course_utils.pgm.elimination import variable_elimination

    variable_elimination(_chain(), "c", {"a": 0, "b": 1})
    return "silent wrong"


@probe("pgm", "JunctionTree.marginals with evidence of probability zero", ZERO)
def _():
    from course_utils.pgm.junction_tree import JunctionTree

    JunctionTree(_chain()).marginals({"a": 0, "b": 1})
    return "silent wrong"


@probe("pgm", "variable_elimination evidence on an unknown variable", r"unknown evidence variable 'z'.*valid")
def _():
    from course_utils.pgm.elimination import variable_elimination

    variable_elimination(_chain(), "c", {"z": 0})
    return "silent wrong"


@probe("pgm", "variable_elimination evidence state 5 of a binary variable", r"out of range.*'a'")
def _():
    from course_utils.pgm.elimination import variable_elimination

    variable_elimination(_chain(), "c", {"a": 5})
    return "silent wrong"


@probe("pgm", "variable_elimination evidence True (a bool)", r"'a'.*(int|index)")
def _():
    from course_utils.pgm.elimination import variable_elimination

    variable_elimination(_chain(), "c", {"a": True})
    return "silent wrong"


@probe("pgm", "Factor values of the wrong shape", r"shape.*cardinality")
def _():
    from course_utils.pgm.factor import Factor

    Factor(["a", "b"], [2, 2], [0.1, 0.2, 0.3])
    return "silent wrong"


@probe("pgm", "Factor.marginalize a variable not in its scope", r"'zz'")
def _():
    from course_utils.pgm.factor import Factor

    Factor(["a"], [2], [0.5, 0.5]).marginalize(["zz"])
    return "silent wrong"


@probe("pgm", "Factor.normalize of an all-zero factor", r"sum to 0")
def _():
    from course_utils.pgm.factor import Factor

    Factor(["a"], [2], [0.0, 0.0]).normalize()
    return "silent wrong"


@probe("pgm", "a CPD with a negative entry", r"negative")
def _():
    from course_utils.pgm.factor import Factor
    from course_utils.pgm.network import BayesianNetwork

    BayesianNetwork({"a": []}, {"a": Factor(["a"], [2], [1.5, -0.5])})
    return "silent wrong"


BIF_ONE = """network x { }
variable a { type discrete [ 2 ] { yes, no }; }
probability ( a ) { table 0.5; }
"""


@probe("pgm", "read_bif: a one-value table for a two-state variable", r"(a|'a').*(2|two).*(values|states|got 1)")
def _():
    from course_utils.pgm.bif import read_bif

    read_bif(BIF_ONE)
    return "silent wrong"


@probe("pgm", "read_bif: a row with one value for a two-state child", r"(b|'b').*(2|two).*(values|states|got 1)")
def _():
    from course_utils.pgm.bif import read_bif

    read_bif(BIF_ONE.replace("table 0.5;", "table 0.3, 0.7;") +
             "variable b { type discrete [ 2 ] { t, f }; }\nprobability ( b | a ) { (yes) 0.5; (no) 0.4, 0.6; }\n")
    return "silent wrong"


@probe("pgm", "read_bif of a binary file", r"net\.bin.*(not a BIF|not text|binary)|(not a BIF|binary).*net\.bin")
def _():
    from course_utils.pgm.bif import read_bif

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "net.bin"
        path.write_bytes(bytes(range(256)) * 8)
        read_bif(path)
    return "silent wrong"


@probe("pgm", "read_bif of a missing file", r"missing\.bif")
def _():
    from course_utils.pgm.bif import read_bif

    read_bif("/nonexistent/missing.bif")
    return "silent wrong"


@probe("pgm", "forward_sample(n=-1)", r"\bn\b.*(>=|positive|at least)")
def _():
    from course_utils.pgm.sampling import forward_sample

    forward_sample(_chain(), -1, np.random.default_rng(0))
    return "silent wrong"


# --------------------------------------------------------------------------- data
N_RANGE = r"\bn\b.*(>= ?1|positive|at least)"


def _digits(**kw):
    from course_utils import data

    return data.load("digits", verbose=False, **kw)


@probe("data", "data.load(n=-5)", N_RANGE)
def _():
    return "silent wrong" if len(_digits(n=-5)) else "handled"


@probe("data", "data.load(n=0)", N_RANGE)
def _():
    _digits(n=0)
    return "silent wrong"


@probe("data", "data.load(n=2.5)", N_RANGE)
def _():
    _digits(n=2.5)
    return "silent wrong"


@probe("data", "data.load(size=0)", r"\bsize\b.*(>= ?1|positive)")
def _():
    _digits(size=0)
    return "silent wrong"


@probe("data", "data.load(seed=-1)", r"\bseed\b.*(\[0|>= ?0)")
def _():
    _digits(n=10, seed=-1)
    return "silent wrong"


@probe("data", "3 of the 4 MNIST files in data/MNIST/raw", r"t10k-labels-idx1-ubyte.*missing|missing.*t10k-labels")
def _():
    import gzip
    import struct

    from course_utils import data

    with tempfile.TemporaryDirectory() as d, env(COURSE_DATA_DIR=d):
        raw = Path(d) / "MNIST" / "raw"
        raw.mkdir(parents=True)
        for stem, shape in [("train-images-idx3-ubyte", (20, 28, 28)), ("train-labels-idx1-ubyte", (20,)),
                            ("t10k-images-idx3-ubyte", (10, 28, 28))]:
            arr = np.zeros(shape, np.uint8)
            head = bytes([0, 0, 8, arr.ndim]) + b"".join(struct.pack(">I", s) for s in shape)
            with gzip.open(raw / f"{stem}.gz", "wb") as f:
                f.write(head + arr.tobytes())
        train = data.load("mnist", "train", verbose=False)
        test = data.load("mnist", "test", verbose=False)
    return "silent wrong" if train.source != test.source else "handled"


@probe("data", "COURSE_DOWNLOAD=yes", r"COURSE_DOWNLOAD")
def _():
    from course_utils import data

    asked = []
    real = data._download
    data._download = lambda *a: asked.append(a)
    try:
        with env(COURSE_DOWNLOAD="yes", COURSE_PROFILE="cpu"):
            data.load("mnist", "test", verbose=False)
    finally:
        data._download = real
    return "handled" if asked else "silent wrong"


@probe("data", "COURSE_DOWNLOAD=ja (misspelt)", r"COURSE_DOWNLOAD must be")
def _():
    with env(COURSE_DOWNLOAD="ja", COURSE_PROFILE="cpu"):
        _digits()
        from course_utils import data

        data.load("mnist", "test", verbose=False)
    return "silent wrong"


# --------------------------------------------------------------------------- environment
@probe("environment", "COURSE_THREADS=100000", r"COURSE_THREADS.*(0|from).*\d")
def _():
    import torch

    from course_utils import profile

    before = torch.get_num_threads()
    try:
        with env(COURSE_THREADS="100000"):
            n = profile.set_cpu_threads()
    finally:
        torch.set_num_threads(before)
    return "silent wrong" if n > (os.cpu_count() or 1) else "handled"


@probe("environment", "COURSE_THREADS=-1", r"COURSE_THREADS|>= ?0")
def _():
    from course_utils import profile

    with env(COURSE_THREADS="-1"):
        profile.set_cpu_threads()
    return "silent wrong"


@probe("environment", "COURSE_DEVICE=mps on a machine without it", r"COURSE_DEVICE")
def _():
    import torch

    from course_utils import profile

    with env(COURSE_DEVICE="mps"):
        dev = profile.device()
        torch.zeros(2, device=dev).sum()
    return "handled" if dev.type == "cpu" else "silent wrong"


@probe("environment", "COURSE_DEVICE=gpu (no such device)", r"COURSE_DEVICE.*(cpu|cuda)")
def _():
    import torch

    from course_utils import profile

    with env(COURSE_DEVICE="gpu"):
        torch.zeros(2, device=profile.device())
    return "silent wrong"


@probe("environment", "COURSE_DEVICE=cuda without a GPU", r"COURSE_DEVICE")
def _():
    import torch

    from course_utils import profile

    if torch.cuda.is_available():
        return "handled"
    with env(COURSE_DEVICE="cuda"):
        dev = profile.device()
        torch.zeros(2, device=dev).sum()
    return "handled" if dev.type == "cpu" else "silent wrong"


@probe("environment", "COURSE_PROFILE=fast", r"smoke, cpu, full")
def _():
    from course_utils import profile

    with env(COURSE_PROFILE="fast"):
        profile.current()
    return "silent wrong"


# --------------------------------------------------------------------------- training, checkpoints, artifacts
def _problem(seed=0):
    import torch
    from torch import nn

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 3, generator=g)
    torch.manual_seed(seed)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)

    def step(batch):
        loss = (model(batch[0]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    return model, opt, step, x


@probe("training", "a loss that becomes NaN", r"diverged.*epoch")
def _():
    from course_utils import checkpoints, train

    with tempfile.TemporaryDirectory() as d, env(COURSE_CHECKPOINT_DIR=d):
        model, opt, step, x = _problem()
        key = checkpoints.key("probe", "nan", modules={"m": model}, optimizers={"o": opt}, data=x)
        n = []

        def bad(batch):
            n.append(1)
            out = step(batch)
            return {"loss": float("nan")} if len(n) > 2 else out

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            train.fit(bad, x, epochs=3, batch_size=32, modules={"m": model}, optimizers={"o": opt}, checkpoint=key,
                      progress=False)
        state = checkpoints.load(key)
    return "silent wrong" if state is not None and state.get("epoch") == 3 else "handled"


def _train_and_flip(flip: bool):
    from course_utils import checkpoints, train

    model, opt, step, x = _problem()
    key = checkpoints.key("probe", "flip", modules={"m": model}, optimizers={"o": opt}, data=x)
    train.fit(step, x, epochs=1, batch_size=32, modules={"m": model}, optimizers={"o": opt}, checkpoint=key,
              progress=False)
    if flip:
        import zipfile

        with zipfile.ZipFile(key.path) as z:
            info = next(i for i in z.infolist() if "/data/" in i.filename and i.file_size >= 12)
        raw = bytearray(key.path.read_bytes())
        n, e = (int.from_bytes(raw[info.header_offset + o:info.header_offset + o + 2], "little") for o in (26, 28))
        raw[info.header_offset + 30 + n + e + 5] ^= 0x40
        key.path.write_bytes(bytes(raw))
    model2, opt2, step2, _ = _problem(seed=1)
    calls = []
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        hist = train.fit(lambda b: calls.append(1) or step2(b), x, epochs=1, batch_size=32, modules={"m": model2},
                         optimizers={"o": opt2}, checkpoint=key, progress=False)
    return hist, calls, seen


@probe("training", "one flipped bit in a checkpoint's tensor data", r"damaged")
def _():
    with tempfile.TemporaryDirectory() as d, env(COURSE_CHECKPOINT_DIR=d):
        hist, calls, seen = _train_and_flip(True)
    if hist.resumed_from == 1:
        return "silent wrong"
    if any(re.search("damaged", str(w.message)) for w in seen):
        return "clear"
    return "handled"


@probe("training", "the training images binarised (same name, source, size)", r"")
def _():

    from course_utils import checkpoints, data, train

    def run(images):
        model, opt, step, _ = _problem()
        key = checkpoints.key("probe", "ddpm", modules={"m": model}, optimizers={"o": opt}, data=images)
        x = images.images.flatten(1)[:, :3]
        return train.fit(step, x, epochs=1, batch_size=32, modules={"m": model}, optimizers={"o": opt},
                         checkpoint=key, progress=False)

    with tempfile.TemporaryDirectory() as d, env(COURSE_CHECKPOINT_DIR=d):
        grey = data.load("digits", n=64, verbose=False)
        run(grey)
        binary = data.ImageSet((grey.images > 0.5).float(), grey.labels, grey.name, grey.split, grey.source,
                               grey.classes)
        hist = run(binary)
    return "silent wrong" if hist.resumed_from == 1 else "handled"


@probe("training", "data.load(n=64, seed=1) after seed=0 (another subset)", r"")
def _():
    from course_utils import checkpoints, data, train

    def run(images):
        model, opt, step, _ = _problem()
        key = checkpoints.key("probe", "seeded", modules={"m": model}, optimizers={"o": opt}, data=images)
        x = images.images.flatten(1)[:, :3]
        return train.fit(step, x, epochs=1, batch_size=32, modules={"m": model}, optimizers={"o": opt},
                         checkpoint=key, progress=False)

    with tempfile.TemporaryDirectory() as d, env(COURSE_CHECKPOINT_DIR=d):
        run(data.load("digits", n=64, seed=0, verbose=False))
        hist = run(data.load("digits", n=64, seed=1, verbose=False))
    return "silent wrong" if hist.resumed_from == 1 else "handled"


@probe("training", "fit(epochs=-1)", r"epochs")
def _():
    from course_utils import train

    model, opt, step, x = _problem()
    train.fit(step, x, epochs=-1, batch_size=8, modules={"m": model}, optimizers={"o": opt}, progress=False)
    return "silent wrong"


@probe("training", "a checkpoint cut in half (a crash mid-copy)", r"unreadable")
def _():
    from course_utils import checkpoints, train

    with tempfile.TemporaryDirectory() as d, env(COURSE_CHECKPOINT_DIR=d):
        model, opt, step, x = _problem()
        key = checkpoints.key("probe", "cut", modules={"m": model}, optimizers={"o": opt}, data=x)
        train.fit(step, x, epochs=1, batch_size=32, modules={"m": model}, optimizers={"o": opt}, checkpoint=key,
                  progress=False)
        key.path.write_bytes(key.path.read_bytes()[:300])
        model2, opt2, step2, _ = _problem()
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            hist = train.fit(step2, x, epochs=1, batch_size=32, modules={"m": model2}, optimizers={"o": opt2},
                             checkpoint=key, progress=False)
    return "handled" if hist.resumed_from == 0 else "silent wrong"


@probe("artifacts", "an empty metrics-<profile>.json (left by a full disk)", r"metrics-smoke\.json")
def _():
    from course_utils import artifacts

    with tempfile.TemporaryDirectory() as d, env(COURSE_BUILD_DIR=d, COURSE_PROFILE="smoke"):
        artifacts.save_metrics("07_vae", {"nll": 1.0})
        (Path(d) / "artifacts" / "07_vae" / "metrics-smoke.json").write_text("")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            artifacts.save_metrics("07_vae", {"nll": 2.0})
        back = artifacts.load_metrics("07_vae")
    return "handled" if back.get("nll") == 2.0 else "silent wrong"


@probe("artifacts", "make bench with an empty metrics file", r"metrics-smoke\.json")
def _():
    from course_utils import artifacts, bench

    with tempfile.TemporaryDirectory() as d, env(COURSE_BUILD_DIR=d, COURSE_PROFILE="smoke"):
        artifacts.save_metrics("07_vae", {"nll": 1.0})
        artifacts.save_metrics("08_gan", {"fid": 3.0})
        (Path(d) / "artifacts" / "07_vae" / "metrics-smoke.json").write_text("")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = bench.gather()
    return "handled" if "| 08_gan | smoke | fid | 3 |" in table and "metrics-smoke.json" in table else "silent wrong"


def _tiny_disk():
    """A 256 KiB tmpfs (root only), nearly full; None where it cannot be mounted."""
    d = Path(tempfile.mkdtemp(prefix="probe-disk-"))
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(d)], capture_output=True).returncode:
        return None
    return d


def _umount(d):
    subprocess.run(["umount", str(d)], capture_output=True)
    shutil.rmtree(d, ignore_errors=True)


@probe("artifacts", "a full disk while saving metrics", r"disk full.*metrics")
def _():
    from course_utils import artifacts

    d = _tiny_disk()
    if d is None:
        return "skipped"
    try:
        with env(COURSE_BUILD_DIR=str(d), COURSE_PROFILE="smoke"):
            artifacts.save_metrics("07_vae", {"nll": 1.0})
            (d / "filler").write_bytes(b"\0" * (d.stat().st_size or 0))
            with contextlib.suppress(OSError):
                with open(d / "filler2", "wb") as f:
                    f.write(b"\0" * 400_000)
            err = None
            try:
                artifacts.save_metrics("07_vae", {"big": "x" * 300_000})
            except Exception as e:  # noqa: BLE001
                err = e
            try:  # the metrics saved before the disk filled up must still be there
                ok = json.loads((d / "artifacts" / "07_vae" / "metrics-smoke.json").read_text() or "null")
            except ValueError:
                ok = None
    finally:
        _umount(d)
    if ok is None:
        return "work lost"
    if err is not None:
        raise err
    return "handled"


@probe("artifacts", "a full disk while saving a checkpoint", r"disk full.*\.pt")
def _():
    import torch

    from course_utils import checkpoints

    d = _tiny_disk()
    if d is None:
        return "skipped"
    try:
        with env(COURSE_CHECKPOINT_DIR=str(d)):
            key = checkpoints.key("probe", "full", config={"v": 1})
            checkpoints.save(key, {"w": torch.zeros(10)})
            with contextlib.suppress(OSError):
                with open(d / "filler", "wb") as f:
                    f.write(b"\0" * 400_000)
            err = None
            try:
                checkpoints.save(key, {"w": torch.zeros(100_000)})
            except Exception as e:  # noqa: BLE001
                err = e
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                back = checkpoints.load(key)
    finally:
        _umount(d)
    if back is None:
        return "work lost"
    if err is not None:
        raise err
    return "handled"


@probe("notebooks", "make lint with a truncated .ipynb", r"01_a\.ipynb.*(readable|truncated|cut)")
def _():
    import importlib.util

    root = Path(os.environ.get("PROBE_ROOT", Path(__file__).resolve().parents[1]))
    spec = importlib.util.spec_from_file_location("nbtools_probe", root / "tools" / "nbtools.py")
    nbtools = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nbtools)
    with tempfile.TemporaryDirectory() as d:
        py = Path(d) / "01_a.py"
        py.write_text("# %%\nx = 1\n")
        nbtools.build([py])
        ipynb = py.with_suffix(".ipynb")
        ipynb.write_text(ipynb.read_text()[:80])
        buf = __import__("io").StringIO()
        with contextlib.redirect_stdout(buf):
            rc = nbtools.check([py])
        if rc and re.search(r"01_a\.ipynb.*(readable|truncated|cut)", buf.getvalue()):
            return "clear"
    return "silent wrong"


# --------------------------------------------------------------------------- text encoders
@probe("text", "clip Tokenizer.encode('') (no words)", r"no words")
def _():
    from course_utils.diffusion.clip import Tokenizer

    Tokenizer(["a", "three"]).encode("")
    return "silent wrong"


@probe("text", "clip Tokenizer.encode(a caption longer than max_len)", r"at most \d+")
def _():
    from course_utils.diffusion.clip import Tokenizer

    Tokenizer(["a"], max_len=3).encode("a a a a")
    return "silent wrong"


@probe("text", "clip Tokenizer.encode(42) (not text)", r"(text|caption).*(str|string)")
def _():
    from course_utils.diffusion.clip import Tokenizer

    Tokenizer(["a"]).encode(42)
    return "silent wrong"


@probe("text", "clip Tokenizer(max_len=0)", r"max_len.*(>= ?1|positive)")
def _():
    from course_utils.diffusion.clip import Tokenizer

    Tokenizer(["a"], max_len=0).encode("a")
    return "silent wrong"


@probe("text", "video.tokenize(['a three moving up-left'])", r"unknown words")
def _():
    from course_utils.diffusion import video

    video.tokenize(["a three moving upleft"])
    return "silent wrong"


@probe("text", "video.prompt(digit=12, direction=0)", r"digit.*0\.\.9")
def _():
    from course_utils.diffusion import video

    video.prompt(12, 0)
    return "silent wrong"


@probe("text", "info_nce with a NaN temperature scale", r"scale.*(finite|positive)")
def _():
    import torch

    from course_utils.diffusion.clip import info_nce

    loss = info_nce(torch.randn(4, 8), torch.randn(4, 8), float("nan"))
    return "silent wrong" if not torch.isfinite(loss) else "handled"


# --------------------------------------------------------------------------- shared folder (another account)
SHARED = r"(left as it is|not used)"


def _as_student(code: str) -> str:
    """Run ``code`` as the account ``student`` (created if missing) with this PYTHONPATH; its last line."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return "skipped"
    if subprocess.run(["id", "student"], capture_output=True).returncode:
        subprocess.run(["useradd", "-m", "student"], check=True)
    out = subprocess.run(["setpriv", "--reuid=student", "--regid=student", "--init-groups", sys.executable, "-c", code],
                         capture_output=True, text=True, env={**os.environ, "HOME": "/home/student"}, timeout=300)
    lines = (out.stdout + out.stderr).strip().splitlines()
    return lines[-1] if lines else "crash"


def _shared_folder(mode: int, file_mode: int, damaged: bool) -> str:
    d = Path(tempfile.mkdtemp(prefix="probe-shared-"))
    os.chmod(d, 0o755)
    shared, mine = d / "shared", d / "mine"
    shared.mkdir()
    # the instructor's file, written by root as the old code wrote it (mkstemp: 0600) or damaged
    os.environ["COURSE_CHECKPOINT_DIR"] = str(shared)
    try:
        import torch

        from course_utils import checkpoints

        key = checkpoints.key("probe", "shared", config={"v": 1})
        checkpoints.save(key, {"w": torch.ones(3)})
        path = key.path
    finally:
        os.environ.pop("COURSE_CHECKPOINT_DIR")
    if damaged:
        path.write_bytes(path.read_bytes()[:200])
    before = path.read_bytes()
    os.chmod(path, file_mode)
    for p in (shared, path.parent):
        os.chmod(p, mode)
    student = f"""
import os, warnings
from course_utils import paths
# a search path where the course has one (a shared folder and one's own), else the shared folder itself
search = hasattr(paths, "checkpoint_dirs")
os.environ["COURSE_CHECKPOINT_DIR"] = {str(shared)!r} + (os.pathsep + {str(mine)!r} if search else "")
os.environ["COURSE_PROFILE"] = "smoke"
try:
    import torch
    from course_utils import checkpoints
    key = checkpoints.key("probe", "shared", config={{"v": 1}})
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        state = checkpoints.load(key)
        if state is None:
            checkpoints.save(key, {{"w": torch.zeros(3)}})
    print("LOADED" if state is not None else "TRAINED", " | ".join(str(w.message) for w in seen).replace(chr(10), " "))
except Exception as err:
    print("ERROR", type(err).__name__, str(err).replace(chr(10), " "))
"""
    last = _as_student(student)
    intact = path.exists() and path.read_bytes() == before
    shutil.rmtree(d, ignore_errors=True)
    if last == "skipped":
        return "skipped"
    if not intact:
        return "work lost"
    if last.startswith("LOADED"):
        return "handled"
    if last.startswith("TRAINED"):
        return "clear" if re.search(SHARED, last) else "silent wrong"
    raise RuntimeError(last)


@probe("shared folder", "a student reads the instructor's 0600 checkpoint in a 0755 folder", SHARED)
def _():
    return _shared_folder(0o755, 0o600, damaged=False)


@probe("shared folder", "the same in a group-writable (0777) folder", SHARED)
def _():
    return _shared_folder(0o777, 0o600, damaged=False)


@probe("shared folder", "a student meets the instructor's damaged checkpoint (0777 folder)", SHARED)
def _():
    return _shared_folder(0o777, 0o644, damaged=True)


@probe("shared folder", "a student loads the instructor's 0644 checkpoint (read-only folder)", SHARED)
def _():
    return _shared_folder(0o755, 0o644, damaged=False)


# --------------------------------------------------------------------------- running them
def classify(clear: str, fn, limit: int = 120) -> tuple[str, str]:
    def alarm(*_):
        raise Hang()

    signal.signal(signal.SIGALRM, alarm)
    signal.alarm(limit)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with contextlib.redirect_stdout(open(os.devnull, "w")):
                outcome = fn()
        return outcome, ""
    except Hang:
        return "hang", f"no answer in {limit} s"
    except Exception as err:  # noqa: BLE001 - classifying every failure is the point
        msg = f"{type(err).__name__}: {err}".replace("\n", " ")
        plain = isinstance(err, (ValueError, TypeError, FileNotFoundError, LookupError, FloatingPointError,
                                 OSError, RuntimeError))
        named = clear and re.search(clear, str(err), re.S | re.I)
        if plain and named and not isinstance(err, (IndexError, KeyError, ZeroDivisionError)):
            return "clear", msg[:300]
        return "crash", msg[:300] + (" | " + traceback.format_exc().strip().splitlines()[-1][:100])
    finally:
        signal.alarm(0)


def _run_one(index: int) -> None:
    family, name, clear, fn = PROBES[index]
    outcome, detail = classify(clear, fn)
    print("PROBE-RESULT " + json.dumps({"family": family, "probe": name, "outcome": outcome, "detail": detail}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--json", type=Path)
    parser.add_argument("-k", default="", help="only probes whose name contains this")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # run probe N in this process
    args = parser.parse_args()
    os.environ.setdefault("COURSE_PROFILE", "smoke")
    os.environ.pop("COURSE_DEVICE", None)
    tmp = tempfile.mkdtemp(prefix="probe-data-")
    atexit.register(shutil.rmtree, tmp, True)
    os.chmod(tmp, 0o755)
    os.environ["COURSE_DATA_DIR"] = tmp
    os.environ["COURSE_BUILD_DIR"] = str(Path(tmp) / "build")
    if args.one is not None:
        _run_one(args.one)
        return 0
    results = []
    for index, (family, name, _clear, _fn) in enumerate(PROBES):
        if args.k not in name:
            continue
        try:  # each probe in a process of its own: one that wrecks its process (100,000 threads) spoils no other
            done = subprocess.run([sys.executable, __file__, "--one", str(index)], capture_output=True, text=True,
                                  timeout=240)
            line = next((ln for ln in done.stdout.splitlines() if ln.startswith("PROBE-RESULT ")), None)
            if line is not None:
                result = json.loads(line.removeprefix("PROBE-RESULT "))
            else:
                tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or [f"exit {done.returncode}"]
                result = {"family": family, "probe": name, "outcome": "crash", "detail": tail[0][:300]}
        except subprocess.TimeoutExpired:
            result = {"family": family, "probe": name, "outcome": "hang", "detail": "no answer in 240 s"}
        results.append(result)
        print(f"{result['outcome']:>12}  {family:13} {name}  {result['detail'][:160]}", flush=True)
    counts = Counter(r["outcome"] for r in results)
    print(f"{len(results)} probes: " + ", ".join(f"{counts[o]} {o}" for o in OUTCOMES + ("skipped",) if counts[o]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
