"""A mixture of Gaussians whose every noised marginal q(x_t) is again a mixture, in closed form.

If x_0 ~ Σ_k π_k N(μ_k, s_k² I) and x_t = √ᾱ x_0 + √(1−ᾱ) ε, then

    q(x_t) = Σ_k π_k N(√ᾱ μ_k, (ᾱ s_k² + 1 − ᾱ) I),

so the exact score ∇ log q(x_t) and the exact noise predictor
ε*(x_t, t) = E[ε | x_t] = −√(1−ᾱ_t) ∇ log q(x_t) are known: a trained ε_θ can be compared with
them, and the reverse process can be run with the perfect network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True, eq=False)
class GaussianMixture:
    """Σ_k π_k N(μ_k, s_k² I) in R^d: weights (K,), means (K, d), stds (K,)."""

    weights: Tensor
    means: Tensor
    stds: Tensor

    def __post_init__(self) -> None:
        k, _ = self.means.shape
        if self.weights.shape != (k,) or self.stds.shape != (k,):
            raise ValueError(f"weights and stds must have shape ({k},) for {k} means")
        if not torch.isclose(self.weights.sum(), torch.tensor(1.0, dtype=self.weights.dtype)):
            raise ValueError(f"weights must sum to 1, got {self.weights.sum().item():.6g}")

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """n points (n, d) and the component each came from (n,)."""
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.dim, generator=generator, dtype=self.means.dtype)
        return self.means[k] + self.stds[k, None] * noise, k

    def log_components(self, x: Tensor) -> Tensor:
        """log π_k + log N(x; μ_k, s_k² I) for each point and component: x (n, d) → (n, K)."""
        var = self.stds ** 2
        sq = ((x[:, None, :] - self.means[None]) ** 2).sum(-1)
        return (self.weights.log() - 0.5 * self.dim * torch.log(2 * math.pi * var)
                - 0.5 * sq / var)

    def log_prob(self, x: Tensor) -> Tensor:
        """log p(x): x (n, d) → (n,)."""
        return torch.logsumexp(self.log_components(x), dim=1)

    def responsibilities(self, x: Tensor) -> Tensor:
        """p(component k | x): x (n, d) → (n, K)."""
        return torch.softmax(self.log_components(x), dim=1)

    def score(self, x: Tensor) -> Tensor:
        """∇_x log p(x) = Σ_k r_k(x) (μ_k − x)/s_k²: x (n, d) → (n, d)."""
        r = self.responsibilities(x)
        return ((r / self.stds ** 2)[:, :, None] * (self.means[None] - x[:, None, :])).sum(1)

    def noised(self, alpha_bar: float | Tensor) -> GaussianMixture:
        """q(x_t) for x_t = √ᾱ x_0 + √(1−ᾱ) ε: means √ᾱ μ_k, variances ᾱ s_k² + 1 − ᾱ."""
        ab = torch.as_tensor(alpha_bar, dtype=self.means.dtype)
        return GaussianMixture(self.weights, ab.sqrt() * self.means,
                               (ab * self.stds ** 2 + 1 - ab).sqrt())

    def eps(self, x_t: Tensor, alpha_bar: float | Tensor) -> Tensor:
        """The exact noise predictor ε*(x_t) = E[ε | x_t] = −√(1−ᾱ) ∇ log q(x_t): (n, d) → (n, d)."""
        ab = torch.as_tensor(alpha_bar, dtype=self.means.dtype)
        return -(1 - ab).sqrt() * self.noised(ab).score(x_t)


def toy_mixture(dtype: torch.dtype = torch.float32) -> GaussianMixture:
    """The course's 2-D toy: four components with unequal weights (0.4, 0.3, 0.2, 0.1), s = 0.25."""
    return GaussianMixture(
        weights=torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=dtype),
        means=torch.tensor([[-1.5, -0.5], [1.5, 1.0], [0.5, -1.5], [-0.5, 1.5]], dtype=dtype),
        stds=torch.full((4,), 0.25, dtype=dtype),
    )
