"""Unit tests of course_utils.neural.autoencoders: shapes, the closed-form KL, PCA, the IWAE bound."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from course_utils.neural import autoencoders as ae


def test_lecture_autoencoders_shapes_and_ranges():
    x = torch.rand(5, 784)
    en, de = ae.autoencoder1(784, 32)(x)
    assert en.shape == (5, 32) and de.shape == (5, 784)
    assert (en >= 0).all() and ((de > 0) & (de < 1)).all()

    img = torch.rand(5, 1, 28, 28) * 2 - 1
    en, de = ae.autoencoder2(1, 3)(img)
    assert en.shape == (5, 3, 14, 14) and de.shape == img.shape
    assert (de.abs() < 1).all()


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu1, mu2 = torch.randn(50, generator=g), torch.randn(50, generator=g)
    lv1, lv2 = torch.randn(50, generator=g), torch.randn(50, generator=g)
    ours = ae.gaussian_kl(mu1, lv1, mu2, lv2)
    ref = kl_divergence(Normal(mu1, (0.5 * lv1).exp()), Normal(mu2, (0.5 * lv2).exp()))
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
    assert (ours >= 0).all()


def test_kl_standard_normal_is_the_special_case():
    g = torch.Generator().manual_seed(1)
    mu, lv = torch.randn(4, 7, generator=g), torch.randn(4, 7, generator=g)
    special = ae.kl_standard_normal(mu, lv)
    general = ae.gaussian_kl(mu, lv, torch.zeros(()), torch.zeros(())).sum(-1)
    torch.testing.assert_close(special, general)
    assert special.shape == (4,)
    # zero exactly at the prior
    assert ae.kl_standard_normal(torch.zeros(3), torch.zeros(3)).item() == 0.0


def test_bernoulli_log_likelihood_against_distribution_and_extremes():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(3, 10, generator=g) * 5
    x = torch.bernoulli(torch.full((3, 10), 0.5), generator=g)
    ref = torch.distributions.Bernoulli(logits=logits).log_prob(x).sum(-1)
    torch.testing.assert_close(ae.bernoulli_log_likelihood(logits, x), ref)
    # stable where sigmoid saturates: log sigmoid(-200) = -200 exactly, not log(0)
    got = ae.bernoulli_log_likelihood(torch.tensor([[-200.0]]), torch.tensor([[1.0]]))
    assert got.item() == pytest.approx(-200.0)


def test_gaussian_log_density_matches_normal():
    z, mu, lv = torch.randn(6, 3), torch.randn(6, 3), torch.randn(6, 3)
    ref = Normal(mu, (0.5 * lv).exp()).log_prob(z).sum(-1)
    torch.testing.assert_close(ae.gaussian_log_density(z, mu, lv), ref)


def test_reparameterize_uses_exp_half_logvar():
    mu, lv = torch.tensor([1.0, -2.0]), torch.tensor([math.log(4.0), math.log(0.25)])
    eps = torch.tensor([1.0, 1.0])
    z = ae.VAE.reparameterize(mu, lv, eps=eps)
    torch.testing.assert_close(z, torch.tensor([1.0 + 2.0, -2.0 + 0.5]))
    g = torch.Generator().manual_seed(3)
    zs = ae.VAE.reparameterize(mu.expand(20000, 2), lv.expand(20000, 2), generator=g)
    torch.testing.assert_close(zs.std(0), torch.tensor([2.0, 0.5]), atol=0.03, rtol=0)


def test_vae_shapes_and_burda_architecture():
    vae = ae.VAE(784, 400, 20)
    logits, mu, lv = vae(torch.rand(8, 784))
    assert logits.shape == (8, 784) and mu.shape == (8, 20) and lv.shape == (8, 20)
    burda = ae.VAE(784, (200, 200), 50, activation="tanh")
    assert [m.out_features for m in burda.encoder if isinstance(m, torch.nn.Linear)] == [200, 200]
    assert burda.decode(torch.zeros(2, 50)).shape == (2, 784)
    with pytest.raises(ValueError, match="relu, tanh"):
        ae.VAE(784, 10, 2, activation="sigmoid")


def test_iwae_bound_rises_above_the_elbo_and_k1_is_the_elbo():
    torch.manual_seed(0)
    vae = ae.VAE(20, 16, 3)
    x = ae.binarize(torch.rand(30, 20), generator=torch.Generator().manual_seed(4))
    g = torch.Generator().manual_seed(5)
    log_w = ae.log_importance_weights(vae, x, 200, chunk=64, generator=g)
    assert log_w.shape == (30, 200)
    # L_1 averaged over the samples is a Monte Carlo ELBO; it matches the analytic-KL ELBO
    with torch.no_grad():
        elbo_mc = ae.elbo(vae, x.expand(200, 30, 20), generator=g).mean(0)
    torch.testing.assert_close(log_w.mean(1), elbo_mc, atol=0.3, rtol=0)
    l1, l200 = ae.iwae_bound(log_w, 1), ae.iwae_bound(log_w)
    torch.testing.assert_close(l1, log_w[:, 0])
    assert (l200.mean() > log_w.mean()).item()        # Jensen: log mean w ≥ mean log w
    with pytest.raises(ValueError):
        ae.iwae_bound(log_w, 201)


def test_iwae_converges_to_log_px_by_quadrature():
    """A 1-D latent: log p(x) = log ∫ p(x|z) p(z) dz by quadrature; L_1 ≤ L_k → log p(x)."""
    torch.manual_seed(1)
    vae = ae.VAE(6, 8, 1)
    x = ae.binarize(torch.rand(4, 6), generator=torch.Generator().manual_seed(8))
    z = torch.linspace(-10, 10, 8001).unsqueeze(1)                        # (G, 1)
    with torch.no_grad():
        log_joint = (ae.bernoulli_log_likelihood(vae.decode(z).unsqueeze(1), x)   # (G, B)
                     + Normal(0.0, 1.0).log_prob(z))
    log_px = torch.logsumexp(log_joint, 0) + math.log(z[1, 0] - z[0, 0])
    log_w = ae.log_importance_weights(vae, x, 5000, generator=torch.Generator().manual_seed(9))
    l1, lk = log_w.mean(1), ae.iwae_bound(log_w)
    assert (l1 < log_px).all()
    assert (lk - log_px).abs().max() < 0.02
    # constant log weights give exactly that constant (the log-mean-exp algebra)
    torch.testing.assert_close(ae.iwae_bound(torch.full((2, 10), -3.5)), torch.full((2,), -3.5))


def test_pca_basis_and_subspace_cosines():
    g = torch.Generator().manual_seed(6)
    basis = torch.linalg.qr(torch.randn(30, 3, generator=g))[0]
    x = torch.randn(500, 3, generator=g) * torch.tensor([5.0, 3.0, 2.0]) @ basis.T + 1.0
    x = x + 0.01 * torch.randn(500, 30, generator=g)
    mean, u = ae.pca_basis(x, 3)
    assert u.shape == (30, 3)
    torch.testing.assert_close(u.T @ u, torch.eye(3), atol=1e-5, rtol=0)
    assert ae.subspace_cosines(u, basis).min() > 0.999
    # a mixed (non-orthogonal) basis of the same space still has cosines 1
    mixed = basis @ torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0], [1.0, 0.0, 1.0]])
    assert ae.subspace_cosines(mixed, basis).min() > 0.9999
    # an orthogonal direction has cosine 0
    other = torch.linalg.qr(torch.cat([basis, torch.randn(30, 1, generator=g)], 1))[0][:, 3:]
    assert ae.subspace_cosines(other, basis).max() < 1e-5


def test_linear_autoencoder_dictionary_reconstructs():
    lin = ae.LinearAutoencoder(12, 4)
    x = torch.randn(3, 12)
    z, x_hat = lin(x)
    torch.testing.assert_close(x_hat, z @ lin.dictionary.T + lin.decoder.bias)
    assert lin.dictionary.shape == (12, 4)


def test_binarize_modes():
    x = torch.tensor([0.0, 0.4, 0.6, 1.0])
    torch.testing.assert_close(ae.binarize(x, "threshold"), torch.tensor([0.0, 0.0, 1.0, 1.0]))
    g = torch.Generator().manual_seed(7)
    xs = ae.binarize(torch.full((20000,), 0.3), generator=g)
    assert set(xs.unique().tolist()) <= {0.0, 1.0}
    assert abs(xs.mean().item() - 0.3) < 0.02
    with pytest.raises(ValueError, match="stochastic, threshold"):
        ae.binarize(x, "round")


def test_mlp_autoencoder_has_a_linear_code():
    torch.manual_seed(0)
    model = ae.MLPAutoencoder(784, (64, 32), 2)
    z, de = model(torch.rand(6, 784))
    assert z.shape == (6, 2) and de.shape == (6, 784)
    assert isinstance(model.encoder[-1], torch.nn.Linear)   # no ReLU on the code
    assert ((de > 0) & (de < 1)).all()
