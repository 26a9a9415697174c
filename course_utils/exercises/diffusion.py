"""Exercises of notebook 11 (diffusion): the closed-form forward draw, the ε form of the posterior
mean, and one DDIM step.

Each checker compares a student's function with the course's ``NoiseSchedule`` (itself checked
against diffusers' schedulers in tests/diffusion) on at least three cases (2-D points and images,
early and late t), and is registered with the mistakes it must catch: the lecture slide's own
slips (dividing by 1 − ᾱ_t instead of √(1 − ᾱ_t); √α_t instead of √ᾱ_t in x̂_0) and other
plausible ones. When a wrong answer is one of those, the message names it.

In a notebook::

    from course_utils.exercises import diffusion as ex
    ex.q_sample(my_q_sample)   # True when right, False for a stub, raises (with a diagnosis) when wrong
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from course_utils.diffusion.schedule import NoiseSchedule
from course_utils.exercises import exercise

Fn = Callable[..., Any]
ATOL = RTOL = 1e-5


def _exercise(number: str, title: str, reference: Fn, cases: Sequence[tuple], *, hint, **kwargs):
    return exercise(number, title, reference, list(cases), hints=hint, atol=ATOL, rtol=RTOL,
                    module=__name__, **kwargs)


_S = NoiseSchedule.linear(dtype=torch.float64)


def _cases(seed: int) -> list[tuple]:
    """(x, t, eps, schedule) for 2-D points and images, at an early, a middle and the last t."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for shape, t in [((5, 2), 3), ((4, 1, 6, 6), 250), ((3, 2), 600), ((2, 1, 4, 4), 1000)]:
        x = torch.randn(shape, generator=g, dtype=torch.float64)
        eps = torch.randn(shape, generator=g, dtype=torch.float64)
        out.append((x, t, eps, _S))
    return out


# ------------------------------------------------------------------------------ 11.1 q_sample
# x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε, with (x0, t, eps, schedule)

def _q_sample_right(x0, t, eps, S):
    ab = S.alpha_bar[t]
    return ab.sqrt() * x0 + (1 - ab).sqrt() * eps


q_sample = _exercise(
    "11.1", "the closed form", lambda x0, t, eps, S: S.q_sample(x0, t, noise=eps), _cases(1),
    right=_q_sample_right,
    hint=("x_t is x_0 scaled down plus noise scaled up, with coefficients from the product ᾱ_t of all t steps "
          "(S.alpha_bar[t]); the two variances add up to 1.",
          "x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε with ᾱ_t = schedule.alpha_bar[t]."),
    mistakes=[
        (lambda x0, t, eps, S: S.alpha[t].sqrt() * x0 + (1 - S.alpha[t]).sqrt() * eps,
         "that is one forward step's coefficients √α_t, √(1 − α_t); the closed form from x_0 needs "
         "the product ᾱ_t = α_1 ⋯ α_t"),
        (lambda x0, t, eps, S: S.alpha_bar[t].sqrt() * x0 + (1 - S.alpha_bar[t]) * eps,
         "the noise is scaled by the standard deviation √(1 − ᾱ_t), not the variance 1 − ᾱ_t"),
        (lambda x0, t, eps, S: S.alpha_bar[t] * x0 + (1 - S.alpha_bar[t]).sqrt() * eps,
         "x_0 is scaled by √ᾱ_t, not ᾱ_t: the variances ᾱ_t + (1 − ᾱ_t) must add up to 1"),
    ],
)


# ------------------------------------------------------------------------------ 11.2 μ̃ in ε form
# μ̃ = (x_t − β_t/√(1 − ᾱ_t) ε)/√α_t, with (x_t, t, eps, schedule)

def _mu_eps_right(x_t, t, eps, S):
    beta, alpha, ab = S.beta[t], S.alpha[t], S.alpha_bar[t]
    return (x_t - beta / torch.sqrt(1 - ab) * eps) / torch.sqrt(alpha)


