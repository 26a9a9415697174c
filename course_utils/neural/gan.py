"""GAN building blocks: MLP, conditional and DCGAN generators/discriminators, and a 2-D toy.

The two-player training step (the algorithm of the lecture) is written in the notebooks; this
module holds what would distract from it:

- ``MLPGenerator`` / ``MLPDiscriminator``: the fully connected GAN of Goodfellow et al. (2014),
  for MNIST digits and for 2-D points;
- ``ConditionalGenerator`` / ``ConditionalDiscriminator``: label conditioning by concatenating a
  one-hot label to z (in G) and to x (in D), as in Mirza & Osindero (2014);
- ``DCGANGenerator`` / ``DCGANDiscriminator``: Radford et al. (2015), following the five rules
  listed in ``DCGAN_RULES``;
- ``mixture_centers`` / ``sample_mixture`` / ``mode_coverage``: the 2-D mixture of Gaussians and
  its metrics (modes covered, fraction of high-quality samples), as in Metz et al. (2017).

Every discriminator returns a **logit** ``a``; ``D(x) = sigmoid(a)`` is the probability that x is
real. Losses are computed from logits (``F.binary_cross_entropy_with_logits``) for numerical
stability: log D = -softplus(-a) and log(1 - D) = -softplus(a).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.neural.layers import mlp

# The five DCGAN rules of the lecture (Chinese original beside the English), each visible below.
DCGAN_RULES: tuple[tuple[str, str], ...] = (
    ("No pooling: transposed convolutions upsample in G, strided convolutions downsample in D",
     "取消所有pooling层。G网络中使用转置卷积进行上采样，D网络中用加入stride的卷积代替pooling"),
    ("Batch normalization in both D and G", "在D和G中均使用batch normalization"),
    ("No fully connected hidden layers: the networks are fully convolutional",
     "去掉FC层，使网络变为全卷积网络"),
    ("ReLU activations in G, tanh on its last layer", "G网络中用ReLU为激活函数，最后一层tanh"),
    ("LeakyReLU activations in D", "D网络中使用LeakyReLU作为激活函数"),
)


def to_tanh_range(x: torch.Tensor) -> torch.Tensor:
    """Map images from [0, 1] to [-1, 1]: x' = 2x - 1 (any shape)."""
    return x * 2.0 - 1.0


def to_unit_range(x: torch.Tensor) -> torch.Tensor:
    """Map generator outputs from [-1, 1] back to [0, 1]: x = (x' + 1) / 2, clamped."""
    return ((x + 1.0) / 2.0).clamp(0.0, 1.0)


OutputName = Literal["tanh", "linear"]


class MLPGenerator(nn.Module):
    """G: z (N×z_dim) -> x (N×*x_shape); fully connected, ReLU hidden, tanh or linear output.

    ``batch_norm=True`` adds BatchNorm1d after each hidden linear layer (steadier training).
    """

    def __init__(self, z_dim: int = 64, x_shape: tuple[int, ...] = (1, 28, 28),
                 hidden: tuple[int, ...] = (256, 512), out: OutputName = "tanh",
                 batch_norm: bool = False) -> None:
        super().__init__()
        if out not in ("tanh", "linear"):
            raise ValueError(f"out must be one of 'tanh', 'linear', got {out!r}")
        self.z_dim, self.x_shape = z_dim, tuple(x_shape)
        self.net = mlp([z_dim, *hidden, math.prod(x_shape)], "relu", batch_norm=batch_norm)
        if out == "tanh":
            self.net.append(nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *self.x_shape)


