"""Algorithm 2 in fewer steps, for any ε-function: the sampler notebook 12 writes out, as a library piece.

Notebook 12 writes the respaced ancestral sampler and its two guidance rules inline (the slide's
formulas). Notebooks after it sample many models with it (image decoders, a prior over embeddings,
CLIP guidance), so here it is once:

    sampler = RespacedSampler(schedule, n_steps=50).to(device)
    x0 = sampler.sample(eps_fn, x_T, generator=g)                  # eps_fn(x_t, t) → ε̂
    x0 = sampler.sample(eps_fn, x_T, generator=g, guide=grad_fn)   # μ̂ = μ + Σ · grad_fn(x_t, t)

At each kept timestep t_i (T = t_1 > … > t_n = 1), x̂_0 = (x_t − √(1−ᾱ) ε̂)/√ᾱ is clipped to
[−1, 1] (``clip_x0``), the step's mean is the posterior mean μ̃(x_t, x̂_0) of the respaced chain
(``NoiseSchedule.respace``), Σ = β̃' I, and x ← μ + Σ^{1/2} z with z = 0 at the last step.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from course_utils.diffusion.schedule import NoiseSchedule

EpsFn = Callable[[Tensor, int], Tensor]


class RespacedSampler:
    """The ancestral sampler of ``schedule`` through ``n_steps`` evenly spaced timesteps (T first, 1 last)."""

    def __init__(self, schedule: NoiseSchedule, n_steps: int, *, clip_x0: bool = True) -> None:
        if not 1 <= n_steps <= schedule.T:
            raise ValueError(f"n_steps must be in 1..{schedule.T}, got {n_steps}")
        self.schedule = schedule
        self.timesteps = schedule.ddim_timesteps(n_steps)  # t_1 = T > … > t_n = 1
        self.respaced = schedule.respace(self.timesteps)  # index n − i ↔ timesteps[i]
        self.clip_x0 = clip_x0

    def to(self, device: torch.device | str) -> RespacedSampler:
        self.respaced = self.respaced.to(device)
        return self

    def __len__(self) -> int:
        return len(self.timesteps)

    def mean(self, x: Tensor, i: int, eps: Tensor) -> Tensor:
        """μ = μ̃(x_t, x̂_0) at the i-th kept timestep (i = 0 is t = T), with x̂_0 from ε̂ (clipped if asked)."""
        j = self.respaced.T - i
        x0_hat = self.respaced.predict_x0(x, j, eps)
        if self.clip_x0:
            x0_hat = x0_hat.clamp(-1, 1)
        return self.respaced.q_posterior(x0_hat, x, j)[0]

    def variance(self, i: int) -> Tensor:
        """Σ = β̃' of the i-th step (a scalar tensor)."""
        return self.respaced.beta_tilde[self.respaced.T - i]

    def sample(self, eps_fn: EpsFn, x: Tensor, *, generator: torch.Generator | None = None,
               guide: EpsFn | None = None) -> Tensor:
        """Run the chain from x = x_T; ``eps_fn`` runs without gradients, ``guide(x_t, t)`` (if given)
        returns the gradient term g so that μ̂ = μ + Σ g (classifier or CLIP guidance: g = s ∇ …)."""
        for i, t in enumerate(self.timesteps):
            with torch.no_grad():
                mu = self.mean(x, i, eps_fn(x, t))
            var = self.variance(i)
            if guide is not None:
                mu = mu + var * guide(x.detach(), t).detach()
            last = i == len(self.timesteps) - 1
            z = torch.zeros_like(x) if last else torch.randn(x.shape, generator=generator, device=x.device,
                                                             dtype=x.dtype)
            x = mu + var.sqrt() * z
            if not bool(torch.isfinite(x).all()):
                raise FloatingPointError(f"sampling produced NaN or infinite values at step {i + 1} (t = {t}): the "
                                         "guidance scale and eps_fn's output must be finite")
        return x
