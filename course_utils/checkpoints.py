"""Checkpoints: keyed by notebook, name, profile and config; atomic writes; safe loads.

A file that is corrupt (truncated, not a torch file) or stale (saved for another config) is
reported in one line and ``load`` returns None, so the caller retrains instead of crashing.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from . import profile as _profile
from .paths import checkpoint_dir


def config_key(config: Mapping[str, Any] | None) -> str:
    """A short stable hash of a config (any JSON-serialisable mapping; other values by repr)."""
    text = json.dumps(config or {}, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _jsonable(config: Mapping[str, Any] | None) -> str:
    return json.dumps(config or {}, sort_keys=True, default=repr)


def path_for(notebook: str, name: str, config: Mapping[str, Any] | None = None,
             profile: str | None = None) -> Path:
    """data/checkpoints/<notebook>/<name>-<profile>-<config hash>.pt"""
    prof = profile or _profile.current()
    return checkpoint_dir() / notebook / f"{name}-{prof}-{config_key(config)}.pt"


def save(path: str | Path, state: dict[str, Any], config: Mapping[str, Any] | None = None) -> Path:
    """Write ``state`` (plus the config, for staleness checks) atomically: temp file, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = dict(state)
    payload["__config__"] = _jsonable(config)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load(path: str | Path, expect_config: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """Load a checkpoint with ``weights_only=True``; None if missing, corrupt or stale (reported)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a damaged file; all mean "retrain"
        print(f"[checkpoint] {path} is unreadable ({type(err).__name__}: {str(err)[:120]}); retraining")
        return None
    if not isinstance(state, dict):
        print(f"[checkpoint] {path} does not hold a state dict; retraining")
        return None
    saved = state.pop("__config__", None)
    if expect_config is not None and saved != _jsonable(expect_config):
        print(f"[checkpoint] {path} was saved for another config; retraining")
        return None
    return state
