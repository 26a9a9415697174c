"""The ε-networks: a lean UNet for images and an MLP for 2-D points, both called ``eps_model(x_t, t, y=None)``.

- ``UNet``: GroupNorm residual blocks at three resolutions (28 → 14 → 7 for MNIST), narrow at full
  resolution where every channel costs the most, a sinusoidal embedding of the timestep t ∈ {1..T}
  added in every block, and an optional class label y ∈ {0..K−1} embedded beside it. Label K is
  the *null* label ∅ (what ``y=None`` means): a model trained with labels dropped to ∅ at random
  learns ε_θ(x_t, t, y) and ε_θ(x_t, t, ∅) at once, as classifier-free guidance needs. Instead of
  labels, ``cond_dim`` conditions it on a vector (a CLIP embedding, notebook 13), projected into
  the same embedding; ∅ is then the zero vector (as DALL·E 2's decoder drops its embeddings).
- ``MLPEpsModel``: the same interface for points in R^d (the 2-D toy), optionally conditioned on a
  vector (unCLIP's prior: a text embedding).
- ``EMA``: an exponential moving average of a model's weights (sampling uses the average).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10_000.0) -> Tensor:
    """Sinusoidal embedding of timesteps (Vaswani et al. 2017; Ho et al. 2020): t (B,) → (B, dim).

    [cos(t ω_0), …, cos(t ω_{h−1}), sin(t ω_0), …, sin(t ω_{h−1})] with ω_i = max_period^(−i/h), h = dim/2.
    """
    if dim % 2:
        raise ValueError(f"the embedding size must be even, got {dim}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


def _as_batch(t: Tensor | int, n: int, device: torch.device) -> Tensor:
    t = torch.as_tensor(t, device=device)
    return t.expand(n) if t.ndim == 0 else t


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv, + the (time, label) embedding, GroupNorm → SiLU → conv; plus a skip."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(min(groups, c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2 = nn.GroupNorm(min(groups, c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)
        self.act = nn.SiLU()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(self.act(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(self.act(self.norm2(h)))
        return h + self.skip(x)


class SelfAttention(nn.Module):
    """Single-head self-attention over the pixels of a (small) feature map, with a residual."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(min(groups, channels), channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).flatten(2).chunk(3, dim=1)  # (B, C, HW) each
        attn = torch.softmax(q.transpose(1, 2) @ k / math.sqrt(c), dim=-1)  # (B, HW, HW)
        return x + self.out((v @ attn.transpose(1, 2)).view(b, c, h, w))


@dataclass(frozen=True)
class UNetConfig:
    """Sizes of a ``UNet`` (the default is the lean ≈0.25 M-parameter MNIST model)."""

    in_channels: int = 1                    # image channels (1 for MNIST)
    channels: tuple[int, ...] = (16, 32, 48)  # width at each resolution, full resolution first
    emb_dim: int = 64                       # size of the time (+ label) embedding
    groups: int = 8                         # GroupNorm groups
    n_classes: int | None = None            # K labels 0..K−1 plus the null label K; None: no labels
    cond_dim: int | None = None             # or: a conditioning vector of this size (∅ = the zero vector)
    mid_attention: bool = False             # self-attention at the lowest resolution (7×7 for MNIST)


