"""Autoencoders and the variational autoencoder (lecture: 自编码器, 变分自编码器).

- ``autoencoder1`` / ``autoencoder2``: the lecture's MLP and convolutional autoencoders, as on
  the slide (``forward`` returns ``(en, de)``: the code and the reconstruction).
- ``LinearAutoencoder``: linear coding x ≈ A z + b with a dictionary A; its optimum spans the
  PCA subspace (``pca_basis``, ``subspace_cosines`` compare the two).
- ``MLPAutoencoder``: a deeper MLP autoencoder with a linear code (for a 2-D latent map).
- ``VAE``: Gaussian encoder q(z|x) = N(mu, diag exp(logvar)), prior p(z) = N(0, I), Bernoulli
  decoder p(x|z) that outputs *logits* (the lecture's Tanh + BCELoss is a pitfall).
- ``gaussian_kl``, ``kl_standard_normal``: the closed-form KL of the lecture's slide.
- ``elbo``, ``log_importance_weights``, ``iwae_bound``: the ELBO and the importance-weighted
  bound of Burda et al. (2015), in nats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_utils.neural.layers import ActivationName, mlp

__all__ = [
    "autoencoder1",
    "autoencoder2",
    "LinearAutoencoder",
    "MLPAutoencoder",
    "VAE",
    "pca_basis",
    "subspace_cosines",
    "binarize",
    "gaussian_kl",
    "kl_standard_normal",
    "bernoulli_log_likelihood",
    "gaussian_log_density",
    "elbo",
    "log_importance_weights",
    "iwae_bound",
]

# --------------------------------------------------------------------------------------------
# The lecture's autoencoders (slide "自编码器 – PyTorch实现示例一瞥")
# --------------------------------------------------------------------------------------------
class autoencoder1(nn.Module):  # noqa: N801 - the lecture's name
    """The lecture's MLP autoencoder: en = ReLU(W1 x + b1), de = Sigmoid(W2 en + b2).

    Shapes: x (B, in_features) in [0, 1] → en (B, hidden_features), de (B, in_features).
    """

    def __init__(self, in_features: int, hidden_features: int):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(in_features, hidden_features), nn.ReLU(True))
        self.decoder = nn.Sequential(nn.Linear(hidden_features, in_features), nn.Sigmoid())

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        en = self.encoder(x)
        de = self.decoder(en)
        return en, de


class autoencoder2(nn.Module):  # noqa: N801 - the lecture's name
    """The lecture's convolutional autoencoder: Conv2d + MaxPool2d down, ConvTranspose2d up.

    Shapes: x (B, in_features, H, W) in [-1, 1] (the decoder ends in Tanh) with H, W even →
    en (B, hidden_features, H/2, W/2), de (B, in_features, H, W). The code has
    hidden_features·H·W/4 numbers: for MNIST that is 196·hidden_features, so with
    hidden_features ≥ 4 the "code" is as large as the 784-pixel input.
    """

    def __init__(self, in_features: int, hidden_features: int):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(in_features, hidden_features, kernel_size=3, padding=1),
            nn.ReLU(True), nn.MaxPool2d(kernel_size=2), nn.ReLU(True))
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(hidden_features, hidden_features, kernel_size=2, stride=2),
            nn.ReLU(True),
            nn.ConvTranspose2d(hidden_features, in_features, kernel_size=3, padding=1),
            nn.Tanh())

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        en = self.encoder(x)
        de = self.decoder(en)
        return en, de


# --------------------------------------------------------------------------------------------
# Linear coding x = A z and PCA
# --------------------------------------------------------------------------------------------
class LinearAutoencoder(nn.Module):
    """Linear coding: z = W x + c (encoder), x' = A z + b (decoder, dictionary A).

    Shapes: x (B, D) → z (B, M), x' (B, D); ``dictionary`` is A with shape (D, M), one atom a_m
    per column, so x' = Σ_m z_m a_m + b.
    """

    def __init__(self, in_features: int, z_dim: int):
        super().__init__()
        self.encoder = nn.Linear(in_features, z_dim)
        self.decoder = nn.Linear(z_dim, in_features)

    @property
    def dictionary(self) -> Tensor:
        """The dictionary A (D, M): the decoder's weight, one atom per column."""
        return self.decoder.weight

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z = self.encoder(x)
        return z, self.decoder(z)


