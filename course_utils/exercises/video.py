"""Exercises of notebook 14 (text to video): the centre of mass of a frame, moving a frame by
whole pixels, and a convolution across frames.

Each checker compares a student's function with an independent reference (SciPy's
``ndimage.center_of_mass`` and ``ndimage.shift``, torch's 3-D convolution) on at least three
cases, and is registered with the plausible mistakes it must catch; when a wrong answer is one of
those, the message names it.

In a notebook::

    from course_utils.exercises import video as ex
    ex.centre_of_mass(my_fn)   # True when right, False for a stub, raises (with a diagnosis) when wrong
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from course_utils.exercises import exercise

Fn = Callable[..., Any]
ATOL = RTOL = 1e-6


def _exercise(number: str, title: str, reference: Fn, cases: Sequence[tuple], *, hint, **kwargs):
    return exercise(number, title, reference, list(cases), hints=hint, atol=ATOL, rtol=RTOL,
                    module=__name__, **kwargs)


# ------------------------------------------------------------------------------ 14.1 centre of mass
# (frame (H, W) ≥ 0) → tensor (2,) = (row, col), indices from 0

def _com_cases() -> list[tuple]:
    g = torch.Generator().manual_seed(141)
    out = []
    for h, w in [(5, 7), (9, 4), (16, 16)]:
        frame = torch.rand(h, w, generator=g, dtype=torch.float64) ** 3  # uneven mass
        out.append((frame,))
    blob = torch.zeros(6, 8, dtype=torch.float64)
    blob[1, 6], blob[4, 2] = 3.0, 1.0  # two pixels: the centre lies between them, weighted
    out.append((blob,))
    return out


def _com_scipy(frame):
    return torch.tensor(ndimage.center_of_mass(frame.numpy()))


def _com_right(frame):
    rows = torch.arange(frame.shape[0], dtype=frame.dtype)
    cols = torch.arange(frame.shape[1], dtype=frame.dtype)
    mass = frame.sum()
    return torch.stack([(frame.sum(1) * rows).sum() / mass, (frame.sum(0) * cols).sum() / mass])


centre_of_mass = _exercise(
    "14.1", "the centre of mass of a frame", _com_scipy, _com_cases(),
    right=_com_right,
    hint="(Σ_ij p_ij · i, Σ_ij p_ij · j) / Σ_ij p_ij: (row, column), pixel indices from 0.",
    mistakes=[
        (lambda f: _com_right(f).flip(0),
         "the order is (row, column): rows first (the vertical position), as scipy.ndimage.center_of_mass"),
        (lambda f: _com_right(f) * f.sum(),
         "divide by the total mass Σ p_ij: the centre is a weighted mean of the pixel positions"),
        (lambda f: _com_right(f) + 1,
         "pixel indices start at 0"),
        (lambda f: torch.tensor(np.unravel_index(int(f.argmax()), f.shape), dtype=f.dtype),
         "that is the brightest pixel, not the centre of mass (a mean over every pixel, weighted by its value)"),
    ],
)


# ------------------------------------------------------------------------------ 14.2 shift by whole pixels
# (frame (H, W), d_row, d_col) → frame moved d_row down, d_col right; nothing wraps, uncovered = 0

def _shift_cases() -> list[tuple]:
    g = torch.Generator().manual_seed(142)
    out = []
    for (h, w), dr, dc in [((6, 8), 1, 0), ((6, 8), 0, -3), ((7, 5), -2, 2), ((5, 5), 3, 1), ((4, 9), 0, 0)]:
        out.append((torch.rand(h, w, generator=g, dtype=torch.float64), dr, dc))
    return out


def _shift_scipy(frame, d_row, d_col):
    return torch.from_numpy(ndimage.shift(frame.numpy(), (d_row, d_col), order=0, mode="constant", cval=0.0))


def _shift_right(frame, d_row, d_col):
    h, w = frame.shape
    out = torch.zeros_like(frame)
    src = frame[max(0, -d_row):h - max(0, d_row), max(0, -d_col):w - max(0, d_col)]
    out[max(0, d_row):max(0, d_row) + src.shape[0], max(0, d_col):max(0, d_col) + src.shape[1]] = src
    return out


shift = _exercise(
    "14.2", "move a frame", _shift_scipy, _shift_cases(),
    right=_shift_right,
    hint="out[i + d_row, j + d_col] = frame[i, j] where both are inside the frame; every other pixel of out is 0.",
    mistakes=[
        (lambda f, dr, dc: torch.roll(f, (dr, dc), dims=(0, 1)),
         "torch.roll wraps what leaves one side back in at the other: a moving digit would reappear"),
        (lambda f, dr, dc: _shift_right(f, -dr, -dc),
         "the content moves the wrong way: +d_row is down (rows grow downwards), +d_col is right"),
        (lambda f, dr, dc: _shift_right(f, dc, dr),
         "rows and columns are swapped: d_row moves along the first axis (down), d_col along the second"),
    ],
)


# ------------------------------------------------------------------------------ 14.3 temporal convolution
# (x (B, C, F, H, W), weight (C_out, C, k), bias (C_out,)) → (B, C_out, F, H, W), zero padding k // 2

def _tconv_cases() -> list[tuple]:
    g = torch.Generator().manual_seed(143)
    out = []
    for b, c, c_out, f, h, w, k in [(1, 2, 3, 5, 2, 3, 3), (2, 1, 2, 6, 3, 2, 3), (1, 3, 1, 7, 2, 2, 5)]:
        out.append((torch.randn(b, c, f, h, w, generator=g, dtype=torch.float64),
                    torch.randn(c_out, c, k, generator=g, dtype=torch.float64),
                    torch.randn(c_out, generator=g, dtype=torch.float64)))
    return out


def _tconv_3d(x, weight, bias):
    k = weight.shape[-1]
    return F.conv3d(x, weight[..., None, None], bias, padding=(k // 2, 0, 0))


def _tconv_right(x, weight, bias):
    b, c, f, h, w = x.shape
    seq = x.permute(0, 3, 4, 1, 2).reshape(b * h * w, c, f)
    y = F.conv1d(seq, weight, bias, padding=weight.shape[-1] // 2)
    return y.reshape(b, h, w, -1, f).permute(0, 3, 4, 1, 2)


def _tconv_no_permute(x, weight, bias):
    b, c, f, h, w = x.shape
    y = F.conv1d(x.reshape(b * h * w, c, f), weight, bias, padding=weight.shape[-1] // 2)
    return y.reshape(b, -1, f, h, w)


def _tconv_along_width(x, weight, bias):
    b, c, f, h, w = x.shape
    seq = x.permute(0, 2, 3, 1, 4).reshape(b * f * h, c, w)
    y = F.conv1d(seq, weight, bias, padding=weight.shape[-1] // 2)
    return y.reshape(b, f, h, -1, w).permute(0, 3, 1, 2, 4)


def _tconv_circular(x, weight, bias):
    b, c, f, h, w = x.shape
    k = weight.shape[-1]
    seq = x.permute(0, 3, 4, 1, 2).reshape(b * h * w, c, f)
    y = F.conv1d(F.pad(seq, (k // 2, k // 2), mode="circular"), weight, bias)
    return y.reshape(b, h, w, -1, f).permute(0, 3, 4, 1, 2)


temporal_conv = _exercise(
    "14.3", "a temporal convolution", _tconv_3d, _tconv_cases(),
    right=_tconv_right,
    hint="bring every pixel's sequence of frames together: permute x to (B, H, W, C, F), reshape to "
         "(B·H·W, C, F), conv1d with padding k // 2, and undo the permutation.",
    mistakes=[
        (_tconv_no_permute,
         "a reshape alone does not make each pixel's frames a sequence: permute (B, C, F, H, W) to "
         "(B, H, W, C, F) before reshaping to (B·H·W, C, F)"),
        (_tconv_along_width,
         "that convolves along the width (a spatial axis): the temporal convolution runs along F"),
        (_tconv_circular,
         "the padding wraps the last frame around to the first: pad with zeros (time does not loop)"),
    ],
)
