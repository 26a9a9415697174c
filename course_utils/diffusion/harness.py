"""The plumbing around a diffusion sampler: many samples in batches from seeded noise, timed.

The sampler itself (Algorithm 2, DDIM, a guided loop: what a slide shows) is written in the
notebook. This module only feeds it batches of x_T ~ N(0, I) drawn from one seeded generator,
brings what comes back from the model's pixel range [−1, 1] to [0, 1] on the CPU, and measures
the seconds per 100 samples (notebooks 11–14):

    out = harness.sample_batches(lambda x_T, y, g: my_sampler(x_T, y, g), labels, shape=(1, 28, 28),
                                 seed=100, batch_size=100, device=device)
    out.images, out.seconds_per_100   # (N, 1, 28, 28) in [0, 1] on the CPU; time per 100 samples
    images, sec, _ = out              # a named tuple; ``out.extra``: what the first batch returned beside x_0

``draw(x_T, c, generator)`` gets a batch x_T (b, *shape), the matching rows c of ``cond`` (on
``device``; None when ``cond`` is a count) and the generator that drew x_T, so that its own noise
z continues the same seeded stream: one seed fixes every sample. It returns x_0 (b, *shape), or
(x_0, extra) when it records something (a path).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor

Draw = Callable[[Tensor, Tensor | None, torch.Generator], Tensor | tuple[Tensor, Any]]


class Sampled(NamedTuple):
    """What ``sample_batches`` returns."""

    images: Tensor          # (N, *shape) in [0, 1], on the CPU
    seconds_per_100: float  # wall time per 100 samples (CUDA synchronised)
    extra: Any = None       # what the first batch's draw returned beside x_0 (e.g. a path), or None


def to_unit(x: Tensor) -> Tensor:
    """Model pixels → image pixels: (clamp(x, −1, 1) + 1)/2 on the CPU, any shape."""
    return ((x.clamp(-1, 1) + 1) / 2).cpu()


def sample_batches(draw: Draw, cond: Tensor | int, *, shape: tuple[int, ...], seed: int, batch_size: int,
                   device: torch.device | str = "cpu") -> Sampled:
    """One sample per row of ``cond`` (N, ...), or ``cond`` unconditional samples, in batches of ``batch_size``.

    Each batch: x_T ~ N(0, I) of shape (b, *shape) from a generator on ``device`` seeded with ``seed``
    (one generator for all batches), then ``draw(x_T, c, generator)`` → x_0 or (x_0, extra).
    """
    n = cond if isinstance(cond, int) else len(cond)
    if n < 1:
        raise ValueError(f"cond must ask for at least one sample, got {n}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = torch.device(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    out, extra = [], None
    t0 = time.perf_counter()
    for start in range(0, n, batch_size):
        b = min(batch_size, n - start)
        c = None if isinstance(cond, int) else cond[start:start + b].to(device)
        x_T = torch.randn(b, *shape, generator=generator, device=device)
        result = draw(x_T, c, generator)
        x0, first = result if isinstance(result, tuple) else (result, None)
        if x0.shape != x_T.shape:
            raise ValueError(f"draw returned x_0 of shape {tuple(x0.shape)} for x_T of shape {tuple(x_T.shape)}")
        out.append(to_unit(x0))
        extra = first if start == 0 else extra
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return Sampled(torch.cat(out), (time.perf_counter() - t0) / n * 100, extra)
