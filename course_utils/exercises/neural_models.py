"""Exercises of the neural generative models: notebooks 06 (autoencoders), 07 (VAE), 08 (GAN),
09 (conditional GAN) and 10 (DCGAN).

Each checker compares a student's function with a reference written independently of the
notebook's solution (a library, a loop, a real layer, quadrature), on at least three test cases,
and is registered with the plausible mistakes it must catch. When a wrong answer is one of those
mistakes, the message names it (e.g. "½·exp(logvar) is not σ").

In a notebook::

    from course_utils.exercises import exercise
    ex.reparameterisation(reparameterize)     # True when right, False for a stub, raises when wrong
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal, kl_divergence

from course_utils.exercises import exercise

Fn = Callable[..., Any]


def _exercise(number: str, title: str, reference: Fn, cases: Sequence[tuple], *, hint, atol: float = 1e-5,
              rtol: float = 1e-5, **kwargs):
    """Register an exercise of notebooks 06–10."""
    return exercise(number, title, reference, list(cases), hints=hint, atol=atol, rtol=rtol, module=__name__,
                    **kwargs)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------------------------
# 06 · autoencoders
# --------------------------------------------------------------------------------------------
def _orthonormal(d: int, m: int, g: torch.Generator) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(d, m, generator=g, dtype=torch.float64))
    return q


def _pca_cases() -> list[tuple]:
    g = _gen(60)
    cases = []
    for n, d, m in [(5, 12, 3), (4, 30, 1), (7, 9, 9)]:
        x = torch.rand(n, d, generator=g, dtype=torch.float64)
        cases.append((x, x.mean(0) + 0.1 * torch.randn(d, generator=g, dtype=torch.float64),
                      _orthonormal(d, m, g)))
    return cases


def _pca_reference(x, mean, U):
    # least squares: the coefficients c minimising ||U c - (x - mean)||, then mean + U c
    coef = torch.linalg.lstsq(U, (x - mean).T).solution
    return mean + (U @ coef).T


pca_reconstruction = _exercise(
    "06.1", "reconstruct with PCA", _pca_reference, _pca_cases(),
    right=lambda x, mean, U: mean + (x - mean) @ U @ U.T,
    hint="x' = mean + (x − mean) U Uᵀ: centre, project onto the columns of U, add the mean back.",
    mistakes=[
        (lambda x, mean, U: (x - mean) @ U @ U.T, "add the mean back"),
        (lambda x, mean, U: mean + x @ U @ U.T, "centre x first"),
    ])


def _code_size_reference(side: int, hidden_features: int) -> int:
    from course_utils.neural.autoencoders import autoencoder2

    with torch.no_grad():
        en, _ = autoencoder2(1, hidden_features)(torch.zeros(1, 1, side, side))
    return en[0].numel()


code_size = _exercise(
    "06.2", "the size of the code of autoencoder2", _code_size_reference, [(28, 8), (28, 2), (32, 4), (16, 3)],
    right=lambda side, h: h * (side // 2) ** 2,
    hint="padding=1 keeps side × side; MaxPool2d(2) halves each side; one map per channel.",
    mistakes=[
        (lambda side, h: h * side ** 2, "MaxPool2d(2) halves each side"),
        (lambda side, h: (side // 2) ** 2, "one 14×14 map per channel"),
        (lambda side, h: h * (side // 4) ** 2, "the pooling happens once"),
    ], atol=0, rtol=0)


# --------------------------------------------------------------------------------------------
# 07 · the VAE
# --------------------------------------------------------------------------------------------
def _kl_cases() -> list[tuple]:
    g = _gen(70)
    return [(torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)),
            (torch.zeros(2, 5), torch.zeros(2, 5)),
            (torch.ones(1, 2), torch.full((1, 2), -3.0)),
            (torch.randn(3, 6, generator=g) * 2, torch.randn(3, 6, generator=g) + 1)]


def _kl_reference(mu, logvar):
    q = Normal(mu.double(), torch.exp(0.5 * logvar.double()))
    return kl_divergence(q, Normal(0.0, 1.0)).sum(-1)


kl_term = _exercise(
    "07.1", "the KL term", _kl_reference, _kl_cases(),
    right=lambda mu, logvar: -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(-1),
    hint=("Take the KL of two Gaussians, log(σ₂/σ₁) + (σ₁² + (μ₁ − μ₂)²)/(2σ₂²) − ½, with μ₂ = 0 and σ₂ = 1; "
          "logvar is log σ₁², and the result sums over the J coordinates (the last dimension).",
          "−½ Σ_j (1 + log σ_j² − μ_j² − σ_j²), summed over the last dim; logvar = log σ²."),
    mistakes=[
        (lambda mu, logvar: 0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(-1),
         "the sign: a KL divergence is ≥ 0"),
        (lambda mu, logvar: -(1 + logvar - mu ** 2 - logvar.exp()).sum(-1), "the factor ½"),
        (lambda mu, logvar: -0.5 * (1 + logvar - mu ** 2 - logvar.exp()), "sum over the last dimension"),
        (lambda mu, logvar: -0.5 * (1 + logvar - mu ** 2 - (0.5 * logvar).exp()).sum(-1),
         "exp(½·logvar) is σ, the standard deviation: the formula needs the variance σ²"),
    ])


def _rep_cases() -> list[tuple]:
    g = _gen(71)
    return [tuple(torch.randn(3, 2, generator=g) for _ in range(3)),
            (torch.zeros(2), torch.tensor([0.0, 2.0]), torch.ones(2)),
            (torch.randn(5, generator=g), torch.linspace(-6, 1, 5), torch.randn(5, generator=g))]


def _rep_reference(mu, logvar, eps):
    return mu.double() + torch.sqrt(torch.exp(logvar.double())) * eps.double()  # σ = √(σ²)


reparameterisation = _exercise(
    "07.2", "the reparameterisation", _rep_reference, _rep_cases(),
    right=lambda mu, logvar, eps: mu + torch.exp(0.5 * logvar) * eps,
    hint=("logvar is log σ², the log of the variance: which function of it is the standard deviation σ?",
          "z = μ + σ·ε with σ = exp(½·logvar)."),
    mistakes=[
        (lambda mu, logvar, eps: mu + 0.5 * torch.exp(logvar) * eps,
         "½·exp(logvar) is not σ (the lecture's slip): logvar is the log of the variance σ², and σ is the "
         "square root of the variance"),
        (lambda mu, logvar, eps: mu + torch.exp(logvar) * eps,
         "exp(logvar) is the variance σ², not the standard deviation σ"),
        (lambda mu, logvar, eps: mu + logvar * eps, "logvar is log σ², not σ: it can be negative"),
    ])


def _iwae_cases() -> list[tuple]:
    g = _gen(72)
    return [(torch.randn(3, 5, generator=g),), (torch.randn(2, 100, generator=g) - 120,),
            (torch.tensor([[-800.0, -790.0]]),), (torch.randn(4, 1, generator=g) * 10,)]


def _iwae_reference(log_w):
    a = log_w.detach().double().numpy()
    m = a.max(axis=1, keepdims=True)  # log mean exp, shifted by the largest weight
    return m[:, 0] + np.log(np.exp(a - m).mean(axis=1))


iwae_bound = _exercise(
    "07.3", "the IWAE bound, stably", _iwae_reference, _iwae_cases(),
    right=lambda log_w: torch.logsumexp(log_w, dim=1) - math.log(log_w.shape[1]),
    hint=("IWAE is the log of the mean of the k weights exp(log w); for log w ≈ −800 exp underflows to 0, so "
          "shift by the largest log w before exponentiating (or let torch do it).",
          "log mean exp: torch.logsumexp(log_w, dim=1) − log k."),
    mistakes=[
        (lambda log_w: log_w.mean(dim=1),
         "the mean of log w is the ELBO estimate; IWAE is the log of the mean of w"),
        (lambda log_w: torch.logsumexp(log_w, dim=1), "divide by k: subtract log k"),
        (lambda log_w: torch.log(torch.exp(log_w).mean(dim=1)),
         "exp(log w) underflows: use torch.logsumexp"),
    ], atol=1e-4)


# --------------------------------------------------------------------------------------------
# 08 · the GAN
# --------------------------------------------------------------------------------------------
def _d_loss_cases() -> list[tuple]:
    g = _gen(80)
    return [(torch.rand(n, generator=g) * 0.98 + 0.01, torch.rand(n, generator=g) * 0.98 + 0.01)
            for n in (8, 3, 20)]


def _d_loss_reference(D_real, D_fake):
    # binary cross-entropy with real = 1, fake = 0, averaged over each batch
    return (F.binary_cross_entropy(D_real.double(), torch.ones_like(D_real, dtype=torch.float64))
            + F.binary_cross_entropy(D_fake.double(), torch.zeros_like(D_fake, dtype=torch.float64)))


discriminator_loss = _exercise(
    "08.1", "the loss of the discriminator", _d_loss_reference, _d_loss_cases(),
    right=lambda D_real, D_fake: -(torch.log(D_real) + torch.log(1 - D_fake)).mean(),
    hint=("Real samples carry the label 1, fakes the label 0; D's loss is the binary cross-entropy of both, "
          "averaged over each batch.",
          "−mean[log D(x_r) + log(1 − D(x_f))]."),
    mistakes=[
        (lambda D_real, D_fake: -(torch.log(1 - D_real) + torch.log(D_fake)).mean(),
         "labels swapped: real samples carry the label 1"),
        (lambda D_real, D_fake: (torch.log(D_real) + torch.log(1 - D_fake)).mean(),
         "the sign: D maximises V, so its loss is −V"),
        (lambda D_real, D_fake: -(torch.log(D_real) + torch.log(D_fake)).mean(),
         "fakes carry the label 0: their term is log(1 − D(x_f))"),
    ])


def _d_star_cases() -> list[tuple]:
    return [(torch.tensor([-1.0, 0.0, 0.5, 2.0]), 1.0), (torch.tensor([-1.0, 0.0, 0.5, 2.0]), -2.0),
            (torch.linspace(-3, 3, 7), 0.0), (torch.tensor([0.3, 1.7]), 3.0)]


def _d_star_reference(x, mu_g):
    p_r = Normal(0.0, 1.0).log_prob(x.double()).exp()
    p_g = Normal(float(mu_g), 1.0).log_prob(x.double()).exp()
    return p_r / (p_r + p_g)


def _normal_pdf(x, mu):
    return torch.exp(-0.5 * (x - mu) ** 2) / math.sqrt(2 * math.pi)


optimal_discriminator = _exercise(
    "08.2", "the optimal discriminator", _d_star_reference, _d_star_cases(),
    right=lambda x, mu_g: torch.sigmoid(mu_g ** 2 / 2 - mu_g * x),
    hint="D*(x) = p_r(x) / (p_r(x) + p_g(x)) with p_r = N(0, 1), p_g = N(mu_g, 1).",
    mistakes=[
        (lambda x, mu_g: _normal_pdf(x, mu_g) / (_normal_pdf(x, 0) + _normal_pdf(x, mu_g)),
         "D*(x) is the probability that x is real: p_r on top"),
        (lambda x, mu_g: _normal_pdf(x, 0) / _normal_pdf(x, mu_g),
         "normalise: p_r / (p_r + p_g), not the ratio p_r / p_g"),
    ])


def _value_reference(mu_g: float) -> float:
    """V(D*, G) = E_{p_r} log D* + E_{p_g} log(1 − D*) by Gauss–Hermite quadrature (numpy)."""
    u, w = np.polynomial.hermite_e.hermegauss(120)  # ∫ f(u) e^{−u²/2} du ≈ Σ w_i f(u_i)
    w = w / math.sqrt(2 * math.pi)                   # → E_{u ~ N(0, 1)} f(u)

    def log_d_star(x):  # log p_r − log(p_r + p_g), stably
        log_pr, log_pg = -0.5 * x ** 2, -0.5 * (x - mu_g) ** 2
        return log_pr - np.logaddexp(log_pr, log_pg)

    def log_one_minus(x):
        log_pr, log_pg = -0.5 * x ** 2, -0.5 * (x - mu_g) ** 2
        return log_pg - np.logaddexp(log_pr, log_pg)

    return float(w @ log_d_star(u) + w @ log_one_minus(u + mu_g))


def _value_right(mu_g: float) -> float:  # the registered right answer: a grid, as a student would
    x = torch.linspace(-12.0, 12.0 + abs(mu_g), 20001, dtype=torch.float64)
    p_r, p_g = _normal_pdf(x, 0.0), _normal_pdf(x, mu_g)
    d = p_r / (p_r + p_g)
    return float(torch.trapezoid(p_r * d.log() + p_g * (1 - d).log(), x))


def _value_half(mu_g):
    return 2 * math.log(0.5)


def _value_both_real(mu_g):  # E_pr log D* + E_pg log D*: the fakes' term with the wrong label
    x = torch.linspace(-12.0, 12.0 + abs(mu_g), 20001, dtype=torch.float64)
    d = _d_star_reference(x, mu_g)
    return float(torch.trapezoid((_normal_pdf(x, 0) + _normal_pdf(x, mu_g)) * d.log(), x))


game_value = _exercise(
    "08.3", "the value of the game at D*", _value_reference, [(0.0,), (1.0,), (2.5,), (-1.0,)],
    right=_value_right,
    hint="V(D*, G) = ∫ p_r log D* dx + ∫ p_g log(1 − D*) dx; integrate on a fine grid "
         "(torch.trapezoid). At p_g = p_r it is −log 4.",
    mistakes=[
        (_value_half, "D* = ½ only where p_r = p_g: elsewhere D*(x) = p_r/(p_r + p_g)"),
        (_value_both_real, "the fakes' term is log(1 − D*(x))"),
        (lambda mu_g: -_value_right(mu_g), "the sign: V is a sum of log-probabilities, ≤ 0"),
    ], atol=1e-4)


# --------------------------------------------------------------------------------------------
# 09 · the conditional GAN
# --------------------------------------------------------------------------------------------
def _g_input_cases() -> list[tuple]:
    g = _gen(90)
    return [(torch.randn(4, 3, generator=g), torch.tensor([0, 9, 2, 2]), 10),
            (torch.zeros(2, 1), torch.tensor([5, 1]), 10),
            (torch.randn(3, 5, generator=g), torch.tensor([1, 0, 1]), 3)]


def _g_input_reference(z, y, n_classes=10):
    out = torch.zeros(len(z), z.shape[1] + n_classes)
    for i in range(len(z)):  # row i: z_i, then a 1 in the column of its class
        out[i, :z.shape[1]] = z[i]
        out[i, z.shape[1] + int(y[i])] = 1.0
    return out


g_input = _exercise(
    "09.1", "the input of the generator", _g_input_reference, _g_input_cases(),
    right=lambda z, y, n_classes=10: torch.cat([z, F.one_hot(y, n_classes).float()], dim=1),
    hint="torch.cat([z, F.one_hot(y, n_classes).float()], dim=1): N×(d+K).",
    mistakes=[
        (lambda z, y, n_classes=10: torch.cat([F.one_hot(y, n_classes).float(), z], dim=1),
         "z first, then the one-hot code"),
        (lambda z, y, n_classes=10: torch.cat([z, y[:, None].float()], dim=1),
         "one-hot: K columns, not the label as one number"),
        (lambda z, y, n_classes=10: torch.cat([z, F.one_hot(y).float()], dim=1),
         "F.one_hot(y, n_classes)"),
    ])


def _projection_cases() -> list[tuple]:
    g = _gen(91)
    cases = []
    for n, f, k in [(5, 4, 10), (3, 7, 3), (6, 2, 5)]:
        cases.append((torch.randn(n, f, generator=g), torch.randn(f, generator=g),
                      torch.randn((), generator=g), torch.randn(k, f, generator=g),
                      torch.randint(0, k, (n,), generator=g)))
    return cases


def _projection_reference(phi, w, b, E, y):
    out = []
    for i in range(len(phi)):  # one sample at a time: w·φ_i + b + e_{y_i}·φ_i
        out.append(float(torch.dot(w, phi[i]) + b + torch.dot(E[int(y[i])], phi[i])))
    return torch.tensor(out)


projection_logit = _exercise(
    "09.2", "the projection logit", _projection_reference, _projection_cases(),
    right=lambda phi, w, b, E, y: phi @ w + b + torch.einsum("nf,nf->n", E[y], phi),
    hint="a = φ w + b + Σ_f E[y] ⊙ φ: E[y] picks one embedding row per sample.",
    mistakes=[
        (lambda phi, w, b, E, y: phi @ w + (E[y] * phi).sum(dim=1), "the bias b"),
        (lambda phi, w, b, E, y: phi @ w + b, "the label's term E[y]·φ is missing: D ignores y"),
        (lambda phi, w, b, E, y: phi @ w + b + phi @ E.sum(0),
         "E[y] picks the row of each sample's own class"),
    ])


def _accuracy_cases() -> list[tuple]:
    g = _gen(92)
    return [(torch.randn(50, 10, generator=g), torch.randint(0, 10, (50,), generator=g)),
            (torch.eye(10), torch.arange(10)),
            (torch.randn(7, 3, generator=g), torch.tensor([0, 1, 2, 0, 1, 2, 0])),
            (torch.tensor([[0.0, 5.0], [5.0, 0.0], [1.0, 2.0]]), torch.tensor([1, 1, 1]))]


def _accuracy_reference(logits, y):
    hits = 0
    for row, label in zip(logits.tolist(), y.tolist()):
        hits += max(range(len(row)), key=row.__getitem__) == label
    return hits / len(y)


conditional_accuracy = _exercise(
    "09.3", "the conditional accuracy", _accuracy_reference, _accuracy_cases(),
    right=lambda logits, y: (logits.argmax(dim=1) == y).float().mean(),
    hint="The predicted class is the argmax over the class dimension; compare with y and average.",
    mistakes=[
        (lambda logits, y: (logits.argmax(dim=1) == y).sum(), "a fraction: divide by N"),
        (lambda logits, y: logits.softmax(dim=1).max(dim=1).values.mean(),
         "that is the classifier's confidence: compare the predicted class with y"),
        (lambda logits, y: 1 - (logits.argmax(dim=1) == y).float().mean(),
         "that is the error rate"),
    ])


# --------------------------------------------------------------------------------------------
# 10 · DCGAN
# --------------------------------------------------------------------------------------------
def _conv_t_reference(n, k, s, p):
    with torch.no_grad():
        return nn.ConvTranspose2d(1, 1, k, s, p)(torch.zeros(1, 1, n, n)).shape[-1]


conv_transpose_size = _exercise(
    "10.1", "the size after a transposed convolution", _conv_t_reference,
    [(1, 4, 1, 0), (4, 4, 2, 1), (8, 4, 2, 1), (5, 3, 2, 0), (7, 5, 3, 2)],
    right=lambda n, k, s, p: (n - 1) * s - 2 * p + k,
    hint="Each input pixel spreads a k×k kernel, s apart; padding trims p per side.",
    mistakes=[
        (lambda n, k, s, p: n * s, "the kernel's size"),
        (lambda n, k, s, p: (n - 1) * s + k, "padding trims p on each side"),
        (lambda n, k, s, p: (n + 2 * p - k) // s + 1, "that is the size after a (forward) convolution"),
    ], atol=0, rtol=0)


def _slerp_cases() -> list[tuple]:
    g = _gen(100)
    cases = [(torch.randn(8, generator=g), torch.randn(8, generator=g), t) for t in (0.0, 0.3, 1.0)]
    cases.append((torch.randn(64, generator=g), 3 * torch.randn(64, generator=g), 0.5))
    return cases


def _slerp_reference(z0, z1, t):
    a, b = z0.double().numpy(), z1.double().numpy()
    omega = np.arccos(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1))
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def _slerp_right(z0, z1, t):
    cos = torch.dot(z0, z1) / (z0.norm() * z1.norm())
    omega = torch.arccos(cos.clamp(-1, 1))
    return torch.sin((1 - t) * omega) / torch.sin(omega) * z0 + torch.sin(t * omega) / torch.sin(omega) * z1


slerp = _exercise(
    "10.2", "slerp", _slerp_reference, _slerp_cases(),
    right=_slerp_right,
    hint="Ω from the cosine of the angle between z0 and z1; at t = 0 you must get z0 back.",
    mistakes=[
        (lambda z0, z1, t: (1 - t) * z0 + t * z1, "(1 − t) z0 + t z1 is the straight line"),
        (lambda z0, z1, t: _slerp_right(z1, z0, t), "sin((1 − t)Ω) weighs z0"),
    ])
