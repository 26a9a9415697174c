"""Tests of course_utils.gan: shapes, the DCGAN rules in the code, the 2-D mixture metrics."""

import math

import pytest
import torch
from torch import nn

from course_utils.neural import gan


def test_mlp_gan_shapes_and_ranges():
    G = gan.MLPGenerator(z_dim=16, x_shape=(1, 28, 28), hidden=(32,))
    D = gan.MLPDiscriminator(x_shape=(1, 28, 28), hidden=(32,))
    x = G(torch.randn(5, 16))
    assert x.shape == (5, 1, 28, 28)
    assert x.abs().max() <= 1.0  # tanh output
    assert D(x).shape == (5,)
    Gb = gan.MLPGenerator(z_dim=16, hidden=(32, 32), batch_norm=True)
    assert sum(isinstance(m, nn.BatchNorm1d) for m in Gb.modules()) == 2
    assert Gb(torch.randn(4, 16)).shape == (4, 1, 28, 28)
    G2 = gan.MLPGenerator(z_dim=2, x_shape=(2,), hidden=(8,), out="linear")
    assert G2(torch.randn(7, 2)).shape == (7, 2)
    with pytest.raises(ValueError, match="tanh"):
        gan.MLPGenerator(out="sigmoid")


def test_packed_and_spectral_discriminator():
    D = gan.MLPDiscriminator(x_shape=(2,), hidden=(16,), pack=4, spectral_norm=True)
    assert D(torch.randn(12, 2)).shape == (3,)
    with pytest.raises(ValueError, match="pack"):
        D(torch.randn(10, 2))
    # spectral normalisation: each weight's largest singular value is 1
    D(torch.randn(8, 2))
    for m in D.modules():
        if isinstance(m, nn.Linear):
            assert float(torch.linalg.matrix_norm(m.weight.detach(), ord=2)) == pytest.approx(1.0, abs=0.05)


def test_conditional_gan_uses_the_label():
    torch.manual_seed(0)
    G = gan.ConditionalGenerator(z_dim=8, n_classes=10, hidden=(32,)).eval()
    D = gan.ConditionalDiscriminator(n_classes=10, hidden=(32,), dropout=0.0).eval()
    z = torch.randn(4, 8)
    y0, y1 = torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.long)
    x0, x1 = G(z, y0), G(z, y1)
    assert x0.shape == (4, 1, 28, 28)
    assert not torch.allclose(x0, x1)
    assert D(x0, y0).shape == (4,)
    assert not torch.allclose(D(x0, y0), D(x0, y1))


@pytest.mark.parametrize("size", [32, 64])
def test_dcgan_shapes(size):
    G = gan.DCGANGenerator(z_dim=10, channels=3, image_size=size, ngf=8)
    D = gan.DCGANDiscriminator(channels=3, image_size=size, ndf=8)
    x = G(torch.randn(2, 10))
    assert x.shape == (2, 3, size, size)
    assert D(x).shape == (2,)
    with pytest.raises(ValueError, match="power of two"):
        gan.DCGANGenerator(image_size=28)


def test_dcgan_follows_the_five_rules():
    G = gan.DCGANGenerator(z_dim=10, image_size=32, ngf=8)
    D = gan.DCGANDiscriminator(image_size=32, ndf=8)
    g_mods, d_mods = list(G.modules()), list(D.modules())
    pooling = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
    # 1. no pooling; G upsamples with transposed convs, D downsamples with stride-2 convs
    assert not any(isinstance(m, pooling) for m in g_mods + d_mods)
    assert sum(isinstance(m, nn.Conv2d) and m.stride == (2, 2) for m in d_mods) == 3
    assert sum(isinstance(m, nn.ConvTranspose2d) and m.stride == (2, 2) for m in g_mods) == 3
    # 2. batch norm in both
    assert any(isinstance(m, nn.BatchNorm2d) for m in g_mods)
    assert any(isinstance(m, nn.BatchNorm2d) for m in d_mods)
    # 3. no fully connected layers
    assert not any(isinstance(m, nn.Linear) for m in g_mods + d_mods)
    # 4. ReLU in G, tanh last; 5. LeakyReLU in D (and no plain ReLU there)
    assert any(isinstance(m, nn.ReLU) for m in g_mods)
    assert isinstance(G.net[-1], nn.Tanh)
    assert any(isinstance(m, nn.LeakyReLU) for m in d_mods)
    assert not any(type(m) is nn.ReLU for m in d_mods)
    assert len(gan.DCGAN_RULES) == 5


