"""course_utils.diffusion.schedule: known values at fixed t, shapes, the posterior by quadrature,
the closed form against iterated steps, the ε parametrisation, and respacing."""

from __future__ import annotations

import math

import pytest
import torch

from course_utils.diffusion.schedule import NoiseSchedule, per_example


@pytest.fixture(scope="module")
def S64():
    return NoiseSchedule.linear(dtype=torch.float64)


def test_linear_schedule_values_at_fixed_t(S64):
    # β_t by the formula of Ho et al., ᾱ_t as a plain Python product (no torch.cumprod)
    for t in (1, 2, 10, 100, 500, 999, 1000):
        beta_t = 1e-4 + (t - 1) / 999 * (0.02 - 1e-4)
        assert S64.beta[t].item() == pytest.approx(beta_t, rel=1e-12)
        prod = math.prod(1 - (1e-4 + (s - 1) / 999 * (0.02 - 1e-4)) for s in range(1, t + 1))
        assert S64.alpha_bar[t].item() == pytest.approx(prod, rel=1e-10)
    # published numbers: ᾱ_1 = 0.9999, ᾱ_T ≈ 4.04e-5 (the slide's β_T = 0.002 would leave ᾱ_T ≈ 0.35)
    assert S64.alpha_bar[1].item() == pytest.approx(0.9999)
    assert S64.alpha_bar[1000].item() == pytest.approx(4.0358e-05, rel=1e-4)
    assert NoiseSchedule.linear(beta_T=0.002).alpha_bar[-1].item() == pytest.approx(0.3497, rel=1e-3)
    # t = 0 is "no noise"
    assert S64.beta[0] == 0 and S64.alpha[0] == 1 and S64.alpha_bar[0] == 1
    assert S64.T == 1000 and S64.beta.shape == (1001,)


def test_posterior_variance_and_coefficients_at_fixed_t(S64):
    for t in (2, 10, 300, 1000):
        b, a = S64.beta[t].item(), S64.alpha[t].item()
        ab, ab_prev = S64.alpha_bar[t].item(), S64.alpha_bar[t - 1].item()
        assert S64.beta_tilde[t].item() == pytest.approx((1 - ab_prev) / (1 - ab) * b, rel=1e-12)
        assert S64.coef_x0[t].item() == pytest.approx(math.sqrt(ab_prev) * b / (1 - ab), rel=1e-12)
        assert S64.coef_xt[t].item() == pytest.approx(math.sqrt(a) * (1 - ab_prev) / (1 - ab), rel=1e-12)
    assert S64.beta_tilde[1] == 0  # q(x_0 | x_1, x_0) is a point mass


def test_posterior_equals_numerical_product_of_gaussians(S64):
    """q(x_{t−1}|x_t,x_0) ∝ q(x_t|x_{t−1}) q(x_{t−1}|x_0), normalised by quadrature on a grid."""
    grid = torch.linspace(-6, 6, 200_001, dtype=torch.float64)
    dx = grid[1] - grid[0]
    for t, x0, x_t in [(2, 0.7, 0.69), (50, -0.3, 0.1), (400, 0.9, -1.2), (1000, 0.2, 0.5)]:
        b, a, ab_prev = S64.beta[t], S64.alpha[t], S64.alpha_bar[t - 1]
        log_w = (-(x_t - a.sqrt() * grid) ** 2 / (2 * b)
                 - (grid - ab_prev.sqrt() * x0) ** 2 / (2 * (1 - ab_prev)))
        w = torch.exp(log_w - log_w.max())
        w = w / (w.sum() * dx)
        mean = (grid * w).sum() * dx
        var = ((grid - mean) ** 2 * w).sum() * dx
        mu, v = S64.q_posterior(torch.tensor([x0], dtype=torch.float64), torch.tensor([x_t], dtype=torch.float64), t)
        assert mu.item() == pytest.approx(mean.item(), abs=1e-7)
        assert v.item() == pytest.approx(var.item(), rel=1e-5)