posterior_mean_eps = _exercise(
    "11.2", "the ε form of the posterior mean", lambda x_t, t, eps, S: S.p_mean(x_t, t, eps), _cases(2),
    right=_mu_eps_right,
    hint=("Substitute x_0 = (x_t − √(1 − ᾱ_t) ε)/√ᾱ_t, the closed form solved for x_0, into μ̃(x_t, x_0), and "
          "mind which coefficients are of one step (α_t, β_t) and which of all t (ᾱ_t).",
          "μ̃ = (x_t − β_t/√(1 − ᾱ_t) ε)/√α_t."),
    mistakes=[
        (lambda x_t, t, eps, S: (x_t - S.beta[t] / (1 - S.alpha_bar[t]) * eps) / S.alpha[t].sqrt(),
         "divide β_t by √(1 − ᾱ_t), not by 1 − ᾱ_t (the slide's slip; its own Algorithm 2 has the square root)"),
        (lambda x_t, t, eps, S: (x_t - S.beta[t] / (1 - S.alpha_bar[t]).sqrt() * eps) / S.alpha_bar[t].sqrt(),
         "the prefactor is 1/√α_t of this one step, not 1/√ᾱ_t"),
        (lambda x_t, t, eps, S: (x_t + S.beta[t] / (1 - S.alpha_bar[t]).sqrt() * eps) / S.alpha[t].sqrt(),
         "the predicted noise is subtracted from x_t, not added"),
    ],
)


# ------------------------------------------------------------------------------ 11.3 one DDIM step
# x_{t'} = √ᾱ_{t'} x̂_0 + √(1 − ᾱ_{t'}) ε, x̂_0 = (x_t − √(1 − ᾱ_t) ε)/√ᾱ_t, η = 0;
# arguments (x_t, t, t_prev, eps, schedule)

def _ddim_cases() -> list[tuple]:
    cases = []
    for (x, t, eps, S), t_prev in zip(_cases(3), [0, 150, 420, 980]):
        cases.append((x, t, t_prev, eps, S))
    return cases


def _ddim_right(x_t, t, t_prev, eps, S):
    ab, ab_prev = S.alpha_bar[t], S.alpha_bar[t_prev]
    x0_hat = (x_t - torch.sqrt(1 - ab) * eps) / torch.sqrt(ab)
    return torch.sqrt(ab_prev) * x0_hat + torch.sqrt(1 - ab_prev) * eps


def _ddim_with(x0_hat_fn, t_prev_fn=lambda t, t_prev: t_prev, direction=True):
    def step(x_t, t, t_prev, eps, S):
        ab_prev = S.alpha_bar[t_prev_fn(t, t_prev)]
        out = ab_prev.sqrt() * x0_hat_fn(x_t, t, eps, S)
        return out + (1 - ab_prev).sqrt() * eps if direction else out
    return step


def _x0_hat(x_t, t, eps, S):
    return (x_t - (1 - S.alpha_bar[t]).sqrt() * eps) / S.alpha_bar[t].sqrt()


ddim_step = _exercise(
    "11.3", "one DDIM step", lambda x_t, t, t_prev, eps, S: S.ddim_step(x_t, t, t_prev, eps), _ddim_cases(),
    right=_ddim_right,
    hint=("Two steps: predict x̂_0 from x_t and ε (the closed form solved for x_0), then put x̂_0 back at the "
          "noise level of t_prev, with the same ε (η = 0: no fresh noise).",
          "x̂_0 = (x_t − √(1 − ᾱ_t) ε)/√ᾱ_t, then x_{t'} = √ᾱ_{t'} x̂_0 + √(1 − ᾱ_{t'}) ε with t' = t_prev."),
    mistakes=[
        (_ddim_with(lambda x_t, t, eps, S: (x_t - (1 - S.alpha_bar[t]).sqrt() * eps) / S.alpha[t].sqrt()),
         "x̂_0 = (x_t − √(1 − ᾱ_t) ε)/√ᾱ_t: divide by √ᾱ_t, not √α_t (the slide's slip)"),
        (_ddim_with(_x0_hat, t_prev_fn=lambda t, t_prev: t - 1),
         "DDIM jumps from t to t_prev, which need not be t − 1: use ᾱ at t_prev"),
        (_ddim_with(_x0_hat, direction=False),
         "the step keeps the direction √(1 − ᾱ_{t'}) ε pointing to x_t; without it every step lands on x̂_0"),
    ],
)
