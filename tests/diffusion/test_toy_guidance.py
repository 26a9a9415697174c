"""course_utils.diffusion.toy_guidance: the tilted and conditional mixtures against quadrature on a grid,
the toy's denoiser against the posterior mean computed component by component, and the per-row Gaussian
x_0 and ε against the one-component mixture of toy.py."""

from __future__ import annotations

import pytest
import torch

from course_utils.diffusion import NoiseSchedule, toy_mixture
from course_utils.diffusion.toy import GaussianMixture
from course_utils.diffusion.toy_guidance import conditional, denoiser, gaussian_eps, gaussian_x0, tilted

S = NoiseSchedule.linear(dtype=torch.float64)


def grid(lo=-6.0, hi=8.0, n=701):
    g = torch.linspace(lo, hi, n, dtype=torch.float64)
    xx, yy = torch.meshgrid(g, g, indexing="ij")
    return torch.stack([xx.flatten(), yy.flatten()], 1), (g[1] - g[0]) ** 2


def test_tilted_mixture_is_the_normalised_product_on_a_grid():
    """p(x) e^{b·x}/Z by quadrature (Z and the moments summed on a grid) against the closed form; a tilt
    that forgot the weight factor e^{b·μ_k} (means moved, weights kept) is off by 0.3 in the mean."""
    mix = toy_mixture(torch.float64)
    b = torch.tensor([1.2, -0.4], dtype=torch.float64)
    x, cell = grid()
    p = (mix.log_prob(x) + x @ b).exp()
    p = p / (p.sum() * cell)
    q = tilted(mix, b)
    torch.testing.assert_close(q.log_prob(x).exp(), p, atol=1e-9, rtol=1e-6)
    mean_grid = (x * p[:, None]).sum(0) * cell
    mean_closed = (q.weights[:, None] * q.means).sum(0)
    torch.testing.assert_close(mean_closed, mean_grid, atol=1e-7, rtol=0)
    means_only = GaussianMixture(mix.weights, q.means, mix.stds)
    assert (means_only.weights[:, None] * means_only.means).sum(0).sub(mean_grid).abs().max() > 0.3
    with pytest.raises(ValueError, match="shape"):
        tilted(mix, torch.ones(3))


def test_conditional_mixture_is_the_slice_of_the_density():
    """p(x_2 | x_1 = v) ∝ p(v, x_2) on a fine line, normalised by quadrature, against the closed form."""
    mix = toy_mixture(torch.float64)
    for v in (-1.0, 0.0, 0.5):
        x2 = torch.linspace(-5, 5, 4001, dtype=torch.float64)
        joint = mix.log_prob(torch.stack([torch.full_like(x2, v), x2], 1)).exp()
        dens = joint / (joint.sum() * (x2[1] - x2[0]))
        c = conditional(mix, [0], torch.tensor([v]))
        torch.testing.assert_close(c.log_prob(x2[:, None]).exp(), dens, atol=1e-8, rtol=1e-6)
    with pytest.raises(ValueError, match="some, not all"):
        conditional(mix, [0, 1], torch.zeros(2))
    with pytest.raises(ValueError, match="some, not all"):
        conditional(mix, [2], torch.zeros(1))


def test_denoiser_is_the_posterior_mean():
    """E[x_0 | x_t] = Σ_k p(k | x_t) E[x_0 | x_t, k], each component's posterior mean a Gaussian product."""
    mix = toy_mixture(torch.float64)
    x_t = torch.randn(200, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 1.5
    f = denoiser(mix, S)
    for t in (1, 50, 300, 900):
        ab = S.alpha_bar[t]
        r = mix.noised(ab).responsibilities(x_t)                        # p(k | x_t)
        var = mix.stds ** 2
        post = (ab.sqrt() * x_t[:, None] / (1 - ab) + mix.means[None] / var[None, :, None]) \
            / (ab / (1 - ab) + 1 / var)[None, :, None]                  # E[x_0 | x_t, k] (precision-weighted)
        torch.testing.assert_close(f(x_t, t), (r[:, :, None] * post).sum(1))
    torch.testing.assert_close(f(x_t, 0), x_t)  # no noise: the denoiser returns its input


def test_per_row_gaussian_against_a_one_component_mixture():
    g = torch.Generator().manual_seed(1)
    means = torch.randn(5, 2, dtype=torch.float64, generator=g)
    x_t = torch.randn(5, 2, dtype=torch.float64, generator=g)
    for t in (3, 400):
        ab = S.alpha_bar[t]
        for i in range(5):
            one = GaussianMixture(torch.ones(1, dtype=torch.float64), means[i:i + 1], torch.tensor([0.3],
                                                                                                 dtype=torch.float64))
            torch.testing.assert_close(gaussian_eps(means, 0.3, ab, x_t)[i:i + 1], one.eps(x_t[i:i + 1], ab))
            torch.testing.assert_close(gaussian_x0(means, 0.3, ab, x_t)[i:i + 1],
                                       denoiser(one, S)(x_t[i:i + 1], t))
