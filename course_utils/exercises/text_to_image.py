"""Exercises of notebook 13 (text to image): CLIP's symmetric InfoNCE loss, zero-shot prediction
by cosine similarity, and the CLIP-guidance gradient ∇_x (f(x)·g) of a linear image encoder.

Each checker compares a student's function with an independent reference (explicit loops over
the batch with math.log/exp; numpy; torch's autograd) on at least three cases, and is registered
with the plausible mistakes it must catch; when a wrong answer is one of those, the message names it.

In a notebook::

    from course_utils.exercises import text_to_image as ex
    ex.clip_loss(my_loss)   # True when right, False for a stub, raises (with a diagnosis) when wrong
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from course_utils.exercises import exercise

Fn = Callable[..., Any]


def _exercise(number: str, title: str, reference: Fn, cases: Sequence[tuple], *, hint, **kwargs):
    return exercise(number, title, reference, list(cases), hints=hint, atol=1e-9, rtol=1e-9, module=__name__,
                    **kwargs)


def _unit(g: torch.Generator, n: int, d: int) -> torch.Tensor:
    return F.normalize(torch.randn(n, d, generator=g, dtype=torch.float64), dim=1)


# ------------------------------------------------------------------------------ 13.1 InfoNCE
# loss = ½ [ −(1/B) Σ_i log softmax_j(s f_i·g_j)_i − (1/B) Σ_j log softmax_i(s f_i·g_j)_j ];
# arguments (F (B, D) unit, G (B, D) unit, scale)

def _info_nce_loops(F_img, G_txt, scale):
    """The loss by explicit sums over the batch, in Python floats."""
    f, g = F_img.tolist(), G_txt.tolist()
    b = len(f)
    logit = [[scale * sum(a * c for a, c in zip(f[i], g[j])) for j in range(b)] for i in range(b)]
    rows = sum(logit[i][i] - math.log(sum(math.exp(logit[i][j]) for j in range(b))) for i in range(b))
    cols = sum(logit[j][j] - math.log(sum(math.exp(logit[i][j]) for i in range(b))) for j in range(b))
    return torch.tensor(-(rows + cols) / (2 * b), dtype=torch.float64)


def _info_nce_cases() -> list[tuple]:
    g = torch.Generator().manual_seed(131)
    out = []
    for b, d, scale in [(4, 3, 1.0), (6, 5, 14.3), (3, 8, 50.0)]:
        f = _unit(g, b, d)
        # text embeddings near their images (so the loss is not that of random pairs), not equal to them
        t = F.normalize(f + 0.7 * torch.randn(b, d, generator=g, dtype=torch.float64), dim=1)
        out.append((f, t, scale))
    return out


def _info_nce_right(F_img, G_txt, scale):
    logits = scale * F_img @ G_txt.T
    return -(logits.log_softmax(1).diagonal().mean() + logits.log_softmax(0).diagonal().mean()) / 2


clip_loss = _exercise(
    "13.1", "the InfoNCE loss", _info_nce_loops, _info_nce_cases(),
    right=_info_nce_right,
    hint="logits = scale · F Gᵀ; the loss is the mean of the cross-entropy of each row (image → its caption) "
         "and of each column (caption → its image), both with the diagonal as the target.",
    mistakes=[
        (lambda F_img, G_txt, scale: -(scale * F_img @ G_txt.T).log_softmax(1).diagonal().mean(),
         "only one direction: CLIP's loss is symmetric, rows (image → caption) and columns (caption → image) averaged"),
        (lambda F_img, G_txt, scale: _info_nce_right(F_img, G_txt, 1.0),
         "the similarities are multiplied by the scale 1/τ before the softmax"),
        (lambda F_img, G_txt, scale: _info_nce_right(F_img, G_txt, 1 / scale),
         "the scale is the inverse temperature 1/τ: multiply the similarities by it (dividing is multiplying by τ)"),
        (lambda F_img, G_txt, scale: _info_nce_right(F_img, G_txt, scale) * len(F_img),
         "the loss is the mean over the batch, not the sum"),
    ],
)


# ------------------------------------------------------------------------------ 13.2 zero-shot prediction
# argmax_k cos(f_n, g_k); arguments (F (N, D), G (K, D)), neither unit length → (N,) class indices

def _zero_shot_numpy(F_img, G_txt):
    f, g = F_img.numpy(), G_txt.numpy()
    cos = np.array([[a @ b / np.sqrt((a @ a) * (b @ b)) for b in g] for a in f])
    return torch.from_numpy(cos.argmax(axis=1))


def _zero_shot_cases() -> list[tuple]:
    g = torch.Generator().manual_seed(132)
    out = []
    for n, k, d in [(12, 4, 3), (20, 10, 6), (8, 3, 5)]:
        txt = torch.randn(k, d, generator=g, dtype=torch.float64)
        txt = txt * torch.linspace(0.2, 5.0, k, dtype=torch.float64)[:, None]  # prompts of very different lengths
        img = torch.randn(n, d, generator=g, dtype=torch.float64) * (0.1 + 3 * torch.rand(n, 1, generator=g,
                                                                                         dtype=torch.float64))
        out.append((img, txt))
    return out


def _normalised(x):
    return x / x.norm(dim=1, keepdim=True)


zero_shot_predict = _exercise(
    "13.2", "zero-shot prediction", _zero_shot_numpy, _zero_shot_cases(),
    right=lambda F_img, G_txt: (_normalised(F_img) @ _normalised(G_txt).T).argmax(1),
    hint="normalise both sets of embeddings to unit length, take F Gᵀ (N, K), and the argmax over the classes (dim 1).",
    mistakes=[
        (lambda F_img, G_txt: (F_img @ G_txt.T).argmax(1),
         "a raw dot product favours the longest text vector: normalise to cosine similarity"),
        (lambda F_img, G_txt: ((F_img / F_img.norm(dim=0)) @ (G_txt / G_txt.norm(dim=0)).T).argmax(1),
         "normalise each embedding (its length over dim 1), not each coordinate over the set (dim 0)"),
        (lambda F_img, G_txt: torch.cdist(F_img, G_txt).argmin(1),
         "the nearest vector by Euclidean distance is not the most similar direction unless both are unit length"),
    ],
)


# ------------------------------------------------------------------------------ 13.3 CLIP-guidance gradient
# f(x) = W x / |W x|, ∇_x (f(x)·g) = Wᵀ (g − (f·g) f) / |W x|; arguments (W (D, P), x (B, P), g (D,)) → (B, P)

def _clip_grad_autograd(W, x, g):
    x = x.clone().requires_grad_(True)
    u = x @ W.T
    (grad,) = torch.autograd.grad((u / u.norm(dim=1, keepdim=True) @ g).sum(), x)
    return grad


def _clip_grad_cases() -> list[tuple]:
    gen = torch.Generator().manual_seed(133)
    out = []
    for d, p, b in [(3, 4, 2), (5, 9, 3), (8, 6, 4)]:
        out.append((torch.randn(d, p, generator=gen, dtype=torch.float64),
                    3 * torch.randn(b, p, generator=gen, dtype=torch.float64),
                    _unit(gen, 1, d)[0]))
    return out


def _clip_grad_right(W, x, g):
    u = x @ W.T
    norm = u.norm(dim=1, keepdim=True)
    f = u / norm
    return ((g - (f @ g)[:, None] * f) / norm) @ W


clip_gradient = _exercise(
    "13.3", "the CLIP-guidance gradient by hand", _clip_grad_autograd, _clip_grad_cases(),
    right=_clip_grad_right,
    hint="with u = W x and f = u/|u|: ∂f/∂u = (I − f fᵀ)/|u|, so ∇_x (f·g) = Wᵀ (g − (f·g) f)/|u|.",
    mistakes=[
        (lambda W, x, g: (g @ W).expand_as(x).clone(),
         "that is the gradient of (W x)·g: f is W x divided by its length, which depends on x too"),
        (lambda W, x, g: (g @ W)[None] / (x @ W.T).norm(dim=1, keepdim=True),
         "dividing by |W x| is not all: the normalisation also removes the part of g along f, (I − f fᵀ) g"),
        (lambda W, x, g: (g - ((x @ W.T) / (x @ W.T).norm(dim=1, keepdim=True) @ g)[:, None]
                          * (x @ W.T) / (x @ W.T).norm(dim=1, keepdim=True)) @ W,
         "the projected direction (I − f fᵀ) g must still be divided by |W x|"),
    ],
)
