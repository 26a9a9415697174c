"""Figures the notebooks share: image grids and training curves.

torch is not imported here: the graphical-model notebooks plot without it (it costs ~650 MB);
tensors are accepted all the same (anything with ``.detach()``).

Importing this module registers the CJK font that pip installs (Noto Sans SC, course_utils.i18n.fonts)
with matplotlib, so Chinese labels render on any machine, with no system font. Words on a figure come
in the notebook's language: ``tr("density", "密度")`` in a notebook, ``t(key)`` here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np

from .i18n import lang, t
from .i18n.fonts import use_cjk_font
from .paths import atomic_write, build_dir

if TYPE_CHECKING:
    import torch

use_cjk_font()


def _as_numpy(images: Any) -> np.ndarray:
    """A float32 array from a numpy array or a torch tensor (on any device, with grad or not)."""
    if hasattr(images, "detach"):  # a torch tensor
        images = images.detach().float().cpu().numpy()
    return np.asarray(images, dtype=np.float32)


def make_grid(images: torch.Tensor | np.ndarray, nrow: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile N×C×H×W (or N×H×W) images with values in [0, 1] into one H'×W'×C array, ``nrow`` per row."""
    x = _as_numpy(images)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise ValueError(f"expected images N×C×H×W, got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    nrow = nrow or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / nrow))
    grid = np.ones((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), dtype=np.float32)
    for i in range(n):
        r, col = divmod(i, nrow)
        grid[:, pad + r * (h + pad): pad + r * (h + pad) + h,
             pad + col * (w + pad): pad + col * (w + pad) + w] = x[i]
    return np.clip(grid, 0, 1).transpose(1, 2, 0)


def image_grid(images: torch.Tensor | np.ndarray, nrow: int | None = None, *, title: str | None = None,
               ax: plt.Axes | None = None, row_labels: Sequence[str] | None = None,
               scale: float = 0.6) -> plt.Figure:
    """Show N×C×H×W images in [0, 1] as a grid (gray for one channel); returns the figure."""
    grid = make_grid(images, nrow)
    if ax is None:
        h, w = grid.shape[:2]
        width = min(12.0, max(3.0, scale * w / 12))
        _, ax = plt.subplots(figsize=(width, width * h / w + (0.4 if title else 0)))
    ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_xticks([])
    if row_labels is not None:
        n_rows = len(row_labels)
        step = grid.shape[0] / n_rows
        ax.set_yticks([(i + 0.5) * step for i in range(n_rows)], labels=list(row_labels))
    else:
        ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax.figure


def plot_history(history, keys: Sequence[str] | None = None, *, ax: plt.Axes | None = None,
                 title: str | None = None, logy: bool = False, per: str = "step",
                 smooth: int = 1) -> plt.Figure:
    """Plot training curves from a ``train.History`` (per step or per epoch), labelled axes."""
    if per not in ("step", "epoch"):
        raise ValueError(f"per must be 'step' or 'epoch', got {per!r}")
    series = history.steps if per == "step" else history.epochs
    keys = list(keys or series.keys())
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for key in keys:
        y = np.asarray(series[key], dtype=float)
        if smooth > 1 and len(y) >= smooth:
            y = np.convolve(y, np.ones(smooth) / smooth, mode="valid")
        ax.plot(np.arange(1, len(y) + 1), y, label=key)
    ax.set_xlabel(t("plot.training_step") if per == "step" else t("plot.epoch"))
    ax.set_ylabel(t("plot.value"))
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return ax.figure


def savefig(fig: plt.Figure, notebook: str, name: str) -> None:
    """Save a figure as build/artifacts/<notebook>/<name>.png (<name>.zh.png from a Chinese notebook,
    whose words differ: the two never overwrite each other).

    Returns None (as matplotlib's own savefig), so that a cell ending with it shows no
    ``Out[n]: PosixPath('/home/.../build/...')`` to students or on slides.
    """
    suffix = "" if lang() == "en" else f".{lang()}"
    path = build_dir() / "artifacts" / notebook / f"{name}{suffix}.png"
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight"))  # never half a file
