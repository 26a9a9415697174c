"""Exact answers on the 2-D toy for what notebook 13 adds: CLIP guidance, unCLIP and inpainting.

The toy (``toy.GaussianMixture``) has exact noised marginals, so these have closed forms too:

- ``denoiser(mix, schedule)``: f(x_t, t) = E[x_0 | x_t] = (x_t − √(1−ᾱ_t) ε*(x_t))/√ᾱ_t (Tweedie),
  the perfect noise-aware "image encoder" of the toy (f(x_0, 0) = x_0);
- ``tilted(mix, b)``: p(x) e^{b·x} / Z, again a mixture: means μ_k + s_k² b, weights
  ∝ π_k exp(b·μ_k + ½ s_k² |b|²) (complete the square in each component);
- ``conditional(mix, known, value)``: p(x_U | x_K = v) over the other coordinates U, a mixture with
  weights ∝ π_k N(v; μ_{k,K}, s_k² I) and the same means and stds in U (the components are isotropic);
- ``gaussian_x0`` / ``gaussian_eps``: E[x_0 | x_t] and ε* for data N(m_i, s² I) with one mean per row
  (a decoder or a prior conditioned per sample).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from course_utils.diffusion.schedule import NoiseSchedule
from course_utils.diffusion.toy import GaussianMixture


def denoiser(mix: GaussianMixture, schedule: NoiseSchedule) -> Callable[[Tensor, int], Tensor]:
    """f(x_t, t) = E[x_0 | x_t] = (x_t − √(1−ᾱ_t) ε*(x_t, t))/√ᾱ_t: x_t (n, d), int t in 0..T → (n, d)."""
    def f(x_t: Tensor, t: int) -> Tensor:
        ab = schedule.alpha_bar[t].to(x_t.dtype)
        return (x_t - (1 - ab).sqrt() * mix.eps(x_t, ab)) / ab.sqrt()
    return f


def tilted(mix: GaussianMixture, b: Tensor) -> GaussianMixture:
    """p(x) e^{b·x}/Z for p = ``mix`` and b (d,): means μ_k + s_k² b, weights ∝ π_k exp(b·μ_k + ½ s_k² |b|²)."""
    b = torch.as_tensor(b, dtype=mix.means.dtype)
    if b.shape != (mix.dim,):
        raise ValueError(f"b must have shape ({mix.dim},), got {tuple(b.shape)}")
    var = mix.stds ** 2
    log_w = mix.weights.log() + mix.means @ b + 0.5 * var * (b @ b)
    return GaussianMixture(torch.softmax(log_w, 0), mix.means + var[:, None] * b, mix.stds)


def conditional(mix: GaussianMixture, known: Sequence[int], value: Tensor) -> GaussianMixture:
    """p(x_U | x_K = value) of ``mix``: K = ``known`` coordinates, U the others (each component is isotropic)."""
    known = list(known)
    free = [j for j in range(mix.dim) if j not in known]
    if not known or not free or len(set(known)) != len(known) or not all(0 <= j < mix.dim for j in known):
        raise ValueError(f"known must name some, not all, of the coordinates 0..{mix.dim - 1}, got {known}")
    value = torch.as_tensor(value, dtype=mix.means.dtype)
    var = mix.stds ** 2
    sq = ((value - mix.means[:, known]) ** 2).sum(1)
    log_w = mix.weights.log() - 0.5 * len(known) * torch.log(2 * math.pi * var) - 0.5 * sq / var
    return GaussianMixture(torch.softmax(log_w, 0), mix.means[:, free], mix.stds)


def gaussian_x0(mean: Tensor, std: float, alpha_bar: Tensor, x_t: Tensor) -> Tensor:
    """E[x_0 | x_t] for x_0 ~ N(m_i, s² I), one mean per row: m + √ᾱ s²/(ᾱ s² + 1 − ᾱ) (x_t − √ᾱ m)."""
    ab = torch.as_tensor(alpha_bar, dtype=x_t.dtype)
    gain = ab.sqrt() * std ** 2 / (ab * std ** 2 + 1 - ab)
    return mean + gain * (x_t - ab.sqrt() * mean)


def gaussian_eps(mean: Tensor, std: float, alpha_bar: Tensor, x_t: Tensor) -> Tensor:
    """ε*(x_t) = E[ε | x_t] for x_0 ~ N(m_i, s² I), one mean per row: √(1−ᾱ)(x_t − √ᾱ m)/(ᾱ s² + 1 − ᾱ)."""
    ab = torch.as_tensor(alpha_bar, dtype=x_t.dtype)
    return (1 - ab).sqrt() * (x_t - ab.sqrt() * mean) / (ab * std ** 2 + 1 - ab)
