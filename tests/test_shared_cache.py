"""A class shares trained models (issue 21): a checkpoint search path, other users' files never touched,
the umask respected, a digest of the content checked on load, stale temp files removed, a full disk named."""

import errno
import os
import socket
import subprocess
import sys
import warnings

import pytest
import torch
from torch import nn

from course_utils import checkpoints, paths, train

ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0
OTHER_UID = 54321


def _key(x=None):
    model = nn.Linear(3, 1)
    return checkpoints.key("nb", "run", config={"v": 1}, modules={"m": model},
                           data=torch.zeros(4, 3) if x is None else x)


def _as_other_user(path):
    """Give a file to another account (needs root; the tests that need it are skipped otherwise)."""
    os.chown(path, OTHER_UID, OTHER_UID)


@pytest.fixture
def two_folders(tmp_path, monkeypatch):
    shared, mine = tmp_path / "shared", tmp_path / "mine"
    shared.mkdir()
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", f"{shared}{os.pathsep}{mine}")
    return shared, mine


def test_the_search_path_lists_folders_and_writes_to_the_first_writable(two_folders, monkeypatch):
    shared, mine = two_folders
    assert paths.checkpoint_dirs() == [shared, mine]
    k = _key()
    assert k.path == shared / "nb" / k.name and k.candidates() == [shared / "nb" / k.name, mine / "nb" / k.name]
    monkeypatch.setattr(paths, "_can_write", lambda folder: folder != shared)  # a read-only shared folder
    k = _key()
    assert k.path == mine / "nb" / k.name and k.candidates()[1] == shared / "nb" / k.name


def test_a_model_in_the_read_only_folder_loads_and_new_ones_go_to_ones_own(two_folders, monkeypatch):
    shared, mine = two_folders
    instructor = _key()
    checkpoints.save(instructor, {"w": torch.arange(3.0)})
    monkeypatch.setattr(paths, "_can_write", lambda folder: not str(folder).startswith(str(shared)))
    student = _key()
    assert student.path.parent == mine / "nb"
    found = checkpoints.find(student)
    assert found is not None and found[1] == instructor.path and torch.equal(found[0]["w"], torch.arange(3.0))
    other = _key(x=torch.ones(4, 3))  # a model the instructor did not train
    assert checkpoints.load(other) is None
    assert checkpoints.save(other, {"w": torch.zeros(1)}) == mine / "nb" / other.name
    assert sorted(p.name for p in (shared / "nb").iterdir()) == [instructor.name]


@pytest.mark.skipif(not ROOT_USER, reason="needs root to give a file to another account")
def test_another_users_damaged_file_is_never_renamed_nor_replaced(two_folders):
    shared, mine = two_folders
    k = _key()
    k.path.parent.mkdir(parents=True)
    k.path.write_bytes(b"half a file")
    _as_other_user(k.path)
    with pytest.warns(checkpoints.CheckpointWarning, match="left as it is .another user's file"):
        assert checkpoints.load(k) is None
    assert k.path.read_bytes() == b"half a file" and not list(k.path.parent.glob("*.unused-*"))
    # training saves to the user's own folder, never over the other user's file
    assert checkpoints.save(k, {"w": torch.ones(2)}) == mine / "nb" / k.name
    assert k.path.read_bytes() == b"half a file"
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        state = checkpoints.load(k)  # found in the second folder; the first is warned about again
    assert torch.equal(state["w"], torch.ones(2)) and k.path.stat().st_uid == OTHER_UID
    assert any("left as it is" in str(w.message) for w in seen)
    # control: the same damaged file of one's own in the write folder is set aside (kept, renamed)
    os.chown(k.path, os.getuid(), os.getgid())
    with pytest.warns(checkpoints.CheckpointWarning, match="unused-1"):
        checkpoints.find(k)
    assert not k.path.exists()


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_checkpoints_and_artifacts_respect_the_umask(umask, mode):
    from course_utils import artifacts

    old = os.umask(umask)
    try:
        k = _key()
        checkpoints.save(k, {"w": torch.ones(1)})
        artifacts.save_metrics("07_vae", {"nll": 1.0})
    finally:
        os.umask(old)
    assert k.path.stat().st_mode & 0o777 == mode
    assert (artifacts.artifact_dir("07_vae") / "metrics.json").stat().st_mode & 0o777 == mode


def _flip_one_bit_in_tensor_data(path):
    """Flip the lowest bit of a byte inside the stored tensor data (not the zip's headers or the pickle)."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        info = next(i for i in z.infolist() if "/data/" in i.filename and i.file_size >= 64)
    raw = bytearray(path.read_bytes())
    name_len = int.from_bytes(raw[info.header_offset + 26:info.header_offset + 28], "little")
    extra_len = int.from_bytes(raw[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    raw[start + 40] ^= 1
    path.write_bytes(bytes(raw))


def test_a_flipped_bit_in_a_tensor_is_found_and_retrained():
    model, data = nn.Linear(16, 16), torch.randn(64, 16)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    k = checkpoints.key("nb", "flip", modules={"m": model}, optimizers={"o": opt}, data=data)

    def step(batch):
        loss = (model(batch[0]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    train.fit(step, data, epochs=1, batch_size=16, modules={"m": model}, optimizers={"o": opt}, checkpoint=k,
              progress=False)
    _flip_one_bit_in_tensor_data(k.path)
    # control: torch itself reads the damaged file without a word (its zip reader checks no CRC)
    raw = torch.load(k.path, weights_only=True)
    assert raw["__digest__"] != checkpoints.state_digest(raw)
    with pytest.warns(checkpoints.CheckpointWarning, match="is damaged: its content does not match the digest"):
        assert checkpoints.load(k) is None
    assert k.path.with_name(k.path.stem + ".unused-1.pt").exists()


def test_stale_temp_files_of_a_key_are_removed_and_live_ones_kept():
    k = _key()
    k.path.parent.mkdir(parents=True)
    host = socket.gethostname().replace(".", "-")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stale = k.path.with_name(f".{k.name}.{host}.{dead}.0a0b0c0d.tmp")
    live = k.path.with_name(f".{k.name}.{host}.{os.getpid()}.0a0b0c0e.tmp")
    elsewhere = k.path.with_name(f".{k.name}.otherhost.{dead}.0a0b0c0f.tmp")
    other_key = k.path.with_name(f".other.pt.{host}.{dead}.0a0b0c10.tmp")
    for f in (stale, live, elsewhere, other_key):
        f.write_bytes(b"partial")
    checkpoints.save(k, {"w": torch.ones(1)})
    assert not stale.exists() and live.exists() and elsewhere.exists() and other_key.exists()


def test_a_full_disk_is_named_and_leaves_the_old_file(monkeypatch):
    k = _key()
    checkpoints.save(k, {"w": torch.ones(1)})
    before = k.path.read_bytes()
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def fileno(self):
            return self.f.fileno()

        flush = lambda self: None  # noqa: E731

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: Full(real_fdopen(fd, mode)))
    with pytest.raises(paths.DiskFullError, match=rf"disk full: could not write {k.path}"):
        checkpoints.save(k, {"w": torch.zeros(1)})
    monkeypatch.setattr(os, "fdopen", real_fdopen)
    assert k.path.read_bytes() == before and not [p for p in k.path.parent.iterdir() if p.suffix == ".tmp"]