def test_any_shape_and_per_example_t():
    S = NoiseSchedule.linear()
    g = torch.Generator().manual_seed(0)
    for shape in [(5, 2), (5, 1, 28, 28), (5, 3, 4, 4, 4)]:
        x0 = torch.randn(shape, generator=g)
        t = torch.tensor([1, 10, 100, 500, 1000])
        eps = torch.randn(shape, generator=g)
        x_t = S.q_sample(x0, t, noise=eps)
        assert x_t.shape == shape
        # example i used its own t_i
        for i in range(5):
            ab = S.alpha_bar[t[i]]
            torch.testing.assert_close(x_t[i], ab.sqrt() * x0[i] + (1 - ab).sqrt() * eps[i])
        # an int t broadcasts to every example
        assert torch.equal(S.q_sample(x0, 7, noise=eps), S.q_sample(x0, torch.full((5,), 7), noise=eps))
    assert per_example(torch.tensor(2.0), torch.zeros(3, 4)).shape == ()


def test_generator_makes_draws_reproducible_and_noise_shape_is_checked():
    S = NoiseSchedule.linear()
    x0 = torch.zeros(4, 3)
    a = S.q_sample(x0, 500, generator=torch.Generator().manual_seed(1))
    b = S.q_sample(x0, 500, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="noise has shape"):
        S.q_sample(x0, 500, noise=torch.zeros(4, 2))


def test_closed_form_equals_iterated_steps_in_distribution():
    """t forward steps and one closed-form draw: same mean and variance (Monte Carlo, 6 standard errors)."""
    S = NoiseSchedule.linear(dtype=torch.float64)
    g = torch.Generator().manual_seed(3)
    n, t = 10_000, 400
    x0 = torch.tensor([1.0, -0.5, 0.0], dtype=torch.float64).expand(n, 3)
    x = x0
    for s in range(1, t + 1):
        x = S.q_step(x, s, generator=g)
    mean_true = S.alpha_bar[t].sqrt() * x0[0]
    var_true = 1 - S.alpha_bar[t]
    se_mean = (var_true / n).sqrt()
    se_var = var_true * math.sqrt(2 / (n - 1))
    assert ((x.mean(0) - mean_true).abs() < 6 * se_mean).all()
    assert ((x.var(0) - var_true).abs() < 6 * se_var).all()
    # and a wrong closed form (√α_t instead of √ᾱ_t) is far outside that error
    assert ((x.mean(0) - S.alpha[t].sqrt() * x0[0]).abs().max() > 20 * se_mean)


def test_eps_parametrisation_recovers_the_posterior_mean_and_x0(S64):
    g = torch.Generator().manual_seed(4)
    x0 = torch.randn(6, 1, 5, 5, generator=g, dtype=torch.float64)
    eps = torch.randn(6, 1, 5, 5, generator=g, dtype=torch.float64)
    for t in (1, 2, 37, 999, 1000):
        x_t = S64.q_sample(x0, t, noise=eps)
        torch.testing.assert_close(S64.predict_x0(x_t, t, eps), x0, atol=1e-9, rtol=1e-9)
        mu_x0, _ = S64.q_posterior(x0, x_t, t)
        torch.testing.assert_close(S64.p_mean(x_t, t, eps), mu_x0, atol=1e-9, rtol=1e-9)


def test_ddim_step_properties(S64):
    g = torch.Generator().manual_seed(5)
    x0 = torch.randn(8, 2, generator=g, dtype=torch.float64)
    eps = torch.randn(8, 2, generator=g, dtype=torch.float64)
    x_t = S64.q_sample(x0, 600, noise=eps)
    # with the true ε, a deterministic DDIM step lands exactly on q_sample(x0, t', same ε)
    torch.testing.assert_close(S64.ddim_step(x_t, 600, 250, eps), S64.q_sample(x0, 250, noise=eps))
    # the last step (t' = 0) returns x̂_0
    torch.testing.assert_close(S64.ddim_step(x_t, 600, 0, eps), x0)
    # η = 1 with consecutive steps gives DDPM's posterior variance β̃_t
    for t in (2, 10, 900):
        sigma = S64.ddim_sigma(t, t - 1, 1.0, x0)
        assert sigma.item() ** 2 == pytest.approx(S64.beta_tilde[t].item(), rel=1e-10)