def test_range_maps_are_inverse():
    x = torch.rand(3, 1, 4, 4)
    assert torch.allclose(gan.to_unit_range(gan.to_tanh_range(x)), x, atol=1e-6)
    assert gan.to_tanh_range(x).min() >= -1 and gan.to_tanh_range(x).max() <= 1


def test_mixture_centers_and_samples():
    ring = gan.mixture_centers(8, layout="ring", radius=2.0)
    assert ring.shape == (8, 2)
    assert torch.allclose(ring.norm(dim=1), torch.full((8,), 2.0), atol=1e-6)
    # neighbouring centres are 2r sin(π/8) apart
    assert (ring[0] - ring[1]).norm() == pytest.approx(4 * math.sin(math.pi / 8), abs=1e-5)
    grid = gan.mixture_centers(25, layout="grid", radius=2.0)
    assert grid.shape == (25, 2) and grid.min() == -2.0 and grid.max() == 2.0
    with pytest.raises(ValueError, match="square"):
        gan.mixture_centers(8, layout="grid")
    with pytest.raises(ValueError, match="ring"):
        gan.mixture_centers(8, layout="spiral")
    x, k = gan.sample_mixture(4000, ring, std=0.02, generator=torch.Generator().manual_seed(0))
    assert x.shape == (4000, 2)
    assert torch.allclose((x - ring[k]).std(0), torch.full((2,), 0.02), rtol=0.1)
    # real data: every mode covered, ~99.8% of 2-D Gaussian mass within 3σ... per axis
    cov = gan.mode_coverage(x, ring, std=0.02)
    assert cov["modes_covered"] == 8
    assert cov["high_quality_fraction"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)


def test_mode_coverage_of_collapsed_and_bad_samples():
    ring = gan.mixture_centers(8)
    g = torch.Generator().manual_seed(0)
    collapsed = ring[3] + 0.01 * torch.randn(500, 2, generator=g)
    cov = gan.mode_coverage(collapsed, ring, std=0.02)
    assert cov["modes_covered"] == 1
    assert cov["counts"][3] == sum(cov["counts"])
    origin = 0.01 * torch.randn(500, 2, generator=g)  # between the modes: low quality
    cov = gan.mode_coverage(origin, ring, std=0.02)
    assert cov["modes_covered"] == 0 and cov["high_quality_fraction"] == 0.0
    # half the samples on two modes, half far away
    mixed = torch.cat([ring[0].expand(100, 2), ring[5].expand(100, 2), torch.zeros(200, 2)])
    cov = gan.mode_coverage(mixed, ring, std=0.02)
    assert cov["modes_covered"] == 2 and cov["high_quality_fraction"] == pytest.approx(0.5)


def test_projection_discriminator_formula():
    torch.manual_seed(0)
    D = gan.ConditionalDiscriminator(10, x_shape=(6,), hidden=(5, 4), dropout=0.0,
                                     conditioning="projection").eval()
    x, y = torch.randn(7, 6), torch.tensor([0, 1, 2, 3, 9, 9, 5])
    with torch.no_grad():
        phi = D.phi(x)
        want = phi @ D.out.weight[0] + D.out.bias[0] + (D.embed.weight[y] * phi).sum(1)
        assert torch.allclose(D(x, y), want, atol=1e-6)
        # changing only the label changes the logit by (e_y' - e_y)·phi
        y2 = (y + 1) % 10
        diff = D(x, y2) - D(x, y)
        assert torch.allclose(diff, ((D.embed.weight[y2] - D.embed.weight[y]) * phi).sum(1),
                              atol=1e-6)
    with pytest.raises(ValueError, match="projection"):
        gan.ConditionalDiscriminator(conditioning="film")
