"""Checkpoints keyed by what a trained model *is*: its config, its modules' structure, its data.

    key = checkpoints.key(NB, "vae", config=cfg, modules={"vae": model}, data=train_set)
    history = train.fit(step, x, ..., modules={"vae": model}, checkpoint=key)

The key is never a string typed beside the model. It hashes

- the config (a dataclass, through ``dataclasses.asdict``, or a mapping);
- each module's structure: its ``repr`` (layer types and their settings, e.g. a dropout rate)
  and every parameter's and buffer's name, shape and dtype;
- the optimizers' class and settings (learning rate, betas, ...), when given;
- the data it was trained on, by content: a digest of every training tensor's bytes (for an
  ``ImageSet`` its images and labels, plus its name, split, source and the seed that chose its
  subset), so changing one pixel of the training set trains another model;
- the profile and the ``COURSE_MAX_STEPS`` cap.

Any change to one of them gives another file: an old run is never loaded for a changed model,
and it stays on disk (switching back loads it again).

Files are written atomically (``paths.atomic_write``: mode 0666 less the umask, so a shared
folder's models can be read by others) and loaded with ``torch.load(weights_only=True)``. Each
file carries a digest of its content (every tensor's bytes and every other value), checked on
load: a flipped bit is found, not trained on. ``COURSE_CHECKPOINT_DIR`` may name several folders
(``paths.checkpoint_dirs``): a model loads from any of them, a new one is written to the first
writable one. A file that cannot be used (unreadable, damaged, saved for another key) is reported
with a :class:`CheckpointWarning` and retrained; it is renamed aside (never overwritten) only when
it is this user's own file in the folder new models go to. Another user's file, or one in a
read-only folder, is never renamed, replaced or deleted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
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

from course_utils import paths
from course_utils import profile as _profile


class CheckpointWarning(UserWarning):
    """A checkpoint could not be used (unreadable, damaged, saved for another model) or not be written."""


@dataclass(frozen=True)
class Key:
    """Where a trained model is cached and the description its hash was taken of.

    ``path`` is the file in the folder new checkpoints go to; ``search`` the same file name in every
    checkpoint folder (``paths.checkpoint_dirs``), where a model is looked for, ``path`` first.
    """

    path: Path
    description: str  # canonical JSON: config, modules, optimizers, data, profile, step cap
    search: tuple[Path, ...] = ()

    @property
    def name(self) -> str:
        return self.path.name

    def candidates(self) -> list[Path]:
        """The files this key may be loaded from, in order: ``path``, then the other folders' copies."""
        return [self.path, *(p for p in self.search if p != self.path)]


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


def _tensor_bytes(t: torch.Tensor) -> memoryview:
    """A tensor's bytes without a copy where it is already contiguous on the CPU (any dtype)."""
    t = t.detach().cpu().contiguous()
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.view(torch.int16)
    elif t.dtype == torch.bool:
        t = t.view(torch.uint8)
    return memoryview(t.numpy()).cast("B") if t.numel() else memoryview(b"")


def tensor_digest(t: torch.Tensor) -> str:
    """A fast content digest of a tensor (BLAKE2b of its bytes, dtype and shape): 24 hex digits."""
    h = hashlib.blake2b(f"{t.dtype}{tuple(t.shape)}".encode(), digest_size=12)
    h.update(_tensor_bytes(t))
    return h.hexdigest()


def describe_data(data: Any) -> Any:
    """What a model was trained on, by content: tensors by shape, dtype and a digest of their bytes;
    an ImageSet by name, split, source, the seed that chose its subset, and its images' and labels' digests."""
    if data is None:
        return None
    if isinstance(data, torch.Tensor):
        return {"shape": list(data.shape), "dtype": str(data.dtype).removeprefix("torch."),
                "blake2b": tensor_digest(data)}
    if isinstance(data, (tuple, list)):
        return [describe_data(d) for d in data]
    if isinstance(data, Mapping):
        return {str(k): describe_data(v) if isinstance(v, (torch.Tensor, tuple, list)) or hasattr(v, "images")
                else v for k, v in data.items()}
    if hasattr(data, "images") and hasattr(data, "source"):  # a course_utils.data.ImageSet
        labels = getattr(data, "labels", None)
        return {"name": data.name, "split": data.split, "source": data.source,
                "seed": getattr(data, "seed", None), "images": describe_data(data.images),
                "labels": None if labels is None else describe_data(labels)}
    raise TypeError(f"cannot describe training data of type {type(data).__name__}: pass an ImageSet, "
                    "a tensor (or tuple of tensors) or a mapping")


def key(notebook: str, name: str, *, config: Any = None, modules: Mapping[str, nn.Module] | None = None,
        optimizers: Mapping[str, torch.optim.Optimizer] | None = None, data: Any = None,
        profile: str | None = None) -> Key:
    """The cache key of a trained model: <checkpoint folder>/<notebook>/<name>-<profile>-<hash>.pt.

    The hash covers the config, the modules' structure, the optimizers' settings, the training data
    (by content), the profile and the ``COURSE_MAX_STEPS`` cap (see the module docstring).
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
    relative = Path(notebook) / f"{name}-{prof}-{digest}.pt"
    return Key(paths.checkpoint_dir() / relative, text, tuple(d / relative for d in paths.checkpoint_dirs()))


# --------------------------------------------------------------------------- content digest

def _feed(h: Any, obj: Any) -> None:
    """Feed a saved state into a hash, in a fixed order: dicts by sorted key, tensors by their bytes."""
    if isinstance(obj, torch.Tensor):
        h.update(f"T{obj.dtype}{tuple(obj.shape)}:".encode())
        h.update(_tensor_bytes(obj))
    elif isinstance(obj, Mapping):
        h.update(b"{")
        for k in sorted(obj, key=repr):
            h.update(f"{k!r}:".encode())
            _feed(h, obj[k])
        h.update(b"}")
    elif isinstance(obj, (list, tuple)):
        h.update(b"[")
        for item in obj:
            _feed(h, item)
            h.update(b",")
        h.update(b"]")
    else:
        h.update(f"{type(obj).__name__}:{obj!r};".encode())


def state_digest(state: Mapping[str, Any]) -> str:
    """The digest a checkpoint carries: BLAKE2b over every tensor's bytes and every other value."""
    h = hashlib.blake2b(digest_size=16)
    _feed(h, {k: v for k, v in state.items() if k != "__digest__"})
    return h.hexdigest()


