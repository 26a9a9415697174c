"""course_utils.diffusion.ddpm: the shared MNIST DDPM config, builder, checkpoint key, training step."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from course_utils import checkpoints, train
from course_utils.data import ImageSet
from course_utils.diffusion import ddpm
from course_utils.diffusion.unet import UNetConfig


def _tiny(**kw) -> ddpm.DDPMConfig:
    base = dict(unet=UNetConfig(channels=(4, 8), emb_dim=8, groups=2), T=50, epochs=2, batch_size=8, warmup=2)
    return ddpm.DDPMConfig(**(base | kw))


def _digits(n=32, seed=0) -> ImageSet:
    g = torch.Generator().manual_seed(seed)
    return ImageSet(torch.rand(n, 1, 8, 8, generator=g), torch.randint(0, 10, (n,), generator=g),
                    "mnist", "train", "test", [str(i) for i in range(10)])


def test_profiles_and_the_lean_cpu_model():
    assert set(ddpm.MNIST_DDPM) == {"smoke", "cpu", "full"}
    cpu = ddpm.mnist_config("cpu")
    assert (cpu.T, cpu.beta_1, cpu.beta_T) == (1000, 1e-4, 0.02)
    n = sum(p.numel() for p in ddpm.build(cpu).eps_model.parameters())
    assert 200_000 < n < 300_000
    assert ddpm.mnist_config() == ddpm.MNIST_DDPM["smoke"]  # tests run at smoke (conftest)


def test_build_is_seeded_and_leaves_the_callers_generator_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a, b = ddpm.build(_tiny()), ddpm.build(_tiny())
    assert torch.equal(torch.random.get_rng_state(), before)
    for pa, pb in zip(a.eps_model.parameters(), b.eps_model.parameters()):
        assert torch.equal(pa, pb)
    c = ddpm.build(_tiny(seed=1))
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.eps_model.parameters(), c.eps_model.parameters()))
    assert a.schedule.T == 50 and set(a.modules) == {"eps_model", "ema"}


def test_rebuilding_gives_the_same_checkpoint_key_and_changes_give_another():
    data = _digits()
    key = ddpm.checkpoint_key(ddpm.build(_tiny()), data)
    assert key == ddpm.checkpoint_key(ddpm.build(_tiny()), data)
    assert key.path.parent.name == ddpm.NOTEBOOK and key.name.startswith("ddpm_mnist-smoke-")
    assert key != ddpm.checkpoint_key(ddpm.build(_tiny(epochs=3)), data)
    assert key != ddpm.checkpoint_key(ddpm.build(_tiny()), _digits(n=40))
    assert key != ddpm.checkpoint_key(ddpm.build(dataclasses.replace(_tiny(), unet=UNetConfig(
        channels=(4, 8), emb_dim=8, groups=2, n_classes=10))), data)


def test_learning_rate_schedule():
    cfg = _tiny(lr=1.0)
    assert ddpm.learning_rate(cfg, 0, 10) == pytest.approx(0.5)   # warm-up: (0 + 1)/2
    assert ddpm.learning_rate(cfg, 1, 10) == pytest.approx(1.0)
    assert ddpm.learning_rate(cfg, 6, 10) == pytest.approx(0.5 * (1 + math.cos(math.pi * 4 / 8)))
    assert ddpm.learning_rate(cfg, 10, 10) == pytest.approx(0.0, abs=1e-12)


def test_train_step_is_algorithm_1():
    """The step's loss is ‖ε − ε_θ(√ᾱ_t x0 + √(1−ᾱ_t) ε, t)‖² for the t and ε it drew (replayed)."""
    model = ddpm.build(_tiny())
    with torch.no_grad():
        torch.nn.init.normal_(model.eps_model.conv_out.weight, std=0.1)
    x0 = torch.rand(8, 1, 8, 8) * 2 - 1
    snapshot = {k: v.clone() for k, v in model.eps_model.state_dict().items()}
    torch.manual_seed(5)
    loss = ddpm.train_step(model, 8)((x0,))["loss"]
    torch.manual_seed(5)
    t = torch.randint(1, 51, (8,))
    eps = torch.randn_like(x0)
    ab = model.schedule.alpha_bar[t].view(-1, 1, 1, 1)
    ref = ddpm.build(_tiny())
    ref.eps_model.load_state_dict(snapshot)
    with torch.no_grad():
        expected = ((eps - ref.eps_model(ab.sqrt() * x0 + (1 - ab).sqrt() * eps, t)) ** 2).mean().item()
    assert loss == pytest.approx(expected, rel=1e-6)
    assert int(model.ema.n_updates) == 1
    assert model.optimizer.param_groups[0]["lr"] == pytest.approx(_tiny().lr / 2)  # first warm-up step


