"""Exercises of notebook 12 (guided diffusion): the classifier-free combination, one
classifier-guided mean, and the gradient ∇_x log p(y | x) of a softmax classifier by hand.

Each checker compares a student's function with an independent reference (the course's
``NoiseSchedule``, itself checked against diffusers; torch's autograd of ``log_softmax``) on at
least three cases, and is registered with the plausible mistakes it must catch; when a wrong
answer is one of those, the message names it.

In a notebook::

    from course_utils.exercises import guidance as ex
    ex.cfg_combination(my_cfg)   # True when right, False for a stub, raises (with a diagnosis) when wrong
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from course_utils.diffusion.schedule import NoiseSchedule
from course_utils.exercises import exercise

Fn = Callable[..., Any]
ATOL = RTOL = 1e-6


def _exercise(number: str, title: str, reference: Fn, cases: Sequence[tuple], *, hint, **kwargs):
    return exercise(number, title, reference, list(cases), hints=hint, atol=ATOL, rtol=RTOL,
                    module=__name__, **kwargs)


# ------------------------------------------------------------------------------ 12.3 CFG combination
# ε̂ = (1 + w) ε_θ(x_t, c) − w ε_θ(x_t, ∅), with (eps_cond, eps_uncond, w)

def _cfg_cases() -> list[tuple]:
    g = torch.Generator().manual_seed(121)
    return [(torch.randn(shape, generator=g, dtype=torch.float64),
             torch.randn(shape, generator=g, dtype=torch.float64), w)
            for shape, w in [((3, 2), 0.5), ((2, 1, 4, 4), 3.0), ((4,), 7.5)]]


def _cfg_right(eps_c, eps_u, w):
    return (1 + w) * eps_c - w * eps_u


cfg_combination = _exercise(
    "12.3", "the classifier-free combination",
    lambda eps_c, eps_u, w: eps_u + (1 + w) * (eps_c - eps_u), _cfg_cases(),
    right=_cfg_right,
    hint=("Guidance adds w times the implicit classifier's gradient ∇ log p(c | x_t) to the conditional score; in "
          "ε form that gradient is −(ε_θ(x_t, c) − ε_θ(x_t, ∅))/√(1 − ᾱ_t), and ε = −√(1 − ᾱ_t) · score.",
          "ε̂ = (1 + w) ε_θ(x_t, c) − w ε_θ(x_t, ∅): past the conditional prediction, away from the "
          "unconditional."),
    mistakes=[
        (lambda eps_c, eps_u, w: eps_u + w * (eps_c - eps_u),
         "that is GLIDE's form ε_∅ + s(ε_c − ε_∅) with its scale s = w; Ho & Salimans' weight w is s − 1 "
         "(w = 0 must give the conditional prediction alone)"),
        (lambda eps_c, eps_u, w: (1 - w) * eps_c + w * eps_u,
         "that interpolates between the two predictions; guidance extrapolates: it moves past the conditional "
         "prediction, away from the unconditional one"),
        (lambda eps_c, eps_u, w: (1 - w) * eps_c - w * eps_u,
         "the two weights must add up to 1 (where both predictions agree, the guided one is that same ε): check "
         "the sign of w in the conditional prediction's weight"),
        (lambda eps_c, eps_u, w: (1 + w) * eps_u - w * eps_c,
         "the roles are swapped: weight 1 + w goes to the conditional ε(x_t, c), −w to the unconditional one"),
        (lambda eps_c, eps_u, w: (1 + w) * eps_c + w * eps_u,
         "the unconditional prediction is subtracted (−w ε_∅): guidance pushes away from it"),
    ],
)


# ------------------------------------------------------------------------------ 12.1 classifier-guided mean
# μ̂ = μ_θ(x_t) + s Σ ∇ log p_φ(y | x_t), μ_θ = (x_t − β_t/√(1−ᾱ_t) ε)/√α_t, Σ = β̃_t I;
# arguments (x_t, t, eps, grad, s, schedule)

_S = NoiseSchedule.linear(dtype=torch.float64)


def _guided_cases() -> list[tuple]:
    g = torch.Generator().manual_seed(122)
    out = []
    for shape, t, s in [((5, 2), 7, 1.0), ((2, 1, 6, 6), 300, 4.0), ((3, 2), 900, 10.0), ((2, 1, 4, 4), 2, 0.5)]:
        x = torch.randn(shape, generator=g, dtype=torch.float64)
        eps = torch.randn(shape, generator=g, dtype=torch.float64)
        grad = torch.randn(shape, generator=g, dtype=torch.float64)
        out.append((x, t, eps, grad, s, _S))
    return out


def _guided_right(x_t, t, eps, grad, s, S):
    mu = (x_t - S.beta[t] / torch.sqrt(1 - S.alpha_bar[t]) * eps) / torch.sqrt(S.alpha[t])
    return mu + s * S.beta_tilde[t] * grad


def _guided_with(var, *, eps_scale=lambda S, t: torch.sqrt(1 - S.alpha_bar[t]), sign=1.0):
    def fn(x_t, t, eps, grad, s, S):
        mu = (x_t - S.beta[t] / eps_scale(S, t) * eps) / torch.sqrt(S.alpha[t])
        return mu + sign * s * var(S, t) * grad
    return fn


guided_mean = _exercise(
    "12.1", "one classifier-guided mean",
    lambda x_t, t, eps, grad, s, S: S.p_mean(x_t, t, eps) + s * S.beta_tilde[t] * grad, _guided_cases(),
    right=_guided_right,
    hint=("First the unguided mean μ_θ in its ε form, as in notebook 11; then move it along the gradient, scaled "
          "by s and by the step's variance.",
          "μ̂ = μ_θ(x_t) + s·Σ·∇ log p_φ(y|x_t) with μ_θ = (x_t − β_t/√(1 − ᾱ_t) ε)/√α_t and Σ = β̃_t "
          "(schedule.beta_tilde[t], a variance)."),
    mistakes=[
        (_guided_with(lambda S, t: torch.sqrt(S.beta_tilde[t])),
         "Σ is a covariance: multiply the gradient by the variance β̃_t, not the standard deviation √β̃_t"),
        (_guided_with(lambda S, t: S.beta_tilde[t], sign=-1.0),
         "the mean moves up the gradient of log p(y|x_t) (towards the class), not down"),
        (_guided_with(lambda S, t: S.beta_tilde[t], eps_scale=lambda S, t: 1 - S.alpha_bar[t]),
         "μ_θ divides β_t by √(1 − ᾱ_t), not by 1 − ᾱ_t (the diffusion slide's slip)"),
        (_guided_with(lambda S, t: S.beta[t]),
         "this exercise's Σ is the sampler's variance β̃_t (schedule.beta_tilde), not β_t"),
    ],
)


# ------------------------------------------------------------------------------ 12.2 ∇_x log p(y|x) by hand
# For logits = W x + b (a linear softmax classifier): ∇_x log p(y|x) = W_y − Σ_k p_k W_k;
# arguments (W (K, D), b (K,), x (B, D), y (B,)) → (B, D)

def _grad_cases() -> list[tuple]:
    g = torch.Generator().manual_seed(123)
    out = []
    for k, d, b in [(3, 2, 4), (10, 5, 3), (4, 7, 2)]:
        out.append((torch.randn(k, d, generator=g, dtype=torch.float64),
                    torch.randn(k, generator=g, dtype=torch.float64),
                    torch.randn(b, d, generator=g, dtype=torch.float64),
                    torch.randint(0, k, (b,), generator=g)))
    return out


def _grad_autograd(W, b, x, y):
    x = x.clone().requires_grad_(True)
    logp = torch.log_softmax(x @ W.T + b, dim=1)
    (grad,) = torch.autograd.grad(logp[torch.arange(len(y)), y].sum(), x)
    return grad


def _grad_right(W, b, x, y):
    p = torch.softmax(x @ W.T + b, dim=1)  # (B, K)
    return W[y] - p @ W


log_prob_gradient = _exercise(
    "12.2", "the gradient by hand", _grad_autograd, _grad_cases(),
    right=_grad_right,
    hint=("Write log p(y|x) as the logit of y minus the log of the softmax's normaliser, and differentiate "
          "each term with respect to x.",
          "log p(y|x) = (W x + b)_y − log Σ_k exp (W x + b)_k, so ∇_x = W_y − Σ_k p_k W_k."),
    mistakes=[
        (lambda W, b, x, y: W[y].expand_as(x).clone(),
         "that is the gradient of the logit alone: the normaliser log Σ_k exp(…) contributes −Σ_k p_k W_k"),
        (lambda W, b, x, y: torch.softmax(x @ W.T + b, 1)[torch.arange(len(y)), y, None]
         * (W[y] - torch.softmax(x @ W.T + b, 1) @ W),
         "that is ∇ p(y|x) = p·∇ log p: guidance uses the gradient of the log-probability"),
        (lambda W, b, x, y: torch.softmax(x @ W.T + b, 1) @ W - W[y],
         "the sign is flipped: ∇ log p(y|x) = W_y − Σ_k p_k W_k points towards class y"),
    ],
)
