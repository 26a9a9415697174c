"""A mixture of Gaussians whose every noised marginal q(x_t) is again a mixture, in closed form.

If x_0 ~ Σ_k π_k N(μ_k, s_k² I) and x_t = √ᾱ x_0 + √(1−ᾱ) ε, then

    q(x_t) = Σ_k π_k N(√ᾱ μ_k, (ᾱ s_k² + 1 − ᾱ) I),

so the exact score ∇ log q(x_t) and the exact noise predictor
ε*(x_t, t) = E[ε | x_t] = −√(1−ᾱ_t) ∇ log q(x_t) are known: a trained ε_θ can be compared with
them, and the reverse process can be run with the perfect network.

With labels drawn from the component, p(y = c | k) = L[k, c] (``LabelledMixture``), everything that
guided diffusion needs is exact too (notebook 12):

    p(x_0 | y = c) = Σ_k π_k L[k, c]/p(c) N(μ_k, s_k² I)             (class_mixture: the same components)
    p(y = c | x_t) = Σ_k r_k(x_t) L[k, c],  r_k = p(k | x_t)         (log_p_y: the exact noisy classifier)
    ε*(x_t, t, c) = −√(1−ᾱ_t) ∇ log q(x_t | c)                       (class_mixture(c).eps)
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


@dataclass(frozen=True, eq=False)
class LabelledMixture:
    """A mixture whose points carry a class label drawn from their component: p(y = c | k) = label_probs[k, c].

    mixture: the data p(x_0) (K components); label_probs: (K, C), rows summing to 1.
    """

    mixture: GaussianMixture
    label_probs: Tensor

    def __post_init__(self) -> None:
        k = self.mixture.weights.shape[0]
        if self.label_probs.ndim != 2 or self.label_probs.shape[0] != k:
            raise ValueError(f"label_probs must be (K, C) with K = {k} components, got {tuple(self.label_probs.shape)}")
        ones = torch.ones(k, dtype=self.label_probs.dtype)
        if bool((self.label_probs < 0).any()) or not torch.allclose(self.label_probs.sum(1), ones):
            raise ValueError("each row of label_probs must be a distribution over the classes (>= 0, sum 1)")

    @property
    def n_classes(self) -> int:
        return int(self.label_probs.shape[1])

    def class_prior(self) -> Tensor:
        """p(y = c) = Σ_k π_k L[k, c]: (C,)."""
        return self.mixture.weights @ self.label_probs

    def class_mixture(self, c: int) -> GaussianMixture:
        """p(x_0 | y = c): the same components, weights π_k L[k, c]/p(c)."""
        if not 0 <= c < self.n_classes:
            raise ValueError(f"class c must be in 0..{self.n_classes - 1}, got {c}")
        w = self.mixture.weights * self.label_probs[:, c]
        return GaussianMixture(w / w.sum(), self.mixture.means, self.mixture.stds)

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """n points (n, d) and their labels (n,)."""
        x, k = self.mixture.sample(n, generator=generator)
        y = torch.multinomial(self.label_probs[k], 1, generator=generator).squeeze(1)
        return x, y

    def log_p_y(self, x_t: Tensor, alpha_bar: float | Tensor) -> Tensor:
        """The exact noisy classifier log p(y | x_t) = log Σ_k p(k | x_t) L[k, y]: x_t (n, d) → (n, C)."""
        log_r = torch.log_softmax(self.mixture.noised(alpha_bar).log_components(x_t), dim=1)  # (n, K)
        return torch.logsumexp(log_r[:, :, None] + self.label_probs.log()[None], dim=1)


def toy_mixture(dtype: torch.dtype = torch.float32) -> GaussianMixture:
    """The course's 2-D toy: four components with unequal weights (0.4, 0.3, 0.2, 0.1), s = 0.25."""
    return GaussianMixture(
        weights=torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=dtype),
        means=torch.tensor([[-1.5, -0.5], [1.5, 1.0], [0.5, -1.5], [-0.5, 1.5]], dtype=dtype),
        stds=torch.full((4,), 0.25, dtype=dtype),
    )


def toy_labelled(dtype: torch.dtype = torch.float32) -> LabelledMixture:
    """The toy with two classes whose labels are noisy: p(y = 0 | k) = 0.6, 0.2, 0.9, 0.3 for the four
    components. Each class is a mixture of all four (weights 0.47, 0.12, 0.35, 0.06 for y = 0), so a
    guided sampler must get the weights right, not only find the class's region."""
    p0 = torch.tensor([0.6, 0.2, 0.9, 0.3], dtype=dtype)
    return LabelledMixture(toy_mixture(dtype), torch.stack([p0, 1 - p0], 1))