def pca_basis(x: Tensor, m: int) -> tuple[Tensor, Tensor]:
    """PCA of the rows of x: returns (mean (D,), U (D, m)) with orthonormal principal axes.

    x (N, D). The best rank-m reconstruction in squared error is mean + (x - mean) U Uᵀ.
    """
    if not 1 <= m <= min(x.shape):
        raise ValueError(f"m must be between 1 and {min(x.shape)}, got {m}")
    mean = x.mean(0)
    _, _, vh = torch.linalg.svd(x - mean, full_matrices=False)
    return mean, vh[:m].T


def subspace_cosines(a: Tensor, b: Tensor) -> Tensor:
    """Cosines of the principal angles between the column spaces of a (D, M) and b (D, K).

    Returns min(M, K) values in [0, 1], largest first; all ones means the spaces coincide.
    """
    qa, _ = torch.linalg.qr(a)
    qb, _ = torch.linalg.qr(b)
    return torch.linalg.svdvals(qa.T @ qb).clamp(0.0, 1.0)


class MLPAutoencoder(nn.Module):
    """An MLP autoencoder with a linear code: x → hidden layers → z (no activation) → x' logits.

    Shapes: x (B, in_features) → z (B, z_dim), de (B, in_features) in [0, 1] (Sigmoid).
    """

    def __init__(self, in_features: int, hidden_features: int | Sequence[int],
                 z_dim: int, activation: ActivationName = "relu"):
        super().__init__()
        hidden = [hidden_features] if isinstance(hidden_features, int) else list(hidden_features)
        self.encoder = nn.Sequential(mlp([in_features, *hidden], activation, last_activation=True),
                                     nn.Linear(hidden[-1], z_dim))
        self.decoder = nn.Sequential(mlp([z_dim, *hidden[::-1]], activation, last_activation=True),
                                     nn.Linear(hidden[0], in_features), nn.Sigmoid())

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z = self.encoder(x)
        return z, self.decoder(z)


# --------------------------------------------------------------------------------------------
# The variational autoencoder
# --------------------------------------------------------------------------------------------
def binarize(x: Tensor, mode: Literal["stochastic", "threshold"] = "stochastic", *,
             generator: torch.Generator | None = None) -> Tensor:
    """Binarise intensities in [0, 1]: x_bin ~ Bernoulli(x) ("stochastic") or 1[x > 0.5].

    Any shape; returns a float tensor of 0s and 1s with x's shape.
    """
    if mode == "stochastic":
        return torch.bernoulli(x, generator=generator)
    if mode == "threshold":
        return (x > 0.5).to(x.dtype)
    raise ValueError(f"unknown mode {mode!r}: valid values are stochastic, threshold")


class VAE(nn.Module):
    """VAE with q(z|x) = N(mu, diag σ²), σ = exp(½ logvar), p(z) = N(0, I), p(x|z) Bernoulli.

    The lecture's ``VAE`` with its bugs fixed: σ = exp(½·logvar) (not ½·exp(logvar)), noise
    drawn with ``randn_like`` (on σ's device), and a decoder that returns Bernoulli *logits*
    (no Tanh; use ``binary_cross_entropy_with_logits``). ``hidden_features`` may be one size
    (the lecture's one hidden layer) or a sequence (Burda et al.'s 784-200-200-50).

    Shapes: x (B, in_features) → logits (B, in_features), mu (B, z_dim), logvar (B, z_dim);
    ``z_dim`` is the lecture's ``n_num`` (the latent size: every model of the course calls it z_dim).
    """

    def __init__(self, in_features: int = 784, hidden_features: int | Sequence[int] = 400,
                 z_dim: int = 20, activation: ActivationName = "relu"):
        super().__init__()
        hidden = [hidden_features] if isinstance(hidden_features, int) else list(hidden_features)
        self.z_dim = z_dim
        self.encoder = mlp([in_features, *hidden], activation, last_activation=True)
        self.mean = nn.Linear(hidden[-1], z_dim)
        self.logvar = nn.Linear(hidden[-1], z_dim)
        self.decoder = nn.Sequential(mlp([z_dim, *hidden[::-1]], activation, last_activation=True),
                                     nn.Linear(hidden[0], in_features))

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """q(z|x): x (B, D) → (mu, logvar), each (B, z_dim)."""
        h = self.encoder(x)
        return self.mean(h), self.logvar(h)

    @staticmethod
    def reparameterize(mu: Tensor, logvar: Tensor, *, eps: Tensor | None = None,
                       generator: torch.Generator | None = None) -> Tensor:
        """z = mu + σ·eps with σ = exp(½·logvar), eps ~ N(0, I) (same shape/device as mu)."""
        std = torch.exp(0.5 * logvar)
        if eps is None:
            eps = torch.randn(std.shape, generator=generator, device=std.device, dtype=std.dtype)
        return mu + std * eps

    def decode(self, z: Tensor) -> Tensor:
        """p(x|z): z (..., z_dim) → Bernoulli logits (..., D); probabilities are sigmoid(logits)."""
        return self.decoder(z)

    def forward(self, x: Tensor, *, generator: torch.Generator | None = None
                ) -> tuple[Tensor, Tensor, Tensor]:
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, generator=generator)
        return self.decode(z), mu, logvar


