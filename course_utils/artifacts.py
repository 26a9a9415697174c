"""Artifacts of each generative notebook: final samples and metrics under build/artifacts/.

    build/artifacts/<notebook>/samples.pt    {"images": N×C×H×W float in [0,1] (clips: N×C×F×H×W),
                                              "labels"?, "dataset"?, "profile"}
    build/artifacts/<notebook>/metrics.json  flat {name: number or string}, with "profile": the latest run
    build/artifacts/<notebook>/metrics-<profile>.json  the same, kept per profile

``make bench`` gathers the per-profile files into one table (course_utils.bench), so a smoke run
does not hide the numbers of an earlier cpu or full run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import profile
from .paths import build_dir

if TYPE_CHECKING:  # torch is imported where samples are saved: metrics-only notebooks never load it
    import torch


def artifact_dir(notebook: str) -> Path:
    """build/artifacts/<notebook>/ (created)."""
    path = build_dir() / "artifacts" / notebook
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_samples(notebook: str, images: torch.Tensor, labels: torch.Tensor | None = None, *,
                 dataset: str | None = None) -> None:
    """Save final samples (N×C×H×W in [0, 1]; video clips N×C×F×H×W, frames on axis 2), optional
    labels and the data set's name as ``artifact_dir(notebook) / "samples.pt"``.

    Returns None: a notebook cell that ends with it shows nothing (no build-machine path).
    """
    import torch

    x = images.detach().float().cpu()
    if x.ndim not in (4, 5):
        raise ValueError(f"samples must be N×C×H×W images or N×C×F×H×W clips, got shape {tuple(x.shape)}")
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"samples must lie in [0, 1], got [{x.min():.3g}, {x.max():.3g}]: rescale first")
    payload: dict[str, Any] = {"images": x, "profile": profile.current()}
    if labels is not None:
        payload["labels"] = labels.detach().long().cpu()
    if dataset is not None:
        payload["dataset"] = dataset
    path = artifact_dir(notebook) / "samples.pt"
    torch.save(payload, path)


def _clean(value: Any) -> Any:
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars, 1-element tensors
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if not isinstance(value, (int, float, str, bool)) and value is not None:
        raise TypeError(f"metric values must be numbers or strings, got {type(value).__name__}")
    return value


def save_metrics(notebook: str, metrics: dict[str, Any]) -> None:
    """Merge ``metrics`` into this profile's metrics, written to metrics-<profile>.json and metrics.json.

    Returns None (a cell that ends with it shows no path); ``load_metrics`` reads them back.
    """
    prof = profile.current()
    current = load_metrics(notebook, prof)
    current.update({k: _clean(v) for k, v in metrics.items()})
    current["profile"] = prof
    text = json.dumps(current, indent=2, sort_keys=True) + "\n"
    folder = artifact_dir(notebook)
    (folder / f"metrics-{prof}.json").write_text(text, encoding="utf-8")
    (folder / "metrics.json").write_text(text, encoding="utf-8")


def load_metrics(notebook: str, profile_name: str | None = None) -> dict[str, Any]:
    """The metrics saved so far for a notebook at a profile (default: the current one); {} if none."""
    path = build_dir() / "artifacts" / notebook / f"metrics-{profile_name or profile.current()}.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))
