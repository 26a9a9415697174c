"""course_utils.diffusion.guidance: the noise-conditional classifier and the configs."""

from __future__ import annotations

import pytest
import torch

from course_utils.diffusion import ddpm, guidance


def test_noisy_classifier_shapes_time_and_gradient():
    torch.manual_seed(0)
    net = guidance.NoisyClassifier(guidance.ClassifierConfig(channels=(8, 16, 16), emb_dim=32))
    x = torch.randn(4, 1, 28, 28, requires_grad=True)
    logits = net(x, torch.tensor([1, 10, 100, 1000]))
    assert logits.shape == (4, 10)
    assert net(x, 5).shape == (4, 10)  # an int t serves the whole batch
    assert not torch.allclose(net(x, 1), net(x, 900))  # the time embedding reaches the output
    (g,) = torch.autograd.grad(torch.log_softmax(logits, 1)[:, 3].sum(), x)
    assert g.shape == x.shape and g.abs().sum() > 0


def test_configs_are_class_conditional_with_label_dropout():
    for ds in ("fashion_mnist", "mnist"):
        for prof in ("smoke", "cpu", "full"):
            cfg = guidance.conditional_config(ds, prof)
            assert isinstance(cfg, ddpm.DDPMConfig)
            assert cfg.unet.n_classes == 10 and cfg.p_uncond == pytest.approx(0.1)
            assert guidance.classifier_config(ds, prof).n_classes == 10
    with pytest.raises(ValueError, match="fashion_mnist"):
        guidance.conditional_config("cifar10")