def test_label_dropout_uses_the_null_label():
    cfg = dataclasses.replace(_tiny(p_uncond=1.0), unet=UNetConfig(channels=(4, 8), emb_dim=8, groups=2,
                                                                   n_classes=10))
    model = ddpm.build(cfg)
    seen = []
    forward = model.eps_model.forward
    model.eps_model.forward = lambda x_t, t, y=None: (seen.append(y), forward(x_t, t, y))[1]
    ddpm.train_step(model, 8)((torch.zeros(8, 1, 8, 8), torch.arange(8)))
    assert torch.equal(seen[0], torch.full((8,), 10))


def test_fit_trains_saves_and_reloads_under_the_shared_key():
    data = _digits()
    model = ddpm.build(_tiny())
    key = ddpm.checkpoint_key(model, data)
    x = data.images * 2 - 1
    history = train.fit(ddpm.train_step(model, len(x)), x, epochs=2, batch_size=8, modules=model.modules,
                        optimizers=model.optimizers, checkpoint=key, progress=False, device=torch.device("cpu"))
    assert len(history.steps["loss"]) == 8 and key.path.exists()
    again = ddpm.build(_tiny())  # what a later notebook does
    state = checkpoints.load(ddpm.checkpoint_key(again, data))
    again.ema.load_state_dict(state["modules"]["ema"])
    for pa, pb in zip(again.ema.model.parameters(), model.ema.model.parameters()):
        assert torch.equal(pa, pb)


def test_one_config_and_one_builder_serve_the_video_ddpm():
    from course_utils.diffusion.video import VideoUNet, VideoUNetConfig

    net_cfg = VideoUNetConfig(channels=(8, 16), emb_dim=16, temporal_attention=False)
    cfg = dataclasses.replace(_tiny(weight_decay=0.01, p_uncond=0.1), unet=net_cfg)
    model = ddpm.build(cfg)
    assert type(model.eps_model) is VideoUNet and model.eps_model.config == net_cfg
    # the same network, seeded the same way, as building the VideoUNet directly: the builder adds nothing
    torch.manual_seed(0)
    direct = VideoUNet(net_cfg)
    for pa, pb in zip(model.eps_model.parameters(), direct.parameters()):
        assert torch.equal(pa, pb)
    assert model.optimizer.param_groups[0]["weight_decay"] == 0.01 and model.schedule.T == 50
    # its checkpoint key names the notebook it was trained in, and differs from the image DDPM's of the same settings
    clips = (torch.rand(4, 1, 8, 16, 16), torch.zeros(4, 4, dtype=torch.long))
    key = ddpm.checkpoint_key(model, clips, name="video_ddpm", notebook="14_text_to_video")
    assert key.path.parent.name == "14_text_to_video" and key.name.startswith("video_ddpm-smoke-")
    assert key == ddpm.checkpoint_key(ddpm.build(cfg), clips, name="video_ddpm", notebook="14_text_to_video")
    image = ddpm.build(_tiny(weight_decay=0.01, p_uncond=0.1))
    assert key.name != ddpm.checkpoint_key(image, clips, name="video_ddpm", notebook="14_text_to_video").name
    assert key.name != ddpm.checkpoint_key(ddpm.build(dataclasses.replace(cfg, unet=dataclasses.replace(
        net_cfg, temporal_attention=True))), clips, name="video_ddpm", notebook="14_text_to_video").name


def test_build_names_the_valid_network_configs():
    with pytest.raises(TypeError, match="UNetConfig, VideoUNetConfig"):
        ddpm.build(_tiny(unet=(4, 8)))
