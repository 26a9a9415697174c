"""The DDPM of the diffusion notebooks: one config and one builder for images and clips; the MNIST DDPM per profile.

Notebook 11 trains it (Algorithm 1 written out in the notebook); later notebooks rebuild the same
model from the same config, get the same checkpoint key and load the cached weights:

    cfg = ddpm.mnist_config()                       # the profile's DDPMConfig
    model = ddpm.build(cfg)                         # UNet, its EMA, AdamW, the schedule
    key = ddpm.checkpoint_key(model, train_set)     # data/checkpoints/11_diffusion/ddpm_mnist-…
    train.fit(step, x, ..., modules=model.modules, optimizers=model.optimizers, checkpoint=key)

``train_step`` is the library's copy of Algorithm 1 (ε-prediction loss at a uniform t, AdamW with
warm-up and cosine decay, EMA), for a notebook that needs the model when no cache exists;
notebook 11 checks that its own step, written from the slide, takes exactly the same step.

The same ``DDPMConfig`` and ``build`` serve the text-to-video DDPM of notebook 14: its ``unet`` is a
``video.VideoUNetConfig`` and ``build`` makes a ``video.VideoUNet`` (ε over clips (B, 1, F, H, W));
the schedule, optimizer, EMA, learning rate and checkpoint key are the image DDPM's.
With ``p_uncond > 0`` and labels, it drops each label to the null label ∅ with that probability
(classifier-free guidance, Ho & Salimans 2022); a conditioning vector (a CLIP embedding) is dropped
to the zero vector.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from course_utils import checkpoints, profile
from course_utils.diffusion.schedule import NoiseSchedule, per_example
from course_utils.diffusion.unet import EMA, UNet, UNetConfig
from course_utils.diffusion.video import VideoUNet, VideoUNetConfig

NOTEBOOK = "11_diffusion"  # the checkpoint folder of the MNIST DDPM (data/checkpoints/11_diffusion/)


@dataclass(frozen=True)
class DDPMConfig:
    """Everything that defines a trained DDPM (it is hashed into the checkpoint key).

    The defaults are the MNIST DDPM at ``cpu``; the network's config says what it denoises.
    """

    unet: UNetConfig | VideoUNetConfig = field(default_factory=UNetConfig)  # the ε-network's sizes: images
    #                            (UNetConfig → UNet) or clips (VideoUNetConfig → video.VideoUNet)
    T: int = 1000              # diffusion steps
    beta_1: float = 1e-4       # β at t = 1 (Ho et al. 2020)
    beta_T: float = 0.02       # β at t = T (the slide's 0.002 leaves a visible digit at t = T)
    epochs: int = 40           # passes over the training examples (digits or clips)
    batch_size: int = 128      # examples per optimisation step
    lr: float = 3e-3           # AdamW's peak learning rate
    warmup: int = 100          # steps of linear warm-up, then cosine decay to 0 at the last step
    weight_decay: float = 0.0  # AdamW's decoupled weight decay
    grad_clip: float = 1.0     # clip the gradient's norm (a high learning rate needs it)
    ema_decay: float = 0.999   # the sampled weights are this EMA of the trained ones
    n_train: int | None = None  # training digits (None: all the data source has)
    p_uncond: float = 0.0      # probability of dropping the condition to ∅ (classifier-free guidance; 0: none)
    seed: int = 0              # initialisation and batch order


#: The MNIST DDPM at each profile. cpu: the lean ≈0.25 M UNet, about 1,500 steps on the 4,500
#: embedded digits (minutes on one core); full: a wider UNet on full MNIST (a GPU).
MNIST_DDPM: dict[str, DDPMConfig] = {
    "smoke": DDPMConfig(unet=UNetConfig(channels=(8, 16, 16), emb_dim=32), epochs=1, n_train=512,
                        batch_size=64, warmup=2),
    "cpu": DDPMConfig(),
    "full": DDPMConfig(unet=UNetConfig(channels=(32, 64, 128), emb_dim=128), epochs=60, lr=1e-3,
                       warmup=500),
}


def mnist_config(profile_name: str | None = None) -> DDPMConfig:
    """The MNIST DDPM's config at the active profile (or ``profile_name``)."""
    return profile.pick(**MNIST_DDPM, profile=profile_name)


