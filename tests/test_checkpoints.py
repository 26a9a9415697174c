import torch

from course_utils import checkpoints


def test_path_is_keyed_by_notebook_name_profile_and_config(monkeypatch):
    a = checkpoints.path_for("07_vae", "vae", {"z": 2})
    assert a.parent.name == "07_vae" and a.name.startswith("vae-smoke-")
    assert a != checkpoints.path_for("07_vae", "vae", {"z": 20})
    assert a == checkpoints.path_for("07_vae", "vae", {"z": 2})
    monkeypatch.setenv("COURSE_PROFILE", "cpu")
    assert checkpoints.path_for("07_vae", "vae", {"z": 2}).name.startswith("vae-cpu-")


def test_save_load_round_trip_with_weights_only(tmp_path):
    path = tmp_path / "sub" / "c.pt"
    state = {"w": torch.arange(3.0), "n": 3, "hist": {"loss": [1.0, 0.5]}}
    checkpoints.save(path, state, config={"a": 1})
    back = checkpoints.load(path, expect_config={"a": 1})
    assert torch.equal(back["w"], state["w"]) and back["hist"] == state["hist"]
    assert not list(path.parent.glob("*.tmp"))  # the temp file was renamed, not left behind


class Evil:
    """Any non-tensor class: unpickling it could run code, so weights_only refuses it."""


def test_missing_corrupt_stale_and_unsafe_files(tmp_path, capsys):
    assert checkpoints.load(tmp_path / "none.pt") is None
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file")
    assert checkpoints.load(bad) is None and "unreadable" in capsys.readouterr().out
    ok = checkpoints.save(tmp_path / "ok.pt", {"x": 1}, config={"a": 1})
    assert checkpoints.load(ok, expect_config={"a": 2}) is None
    assert "another config" in capsys.readouterr().out
    # an arbitrary pickled object is refused by weights_only=True
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"evil": Evil()}, unsafe)
    assert checkpoints.load(unsafe) is None and "unreadable" in capsys.readouterr().out


def test_checkpoint_dir_can_be_redirected(tmp_path, monkeypatch):
    assert checkpoints.path_for("n", "m").parts[-4:-2] == ("data", "checkpoints")
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path / "elsewhere"))
    assert checkpoints.path_for("n", "m").parent == tmp_path / "elsewhere" / "n"
