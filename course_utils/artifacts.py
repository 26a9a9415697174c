"""Artifacts of each generative notebook: final samples and metrics under build/artifacts/.

    build/artifacts/<notebook>/samples.pt    {"images": N×C×H×W float in [0,1] (clips: N×C×F×H×W),
                                              "labels"?, "dataset"?, "profile"}
    build/artifacts/<notebook>/metrics.json  flat {name: number or string}, with "profile": the latest run
    build/artifacts/<notebook>/metrics-<profile>.json  the same, kept per profile

``make bench`` gathers the per-profile files into one table (course_utils.bench), so a smoke run
does not hide the numbers of an earlier cpu or full run. Every file is written atomically
(``paths.atomic_write``): a run killed or a disk that fills up mid-write leaves the previous file,
never a part of one; a full disk is an error that names the file and says "disk full". A metrics
file that is damaged anyway (emptied or cut by another program) is named in a warning and
rewritten by the next save, never fatal.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import profile
from .paths import atomic_write, build_dir

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
    atomic_write(artifact_dir(notebook) / "samples.pt", lambda f: torch.save(payload, f))


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
    atomic_write(folder / f"metrics-{prof}.json", text)
    atomic_write(folder / "metrics.json", text)


def load_metrics(notebook: str, profile_name: str | None = None) -> dict[str, Any]:
    """The metrics saved so far for a notebook at a profile (default: the current one); {} if none."""
    path = build_dir() / "artifacts" / notebook / f"metrics-{profile_name or profile.current()}.json"
    if not path.exists():
        return {}
    return read_metrics_file(path) or {}


class DamagedArtifactWarning(UserWarning):
    """An artifact file could not be read (emptied, cut short, not JSON): it is named and rewritten."""


def read_metrics_file(path: Path) -> dict[str, Any] | None:
    """A metrics JSON file's content; None (warned, naming the file) when it is damaged."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        warnings.warn(f"{path} is damaged ({type(err).__name__}: {err}); its metrics are lost and it is "
                      "rewritten by the notebook's next run", DamagedArtifactWarning, stacklevel=3)
        return None
    if not isinstance(value, dict):
        warnings.warn(f"{path} is damaged (a JSON {type(value).__name__}, not an object of metrics); it is "
                      "rewritten by the notebook's next run", DamagedArtifactWarning, stacklevel=3)
        return None
    return value
