"""course_utils.diffusion.unet: shapes, the time and label inputs, the null label, the EMA."""

from __future__ import annotations

import pytest
import torch

from course_utils.diffusion.unet import EMA, MLPEpsModel, UNet, UNetConfig, timestep_embedding


def test_timestep_embedding_is_sinusoidal():
    t = torch.tensor([0, 1, 500])
    e = timestep_embedding(t, 8)
    assert e.shape == (3, 8)
    torch.testing.assert_close(e[0], torch.tensor([1.0, 1, 1, 1, 0, 0, 0, 0]))  # cos 0, sin 0
    freqs = 10_000.0 ** (-torch.arange(4) / 4)
    torch.testing.assert_close(e[2], torch.cat([torch.cos(500 * freqs), torch.sin(500 * freqs)]))
    with pytest.raises(ValueError, match="even"):
        timestep_embedding(t, 7)


def test_unet_shapes_and_size():
    net = UNet(UNetConfig())
    n_params = sum(p.numel() for p in net.parameters())
    assert 200_000 < n_params < 300_000  # the lean ≈0.25 M model
    for shape in [(3, 1, 28, 28), (2, 1, 32, 32), (1, 1, 8, 8)]:
        x = torch.randn(shape)
        assert net(x, torch.randint(1, 1001, (shape[0],))).shape == shape
        assert net(x, 17).shape == shape  # an int t serves the whole batch
    rgb = UNet(UNetConfig(in_channels=3, channels=(8, 16)))
    assert rgb(torch.randn(2, 3, 16, 16), 5).shape == (2, 3, 16, 16)


def test_unet_starts_at_eps_zero_and_depends_on_t_after_a_step():
    torch.manual_seed(0)
    net = UNet(UNetConfig(channels=(8, 16, 16), emb_dim=32))
    x = torch.randn(4, 1, 28, 28)
    assert net(x, 10).abs().max() == 0  # zero-initialised output layer
    with torch.no_grad():
        torch.nn.init.normal_(net.conv_out.weight, std=0.1)
    assert not torch.allclose(net(x, 10), net(x, 900))


def test_labels_and_the_null_label():
    torch.manual_seed(1)
    net = UNet(UNetConfig(channels=(8, 16, 16), emb_dim=32, n_classes=10))
    with torch.no_grad():
        torch.nn.init.normal_(net.conv_out.weight, std=0.1)
    assert net.null_label == 10 and net.label_emb.num_embeddings == 11
    x, t = torch.randn(3, 1, 28, 28), torch.tensor([5, 50, 500])
    y = torch.tensor([0, 3, 9])
    # y=None means the null label ∅ = K
    torch.testing.assert_close(net(x, t), net(x, t, torch.full((3,), 10)))
    assert not torch.allclose(net(x, t, y), net(x, t))
    # each example is conditioned on its own label
    torch.testing.assert_close(net(x, t, y)[1:2], net(x[1:2], t[1:2], y[1:2]), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="no labels"):
        UNet(UNetConfig(channels=(8, 16))).forward(x, t, y)


def test_mlp_eps_model():
    net = MLPEpsModel(dim=2, hidden=16, n_layers=2, emb_dim=8)
    assert net(torch.randn(5, 2), torch.arange(1, 6)).shape == (5, 2)
    assert net(torch.randn(5, 2), 3).shape == (5, 2)
    with pytest.raises(ValueError):
        net(torch.randn(5, 2), 3, torch.zeros(5, dtype=torch.long))


def test_ema_average_warm_up_and_state():
    lin = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        lin.weight.fill_(0.0)
    ema = EMA(lin, decay=0.9)
    history = []
    for step in range(1, 31):
        with torch.no_grad():
            lin.weight.fill_(float(step))
        ema.update(lin)
        history.append(float(step))
    # replay the rule θ̄ ← d θ̄ + (1 − d) θ with d_n = min(0.9, (1 + n)/(10 + n)) by hand
    avg = 0.0
    for n, w in enumerate(history):
        d = min(0.9, (1 + n) / (10 + n))
        avg = d * avg + (1 - d) * w
    assert ema.model.weight.item() == pytest.approx(avg, rel=1e-6)
    assert int(ema.n_updates) == 30 and "n_updates" in ema.state_dict()
    assert not ema.model.weight.requires_grad
    ema.train()
    assert not ema.model.training  # the average is never in training mode
    with pytest.raises(ValueError):
        EMA(lin, decay=1.0)


def test_self_attention_against_scaled_dot_product_attention():
    from course_utils.diffusion.unet import SelfAttention

    torch.manual_seed(2)
    att = SelfAttention(8, groups=4)
    x = torch.randn(2, 8, 3, 5)
    q, k, v = att.qkv(att.norm(x)).flatten(2).transpose(1, 2).chunk(3, dim=2)  # (B, HW, C)
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v)            # softmax(q kᵀ/√C) v
    expected = x + att.out(ref.transpose(1, 2).reshape(2, 8, 3, 5))
    torch.testing.assert_close(att(x), expected, atol=1e-5, rtol=1e-5)
    net = UNet(UNetConfig(channels=(8, 16, 16), emb_dim=16, mid_attention=True))
    assert net(torch.randn(2, 1, 28, 28), 3).shape == (2, 1, 28, 28)