# --------------------------------------------------------------------------- files

def _owned(path: Path) -> bool:
    """Whether ``path`` belongs to this user (always true where the OS has no user ids)."""
    if not hasattr(os, "getuid"):
        return True
    try:
        return path.stat().st_uid == os.getuid()
    except OSError:
        return False


def _writable_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path.parent, prefix=".probe", delete=True)
        probe.close()
    except OSError as err:
        raise OSError(f"cannot write checkpoints to {path.parent} ({err.strerror or err}): point "
                      "COURSE_CHECKPOINT_DIR at a writable folder (several may be given, separated by "
                      f"{os.pathsep!r}: a read-only shared one and one of your own)") from err


def _log_use(path: Path) -> None:
    """Append a used checkpoint to $COURSE_CHECKPOINT_LOG, when set (``make pretrain`` packs what a run used)."""
    log = os.environ.get("COURSE_CHECKPOINT_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{path}\n")


def save(key: Key, state: dict[str, Any]) -> Path | None:
    """Write ``state`` (plus the key's description and a digest of it) atomically; returns the file.

    The file goes to ``key.path``; where another user's file already sits there (a shared folder),
    to the next writable checkpoint folder; where there is none, nothing is written (warned) and
    None is returned. A full disk raises ``paths.DiskFullError`` naming the file. This user's
    temporary files of the key left by a killed run are removed.
    """
    payload = dict(state)
    payload["__key__"] = key.description
    payload["__digest__"] = state_digest(payload)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    targets = [key.path, *(p for p in key.search if p != key.path and paths._can_write(p.parent))]
    for i, path in enumerate(targets):
        if path.exists() and not _owned(path):
            continue  # another user's file: never replaced
        if i == 0:
            _writable_parent(path)
        paths.remove_stale_tmp(path)
        paths.atomic_write(path, buffer.getbuffer())
        _log_use(path)
        return path
    warnings.warn(f"the trained model is not cached: {key.path} belongs to another user and no other checkpoint "
                  f"folder can be written; add a folder of your own to COURSE_CHECKPOINT_DIR (separated by "
                  f"{os.pathsep!r})", CheckpointWarning, stacklevel=2)
    return None


def set_aside(path: Path, why: str) -> Path:
    """Rename an unusable checkpoint to <name>.unused-N.pt (never overwrite it) and warn, naming it."""
    n = 1
    while (aside := path.with_name(f"{path.stem}.unused-{n}{path.suffix}")).exists():
        n += 1
    os.replace(path, aside)
    warnings.warn(f"checkpoint {path} {why}; kept as {aside.name}, training from a fresh start",
                  CheckpointWarning, stacklevel=3)
    return aside


def discard(key: Key, path: Path, why: str) -> None:
    """Stop using an unusable checkpoint file: set it aside if it is this user's file where new ones
    go (``key.path``), else leave it exactly as it is; warn either way, naming it."""
    if path == key.path and _owned(path):
        try:
            set_aside(path, why)
            return
        except OSError:
            pass
    owner = ("another user's file" if path.exists() and not _owned(path)
             else "a file in a folder new models do not go to")
    warnings.warn(f"checkpoint {path} {why}; not used and left as it is ({owner})", CheckpointWarning, stacklevel=3)


def _problem(state: Any, key: Key) -> str | None:
    if not isinstance(state, dict):
        return f"holds a {type(state).__name__}, not a checkpoint"
    if state.get("__key__") != key.description:
        return "was saved for another model, config or data set"
    if "__digest__" not in state:
        return "carries no digest of its content (written by an older version of the course)"
    if state["__digest__"] != state_digest(state):
        return "is damaged: its content does not match the digest saved with it (a flipped bit or a bad copy)"
    return None


def find(key: Key) -> tuple[dict[str, Any], Path] | None:
    """The state saved under ``key`` and the file it came from, from the first usable file of
    ``key.candidates()``; None if there is none (unusable files are warned about, see ``discard``)."""
    for path in key.candidates():
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            continue
        except OSError as err:  # another user's file without read permission, a folder, ...
            warnings.warn(f"checkpoint {path} cannot be read ({err.strerror or err}); not used and left as it is",
                          CheckpointWarning, stacklevel=2)
            continue
        try:
            state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
        except Exception as err:  # torch raises many types for a damaged file; all mean "retrain"
            discard(key, path, f"is unreadable ({type(err).__name__}: {str(err)[:120]})")
            continue
        problem = _problem(state, key)
        if problem is not None:
            discard(key, path, problem)
            continue
        state.pop("__key__")
        state.pop("__digest__")
        _log_use(path)
        return state, path
    return None


def load(key: Key) -> dict[str, Any] | None:
    """The state saved under ``key``, or None if there is none or it cannot be used (then warned)."""
    found = find(key)
    return None if found is None else found[0]