class UNet(nn.Module):
    """ε_θ(x_t, t, y=None): x_t (B, C, H, W), t (B,) or int in {1..T}, y (B,) labels or None → (B, C, H, W).

    H and W must be divisible by 2^(levels − 1) (28 with three levels: 28 → 14 → 7).
    """

    def __init__(self, config: UNetConfig = UNetConfig()) -> None:
        super().__init__()
        self.config = config
        ch, d = config.channels, config.emb_dim
        self.time_mlp = nn.Sequential(nn.Linear(ch[0], d), nn.SiLU(), nn.Linear(d, d))
        if config.n_classes is not None and config.cond_dim is not None:
            raise ValueError("a UNet is conditioned on labels (n_classes) or on a vector (cond_dim), not both")
        self.label_emb = None if config.n_classes is None else nn.Embedding(config.n_classes + 1, d)
        self.cond_proj = None if config.cond_dim is None else nn.Linear(config.cond_dim, d)
        self.conv_in = nn.Conv2d(config.in_channels, ch[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        c_prev = ch[0]
        for i, c in enumerate(ch):
            self.down.append(ResBlock(c_prev, c, d, config.groups))
            c_prev = c
            if i < len(ch) - 1:
                self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
        self.mid = ResBlock(c_prev, c_prev, d, config.groups)
        self.mid_attn = SelfAttention(c_prev, config.groups) if config.mid_attention else nn.Identity()
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, c in reversed(list(enumerate(ch))):
            self.up.append(ResBlock(c_prev + c, c, d, config.groups))
            c_prev = c
            if i > 0:
                self.upsample.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                                   nn.Conv2d(c, ch[i - 1], 3, padding=1)))
                c_prev = ch[i - 1]
        self.norm_out = nn.GroupNorm(min(config.groups, ch[0]), ch[0])
        self.conv_out = nn.Conv2d(ch[0], config.in_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)  # start by predicting ε = 0
        nn.init.zeros_(self.conv_out.bias)

    @property
    def null_label(self) -> int | None:
        """The label index that means "no label" (∅), or None for an unconditional model."""
        return self.config.n_classes

    def embed(self, t: Tensor, y: Tensor | None, n: int, device: torch.device) -> Tensor:
        emb = self.time_mlp(timestep_embedding(_as_batch(t, n, device), self.config.channels[0]))
        if self.label_emb is not None:
            if y is None:
                y = torch.full((n,), self.config.n_classes, dtype=torch.long, device=device)
            emb = emb + self.label_emb(_as_batch(y, n, device))
        elif self.cond_proj is not None:
            if y is None:
                y = torch.zeros(n, self.config.cond_dim, device=device)
            if y.ndim != 2 or y.shape[1] != self.config.cond_dim or not y.is_floating_point():
                raise ValueError(f"this UNet is conditioned on vectors: y must be a float (B, {self.config.cond_dim}) "
                                 f"tensor or None (∅), got {tuple(y.shape)} {y.dtype}")
            emb = emb + self.cond_proj(y)
        elif y is not None:
            raise ValueError("this UNet has no labels (n_classes=None): call it with y=None")
        return emb

    def forward(self, x_t: Tensor, t: Tensor | int, y: Tensor | None = None) -> Tensor:
        emb = self.embed(t, y, x_t.shape[0], x_t.device)
        h = self.conv_in(x_t)
        skips = []
        for i, block in enumerate(self.down):
            h = block(h, emb)
            skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
        h = self.mid_attn(self.mid(h, emb))
        for i, block in enumerate(self.up):
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
            if i < len(self.upsample):
                h = self.upsample[i](h)
        return self.conv_out(nn.functional.silu(self.norm_out(h)))


class MLPEpsModel(nn.Module):
    """ε_θ(x_t, t, y=None) for points: x_t (B, d), t (B,) or int → (B, d); an MLP on [x_t, embedding(t), y].

    With ``cond_dim`` > 0 it is conditioned on a vector y (B, cond_dim); y=None means ∅, the zero vector.
    """

    def __init__(self, dim: int = 2, hidden: int = 128, n_layers: int = 3, emb_dim: int = 32,
                 cond_dim: int = 0) -> None:
        super().__init__()
        self.emb_dim = emb_dim
        self.cond_dim = cond_dim
        layers: list[nn.Module] = []
        width = dim + emb_dim + cond_dim
        for _ in range(n_layers):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        layers.append(nn.Linear(width, dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x_t: Tensor, t: Tensor | int, y: Tensor | None = None) -> Tensor:
        emb = timestep_embedding(_as_batch(t, x_t.shape[0], x_t.device), self.emb_dim).to(x_t.dtype)
        if not self.cond_dim:
            if y is not None:
                raise ValueError("this MLPEpsModel has no condition (cond_dim=0): call it with y=None")
            return self.net(torch.cat([x_t, emb], dim=1))
        if y is None:
            y = x_t.new_zeros(x_t.shape[0], self.cond_dim)
        if y.shape != (x_t.shape[0], self.cond_dim):
            raise ValueError(f"y must be (B, {self.cond_dim}) = {(x_t.shape[0], self.cond_dim)}, got {tuple(y.shape)}")
        return self.net(torch.cat([x_t, emb, y.to(x_t.dtype)], dim=1))


class EMA(nn.Module):
    """An exponential moving average of a model's weights: θ̄ ← d θ̄ + (1 − d) θ after each step.

    ``ema.model`` is the averaged copy (sample with it); the decay warms up as
    d_n = min(decay, (1 + n)/(10 + n)) so that a short run is not dominated by its random start.
    The update count is a buffer, so a checkpoint of this module resumes the average exactly.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.register_buffer("n_updates", torch.zeros((), dtype=torch.long))

    def extra_repr(self) -> str:
        return f"decay={self.decay}"

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards ``model``'s current weights (buffers are copied)."""
        n = int(self.n_updates)
        d = min(self.decay, (1 + n) / (10 + n))
        for avg, new in zip(self.model.parameters(), model.parameters()):
            avg.lerp_(new.detach(), 1 - d)
        for avg, new in zip(self.model.buffers(), model.buffers()):
            avg.copy_(new)
        self.n_updates += 1

    def train(self, mode: bool = True) -> EMA:
        super().train(mode)
        self.model.eval()  # the average is never in training mode
        return self

    def forward(self, *args, **kwargs) -> Tensor:
        return self.model(*args, **kwargs)
