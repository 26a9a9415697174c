"""course_utils.diffusion.toy: the closed-form noised mixture against Monte Carlo and autograd."""

from __future__ import annotations

import math

import pytest
import torch

from course_utils.diffusion.schedule import NoiseSchedule
from course_utils.diffusion.toy import GaussianMixture, LabelledMixture, toy_labelled, toy_mixture


def test_sampling_weights_and_means():
    mix = toy_mixture(torch.float64)
    x, k = mix.sample(200_000, generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(k, minlength=4).double() / len(k)
    se = (mix.weights * (1 - mix.weights) / len(k)).sqrt()
    assert ((freq - mix.weights).abs() < 5 * se).all()
    for j in range(4):
        assert (x[k == j].mean(0) - mix.means[j]).abs().max() < 0.01
        assert x[k == j].std(0).sub(0.25).abs().max() < 0.01


def test_log_prob_integrates_to_one_on_a_grid():
    mix = toy_mixture(torch.float64)
    g = torch.linspace(-4, 4, 801, dtype=torch.float64)
    xx, yy = torch.meshgrid(g, g, indexing="ij")
    p = mix.log_prob(torch.stack([xx.flatten(), yy.flatten()], 1)).exp()
    assert (p.sum() * (g[1] - g[0]) ** 2).item() == pytest.approx(1.0, abs=1e-6)


def test_score_is_the_gradient_of_log_prob():
    mix = toy_mixture(torch.float64)
    x = torch.randn(50, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).mul(2)
    x.requires_grad_(True)
    (grad,) = torch.autograd.grad(mix.log_prob(x).sum(), x)
    torch.testing.assert_close(mix.score(x.detach()), grad)


@pytest.mark.parametrize("t", [10, 200, 600])
def test_noised_marginal_matches_monte_carlo(t):
    """q(x_t) in closed form against x_t = √ᾱ x_0 + √(1−ᾱ) ε drawn many times: a 2-D histogram."""
    S = NoiseSchedule.linear(dtype=torch.float64)
    mix = toy_mixture(torch.float64)
    g = torch.Generator().manual_seed(t)
    n = 400_000
    x0, _ = mix.sample(n, generator=g)
    x_t = S.q_sample(x0, t, generator=g)
    qt = mix.noised(S.alpha_bar[t])
    edges = torch.linspace(-3, 3, 13, dtype=torch.float64)
    counts = torch.histogramdd(x_t, bins=[edges, edges]).hist
    # expected counts by integrating the closed-form density over each cell (midpoint rule, fine grid)
    fine = torch.linspace(-3, 3, 601, dtype=torch.float64)
    mid = (fine[1:] + fine[:-1]) / 2
    xx, yy = torch.meshgrid(mid, mid, indexing="ij")
    dens = qt.log_prob(torch.stack([xx.flatten(), yy.flatten()], 1)).exp().reshape(600, 600)
    expected = dens.reshape(12, 50, 12, 50).sum((1, 3)) * (fine[1] - fine[0]) ** 2 * n
    mask = expected > 50
    z = (counts[mask] - expected[mask]) / expected[mask].sqrt()
    assert z.abs().max() < 5, f"largest standardised deviation {z.abs().max():.2f}"
    if t < 200:  # early on 1 − ᾱ_t is too small for the wrong marginal below to differ visibly
        return
    # a wrong marginal (variance 1 − ᾱ forgotten, i.e. ᾱ s² only) is far off
    wrong = GaussianMixture(mix.weights, qt.means, S.alpha_bar[t].sqrt() * mix.stds)
    dens_w = wrong.log_prob(torch.stack([xx.flatten(), yy.flatten()], 1)).exp().reshape(600, 600)
    exp_w = dens_w.reshape(12, 50, 12, 50).sum((1, 3)) * (fine[1] - fine[0]) ** 2 * n
    assert ((counts - exp_w).abs() / exp_w.clamp_min(1).sqrt()).max() > 20


def test_exact_eps_is_the_posterior_mean_of_the_noise():
    """ε*(x_t) = E[ε | x_t]: regress ε on x_t by binning draws near a point and compare."""
    S = NoiseSchedule.linear(dtype=torch.float64)
    mix = toy_mixture(torch.float64)
    g = torch.Generator().manual_seed(5)
    t, n = 300, 2_000_000
    x0, _ = mix.sample(n, generator=g)
    eps = torch.randn(n, 2, generator=g, dtype=torch.float64)
    x_t = S.q_sample(x0, t, noise=eps)
    for point in ([0.0, 0.0], [0.8, 0.6], [-1.0, -0.3]):
        p = torch.tensor(point, dtype=torch.float64)
        near = (x_t - p).norm(dim=1) < 0.03
        m = int(near.sum())
        assert m > 500
        mc = eps[near].mean(0)
        exact = mix.eps(p[None], S.alpha_bar[t])[0]
        se = eps[near].std(0) / math.sqrt(m)
        # the 0.03 window biases the average by about |∇ε*|·0.03²: small next to 5 standard errors
        assert ((mc - exact).abs() < 5 * se + 0.01).all(), (point, mc, exact, se)


def test_mixture_checks_its_arguments():
    with pytest.raises(ValueError, match="sum to 1"):
        GaussianMixture(torch.tensor([0.5, 0.6]), torch.zeros(2, 2), torch.ones(2))
    with pytest.raises(ValueError, match="shape"):
        GaussianMixture(torch.tensor([1.0]), torch.zeros(2, 2), torch.ones(2))


def test_labelled_mixture_class_weights_against_sampled_labels():
    """Draw (x, y) pairs and count, among the points labelled c, how many sit at each component: the
    fractions must be class_mixture(c)'s weights (5 standard errors). The unlabelled weights, or the
    label probabilities alone, differ by far more."""
    lab = toy_labelled(torch.float64)
    x, y = lab.sample(200_000, generator=torch.Generator().manual_seed(3))
    k = ((x[:, None] - lab.mixture.means[None]) ** 2).sum(-1).argmin(1)  # components are 8 stds apart
    torch.testing.assert_close(torch.bincount(y, minlength=2).double() / len(y), lab.class_prior(), atol=0.005, rtol=0)
    for c in range(lab.n_classes):
        n_c = int((y == c).sum())
        freq = torch.bincount(k[y == c], minlength=4).double() / n_c
        want = lab.class_mixture(c).weights
        assert ((freq - want).abs() < 5 * (want * (1 - want) / n_c).sqrt()).all(), (c, freq, want)
        assert (lab.mixture.weights - want).abs().max() > 0.05


def test_exact_noisy_classifier_is_bayes_rule_on_the_class_densities():
    """log p(y | x_t) from the responsibilities equals Bayes' rule with the noised class-conditional
    densities, log q(x_t | y) + log p(y) − log q(x_t), at several t."""
    lab = toy_labelled(torch.float64)
    S = NoiseSchedule.linear(dtype=torch.float64)
    x0, _ = lab.sample(500, generator=torch.Generator().manual_seed(4))
    for t in (0, 50, 300, 1000):
        ab = S.alpha_bar[t]
        x_t = S.q_sample(x0, t, generator=torch.Generator().manual_seed(t))
        bayes = torch.stack([lab.class_mixture(c).noised(ab).log_prob(x_t) for c in range(2)], 1) \
            + lab.class_prior().log() - lab.mixture.noised(ab).log_prob(x_t)[:, None]
        torch.testing.assert_close(lab.log_p_y(x_t, ab), bayes, atol=1e-10, rtol=1e-10)
        torch.testing.assert_close(lab.log_p_y(x_t, ab).exp().sum(1), torch.ones(500, dtype=torch.float64))


def test_labelled_mixture_arguments():
    mix = toy_mixture(torch.float64)
    with pytest.raises(ValueError, match="K = 4"):
        LabelledMixture(mix, torch.full((3, 2), 0.5, dtype=torch.float64))
    with pytest.raises(ValueError, match="distribution"):
        LabelledMixture(mix, torch.full((4, 2), 0.6, dtype=torch.float64))
    with pytest.raises(ValueError, match="0..1"):
        toy_labelled().class_mixture(2)