@dataclass(eq=False)
class DDPM:
    """A DDPM ready to train or sample: its config, ε-network, EMA copy, optimizer and schedule."""

    config: DDPMConfig
    eps_model: UNet | VideoUNet
    ema: EMA
    optimizer: torch.optim.Optimizer
    schedule: NoiseSchedule

    @property
    def modules(self) -> dict[str, nn.Module]:
        """What a checkpoint holds: the trained network and its average."""
        return {"eps_model": self.eps_model, "ema": self.ema}

    @property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adamw": self.optimizer}


#: the ε-network each network config builds
NETWORKS: dict[type, type[nn.Module]] = {UNetConfig: UNet, VideoUNetConfig: VideoUNet}


def build(config: DDPMConfig) -> DDPM:
    """A freshly initialised DDPM (seeded by ``config.seed``; the caller's random numbers are untouched).

    The ε-network is the one its config names (``NETWORKS``): a ``UNet`` for a ``UNetConfig``, a
    ``video.VideoUNet`` for a ``video.VideoUNetConfig``.
    """
    if type(config.unet) not in NETWORKS:
        raise TypeError(f"config.unet must be one of {', '.join(t.__name__ for t in NETWORKS)}, "
                        f"got {type(config.unet).__name__}")
    with profile.seeded(config.seed):
        net = NETWORKS[type(config.unet)](config.unet)
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return DDPM(config, net, EMA(net, config.ema_decay), opt,
                NoiseSchedule.linear(config.T, config.beta_1, config.beta_T))


def checkpoint_key(model: DDPM, data, name: str = "ddpm_mnist", notebook: str = NOTEBOOK) -> checkpoints.Key:
    """The checkpoint key of ``model`` trained on ``data`` (an ImageSet, or tensors): config, modules,
    optimizer, data, under data/checkpoints/``notebook``/."""
    return checkpoints.key(notebook, name, config=model.config, modules=model.modules,
                           optimizers=model.optimizers, data=data)


def steps_per_epoch(config: DDPMConfig, n: int) -> int:
    """Optimisation steps in one pass over n examples (``train.fit`` drops the last partial batch)."""
    return n // config.batch_size if n >= config.batch_size else 1


def learning_rate(config: DDPMConfig, step: int, total: int) -> float:
    """Linear warm-up over ``config.warmup`` steps, then cosine decay from ``config.lr`` to 0 at ``total``."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, total - config.warmup)
    return config.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train_step(model: DDPM, n_train: int) -> Callable[[tuple[Tensor, ...]], Mapping[str, float]]:
    """Algorithm 1 as a ``train.fit`` step: batch (x0,) or (x0, y), x0 in [−1, 1] → {"loss": …}.

    t ~ U{1..T}, ε ~ N(0, I), loss ‖ε − ε_θ(√ᾱ_t x0 + √(1−ᾱ_t) ε, t, y)‖² (mean over pixels), one
    AdamW step at ``learning_rate``, then the EMA update. Random numbers are drawn in this order:
    t, ε, then (with labels and p_uncond > 0) the label drops.
    """
    cfg, S = model.config, model.schedule
    total = cfg.epochs * steps_per_epoch(cfg, n_train)

    def step(batch: tuple[Tensor, ...]) -> Mapping[str, float]:
        x0 = batch[0]
        y = batch[1] if len(batch) > 1 else None
        alpha_bar = S.alpha_bar.to(x0.device)
        t = torch.randint(1, S.T + 1, (x0.shape[0],), device=x0.device)
        eps = torch.randn_like(x0)
        ab = per_example(alpha_bar[t], x0)
        x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
        if y is not None and cfg.p_uncond > 0:
            drop = torch.rand(y.shape[0], device=y.device) < cfg.p_uncond
            if y.is_floating_point():  # a conditioning vector: ∅ is the zero vector
                y = y.masked_fill(drop[:, None], 0.0)
            else:
                y = torch.where(drop, torch.full_like(y, model.eps_model.null_label), y)
        loss = ((eps - model.eps_model(x_t, t, y)) ** 2).mean()
        for group in model.optimizer.param_groups:
            group["lr"] = learning_rate(cfg, int(model.ema.n_updates), total)
        model.optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.eps_model.parameters(), cfg.grad_clip)
        model.optimizer.step()
        model.ema.update(model.eps_model)
        return {"loss": loss.item()}

    return step