class MLPDiscriminator(nn.Module):
    """D: x (N×*x_shape) -> logit a (N,), D(x) = sigmoid(a); LeakyReLU hidden layers.

    ``spectral_norm=True`` divides each weight by its largest singular value (Miyato et al.
    2018), making D 1-Lipschitz per layer; ``pack=m`` makes D judge m samples at once
    (PacGAN, Lin et al. 2018): the input is m samples concatenated, so a batch of N samples
    gives N/m logits.
    """

    def __init__(self, x_shape: tuple[int, ...] = (1, 28, 28),
                 hidden: tuple[int, ...] = (512, 256), *, spectral_norm: bool = False,
                 pack: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.x_shape, self.pack = tuple(x_shape), pack
        d_in = math.prod(x_shape) * pack
        self.net = mlp([d_in, *hidden, 1], "leaky_relu", spectral_norm=spectral_norm, dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        if n % self.pack:
            raise ValueError(f"batch size {n} is not a multiple of pack={self.pack}")
        return self.net(x.reshape(n // self.pack, -1)).squeeze(-1)


class ConditionalGenerator(nn.Module):
    """G(z, y): [z, onehot(y)] (N×(z_dim+K)) -> x (N×*x_shape), tanh output."""

    def __init__(self, z_dim: int = 64, n_classes: int = 10,
                 x_shape: tuple[int, ...] = (1, 28, 28),
                 hidden: tuple[int, ...] = (256, 512, 1024)) -> None:
        super().__init__()
        self.z_dim, self.n_classes, self.x_shape = z_dim, n_classes, tuple(x_shape)
        self.net = mlp([z_dim + n_classes, *hidden, math.prod(x_shape)], "relu", batch_norm=True)
        self.net.append(nn.Tanh())

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = torch.cat([z, F.one_hot(y, self.n_classes).to(z.dtype)], dim=1)
        return self.net(h).view(-1, *self.x_shape)


ConditioningName = Literal["concat", "projection"]


class ConditionalDiscriminator(nn.Module):
    """D(x, y) -> logit a (N,) for x (N×*x_shape) and labels y (N,); LeakyReLU, dropout.

    ``conditioning="concat"``: a = f([flatten(x), onehot(y)]) (Mirza & Osindero 2014).
    ``conditioning="projection"``: a = w·phi(x) + e_y·phi(x), with phi the last hidden layer and
    e_y a learned class embedding (Miyato & Koyama 2018): the label multiplies the features
    instead of being 10 more inputs among 784, so D learns to use it much sooner.
    """

    def __init__(self, n_classes: int = 10, x_shape: tuple[int, ...] = (1, 28, 28),
                 hidden: tuple[int, ...] = (1024, 512, 256), dropout: float = 0.3,
                 conditioning: ConditioningName = "concat") -> None:
        super().__init__()
        if conditioning not in ("concat", "projection"):
            raise ValueError(f"conditioning must be one of 'concat', 'projection', "
                             f"got {conditioning!r}")
        self.n_classes, self.x_shape, self.conditioning = n_classes, tuple(x_shape), conditioning
        d_in = math.prod(x_shape) + (n_classes if conditioning == "concat" else 0)
        if conditioning == "concat":
            self.net = mlp([d_in, *hidden, 1], "leaky_relu", dropout=dropout)
        else:
            self.phi = mlp([d_in, *hidden], "leaky_relu", dropout=dropout, last_activation=True)
            self.out = nn.Linear(hidden[-1], 1)
            self.embed = nn.Embedding(n_classes, hidden[-1])
            nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.conditioning == "concat":
            h = torch.cat([x.flatten(1), F.one_hot(y, self.n_classes).to(x.dtype)], dim=1)
            return self.net(h).squeeze(-1)
        h = self.phi(x.flatten(1))
        return self.out(h).squeeze(-1) + (self.embed(y) * h).sum(dim=1)


def _dcgan_depth(image_size: int) -> int:
    if image_size < 16 or image_size & (image_size - 1):
        raise ValueError(f"image_size must be a power of two >= 16 (16, 32, 64, ...), "
                         f"got {image_size}")
    return int(math.log2(image_size)) - 2  # number of stride-2 steps between 4×4 and the image


class DCGANGenerator(nn.Module):
    """G: z (N×z_dim) -> x (N×C×S×S) in [-1, 1], S = image_size (16, 32, 64, ...).

    Rules (DCGAN_RULES): only transposed convolutions upsample (1), BatchNorm after every
    layer but the output (2), no Linear layer (3), ReLU then tanh on the output (4).
    """

    def __init__(self, z_dim: int = 100, channels: int = 1, image_size: int = 32,
                 ngf: int = 64) -> None:
        super().__init__()
        self.z_dim = z_dim
        depth = _dcgan_depth(image_size)
        width = ngf * 2 ** (depth - 1)
        # z as a 1×1 "image": the first transposed conv makes it 4×4 (a conv, not an FC layer)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, width, 4, 1, 0, bias=False),  # 1×1 -> 4×4
            nn.BatchNorm2d(width),
            nn.ReLU(True),
        ]
        for _ in range(depth - 1):  # each doubles the side, halves the channels
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.z_dim, 1, 1))


class DCGANDiscriminator(nn.Module):
    """D: x (N×C×S×S) in [-1, 1] -> logit a (N,).

    Rules (DCGAN_RULES): stride-2 convolutions instead of pooling (1), BatchNorm on every
    hidden layer but the first, as in the paper (2), a final 4×4 convolution instead of an FC
    layer (3), LeakyReLU(0.2) activations (5).
    """

    def __init__(self, channels: int = 1, image_size: int = 32, ndf: int = 64) -> None:
        super().__init__()
        depth = _dcgan_depth(image_size)
        layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False),
                                   nn.LeakyReLU(0.2, True)]
        width = ndf
        for _ in range(depth - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2, True)]
            width *= 2
        layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False)]  # 4×4 -> 1×1 logit
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(-1)


