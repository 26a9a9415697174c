"""make pretrain's pack: checkpoints with a SHA-256 each, verified before anything is installed."""

import os
import tarfile

import pytest
import torch
from torch import nn

from course_utils import checkpoints, pack


@pytest.fixture
def trained(tmp_path, monkeypatch):
    """Two checkpoints in a folder, the first one logged as used by a run."""
    root = tmp_path / "ckpt"
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(root))
    monkeypatch.setenv("COURSE_CHECKPOINT_LOG", str(tmp_path / "used.txt"))
    keys = [checkpoints.key("07_vae", f"m{i}", modules={"m": nn.Linear(4, 4)}) for i in range(2)]
    checkpoints.save(keys[0], {"w": torch.arange(4.0)})
    monkeypatch.delenv("COURSE_CHECKPOINT_LOG")
    checkpoints.save(keys[1], {"w": torch.ones(4)})
    return root, keys, tmp_path / "used.txt"


def test_pack_verify_install_and_load_from_the_installed_folder(trained, tmp_path, monkeypatch):
    root, keys, log = trained
    out = tmp_path / "models.tar"
    manifest = pack.create(root, out, log=log, profile="smoke")
    assert list(manifest["files"]) == [f"07_vae/{keys[0].name}"]  # only what the run used
    assert pack.verify(out)["profile"] == "smoke"
    shared = tmp_path / "shared"
    assert pack.install(out, shared) == (1, 0) and pack.install(out, shared) == (0, 1)
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", f"{shared}{os.pathsep}{tmp_path / 'mine'}")
    k = checkpoints.key("07_vae", "m0", modules={"m": nn.Linear(4, 4)})
    state, source = checkpoints.find(k)
    assert source == shared / "07_vae" / keys[0].name and torch.equal(state["w"], torch.arange(4.0))
    assert pack.create(root, tmp_path / "all.tar")["files"].keys() == {f"07_vae/{k.name}" for k in keys}


def test_a_damaged_pack_is_named_and_installs_nothing(trained, tmp_path):
    root, keys, log = trained
    out = tmp_path / "models.tar"
    pack.create(root, out)
    raw = bytearray(out.read_bytes())
    with tarfile.open(out) as tar:
        member = [m for m in tar.getmembers() if m.name.endswith(".pt")][-1]
    raw[member.offset_data + 200] ^= 0x10
    bad = tmp_path / "bad.tar"
    bad.write_bytes(bytes(raw))
    with pytest.raises(pack.PackError, match=rf"{member.name} does not match its checksum"):
        pack.install(bad, tmp_path / "shared")
    assert not (tmp_path / "shared").exists()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(out.read_bytes()[: member.offset_data + 100])
    with pytest.raises(pack.PackError, match="cut.tar is (damaged|cut short)"):
        pack.verify(cut)
    with pytest.raises(pack.PackError, match="not a readable pack"):
        pack.verify(tmp_path / "used.txt")
