"""The course's schedule against the library people use: diffusers' DDPMScheduler and DDIMScheduler.

diffusers numbers its timesteps 0..T−1; its timestep k is our t = k + 1. Both are fed the same
inputs; agreement to 1e-6 (float32, as diffusers computes). diffusers is a test dependency only:
the course never imports it at run time.
"""

from __future__ import annotations

import pytest
import torch

from course_utils.diffusion.schedule import NoiseSchedule

diffusers = pytest.importorskip("diffusers")

TIMESTEPS = [0, 1, 9, 99, 250, 500, 998, 999]  # diffusers' k; ours t = k + 1


@pytest.fixture(scope="module")
def ours():
    return NoiseSchedule.linear(T=1000, beta_1=1e-4, beta_T=0.02)


@pytest.fixture(scope="module")
def ddpm():
    return diffusers.DDPMScheduler(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02,
                                   beta_schedule="linear", clip_sample=False, variance_type="fixed_small")


def _inputs(seed=0, shape=(4, 1, 8, 8)):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g), torch.randn(shape, generator=g)


def test_alpha_bar_and_beta_match_diffusers(ours, ddpm):
    torch.testing.assert_close(ours.beta[1:], ddpm.betas, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(ours.alpha_bar[1:], ddpm.alphas_cumprod, atol=1e-6, rtol=1e-6)


def test_add_noise_matches_q_sample(ours, ddpm):
    x0, eps = _inputs(1)
    k = torch.tensor([0, 99, 500, 999])
    torch.testing.assert_close(ours.q_sample(x0, k + 1, noise=eps), ddpm.add_noise(x0, eps, k),
                               atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("k", TIMESTEPS)
def test_one_ddpm_step_has_our_posterior_mean_and_variance(k):
    """DDPMScheduler.step with ε_θ = the true ε: mean μ̃(x_t, x_0), variance β̃_t (fixed_small).

    In float64 on both sides: diffusers keeps ᾱ in float32, and at small t its 1 − ᾱ_t (≈ 1e-4)
    loses four digits to cancellation, which would hide a real difference in the formulas. So its
    table is recomputed in float64 from its own β (the tables themselves are compared in float32 above).
    """
    ours = NoiseSchedule.linear(T=1000, beta_1=1e-4, beta_T=0.02, dtype=torch.float64)
    ddpm = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02,
                                   beta_schedule="linear", clip_sample=False, variance_type="fixed_small")
    ddpm.alphas_cumprod = torch.cumprod(1 - ddpm.betas.double(), 0)
    ddpm.one = torch.tensor(1.0, dtype=torch.float64)
    x0, eps = (v.double() for v in _inputs(2 + k))
    t = k + 1
    x_t = ours.q_sample(x0, t, noise=eps)
    ddpm.set_timesteps(1000)
    variance = ddpm._get_variance(k) if k > 0 else torch.tensor(0.0)
    out = ddpm.step(eps, k, x_t, generator=torch.Generator().manual_seed(7))
    z = torch.randn(x0.shape, generator=torch.Generator().manual_seed(7), dtype=torch.float64)  # step()'s draw
    mean_d = out.prev_sample - (variance.sqrt() * z if k > 0 else 0)
    mean, var = ours.q_posterior(x0, x_t, t)
    torch.testing.assert_close(mean, mean_d, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(ours.p_mean(x_t, t, eps), mean_d, atol=1e-6, rtol=1e-6)
    if k > 0:
        assert var.item() == pytest.approx(variance.item(), abs=1e-6, rel=1e-6)
    else:
        assert var.item() == 0.0  # diffusers clamps it to 1e-20
    torch.testing.assert_close(ours.predict_x0(x_t, t, eps), out.pred_original_sample, atol=1e-6, rtol=1e-6)


def test_posterior_variance_table_matches_diffusers_float32(ours, ddpm):
    ddpm.set_timesteps(1000)
    ref = torch.stack([ddpm._get_variance(k) for k in range(1, 1000)])
    torch.testing.assert_close(ours.beta_tilde[2:], ref, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("n_steps", [10, 50, 1000])
def test_ddim_step_matches_diffusers_eta0(ours, n_steps):
    ddim = diffusers.DDIMScheduler(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02,
                                   beta_schedule="linear", clip_sample=False, set_alpha_to_one=True)
    ddim.set_timesteps(n_steps)
    stride = 1000 // n_steps
    x_t, eps = _inputs(3 + n_steps)
    for k in ddim.timesteps[[0, len(ddim.timesteps) // 2, -1]].tolist():
        t, t_prev = k + 1, (k - stride + 1 if k - stride >= 0 else 0)  # before k = 0: ᾱ = 1, our t = 0
        ref = ddim.step(eps, k, x_t, eta=0.0).prev_sample
        torch.testing.assert_close(ours.ddim_step(x_t, t, t_prev, eps), ref, atol=1e-6, rtol=1e-6)


def test_ddim_step_matches_diffusers_eta1_with_the_same_noise(ours):
    ddim = diffusers.DDIMScheduler(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02,
                                   beta_schedule="linear", clip_sample=False, set_alpha_to_one=True)
    ddim.set_timesteps(20)
    x_t, eps = _inputs(9)
    z = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(11))
    k = 500
    ref = ddim.step(eps, k, x_t, eta=1.0, variance_noise=z).prev_sample
    torch.testing.assert_close(ours.ddim_step(x_t, k + 1, k + 1 - 50, eps, eta=1.0, noise=z), ref,
                               atol=1e-6, rtol=1e-6)