def gaussian_kl(mu1: Tensor, logvar1: Tensor, mu2: Tensor, logvar2: Tensor) -> Tensor:
    """KL(N(mu1, σ1²) ‖ N(mu2, σ2²)) = log σ2/σ1 + (σ1² + (mu1 − mu2)²)/(2σ2²) − ½, elementwise.

    Arguments broadcast; logvar = log σ². Returns the per-coordinate KL (no sum).
    """
    return (0.5 * (logvar2 - logvar1)
            + (logvar1.exp() + (mu1 - mu2) ** 2) / (2 * logvar2.exp()) - 0.5)


def kl_standard_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag σ²) ‖ N(0, I)) = −½ Σ_j (log σ_j² − σ_j² − mu_j² + 1), summed over the last dim.

    mu, logvar (..., J) → (...).
    """
    return -0.5 * (logvar - logvar.exp() - mu ** 2 + 1).sum(-1)


def bernoulli_log_likelihood(logits: Tensor, x: Tensor) -> Tensor:
    """log p(x|z) = Σ_d x_d log p_d + (1 − x_d) log(1 − p_d), p = sigmoid(logits), over the last dim.

    logits (..., D) and x (..., D) broadcast together; x in [0, 1] → (...). Stable for any logits.
    """
    logits, x = torch.broadcast_tensors(logits, x)
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def gaussian_log_density(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log N(z; mu, diag exp(logvar)), summed over the last dim: (..., J) → (...)."""
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mu) ** 2 / logvar.exp()).sum(-1)


def elbo(model: VAE, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
    """ELBO(x) = E_q log p(x|z) − KL(q(z|x) ‖ p(z)), one sample of z per example: x (B, D) → (B,)."""
    mu, logvar = model.encode(x)
    z = model.reparameterize(mu, logvar, generator=generator)
    return bernoulli_log_likelihood(model.decode(z), x) - kl_standard_normal(mu, logvar)


@torch.no_grad()
def log_importance_weights(model: VAE, x: Tensor, k: int, *, chunk: int = 256,
                           generator: torch.Generator | None = None) -> Tensor:
    """log w_i = log p(x, z_i) − log q(z_i|x) for z_1..z_k ~ q(z|x): x (B, D) → (B, k).

    The k samples are drawn in chunks of ``chunk`` to bound memory (B·chunk·D floats).
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    mu, logvar = model.encode(x)
    out = []
    for start in range(0, k, chunk):
        c = min(chunk, k - start)
        eps = torch.randn((c, *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps                       # (c, B, J)
        log_px_z = bernoulli_log_likelihood(model.decode(z), x)      # (c, B)
        log_pz = gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z))
        log_qz = gaussian_log_density(z, mu, logvar)
        out.append((log_px_z + log_pz - log_qz).T)
    return torch.cat(out, dim=1)


def iwae_bound(log_w: Tensor, k: int | None = None) -> Tensor:
    """IWAE bound L_k = log (1/k) Σ_{i≤k} w_i from log weights (B, K), first k columns → (B,).

    L_1 is the ELBO; E[L_k] rises with k towards log p(x) (Burda et al., 2015).
    """
    k = log_w.shape[1] if k is None else k
    if not 1 <= k <= log_w.shape[1]:
        raise ValueError(f"k must be between 1 and {log_w.shape[1]}, got {k}")
    return torch.logsumexp(log_w[:, :k], dim=1) - math.log(k)