def dcgan_init(m: nn.Module) -> None:
    """DCGAN paper initialisation: conv weights ~ N(0, 0.02²), BN weights ~ N(1, 0.02²)."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


# ---------------------------------------------------------------------------------------------
# The 2-D mixture of Gaussians and its mode-coverage metric
# ---------------------------------------------------------------------------------------------
LayoutName = Literal["ring", "grid"]


def mixture_centers(n_modes: int = 8, *, layout: LayoutName = "ring",
                    radius: float = 2.0) -> torch.Tensor:
    """The K mode centres (K×2): a ring mu_k = r(cos 2πk/K, sin 2πk/K), or a √K×√K grid."""
    if layout == "ring":
        angle = 2 * math.pi * torch.arange(n_modes, dtype=torch.float32) / n_modes
        return radius * torch.stack([angle.cos(), angle.sin()], dim=1)
    if layout == "grid":
        side = math.isqrt(n_modes)
        if side * side != n_modes:
            raise ValueError(f"a grid needs a square number of modes, got {n_modes}")
        ticks = torch.linspace(-radius, radius, side)
        return torch.cartesian_prod(ticks, ticks)
    raise ValueError(f"layout must be one of 'ring', 'grid', got {layout!r}")


def sample_mixture(n: int, centers: torch.Tensor, std: float = 0.02, *,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """x ~ (1/K) Σ_k N(mu_k, std² I): returns points (n×2) and their mode index k (n,)."""
    k = torch.randint(len(centers), (n,), generator=generator)
    eps = torch.randn(n, centers.shape[1], generator=generator)
    return centers[k] + std * eps, k


def mode_coverage(samples: torch.Tensor, centers: torch.Tensor, std: float = 0.02, *,
                  n_sigma: float = 3.0, min_fraction: float = 0.01) -> dict[str, object]:
    """Mode coverage of 2-D samples (N×2) against the K centres (K×2).

    A sample is *high quality* when it lies within ``n_sigma·std`` of its nearest centre; a
    mode is *covered* when at least ``min_fraction·N`` high-quality samples fall at it
    (Metz et al. 2017; Srivastava et al. 2017). Returns ``modes_covered`` (int),
    ``high_quality_fraction`` (float) and ``counts`` (list of K ints, high-quality per mode).
    """
    samples = samples.detach().float().cpu()
    centers = centers.float().cpu()
    dist = torch.cdist(samples, centers)  # N×K
    nearest_d, nearest_k = dist.min(dim=1)
    good = nearest_d <= n_sigma * std
    counts = torch.bincount(nearest_k[good], minlength=len(centers))
    threshold = max(1.0, min_fraction * len(samples))
    return {
        "modes_covered": int((counts >= threshold).sum()),
        "high_quality_fraction": float(good.float().mean()) if len(samples) else 0.0,
        "counts": counts.tolist(),
    }
