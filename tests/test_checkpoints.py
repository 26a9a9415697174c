"""Checkpoint keys (config + structure + data), atomic saves, and files that cannot be used."""

import dataclasses

import pytest
import torch
from torch import nn

from course_utils import checkpoints, data


@dataclasses.dataclass(frozen=True)
class Cfg:
    epochs: int = 3
    lr: float = 1e-3
    hidden: tuple[int, ...] = (32, 16)
    activation: str = "relu"
    n_train: int | None = None


def _model(p=0.3):
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(p), nn.Linear(8, 1))


def _key(cfg=Cfg(), model=None, x=None, **kw):
    return checkpoints.key("nb", "run", config=cfg, modules={"m": model or _model()},
                           data=torch.zeros(5, 4) if x is None else x, **kw)


def test_changing_any_config_field_gives_another_key():
    base = _key()
    other = {"epochs": 4, "lr": 2e-3, "hidden": (32, 8), "activation": "tanh", "n_train": 100}
    assert set(other) == {f.name for f in dataclasses.fields(Cfg)}, "test every field"
    for name, value in other.items():
        changed = _key(dataclasses.replace(Cfg(), **{name: value}))
        assert changed.path != base.path, f"changing {name} must retrain"
    assert _key().path == base.path  # and an unchanged config finds the same file


def test_structure_data_profile_and_cap_are_part_of_the_key(monkeypatch):
    base = _key()
    assert _key(model=_model(p=0.5)).path != base.path  # a changed dropout rate (same shapes)
    wider = nn.Sequential(nn.Linear(4, 9), nn.ReLU(), nn.Dropout(0.3), nn.Linear(9, 1))
    assert _key(model=wider).path != base.path
    assert _key(x=torch.ones(5, 4)).path != base.path  # same shape, other content
    assert _key(profile="cpu").path != base.path and base.name.startswith("run-smoke-")
    monkeypatch.setenv("COURSE_MAX_STEPS", "3")
    assert _key().path != base.path
    with pytest.raises(ValueError, match="valid profiles"):
        _key(profile="bogus")


def test_image_sets_are_keyed_by_source_and_size():
    a = data.load("digits", "train", n=100, verbose=False)
    b = data.load("digits", "train", n=200, verbose=False)
    c = dataclasses.replace(a, source="a local copy")
    keys = {_key(x=d).path for d in (a, b, c)}
    assert len(keys) == 3


def test_optimizer_settings_are_part_of_the_key():
    m = _model()
    k1 = checkpoints.key("nb", "r", modules={"m": m}, optimizers={"o": torch.optim.Adam(m.parameters(), lr=1e-3)})
    k2 = checkpoints.key("nb", "r", modules={"m": m}, optimizers={"o": torch.optim.Adam(m.parameters(), lr=3e-3)})
    assert k1.path != k2.path


def test_save_load_round_trip_with_weights_only():
    k = _key()
    state = {"w": torch.arange(3.0), "n": 3, "hist": {"loss": [1.0, 0.5]}}
    checkpoints.save(k, state)
    back = checkpoints.load(k)
    assert torch.equal(back["w"], state["w"]) and back["hist"] == state["hist"]
    assert not list(k.path.parent.glob("*.tmp"))  # the temp file was renamed, not left behind


class Evil:
    """Any non-tensor class: unpickling it could run code, so weights_only refuses it."""


def test_corrupt_foreign_and_unsafe_files_are_warned_and_kept_aside():
    k = _key()
    assert checkpoints.load(k) is None  # missing: no warning
    k.path.parent.mkdir(parents=True)
    k.path.write_bytes(b"not a torch file")
    with pytest.warns(checkpoints.CheckpointWarning, match="unreadable.*unused-1"):
        assert checkpoints.load(k) is None
    assert not k.path.exists() and k.path.with_name(k.path.stem + ".unused-1.pt").read_bytes() == b"not a torch file"
    # a file with another key's description at this path (e.g. written by another version)
    other = dataclasses.replace(k, description="something else")
    checkpoints.save(other, {"x": 1})
    with pytest.warns(checkpoints.CheckpointWarning, match="another model.*unused-2"):
        assert checkpoints.load(k) is None
    torch.save({"evil": Evil()}, k.path)
    with pytest.warns(checkpoints.CheckpointWarning, match="unreadable"):
        assert checkpoints.load(k) is None


def test_checkpoint_dir_can_be_redirected(tmp_path, monkeypatch):
    assert _key().path.parts[-4:-2] == ("data", "checkpoints")
    monkeypatch.setenv("COURSE_CHECKPOINT_DIR", str(tmp_path / "elsewhere"))
    assert _key().path.parent == tmp_path / "elsewhere" / "nb"


def test_config_must_be_a_dataclass_or_mapping():
    with pytest.raises(TypeError, match="dataclass"):
        checkpoints.key("nb", "r", config=[1, 2])


def test_an_unwritable_checkpoint_folder_is_named_with_the_way_out(monkeypatch):
    """A read-only data folder: the error names the folder and COURSE_CHECKPOINT_DIR (root ignores chmod,
    so the refusal is simulated where the folder is first written)."""
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", refuse)
    k = _key()
    with pytest.raises(OSError, match=r"cannot write checkpoints to .*nb.*COURSE_CHECKPOINT_DIR"):
        checkpoints.save(k, {"x": 1})
