"""Checkpoints keyed by what a trained model *is*: its config, its modules' structure, its data.

    key = checkpoints.key(NB, "vae", config=cfg, modules={"vae": model}, data=train_set)
    history = train.fit(step, x, ..., modules={"vae": model}, checkpoint=key)

The key is never a string typed beside the model. It hashes

- the config (a dataclass, through ``dataclasses.asdict``, or a mapping);
- each module's structure: its ``repr`` (layer types and their settings, e.g. a dropout rate)
  and every parameter's and buffer's name, shape and dtype;
- the optimizers' class and settings (learning rate, betas, ...), when given;
- the data it was trained on (for an ``ImageSet``: name, split, source and size; for a tensor:
  shape, dtype and a hash of its bytes);
- the profile and the ``COURSE_MAX_STEPS`` cap.

Any change to one of them gives another file: an old run is never loaded for a changed model,
and it stays on disk (switching back loads it again). Files are written atomically and loaded
with ``torch.load(weights_only=True)``. A file that is unreadable or was saved for another key
is reported with a :class:`CheckpointWarning`, renamed aside (never overwritten) and retrained.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from course_utils import profile as _profile
from course_utils.paths import checkpoint_dir


class CheckpointWarning(UserWarning):
    """A checkpoint could not be used (unreadable, or saved for another model); it is retrained."""


@dataclass(frozen=True)
class Key:
    """Where a trained model is cached (``path``) and the description its hash was taken of."""

    path: Path
    description: str  # canonical JSON: config, modules, optimizers, data, profile, step cap

    @property
    def name(self) -> str:
        return self.path.name


def _config_dict(config: Any) -> Any:
    if config is None:
        return {}
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {"__class__": type(config).__name__, **dataclasses.asdict(config)}
    if isinstance(config, Mapping):
        return dict(config)
    raise TypeError(f"config must be a dataclass instance or a mapping, got {type(config).__name__}")


def describe_module(module: nn.Module) -> dict[str, Any]:
    """The structure of a module: class, repr, and every parameter/buffer name with shape and dtype."""
    tensors = {k: [list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in module.state_dict().items()}
    return {"class": type(module).__qualname__, "repr": repr(module), "tensors": tensors}


def describe_optimizer(opt: torch.optim.Optimizer) -> dict[str, Any]:
    """An optimizer's class and settings (per parameter group, without the parameters)."""
    groups = [{k: v for k, v in g.items() if k != "params"} | {"n_params": len(g["params"])}
              for g in opt.param_groups]
    return {"class": type(opt).__qualname__, "groups": groups}


def describe_data(data: Any) -> Any:
    """What a model was trained on: an ImageSet by name/split/source/size, tensors by shape and content hash."""
    if data is None:
        return None
    if isinstance(data, torch.Tensor):
        t = data.detach().cpu().contiguous()
        digest = hashlib.blake2b(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes(),
                                 digest_size=12).hexdigest()
        return {"shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch."), "blake2b": digest}
    if isinstance(data, (tuple, list)):
        return [describe_data(d) for d in data]
    if isinstance(data, Mapping):
        return {str(k): describe_data(v) if isinstance(v, (torch.Tensor, tuple, list)) else v for k, v in data.items()}
    if hasattr(data, "images") and hasattr(data, "source"):  # a course_utils.data.ImageSet
        return {"name": data.name, "split": data.split, "source": data.source,
                "n": int(data.images.shape[0]), "shape": list(data.images.shape[1:])}
    raise TypeError(f"cannot describe training data of type {type(data).__name__}: pass an ImageSet, "
                    "a tensor (or tuple of tensors) or a mapping")


def key(notebook: str, name: str, *, config: Any = None, modules: Mapping[str, nn.Module] | None = None,
        optimizers: Mapping[str, torch.optim.Optimizer] | None = None, data: Any = None,
        profile: str | None = None) -> Key:
    """The cache key of a trained model: data/checkpoints/<notebook>/<name>-<profile>-<hash>.pt.

    The hash covers the config, the modules' structure, the optimizers' settings, the training data,
    the profile and the ``COURSE_MAX_STEPS`` cap (see the module docstring).
    """
    prof = profile or _profile.current()
    if prof not in _profile.PROFILES:
        raise ValueError(f"unknown profile {prof!r}: valid profiles are {', '.join(_profile.PROFILES)}")
    desc = {
        "config": _config_dict(config),
        "modules": {k: describe_module(m) for k, m in (modules or {}).items()},
        "optimizers": {k: describe_optimizer(o) for k, o in (optimizers or {}).items()},
        "data": describe_data(data),
        "profile": prof,
        "max_steps": _profile.max_steps(),
    }
    text = json.dumps(desc, sort_keys=True, default=repr)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return Key(checkpoint_dir() / notebook / f"{name}-{prof}-{digest}.pt", text)


def _writable_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path.parent, prefix=".probe", delete=True)
        probe.close()
    except OSError as err:
        raise OSError(f"cannot write checkpoints to {path.parent} ({err.strerror or err}): point "
                      "COURSE_CHECKPOINT_DIR at a writable folder") from err


def save(key: Key, state: dict[str, Any]) -> Path:
    """Write ``state`` (plus the key's description) atomically: a temp file, then a rename."""
    path = key.path
    _writable_parent(path)
    payload = dict(state)
    payload["__key__"] = key.description
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def set_aside(path: Path, why: str) -> Path:
    """Rename an unusable checkpoint to <name>.unused-N.pt (never overwrite it) and warn, naming it."""
    n = 1
    while (aside := path.with_name(f"{path.stem}.unused-{n}{path.suffix}")).exists():
        n += 1
    os.replace(path, aside)
    warnings.warn(f"checkpoint {path} {why}; kept as {aside.name}, training from a fresh start",
                  CheckpointWarning, stacklevel=3)
    return aside


def load(key: Key) -> dict[str, Any] | None:
    """The state saved under ``key``, or None if there is none or it cannot be used (then warned and set aside)."""
    path = key.path
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a damaged file; all mean "retrain"
        set_aside(path, f"is unreadable ({type(err).__name__}: {str(err)[:120]})")
        return None
    if not isinstance(state, dict) or state.pop("__key__", None) != key.description:
        set_aside(path, "was saved for another model, config or data set")
        return None
    return state
