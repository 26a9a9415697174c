"""course_utils.diffusion.sampling: the respaced ancestral sampler and its guidance hook, on Gaussian
data whose every noised quantity is known in closed form."""

from __future__ import annotations

import pytest
import torch

from course_utils.diffusion import NoiseSchedule
from course_utils.diffusion.sampling import RespacedSampler

S = NoiseSchedule.linear(dtype=torch.float64)
M, SD = 0.4, 0.3  # the data: N(M, SD²) in one dimension


def exact_eps(x, t):
    """ε*(x_t) of Gaussian data: √(1−ᾱ)(x_t − √ᾱ M)/(ᾱ SD² + 1 − ᾱ)."""
    ab = S.alpha_bar[t]
    return (1 - ab).sqrt() * (x - ab.sqrt() * M) / (ab * SD ** 2 + 1 - ab)


def test_the_sampler_with_the_exact_eps_recovers_the_data():
    gen = torch.Generator().manual_seed(0)
    for n_steps, std_range in ((1000, (0.95, 1.05)), (50, (0.75, 1.05))):
        x = RespacedSampler(S, n_steps, clip_x0=False).sample(
            exact_eps, torch.randn(20_000, 1, generator=gen, dtype=torch.float64), generator=gen)
        assert abs(x.mean().item() - M) < 5 * SD / 20_000 ** 0.5, n_steps   # 5 standard errors of the mean
        assert std_range[0] * SD < x.std().item() < std_range[1] * SD, (n_steps, x.std().item())


def test_guidance_with_the_exact_noisy_likelihood_samples_the_posterior():
    """y = x_0 + N(0, R²) observed; ∇_{x_t} log p(y | x_t) in closed form (x_0 | x_t is Gaussian). Guiding
    with it (s = 1) must sample p(x_0 | y), the product of the prior and the likelihood: a Gaussian with
    1/v = 1/SD² + 1/R² and mean v (M/SD² + y/R²), here 0.746 (measured 0.739: the first-order shift's
    discretisation error); guidance at half strength would give 0.665, the wrong sign far less, the
    prior alone 0.4."""
    y, R = 0.9, 0.2

    def grad_log_lik(x, t):
        ab = S.alpha_bar[t]
        denom = ab * SD ** 2 + 1 - ab
        gain = ab.sqrt() * SD ** 2 / denom                 # dE[x_0 | x_t]/dx_t
        mean0 = M + gain * (x - ab.sqrt() * M)             # E[x_0 | x_t]
        var0 = SD ** 2 * (1 - ab) / denom                  # Var[x_0 | x_t]
        return (y - mean0) / (var0 + R ** 2) * gain

    v = 1 / (1 / SD ** 2 + 1 / R ** 2)
    want_mean, want_sd = v * (M / SD ** 2 + y / R ** 2), v ** 0.5
    gen = torch.Generator().manual_seed(1)
    x = RespacedSampler(S, 1000, clip_x0=False).sample(
        exact_eps, torch.randn(20_000, 1, generator=gen, dtype=torch.float64), generator=gen, guide=grad_log_lik)
    assert abs(x.mean().item() - want_mean) < 0.02, (x.mean().item(), want_mean)
    assert abs(x.std().item() / want_sd - 1) < 0.05, (x.std().item(), want_sd)
    # the same guide with the opposite sign lands elsewhere (the check can fail)
    x_bad = RespacedSampler(S, 1000, clip_x0=False).sample(
        exact_eps, torch.randn(20_000, 1, generator=gen, dtype=torch.float64), generator=gen,
        guide=lambda x, t: -grad_log_lik(x, t))
    assert abs(x_bad.mean().item() - want_mean) > 0.1


def test_clipping_and_arguments():
    x = torch.full((3, 1), 50.0, dtype=torch.float64)
    for clip, inside in ((True, True), (False, False)):
        out = RespacedSampler(S, 10, clip_x0=clip).sample(lambda x, t: torch.zeros_like(x), x.clone(),
                                                          generator=torch.Generator().manual_seed(0))
        assert bool((out.abs() <= 1.0 + 1e-9).all()) is inside  # ε = 0: x̂_0 = x_t/√ᾱ, huge unless clipped
    with pytest.raises(ValueError, match="n_steps"):
        RespacedSampler(S, 0)
    assert len(RespacedSampler(S, 20)) == 20
