"""Guided diffusion (notebook 12): the class-conditional DDPM's config and a noise-conditional
classifier p_φ(y | x_t, t).

- ``conditional_config(dataset)``: the class-conditional DDPM (labels dropped to ∅ with
  probability ``p_uncond``, as classifier-free guidance needs) at each profile, for Fashion-MNIST
  and for the MNIST fallback; it is a ``ddpm.DDPMConfig``, so ``ddpm.build`` and
  ``ddpm.train_step`` serve it unchanged.
- ``NoisyClassifier``: the encoder half of the UNet (GroupNorm residual blocks with the same
  sinusoidal time embedding), pooled to K logits: it classifies *noised* images x_t at any t, which
  is what classifier guidance differentiates (Dhariwal & Nichol 2021).

Sampling in fewer steps (``NoiseSchedule.respace``) belongs to the schedule; the guided sampling
loops themselves (the slide's formula) are written in the notebook.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from course_utils import profile
from course_utils.diffusion.ddpm import DDPMConfig
from course_utils.diffusion.unet import ResBlock, UNetConfig, timestep_embedding

#: The class-conditional DDPM per data set and profile. cpu: the lean ≈0.25 M UNet, steps of 128
#: images (Fashion-MNIST: 5 passes over 60,000, 2,340 steps, about 9.3 min on one unloaded core;
#: at w = 0.5, 3 passes left its classifier-FID 3.7× the floor, 4 passes 3.2×, 5 passes 2.95×; MNIST fallback: 40 passes
#: over the 4,500 embedded digits, 1,400 steps); full: a wider UNet, 40 passes over the full data
#: set (a GPU).
_LEAN = UNetConfig(n_classes=10)
_SMOKE_DDPM = DDPMConfig(unet=UNetConfig(channels=(8, 16, 16), emb_dim=32, n_classes=10), epochs=1, n_train=512,
                         batch_size=64, warmup=2, p_uncond=0.1)
_FULL_DDPM = DDPMConfig(unet=UNetConfig(channels=(32, 64, 128), emb_dim=128, n_classes=10), epochs=40, lr=1e-3,
                        warmup=500, p_uncond=0.1)
CONDITIONAL_DDPM: dict[str, dict[str, DDPMConfig]] = {
    "fashion_mnist": {"smoke": _SMOKE_DDPM, "cpu": DDPMConfig(unet=_LEAN, epochs=5, p_uncond=0.1), "full": _FULL_DDPM},
    "mnist": {"smoke": _SMOKE_DDPM, "cpu": DDPMConfig(unet=_LEAN, epochs=40, p_uncond=0.1), "full": _FULL_DDPM},
}


def _per_dataset(table: dict, dataset: str, profile_name: str | None):
    if dataset not in table:
        raise ValueError(f"unknown data set {dataset!r}: valid ones are {', '.join(table)}")
    return profile.pick(**table[dataset], profile=profile_name)


def conditional_config(dataset: str, profile_name: str | None = None) -> DDPMConfig:
    """The class-conditional DDPM for ``dataset`` ("fashion_mnist" or "mnist") at the active profile."""
    return _per_dataset(CONDITIONAL_DDPM, dataset, profile_name)


@dataclass(frozen=True)
class ClassifierConfig:
    """Sizes and training of a ``NoisyClassifier`` (hashed into its checkpoint key)."""

    channels: tuple[int, ...] = (16, 32, 64)  # width at each resolution (28 → 14 → 7)
    emb_dim: int = 64          # size of the time embedding
    groups: int = 8            # GroupNorm groups
    n_classes: int = 10        # K
    epochs: int = 2            # passes over the training images
    batch_size: int = 128      # images per step
    lr: float = 2e-3           # AdamW
    n_train: int | None = None  # training images (None: all)
    seed: int = 0              # initialisation and batch order


class NoisyClassifier(nn.Module):
    """p_φ(y | x_t, t): x_t (B, C, H, W), t (B,) or int in {0..T} → logits (B, K).

    The UNet's down path (``ResBlock``s with the time embedding added in every block), then
    GroupNorm, SiLU, global average pooling and a linear layer.
    """

    def __init__(self, config: ClassifierConfig = ClassifierConfig(), in_channels: int = 1) -> None:
        super().__init__()
        ch, d = config.channels, config.emb_dim
        self.config = config
        self.time_mlp = nn.Sequential(nn.Linear(ch[0], d), nn.SiLU(), nn.Linear(d, d))
        self.conv_in = nn.Conv2d(in_channels, ch[0], 3, padding=1)
        self.blocks = nn.ModuleList()
        self.downsample = nn.ModuleList()
        c_prev = ch[0]
        for i, c in enumerate(ch):
            self.blocks.append(ResBlock(c_prev, c, d, config.groups))
            c_prev = c
            if i < len(ch) - 1:
                self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
        self.norm_out = nn.GroupNorm(min(config.groups, c_prev), c_prev)
        self.head = nn.Linear(c_prev, config.n_classes)

    def forward(self, x_t: Tensor, t: Tensor | int) -> Tensor:
        t = torch.as_tensor(t, device=x_t.device)
        t = t.expand(x_t.shape[0]) if t.ndim == 0 else t
        emb = self.time_mlp(timestep_embedding(t, self.config.channels[0]))
        h = self.conv_in(x_t)
        for i, block in enumerate(self.blocks):
            h = block(h, emb)
            if i < len(self.downsample):
                h = self.downsample[i](h)
        h = nn.functional.silu(self.norm_out(h)).mean(dim=(2, 3))
        return self.head(h)


#: The noise-conditional classifier per profile (cpu: about 900 steps of 128 images).
_SMOKE_CLF = ClassifierConfig(channels=(8, 16, 16), emb_dim=32, epochs=1, n_train=512, batch_size=64)
_FULL_CLF = ClassifierConfig(channels=(32, 64, 128), emb_dim=128, epochs=20, lr=1e-3)
NOISY_CLASSIFIER: dict[str, dict[str, ClassifierConfig]] = {
    "fashion_mnist": {"smoke": _SMOKE_CLF, "cpu": ClassifierConfig(epochs=2), "full": _FULL_CLF},
    "mnist": {"smoke": _SMOKE_CLF, "cpu": ClassifierConfig(epochs=25), "full": _FULL_CLF},
}


def classifier_config(dataset: str, profile_name: str | None = None) -> ClassifierConfig:
    """The noise-conditional classifier's config for ``dataset`` at the active profile."""
    return _per_dataset(NOISY_CLASSIFIER, dataset, profile_name)