def test_ddim_timesteps():
    S = NoiseSchedule.linear()
    assert S.ddim_timesteps(1000) == list(range(1000, 0, -1))
    assert S.ddim_timesteps(10) == [1000, 889, 778, 667, 556, 445, 334, 223, 112, 1]
    for n in (2, 3, 7, 50, 333, 999):
        steps = S.ddim_timesteps(n)
        assert len(set(steps)) == n and steps[0] == 1000 and steps[-1] == 1
        assert all(a > b for a, b in zip(steps, steps[1:]))
    with pytest.raises(ValueError, match="n_steps"):
        S.ddim_timesteps(0)


def test_to_moves_and_casts_every_table():
    S = NoiseSchedule.linear(T=10).to(dtype=torch.float64)
    for name in NoiseSchedule._TABLES:
        assert getattr(S, name).dtype == torch.float64
    assert S.T == 10 and "T=10" in repr(S)
    with pytest.raises(ValueError):
        NoiseSchedule(torch.tensor([0.5, 1.0]))


def test_respace_with_every_step_is_the_original_schedule():
    S = NoiseSchedule.linear(T=50, dtype=torch.float64)
    R = S.respace(list(range(50, 0, -1)))
    for name in ("beta", "alpha_bar", "beta_tilde", "coef_x0", "coef_xt"):
        torch.testing.assert_close(getattr(R, name), getattr(S, name), rtol=1e-10, atol=1e-12)


def test_respace_keeps_alpha_bar_at_the_chosen_steps():
    S = NoiseSchedule.linear()
    ts = S.ddim_timesteps(20)
    R = S.respace(ts)
    assert R.T == 20
    torch.testing.assert_close(R.alpha_bar[1:], S.alpha_bar[list(reversed(ts))], rtol=1e-6, atol=1e-7)
    # the posterior variance between t_i and t_{i+1}: (1 − ᾱ_{t'})/(1 − ᾱ_t)(1 − ᾱ_t/ᾱ_{t'})
    t, t_prev = ts[5], ts[6]
    want = (1 - S.alpha_bar[t_prev]) / (1 - S.alpha_bar[t]) * (1 - S.alpha_bar[t] / S.alpha_bar[t_prev])
    torch.testing.assert_close(R.beta_tilde[20 - 5], want, rtol=1e-5, atol=0)
    for bad in ([10, 20], [1001, 5], [5, 0], []):
        with pytest.raises(ValueError, match="decrease"):
            S.respace(bad)


def test_respaced_ancestral_sampling_with_the_exact_eps_recovers_the_data():
    """Gaussian data N(m, s²): ε*(x_t) = √(1−ᾱ)(x_t − √ᾱ m)/(ᾱ s² + 1 − ᾱ); 50 respaced steps of
    Algorithm 2 (σ² = β̃') must give back the mean m. A respacing that kept the original β at the
    chosen steps would start from ᾱ' ≈ 0.9, not ≈ 0, and land far from m. The spread is smaller than
    s: σ² = β̃ leaves out Var(x_0 | x_t), which 50 coarse steps feel (measured: 0.254 for s = 0.3)."""
    S = NoiseSchedule.linear(dtype=torch.float64)
    ts = S.ddim_timesteps(50)
    R = S.respace(ts)
    m, s = 1.5, 0.3
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40_000, 1, generator=g, dtype=torch.float64)
    for i, t in enumerate(ts):
        j = R.T - i  # the respaced index of original step t
        ab = S.alpha_bar[t]
        eps = (1 - ab).sqrt() * (x - ab.sqrt() * m) / (ab * s ** 2 + 1 - ab)
        x = R.p_mean(x, j, eps)
        if j > 1:
            x = x + R.beta_tilde[j].sqrt() * torch.randn(x.shape, generator=g, dtype=torch.float64)
    se = s / 200  # standard error of the mean of 40,000 draws
    assert abs(x.mean().item() - m) < 5 * se
    assert 0.75 * s < x.std().item() < 1.05 * s
